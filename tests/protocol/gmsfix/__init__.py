"""Fixtures helpers for the GMS protocol tests."""
