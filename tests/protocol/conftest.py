"""Shared pytest fixtures of the GMS protocol tests.

`suite` is one GMS instance for the whole test session: a real slapd with
the institutions, the daemons from GMS_BUILD with a generated gms.conf and
a self-signed CA.  Tests that need a daemon which is not built yet are
skipped with a reason that says so (the summary counts them as skipped).
"""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from gmsfix.dns import DnsServer  # noqa: E402
from gmsfix.suite import Suite  # noqa: E402


def gms_tempdir(prefix):
    """A temporary folder the gms user can traverse.

    pytest's own temporary folders live under /tmp/pytest-of-root, mode
    0700, which the daemons cannot reach once they have dropped to gms."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="session")
def suite():
    d = gms_tempdir("gms-suite-")
    dns = DnsServer(os.path.join(d, "dns"))
    s = None
    try:
        os.makedirs(dns.dir)
        dns.zone("example.test")
        dns.add("example.test", "MX", "10 mx.example.test.")
        dns.add("mx.example.test", "A", "127.0.0.1")
        dns.start()
        # The daemons ask only our DNS server; no greeting pause in tests:
        # it only slows every connection down.
        s = Suite(d, extra_conf="smtpd.greet_pause_ms = 0\n"
                  "smtpd.dns_server = %s" % dns.address)
        s.dns = dns
        s.start()
        yield s
    finally:
        if s is not None:
            s.stop()
        dns.stop()
        shutil.rmtree(d, ignore_errors=True)


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
