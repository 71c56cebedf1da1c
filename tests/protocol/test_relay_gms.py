"""GMS relays to another GMS instance.

The receiving side is a whole second GMS instance (gmsfix.suite: its own
slapd, spool and gms-smtpd) with the demo domain; the sending side is a
separate spool driven by tests/unit/relaytool, which runs the queue runner
as gms-smtpd does.  A real DNS server (unbound) serves the MX of the demo
domain and the SPF record of the sending domain.  Both run on loopback:
the receiving gms-smtpd listens on a free port, given to the relay as
relay.port.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gmsfix.dns import DnsServer  # noqa: E402
from gmsfix.suite import Suite, DEMO_USER  # noqa: E402
import test_relay as tr  # noqa: E402


class Peer:
    """DNS, the receiving GMS instance, the CA."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gms-relay2-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.dns = DnsServer(os.path.join(self.dir, "dns"))
        self.dns.zone("go.tz")
        self.dns.zone("sender.test")
        self.dns.add("demo.go.tz", "MX", "10 mx.demo.go.tz.")
        self.dns.add("mx.demo.go.tz", "A", "127.0.0.1")
        self.dns.add("sender.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        self.dns.add("sender.gms.test", "A", "127.0.0.1")
        self.dns.start()
        self.suite = Suite(os.path.join(self.dir, "peer"),
                           extra_conf="smtpd.dns_server = %s" % self.dns.address)
        self.suite.start(daemons=("gms-smtpd",))
        self.ca = self.suite.ca_cert

    def close(self):
        try:
            self.suite.stop()
        finally:
            self.dns.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def peer():
    if not os.access(tr.RELAYTOOL, os.X_OK):
        pytest.skip("tests/unit/relaytool is not built")
    p = Peer()
    try:
        if "gms-smtpd" not in p.suite.procs:
            pytest.skip("gms-smtpd is not built")
        yield p
    finally:
        p.close()


def peer_inbox(p, user):
    r = subprocess.run([tr.RELAYTOOL, "-c", p.suite.conf_path, "inbox", user],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode in (0, 2), r.stderr.decode()
    return r.stdout.decode("utf-8", "replace").split("=== uid ")[1:]


def make_sender(p):
    s = tr.Sender(p, "gms-" + uuid.uuid4().hex[:6],
                  "relay.port = %d\nrelay.timeout = 30s\nrelay.data_timeout = 30s"
                  % p.suite.ports["SMTP_PORT"])
    return s


def test_gms_relays_to_gms_over_tls(peer):
    s = make_sender(peer)
    token = uuid.uuid4().hex
    s.add(tr.message(token), DEMO_USER)
    assert s.run(40).returncode == 0, s.log_tail() + peer.suite.log_tail("gms-smtpd")
    assert s.queue() == {}
    deadline = time.monotonic() + 10
    got = []
    while time.monotonic() < deadline and not got:
        got = [m for m in peer_inbox(peer, DEMO_USER) if token in m]
        time.sleep(0.2)
    assert len(got) == 1, peer.suite.log_tail("gms-smtpd")
    m = got[0]
    assert "\r\n.leading dot line\r\n..two dots\r\n.\r\nend\r\n" in m
    assert "Subject: relay test %s" % token in m
    # gms-smtpd writes the TLS details into its Received field.
    received = m.split("\r\n\r\n", 1)[0]
    assert "TLS" in received, received


def test_gms_peer_rejects_unknown_user_dsn(peer):
    s = make_sender(peer)
    s.mkuser(tr.SENDER)
    token = uuid.uuid4().hex
    s.add(tr.message(token), "no-such-user-%s@demo.go.tz" % token[:8])
    assert s.run(40).returncode == 0, s.log_tail() + peer.suite.log_tail("gms-smtpd")
    assert s.queue() == {}
    dsn = [m for m in s.inbox(tr.SENDER) if "no-such-user" in m]
    assert len(dsn) == 1, s.log_tail()
    assert "Action: failed" in dsn[0] and "Status: 5.1.1" in dsn[0], dsn[0]
    assert "Subject: relay test %s" % token in dsn[0]
