# tests/local.mk - the harness: unit test helpers, protocol tests (pytest),
# fuzz targets.
EXTRA_DIST += tests/unit/unit.h tests/protocol tests/fuzz
