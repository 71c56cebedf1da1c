"""Protocol tests of the relay (the outbound queue runner, relay/).

Three hosts in network namespaces created here: the sending GMS runs in
namespace "a" (tests/unit/relaytool runs the queue runner exactly as
gms-smtpd does, on queue entries added through the spool API), with a
real DNS server (unbound, gmsfix.dns) on a's loopback serving the zones
with MX, null MX and A records; the receiving MX hosts run in namespaces
"b" (an SMTP sink written here, for error injection: 4xx, 5xx, silence, a
stall after the data, STARTTLS) and "c" (Postfix from Debian, a private
instance).  a-b and a-c are veth pairs with 10.77.x.y addresses; nothing
else is reachable.  Everything is stopped and the namespaces deleted
afterwards.

Run the sink alone:  python3 test_relay.py sink ADDR PORT DIR [CERT KEY]
"""
import glob
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PY = "/usr/bin/python3"

# ---------------------------------------------------------------------------
# The SMTP sink (runs inside a namespace as its own process).


def sink_main(addr, port, d, cert=None, key=None):
    import socketserver

    tls_ctx = None
    if cert:
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(cert, key)
    counter = {"n": 0}
    lock = threading.Lock()

    def log(line):
        with lock:
            with open(os.path.join(d, "log"), "a") as f:
                f.write(line + "\n")

    def mode():
        try:
            with open(os.path.join(d, "mode")) as f:
                return f.read().strip() or "ok"
        except OSError:
            return "ok"

    class Handler(socketserver.StreamRequestHandler):
        timeout = 120

        def reply(self, text):
            self.wfile.write(text.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self):
            m = mode()
            log("conn mode=%s t=%.3f" % (m, time.time()))
            try:
                self.session(m)
            finally:
                log("end t=%.3f" % time.time())

        def session(self, m):
            if m == "silent":
                time.sleep(30)
                return
            sock = self.request
            tls = False
            self.reply("220 sink.test ESMTP")
            mail_from, rcpts = None, []
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    return
                cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                verb = cmd.split(" ", 1)[0].upper()
                log("cmd %s" % cmd)
                if verb == "EHLO":
                    exts = ["PIPELINING", "SIZE 10000000", "8BITMIME", "DSN"]
                    if m != "noutf8":
                        exts.append("SMTPUTF8")
                    if tls_ctx is not None and not tls and m != "notls":
                        exts.append("STARTTLS")
                    self.wfile.write(b"250-sink.test\r\n" + b"".join(
                        ("250%s%s\r\n" % ("-" if i < len(exts) - 1 else " ", e)).encode()
                        for i, e in enumerate(exts)))
                    self.wfile.flush()
                elif verb == "HELO":
                    self.reply("250 sink.test")
                elif verb == "STARTTLS" and tls_ctx is not None and not tls:
                    self.reply("220 2.0.0 go ahead")
                    sock = tls_ctx.wrap_socket(sock, server_side=True)
                    self.rfile = sock.makefile("rb")
                    self.wfile = sock.makefile("wb")
                    tls = True
                    log("tls %s" % sock.version())
                elif verb == "MAIL":
                    mail_from, rcpts = cmd[5:], []
                    self.reply("250 2.1.0 ok")
                elif verb == "RCPT":
                    if m == "tempfail":
                        self.reply("451 4.3.0 try again later")
                    elif m == "reject":
                        self.reply("550 5.1.1 no such user here")
                    else:
                        rcpts.append(cmd[5:])
                        self.reply("250 2.1.5 ok")
                elif verb == "DATA":
                    if not rcpts:
                        self.reply("554 5.5.1 no valid recipients")
                        continue
                    self.reply("354 go ahead")
                    body = []
                    while True:
                        l = self.rfile.readline(1 << 20)
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        if l.startswith(b"."):
                            l = l[1:]
                        body.append(l)
                    with lock:
                        counter["n"] += 1
                        n = counter["n"]
                    base = os.path.join(d, "msg-%d-%d" % (os.getpid(), n))
                    if m == "stall":
                        log("stalled %s" % base)
                        time.sleep(60)
                        return
                    if m == "slow":
                        time.sleep(1)
                    with open(base + ".eml", "wb") as f:
                        f.write(b"".join(body))
                    with open(base + ".json", "w") as f:
                        json.dump({"from": mail_from, "rcpt": rcpts, "tls": tls}, f)
                    self.reply("250 2.0.0 queued as %d" % n)
                    log("stored %s" % base)
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.reply("250 ok")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 5.5.2 what")

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = Server((addr, int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    open(os.path.join(d, "log"), "a").close()
    with open(os.path.join(d, "ready"), "w") as f:
        f.write("ok\n")
    srv.serve_forever()


def https_main(addr, port, d, cert, key):
    """Serve d/HOST.txt as https://HOST/.well-known/mta-sts.txt."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            path = os.path.join(d, os.path.basename(host) + ".txt")
            if self.path != "/.well-known/mta-sts.txt" or not os.path.exists(path):
                self.send_error(404)
                return
            body = open(path, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((addr, int(port)), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    with open(os.path.join(d, "ready"), "w") as f:
        f.write("ok\n")
    srv.serve_forever()


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "sink":
    sink_main(*sys.argv[2:])
    sys.exit(0)
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "https":
    https_main(*sys.argv[2:])
    sys.exit(0)

# ---------------------------------------------------------------------------
# The tests.

import pytest  # noqa: E402

from gmsfix import netns  # noqa: E402
from gmsfix.dns import DnsServer  # noqa: E402
from gmsfix.suite import make_certs, free_port  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("GMS_BUILD") or os.path.join(TOP, "build"))
RELAYTOOL = os.path.join(BUILD, "tests", "unit", "relaytool")
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

SENDER = "alice@sender.test"

pytestmark = [
    pytest.mark.skipif(not os.access(RELAYTOOL, os.X_OK),
                       reason="tests/unit/relaytool is not built (make check)"),
    pytest.mark.skipif(not netns.available(),
                       reason="network namespaces need root and iproute2"),
]


def gms_ids():
    try:
        return pwd.getpwnam("gms").pw_uid, grp.getgrnam("gms").gr_gid
    except KeyError:
        return None


def message(token, extra_headers="", body=None):
    body = body if body is not None else (
        "Hello from the relay test.\n.leading dot line\n..two dots\n.\nend\n")
    return ("From: Alice <%s>\nTo: <bob@far.test>\nSubject: relay test %s\n"
            "Message-ID: <%s@sender.test>\n%s\n%s" % (SENDER, token, token,
                                                      extra_headers, body))


class Lab:
    """The namespaces, DNS, the sink and the CA shared by the tests."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gms-relay-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.net = netns.NetLab()
        self.a = self.net.namespace("a")
        self.b = self.net.namespace("b")
        self.c = self.net.namespace("c")
        _, self.addr_b = self.net.link(self.a, self.b)
        _, self.addr_c = self.net.link(self.a, self.c)
        # A second address in b where nothing listens (refused).
        self.addr_b2 = self.addr_b[:-1] + "3"
        self.b.run(["ip", "addr", "add", self.addr_b2 + "/24", "dev",
                    "v%sb1" % self.net.tag], check=True)
        # A third one for the MTA-STS hosts.
        self.addr_b4 = self.addr_b[:-1] + "4"
        self.b.run(["ip", "addr", "add", self.addr_b4 + "/24", "dev",
                    "v%sb1" % self.net.tag], check=True)
        self.ca, self.cert, self.key = make_certs(os.path.join(self.dir, "tls"))
        os.chmod(self.key, 0o644)
        self.dns = DnsServer(os.path.join(self.dir, "dns"), netns=self.a)
        for z in ("far.test", "nullmx.test", "refused.test", "slow.test",
                  "pf.test", "sender.test", "nxmx.test", "self.test"):
            self.dns.zone(z)
        self.dns.add("far.test", "MX", "10 mx.far.test.")
        self.dns.add("mx.far.test", "A", self.addr_b)
        self.dns.add("nullmx.test", "MX", "0 .")
        self.dns.add("refused.test", "MX", "10 mx.refused.test.")
        self.dns.add("mx.refused.test", "A", self.addr_b2)
        self.dns.add("pf.test", "MX", "10 mx.pf.test.")
        self.dns.add("mx.pf.test", "A", self.addr_c)
        self.dns.add("self.test", "MX", "10 sender.gms.test.")
        # MTA-STS: sts.test is right; sts2.test names an MX whose
        # certificate does not verify; sts3.test's MX is not in its policy.
        for z in ("sts.test", "sts2.test", "sts3.test"):
            self.dns.zone(z)
            self.dns.add("_mta-sts." + z, "TXT", "v=STSv1; id=20261128;")
            self.dns.add("mta-sts." + z, "A", self.addr_b4)
        self.dns.add("sts.test", "MX", "10 mx.sts.test.")
        self.dns.add("sts3.test", "MX", "10 mx.sts.test.")
        self.dns.add("mx.sts.test", "A", self.addr_b4)
        self.dns.add("sts2.test", "MX", "10 mx.far.test.")
        self.dns.add("sender.gms.test", "A", "127.0.0.1")
        self.dns.start()
        self.sinks = {}

    def start_sink(self, addr, name, cert=None, key=None, kind="sink", port="25"):
        d = os.path.join(self.dir, "sink-" + name)
        os.makedirs(d, exist_ok=True)
        p = self.b.popen([PY, os.path.abspath(__file__), kind, addr, port, d,
                          cert or self.cert, key or self.key],
                         stdout=open(os.path.join(d, "out"), "ab"),
                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(os.path.join(d, "ready")):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sink did not start: %s" % open(
                    os.path.join(d, "out")).read())
            time.sleep(0.05)
        self.sinks[name] = (p, d)
        return d

    def stop_sink(self, name):
        p, d = self.sinks.pop(name)
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def close(self):
        for name in list(self.sinks):
            self.stop_sink(name)
        self.dns.stop()
        self.net.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    try:
        lab.sink = lab.start_sink(lab.addr_b, "main")
        yield lab
    finally:
        lab.close()


class Sender:
    """One sending GMS spool and configuration, driven by relaytool."""

    def __init__(self, lab, name, extra=""):
        self.lab = lab
        self.dir = os.path.join(lab.dir, "sender-" + name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.spool)
        os.chmod(self.spool, 0o700)
        ids = gms_ids()
        if ids and os.geteuid() == 0:
            os.chown(self.spool, *ids)
        self.conf = os.path.join(self.dir, "gms.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "log.level = debug",
                "log.trace = relay",
                "server.user = gms",
                "server.group = gms",
                "spool.dir = %s" % self.spool,
                "relay.hostname = sender.gms.test",
                "relay.dns_server = %s" % lab.dns.address,
                "relay.ipv6 = no",
                "relay.tls_ca_file = %s" % lab.ca,
                "relay.retry_min = 1s",
                "relay.retry_max = 2s",
                "relay.poll_interval = 1s",
                "relay.connect_timeout = 3s",
                "relay.timeout = 3s",
                "relay.data_timeout = 3s",
                "relay.lease = 3s",
                extra, ""]))
        os.chmod(self.conf, 0o644)
        self.logs = []

    def cmd(self, *args):
        """relaytool argv; "run" goes into the sender's namespace."""
        argv = [RELAYTOOL, "-c", self.conf] + list(args)
        ns = getattr(self.lab, "a", None)
        if args and args[0] == "run" and ns is not None:
            argv = ns.cmd(argv)
        return argv

    def tool(self, *args, stdin=None, timeout=60, check=True):
        r = subprocess.run(self.cmd(*args),
                           input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        self.logs.append(r.stderr.decode("utf-8", "replace"))
        if check and r.returncode != 0:
            raise AssertionError("relaytool %s failed (%d): %s\n%s" % (
                " ".join(args), r.returncode, r.stdout.decode(), self.log_tail()))
        return r

    def log_tail(self, n=60):
        return "\n".join("".join(self.logs).splitlines()[-n:])

    def add(self, msg, *rcpts, opts=()):
        r = self.tool("add", *opts, SENDER, *rcpts, stdin=msg.encode())
        return r.stdout.decode().strip()

    def run(self, seconds=20, wait=True):
        args = ["run", "-t", str(seconds)] + (["-w"] if wait else [])
        return self.tool(*args, timeout=seconds + 30, check=False)

    def queue(self):
        """{qid: {"attempts": n, "rcpt": {addr: (state, status, diag)}}}"""
        out = self.tool("list").stdout.decode()
        q, cur = {}, None
        for line in out.splitlines():
            if not line.startswith("  "):
                qid = line.split()[0]
                cur = q[qid] = {"line": line, "rcpt": {}}
            else:
                parts = line.strip().split(" ", 5)
                addr = parts[0].strip("<>")
                cur["rcpt"][addr] = (parts[1], parts[2].split("=", 1)[1],
                                     parts[5].split("=", 1)[1])
        return q

    def mkuser(self, user):
        """Give user a mailbox set (a DSN then goes to its INBOX)."""
        # Deliver a first message locally through the spool: the relay's
        # own DSN path needs an existing user; relaytool inbox reads it.
        r = self.tool("mkuser", user, check=False)
        assert r.returncode == 0, r.stderr

    def inbox(self, user):
        r = self.tool("inbox", user, check=False)
        if r.returncode == 2:
            return []
        out = r.stdout.decode("utf-8", "replace")
        return [m for m in out.split("=== uid ")[1:]]


def sink_messages(d, token):
    found = []
    for p in sorted(glob.glob(os.path.join(d, "msg-*.eml"))):
        with open(p, "rb") as f:
            data = f.read()
        if token.encode() in data:
            with open(p[:-4] + ".json") as f:
                found.append((data, json.load(f)))
    return found


def set_mode(d, mode):
    with open(os.path.join(d, "mode"), "w") as f:
        f.write(mode + "\n")


@pytest.fixture
def sender(lab, request):
    s = Sender(lab, request.node.name[:40] + "-" + uuid.uuid4().hex[:6])
    set_mode(lab.sink, "ok")
    yield s
    set_mode(lab.sink, "ok")


# ---------------------------------------------------------------------------


def test_delivers_over_tls_with_dot_stuffing(lab, sender):
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "bob@far.test", "carol@far.test")
    r = sender.run(20)
    assert r.returncode == 0, sender.log_tail()
    assert sender.queue() == {}, "the entry left the queue after the 250"
    got = sink_messages(lab.sink, token)
    assert len(got) == 1, "one transaction for both recipients of a domain"
    data, env = got[0]
    assert env["tls"] is True, "STARTTLS used when offered"
    size = len(message(token).replace("\n", "\r\n"))
    assert env["from"] == "FROM:<%s> SIZE=%d" % (SENDER, size), "SIZE sent"
    assert sorted(env["rcpt"]) == ["TO:<bob@far.test>", "TO:<carol@far.test>"]
    text = data.decode()
    assert "\r\n.leading dot line\r\n..two dots\r\n.\r\nend\r\n" in text, \
        "dot-stuffing round trip"
    assert "Subject: relay test %s" % token in text
    assert qid in sender.log_tail(200)


def test_pipelining_and_dsn_parameters(lab, sender):
    token = uuid.uuid4().hex
    sender.add(message(token), "dave@far.test",
               opts=("-e", "ENV+ID=1", "-r", "hdrs", "-n", "FAILURE,DELAY",
                     "-o", "rfc822;dave+2Bx@far.test"))
    assert sender.run(20).returncode == 0, sender.log_tail()
    log = open(os.path.join(lab.sink, "log")).read()
    assert "RET=HDRS ENVID=ENV+2BID+3D1" in log, "RET and ENVID (xtext) passed on"
    assert "TO:<dave@far.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;dave+2Bx@far.test" in log


def test_tempfail_is_retried(lab, sender):
    set_mode(lab.sink, "tempfail")
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "erin@far.test")
    r = sender.run(3, wait=True)
    assert r.returncode == 3, "still queued after the 4xx"
    q = sender.queue()
    assert qid in q
    state, status, diag = q[qid]["rcpt"]["erin@far.test"]
    assert state == "pending" and status == "4.3.0" and "451" in diag
    set_mode(lab.sink, "ok")
    assert sender.run(20).returncode == 0, sender.log_tail()
    assert len(sink_messages(lab.sink, token)) == 1


def test_refused_connection_is_retried(lab, sender):
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "frank@refused.test")
    assert sender.run(3).returncode == 3
    state, status, diag = sender.queue()[qid]["rcpt"]["frank@refused.test"]
    assert state == "pending" and "refused" in diag.lower(), diag
    d = lab.start_sink(lab.addr_b2, "second")
    try:
        assert sender.run(20).returncode == 0, sender.log_tail()
        assert len(sink_messages(d, token)) == 1
    finally:
        lab.stop_sink("second")


def test_timeout_is_retried(lab):
    # One attempt only in the first run: the retry comes 30 s later.
    sender = Sender(lab, "timeout-" + uuid.uuid4().hex[:6],
                    "relay.retry_min = 30s\nrelay.retry_max = 30s")
    set_mode(lab.sink, "silent")
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "gina@far.test")
    t0 = time.monotonic()
    assert sender.run(6).returncode == 3
    state, status, diag = sender.queue()[qid]["rcpt"]["gina@far.test"]
    assert state == "pending" and "timed out" in diag, diag
    set_mode(lab.sink, "ok")
    sender.tool("flush", qid)
    assert sender.run(20).returncode == 0, sender.log_tail()
    assert len(sink_messages(lab.sink, token)) == 1
    assert time.monotonic() - t0 < 60


def test_5xx_bounces_to_sender_inbox(lab, sender):
    set_mode(lab.sink, "reject")
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "henry@far.test")
    assert sender.run(20).returncode == 0, sender.log_tail()
    assert sender.queue() == {}, "a permanent failure leaves the queue"
    msgs = [m for m in sender.inbox(SENDER) if "delivery-status" in m]
    assert len(msgs) == 1, sender.log_tail()
    dsn = msgs[0]
    assert "Content-Type: multipart/report; report-type=delivery-status" in dsn
    assert "Final-Recipient: rfc822; henry@far.test" in dsn
    assert "Action: failed" in dsn and "Status: 5.1.1" in dsn
    assert "550 5.1.1 no such user here" in dsn
    assert "Content-Type: text/rfc822-headers" in dsn
    assert "Subject: relay test %s" % token in dsn, "original headers returned"
    assert "Message-ID: <%s@sender.test>" % token in dsn
    assert "leading dot line" not in dsn, "headers only by default"
    assert "To: <%s>" % SENDER in dsn and "MAILER-DAEMON@sender.gms.test" in dsn
    assert qid in dsn


def test_null_mx_bounces_at_once(lab, sender):
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    conns = open(os.path.join(lab.sink, "log")).read().count("conn ")
    sender.add(message(token), "ivan@nullmx.test", opts=("-r", "full"))
    assert sender.run(10).returncode == 0, sender.log_tail()
    assert sender.queue() == {}
    msgs = [m for m in sender.inbox(SENDER) if "ivan@nullmx.test" in m]
    assert len(msgs) == 1
    assert "Status: 5.1.10" in msgs[0] and "null MX" in msgs[0]
    assert "Content-Type: message/rfc822" in msgs[0] and "leading dot line" in msgs[0], \
        "RET=FULL returns the whole message"
    assert open(os.path.join(lab.sink, "log")).read().count("conn ") == conns


def test_notify_never_and_null_sender_never_bounce(lab, sender):
    set_mode(lab.sink, "reject")
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    sender.add(message(token), "jack@far.test", opts=("-n", "NEVER"))
    r = sender.tool("add", "<>", "kate@far.test", stdin=message(token).encode())
    assert r.returncode == 0
    assert sender.run(20).returncode == 0, sender.log_tail()
    assert sender.queue() == {}
    assert [m for m in sender.inbox(SENDER) if token in m] == []


def test_loop_to_myself_and_hop_count(lab, sender):
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    sender.add(message(token), "leo@self.test")
    hops = "".join("Received: from h%d by h%d\n" % (i, i) for i in range(60))
    sender.add(message(token + "h", extra_headers=hops), "mia@far.test")
    assert sender.run(20).returncode == 0, sender.log_tail()
    inbox = sender.inbox(SENDER)
    loops = [m for m in inbox if "leo@self.test" in m]
    assert len(loops) == 1 and "Status: 5.4.6" in loops[0] and "loops back" in loops[0]
    hop = [m for m in inbox if "mia@far.test" in m]
    assert len(hop) == 1 and "Status: 5.4.6" in hop[0]
    assert sink_messages(lab.sink, token + "h") == []


def test_smtputf8_needed_but_missing_bounces(lab, sender):
    set_mode(lab.sink, "noutf8")
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    sender.add(message(token), "nina@far.test", opts=("-U",))
    assert sender.run(20).returncode == 0, sender.log_tail()
    m = [m for m in sender.inbox(SENDER) if "nina@far.test" in m]
    assert len(m) == 1 and "Status: 5.6.7" in m[0]


def test_sigkill_during_delivery_loses_nothing(lab, sender):
    set_mode(lab.sink, "stall")
    token = uuid.uuid4().hex
    qid = sender.add(message(token), "olga@far.test")
    p = subprocess.Popen(sender.cmd("run", "-t", "60"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "stalled" in open(os.path.join(lab.sink, "log")).read().split(
                    "conn mode=stall")[-1]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the delivery never reached the end of the data")
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert qid in sender.queue(), "still queued after SIGKILL"
    set_mode(lab.sink, "ok")
    # The lease (3 s) expires, then the next runner delivers it.
    assert sender.run(30).returncode == 0, sender.log_tail()
    assert len(sink_messages(lab.sink, token)) >= 1


def test_expired_message_bounces(lab, sender):
    set_mode(lab.sink, "tempfail")
    s2 = Sender(lab, "expire-" + uuid.uuid4().hex[:6],
                "relay.max_lifetime = 4s\nrelay.delay_warning = 1s")
    s2.mkuser(SENDER)
    token = uuid.uuid4().hex
    qid = s2.add(message(token), "pete@far.test")
    assert s2.run(20).returncode == 0, s2.log_tail()
    assert s2.queue() == {}, "gone after max_lifetime"
    inbox = [m for m in s2.inbox(SENDER) if "pete@far.test" in m]
    assert any("Action: delayed" in m for m in inbox), "a delay warning first"
    failed = [m for m in inbox if "Action: failed" in m]
    assert len(failed) == 1 and "Status: 4.4.7" in failed[0]
    assert "451 4.3.0 try again later" in failed[0], "the last error is reported"
    assert qid in failed[0]


def test_delay_warning_once(lab, sender):
    set_mode(lab.sink, "tempfail")
    s2 = Sender(lab, "delay-" + uuid.uuid4().hex[:6], "relay.delay_warning = 1s")
    s2.mkuser(SENDER)
    token = uuid.uuid4().hex
    qid = s2.add(message(token), "quinn@far.test")
    time.sleep(1.2)
    assert s2.run(5).returncode == 3
    q = s2.queue()
    assert q[qid]["rcpt"]["quinn@far.test"][0] == "pending"
    delayed = [m for m in s2.inbox(SENDER) if "Action: delayed" in m]
    assert len(delayed) == 1, "exactly one delay warning over several attempts"
    assert "quinn@far.test" in delayed[0] and "Will-Retry-Until:" in delayed[0]
    s2.tool("delete", qid)


# ---------------------------------------------------------------------------
# Postfix from Debian as the receiving peer (namespace c).

POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.pf.test
mydomain = pf.test
myorigin = pf.test
mydestination =
inet_interfaces = {addr}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = pf.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = inline:{{ rita@pf.test=rita/ }}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
alias_maps =
alias_database =
smtputf8_enable = yes
biff = no
"""


@pytest.fixture(scope="module")
def postfix(lab):
    if not os.access(POSTFIX, os.X_OK):
        pytest.skip("postfix is not installed")
    d = os.path.join(lab.dir, "postfix")
    os.makedirs(os.path.join(d, "mail"))
    os.makedirs(os.path.join(d, "queue"))
    os.makedirs(os.path.join(d, "data"))
    uid = pwd.getpwnam("postfix").pw_uid
    gid = grp.getgrnam("postfix").gr_gid
    os.chown(os.path.join(d, "mail"), uid, gid)
    os.chown(os.path.join(d, "data"), uid, gid)
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write(POSTFIX_MAIN.format(d=d, addr=lab.addr_c, uid=uid, gid=gid,
                                    cert=lab.cert, key=lab.key))
    shutil.copy("/etc/postfix/master.cf", os.path.join(d, "master.cf"))
    # No chroot: the private instance reads its files where they are.
    r = subprocess.run(["postconf", "-c", d, "-F", "*/*/chroot = n"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    p = lab.c.popen([POSTFIX, "-c", d, "start-fg"], stdout=open(
        os.path.join(d, "fg.out"), "ab"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if lab.c.run(["/usr/bin/python3", "-c",
                          "import socket;socket.create_connection(('%s',25),1)"
                          % lab.addr_c]).returncode == 0:
                break
            if p.poll() is not None:
                pytest.fail("postfix exited: %s" % open(os.path.join(d, "fg.out")).read())
            time.sleep(0.2)
        yield d
    finally:
        lab.c.run([POSTFIX, "-c", d, "stop"])
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_relays_to_postfix_over_tls(lab, postfix, sender):
    token = uuid.uuid4().hex
    sender.add(message(token), "rita@pf.test")
    assert sender.run(30).returncode == 0, sender.log_tail()
    deadline = time.monotonic() + 20
    files = []
    while time.monotonic() < deadline:
        files = glob.glob(os.path.join(postfix, "mail", "rita", "new", "*"))
        if files:
            break
        time.sleep(0.2)
    assert len(files) == 1, open(os.path.join(postfix, "postfix.log")).read()[-3000:]
    text = open(files[0], errors="replace").read()
    assert "Subject: relay test %s" % token in text
    assert "\n.leading dot line\n..two dots\n.\nend\n" in text
    assert "(using TLSv1." in text, "Postfix's Received field shows TLS"


def test_postfix_rejects_unknown_user_with_dsn(lab, postfix, sender):
    sender.mkuser(SENDER)
    token = uuid.uuid4().hex
    sender.add(message(token), "nobody@pf.test")
    assert sender.run(30).returncode == 0, sender.log_tail()
    m = [m for m in sender.inbox(SENDER) if "nobody@pf.test" in m]
    assert len(m) == 1 and "Status: 5.1.1" in m[0] and "mx.pf.test" in m[0]
    assert "Subject: relay test %s" % token in m[0]


def max_overlap(log_text, since):
    """The most sessions the sink had open at once (after offset since)."""
    events = []
    for line in log_text[since:].splitlines():
        if line.startswith("conn ") or line.startswith("end "):
            t = float(line.rsplit("t=", 1)[1])
            events.append((t, 1 if line.startswith("conn ") else -1))
    cur = best = 0
    for _, d in sorted(events, key=lambda e: (e[0], e[1])):
        cur += d
        best = max(best, cur)
    return best


def test_per_destination_concurrency_limit(lab):
    s = Sender(lab, "conc-" + uuid.uuid4().hex[:6],
               "relay.max_deliveries = 8\nrelay.max_per_destination = 2")
    set_mode(lab.sink, "slow")
    log = os.path.join(lab.sink, "log")
    since = len(open(log).read())
    token = uuid.uuid4().hex
    for i in range(6):
        s.add(message("%s-%d" % (token, i)), "conc%d@far.test" % i)
    try:
        t0 = time.monotonic()
        assert s.run(40).returncode == 0, s.log_tail()
        elapsed = time.monotonic() - t0
    finally:
        set_mode(lab.sink, "ok")
    assert s.queue() == {}
    assert max_overlap(open(log).read(), since) == 2, "at most 2 at once, and 2 used"
    assert elapsed >= 3, "6 slow deliveries, 2 at a time, take 3 rounds"


def test_retry_backoff_doubles_up_to_max(lab):
    s = Sender(lab, "backoff-" + uuid.uuid4().hex[:6],
               "relay.retry_min = 1s\nrelay.retry_max = 4s")
    set_mode(lab.sink, "tempfail")
    try:
        qid = s.add(message(uuid.uuid4().hex), "zed@far.test")
        assert s.run(12).returncode == 3
    finally:
        set_mode(lab.sink, "ok")
    nexts = [int(l.split("next=")[1].split()[0]) for l in s.log_tail(2000).splitlines()
             if "event=relay_deferred" in l and qid in l and "next=0" not in l]
    assert nexts[:4] == [1, 2, 4, 4], nexts
    s.tool("delete", qid)


# ---------------------------------------------------------------------------
# MTA-STS (RFC 8461).

STS_POLICY = "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 86400\n"


def sts_cert(lab):
    """A certificate from the lab's CA for the MTA-STS hosts and mx.sts.test."""
    d = os.path.join(lab.dir, "tls")
    key, csr, crt, ext = (os.path.join(d, n) for n in
                          ("sts.key", "sts.csr", "sts.crt", "sts.ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:mx.sts.test,DNS:mta-sts.sts.test,"
                "DNS:mta-sts.sts2.test,DNS:mta-sts.sts3.test\n"
                "extendedKeyUsage=serverAuth\n")
    for cmd in (["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 "/CN=mx.sts.test", "-keyout", key, "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", lab.ca, "-CAkey",
                 os.path.join(d, "ca.key"), "-CAcreateserial", "-days", "30",
                 "-extfile", ext, "-out", crt]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return crt, key


@pytest.fixture(scope="module")
def sts(lab):
    crt, key = sts_cert(lab)
    web = lab.start_sink(lab.addr_b4, "sts-web", crt, key, kind="https", port="8443")
    for dom, mx in (("sts.test", "mx.sts.test"), ("sts2.test", "mx.far.test"),
                    ("sts3.test", "other.sts.test")):
        with open(os.path.join(web, "mta-sts.%s.txt" % dom), "w") as f:
            f.write(STS_POLICY % mx)
    mx = lab.start_sink(lab.addr_b4, "sts-mx", crt, key)
    yield mx
    lab.stop_sink("sts-mx")
    lab.stop_sink("sts-web")


@pytest.fixture
def sts_sender(lab, sts):
    set_mode(lab.sink, "ok")
    return Sender(lab, "sts-" + uuid.uuid4().hex[:6],
                  "relay.mta_sts = yes\nrelay.mta_sts_port = 8443\n"
                  "relay.retry_min = 30s\nrelay.retry_max = 30s")


def test_mta_sts_enforce_delivers_with_verified_tls(lab, sts, sts_sender):
    token = uuid.uuid4().hex
    sts_sender.add(message(token), "uma@sts.test")
    assert sts_sender.run(20).returncode == 0, sts_sender.log_tail()
    got = sink_messages(sts, token)
    assert len(got) == 1 and got[0][1]["tls"] is True
    assert "event=relay_sts_policy domain=sts.test" in sts_sender.log_tail(400)


def test_mta_sts_enforce_refuses_unverified_certificate(lab, sts, sts_sender):
    token = uuid.uuid4().hex
    qid = sts_sender.add(message(token), "vic@sts2.test")
    assert sts_sender.run(4).returncode == 3
    state, status, diag = sts_sender.queue()[qid]["rcpt"]["vic@sts2.test"]
    assert state == "pending" and status == "4.7.5" and "MTA-STS" in diag, diag
    assert sink_messages(lab.sink, token) == [], "not sent over unverified TLS"
    # Without MTA-STS the same MX takes it (opportunistic TLS).
    plain = Sender(lab, "nosts-" + uuid.uuid4().hex[:6])
    plain.add(message(token), "vic@sts2.test")
    assert plain.run(20).returncode == 0
    assert len(sink_messages(lab.sink, token)) == 1


def test_mta_sts_enforce_mx_not_in_policy(lab, sts, sts_sender):
    token = uuid.uuid4().hex
    qid = sts_sender.add(message(token), "wes@sts3.test")
    assert sts_sender.run(4).returncode == 3
    state, status, diag = sts_sender.queue()[qid]["rcpt"]["wes@sts3.test"]
    assert state == "pending" and "matches its MTA-STS policy" in diag, diag
    assert sink_messages(sts, token) == []
