"""DANE (RFC 7672) in the relay: TLSA records that a validating resolver
vouches for (AD bit) make TLS mandatory and pin the MX host's key.

The namespaces, the SMTP sink (namespace b, with STARTTLS) and the sender
(namespace a) come from test_relay.py.  Here a second unbound in
namespace a serves a DNSSEC-signed zone (ldns-signzone) from an auth-zone
and validates it against its own trust anchor, so answers about dane.test
carry the AD bit; the relay runs with relay.dane = yes against it.
"""
import hashlib
import os
import shutil
import subprocess
import time
import uuid

import pytest

import test_relay as tr
from test_relay import lab, set_mode, message  # noqa: F401 (fixture)
from gmsfix.dns import _free_port

LDNS_KEYGEN = shutil.which("ldns-keygen")
LDNS_SIGNZONE = shutil.which("ldns-signzone")
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def dane_dns(lab):  # noqa: F811
    if not (LDNS_KEYGEN and LDNS_SIGNZONE):
        pytest.skip("ldnsutils (ldns-keygen, ldns-signzone) is not installed")
    d = os.path.join(lab.dir, "dane-dns")
    os.makedirs(d)
    good = spki_sha256(lab.cert)
    with open(os.path.join(d, "zone"), "w") as f:
        f.write("""$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.dane.test.
mx IN A {b}
_25._tcp.mx IN TLSA 3 1 1 {good}
bad IN MX 10 mxbad.dane.test.
mxbad IN A {b}
_25._tcp.mxbad IN TLSA 3 1 1 {bad}
""".format(b=lab.addr_b, good=good, bad="00" * 32))
    key = subprocess.run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", "dane.test"],
                         cwd=d, stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    subprocess.run([LDNS_SIGNZONE, "-n", "zone", key], cwd=d, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    port = _free_port()
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write("""server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "{d}/{key}.key"
  cache-max-ttl: 0
  local-zone: "." refuse
  local-zone: "dane.test." transparent
auth-zone:
  name: "dane.test."
  zonefile: "{d}/zone.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
remote-control:
  control-enable: no
""".format(port=port, d=d, key=key))
    p = lab.a.popen([UNBOUND, "-d", "-c", conf], stdout=open(os.path.join(d, "log"), "ab"),
                    stderr=subprocess.STDOUT)
    # Wait until it answers with the AD bit, from inside namespace a.
    probe = ("import socket,sys;q=b'\\x12\\x34\\x01\\x20\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
             "\\x04dane\\x04test\\x00\\x00\\x0f\\x00\\x01';s=socket.socket(2,2);s.settimeout(0.5);"
             "s.sendto(q,('127.0.0.1',%d));r=s.recvfrom(512)[0];"
             "sys.exit(0 if r[:2]==b'\\x12\\x34' and r[3]&0x20 else 1)" % port)
    deadline = time.monotonic() + 20
    ok = False
    while time.monotonic() < deadline and p.poll() is None:
        if lab.a.run(["/usr/bin/python3", "-c", probe]).returncode == 0:
            ok = True
            break
        time.sleep(0.2)
    if not ok:
        p.kill()
        pytest.fail("validating unbound did not answer with AD: %s" %
                    open(os.path.join(d, "log")).read()[-2000:])
    yield "127.0.0.1:%d" % port
    p.terminate()
    p.wait(10)


@pytest.fixture
def dane_sender(lab, dane_dns):  # noqa: F811
    set_mode(lab.sink, "ok")
    s = tr.Sender(lab, "dane-" + uuid.uuid4().hex[:6],
                  "relay.dane = yes\nrelay.dns_server = %s\n"
                  "relay.retry_min = 30s\nrelay.retry_max = 30s" % dane_dns)
    yield s
    set_mode(lab.sink, "ok")


def test_dane_match_delivers(lab, dane_sender):  # noqa: F811
    token = uuid.uuid4().hex
    dane_sender.add(message(token), "pat@dane.test")
    assert dane_sender.run(20).returncode == 0, dane_sender.log_tail()
    got = tr.sink_messages(lab.sink, token)
    assert len(got) == 1 and got[0][1]["tls"] is True
    assert "dane=1" in dane_sender.log_tail(400), "the TLSA records were used"


def test_dane_mismatch_defers(lab, dane_sender):  # noqa: F811
    token = uuid.uuid4().hex
    qid = dane_sender.add(message(token), "sam@bad.dane.test")
    assert dane_sender.run(4).returncode == 3
    state, status, diag = dane_sender.queue()[qid]["rcpt"]["sam@bad.dane.test"]
    assert state == "pending" and status == "4.7.5" and "TLSA" in diag, diag
    assert tr.sink_messages(lab.sink, token) == [], "nothing sent to an unauthenticated peer"


def test_dane_requires_starttls(lab, dane_sender):  # noqa: F811
    set_mode(lab.sink, "notls")
    token = uuid.uuid4().hex
    qid = dane_sender.add(message(token), "tom@dane.test")
    assert dane_sender.run(4).returncode == 3
    state, status, diag = dane_sender.queue()[qid]["rcpt"]["tom@dane.test"]
    assert state == "pending" and "TLS is required" in diag, diag
    assert tr.sink_messages(lab.sink, token) == []
