"""Shared pytest fixtures of the GMS protocol tests.

`suite` is one GMS instance for the whole test session: a real slapd with
the institutions, the daemons from GMS_BUILD with a generated gms.conf and
a self-signed CA.  Tests that need a daemon which is not built yet are
skipped with a reason that says so (the summary counts them as skipped).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from gmsfix.suite import Suite  # noqa: E402


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    s = Suite(str(tmp_path_factory.mktemp("gms")))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def smtpd(suite):
    if "gms-smtpd" not in suite.procs:
        pytest.skip("gms-smtpd is not built")
    return suite


@pytest.fixture
def imapd(suite):
    if "gms-imapd" not in suite.procs:
        pytest.skip("gms-imapd is not built")
    return suite
