"""gms-smtpd's resolver (lib/dns.c) asking a DNS server on the IPv6
loopback: smtpd.dns_server = [::1]:PORT, a real unbound (gmsfix.dns with
host="::1") serving SPF test zones.

SPF pass and fail at MAIL FROM can only come from records read from that
server; a record too large for one UDP answer (more than the 1232 octets
we advertise) proves the TCP fallback over IPv6; a REFUSED zone gives a
temporary error; once the server is stopped, lookups fail temporarily
(451) instead of passing.  The relay inside gms-smtpd (relay.dns_server
empty: smtpd.dns_server serves it) finds the MX of a remote domain on the
same server and delivers to the SMTP sink of test_relay.py.  Skipped when
this machine cannot bind ::1.
"""
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import time
import uuid

import pytest

from conftest import gms_tempdir
from gmsfix.dns import DnsServer, ipv6_loopback_usable
from gmsfix.suite import Suite, DEMO_USER, DEMO_PASSWORD, free_port, wait_port
import test_relay as tr

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"

# Other TXT records beside the SPF one (site verifications and the like):
# with them the answer is about 1 600 octets, more than the 1 232 that
# fit in one UDP answer.
BIG_TXT = ["site-verification=%d-%s" % (i, "x" * 280) for i in range(5)]


@pytest.fixture(scope="module")
def v6():
    if not ipv6_loopback_usable():
        pytest.skip("the IPv6 loopback (::1) cannot be bound on this machine")
    if not os.access(UNBOUND, os.X_OK):
        pytest.skip("unbound is not installed")
    d = gms_tempdir("gms-dns6-")
    dns = DnsServer(os.path.join(d, "dns"), host="::1")
    s = sink = None
    try:
        os.makedirs(dns.dir)
        dns.add("spf6-pass.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        dns.add("spf6-fail.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        dns.add("spf6-big.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        for t in BIG_TXT:
            dns.add("spf6-big.test", "TXT", t)
        dns.zone("spf6-none.test")
        dns.add("spf6-none.test", "A", "127.0.0.1")
        dns.refuse("spf6-refused.test")
        dns.zone("far6.test")
        dns.add("far6.test", "MX", "10 mx.far6.test.")
        dns.add("mx.far6.test", "A", "127.0.0.1")
        dns.start()
        assert dns.address.startswith("[::1]:")
        sink_port = free_port()
        s = Suite(d, extra_conf="\n".join([
            "smtpd.greet_pause_ms = 0",
            "smtpd.dns_server = %s" % dns.address,
            "smtpd.dns_timeout = 1",
            # The relay asks smtpd.dns_server (relay.dns_server empty).
            "relay.enable = yes",
            "relay.port = %d" % sink_port,
            "relay.ipv6 = no",
            "relay.retry_min = 1s",
            "relay.retry_max = 2s",
            "relay.poll_interval = 1s",
            "relay.timeout = 3s",
            "relay.data_timeout = 3s",
            "relay.lease = 3s",
        ]))
        s.dns = dns
        if not s.have("gms-smtpd"):
            pytest.skip("gms-smtpd is not built")
        s.start(daemons=("gms-smtpd",))
        if "gms-smtpd" not in s.procs:
            pytest.skip("gms-smtpd did not start: %s" % s.missing)
        s.sink_dir = os.path.join(d, "sink")
        os.makedirs(s.sink_dir)
        sink = subprocess.Popen(
            [tr.PY, tr.__file__, "sink", "127.0.0.1", str(sink_port),
             s.sink_dir, s.cert, s.key],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(sink_port, 15, sink):
            raise RuntimeError("sink did not start")
        yield s
    finally:
        if sink is not None:
            sink.terminate()
            try:
                sink.wait(10)
            except subprocess.TimeoutExpired:
                sink.kill()
                sink.wait(5)
        if s is not None:
            s.stop()
        dns.stop()
        shutil.rmtree(d, ignore_errors=True)


def mail_from(suite, sender):
    """MAIL FROM on the MTA port from 127.0.0.1: the reply (code, text)."""
    c = smtplib.SMTP("127.0.0.1", suite.ports["SMTP_PORT"], timeout=30)
    try:
        c.ehlo("client.test")
        code, text = c.mail(sender)
        c.rset()
        return code, text.decode(errors="replace")
    finally:
        c.close()


def log_text(suite):
    with open(suite.logs["gms-smtpd"], errors="replace") as f:
        return f.read()


def test_resolver_uses_ipv6_server(v6):
    m = re.search(r'event=dns_resolver servers="([^"]*)"', log_text(v6))
    assert m, "no event=dns_resolver line in the log"
    assert m.group(1) == v6.dns.address


def test_spf_pass_over_ipv6(v6):
    assert mail_from(v6, "a@spf6-pass.test")[0] == 250
    assert "event=spf result=pass from=a@spf6-pass.test" in log_text(v6)


def test_spf_fail_over_ipv6(v6):
    code, text = mail_from(v6, "a@spf6-fail.test")
    assert code == 550 and "5.7.23" in text


def test_spf_none_over_ipv6(v6):
    assert mail_from(v6, "a@spf6-none.test")[0] == 250
    assert "event=spf result=none from=a@spf6-none.test" in log_text(v6)


def test_truncated_answer_retried_over_tcp(v6):
    # The TXT records do not fit in one UDP answer: only the TCP retry
    # brings the SPF record.
    assert sum(len(t) for t in BIG_TXT) > 1232
    assert mail_from(v6, "a@spf6-big.test")[0] == 250
    m = re.search(r"event=spf result=(\S+) from=a@spf6-big.test", log_text(v6))
    assert m and m.group(1) == "pass", m and m.group(0)


def test_refused_is_temporary(v6):
    code, text = mail_from(v6, "a@spf6-refused.test")
    assert code == 451 and "4.4.3" in text


def test_relay_finds_mx_over_ipv6(v6):
    tr.set_mode(v6.sink_dir, "ok")
    token = uuid.uuid4().hex
    ctx = ssl.create_default_context(cafile=v6.ca_cert)
    ctx.check_hostname = False
    with smtplib.SMTP("127.0.0.1", v6.ports["SUBMISSION_PORT"], timeout=30) as c:
        c.starttls(context=ctx)
        c.login(DEMO_USER, DEMO_PASSWORD)
        c.sendmail(DEMO_USER, ["bob@far6.test"],
                   tr.message(token).replace("alice@sender.test", DEMO_USER))
    deadline = time.monotonic() + 20
    got = []
    while time.monotonic() < deadline and not got:
        got = tr.sink_messages(v6.sink_dir, token)
        time.sleep(0.2)
    assert len(got) == 1, v6.log_tail("gms-smtpd")


def test_server_down_is_temporary(v6):
    # Last in this file: stops the DNS server.
    v6.dns.stop()
    code, text = mail_from(v6, "b@spf6-pass.test")
    assert code == 451 and "4.4.3" in text
