"""The server loop of lib/ (lib/server.c) against a real process.

tests/unit/test-echod is a tiny daemon on server_main(): it answers each
line with "echo LINE".  These tests start it as root with server.user=gms
and check what every GMS daemon inherits from the loop: privileges dropped
to gms for good, the session bound answered with the busy reply (not a
hang), SIGTERM giving open sessions a goodbye, SIGHUP serving a new
certificate to new connections while an old session keeps working,
implicit TLS and STARTTLS (pipelined plaintext thrown away) with Python's
ssl module as the client.

Needs root (privilege drop) and the build folder GMS_BUILD (default
/work/main/build) with test-echod built by "make check".
"""
import os
import pwd
import grp
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings

import pytest

BUILD = os.environ.get("GMS_BUILD", "/work/main/build")
ECHOD = os.path.join(BUILD, "tests", "unit", "test-echod")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test the privilege drop"),
    pytest.mark.skipif(not os.access(ECHOD, os.X_OK),
                       reason="test-echod is not built (make check in GMS_BUILD)"),
]


def ensure_gms_user():
    try:
        pwd.getpwnam("gms")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "gms"], check=True)
    return pwd.getpwnam("gms").pw_uid, grp.getgrnam("gms").gr_gid


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(d, cn):
    """A self-signed P-256 certificate of cn as d/server.crt and d/server.key."""
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    tmpc, tmpk = crt + ".new", key + ".new"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", tmpk,
                    "-out", tmpc, "-subj", "/CN=" + cn, "-days", "2"],
                   check=True, capture_output=True, timeout=30)
    uid, gid = ensure_gms_user()
    for p in (tmpc, tmpk):
        os.chown(p, 0, gid)
        os.chmod(p, 0o640)
    os.replace(tmpk, key)
    os.replace(tmpc, crt)
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class Echod:
    """One test-echod process in its own folder; stop() always cleans up."""

    def __init__(self, max_sessions=100, per_ip=100, tls=False, timeout=60):
        self.uid, self.gid = ensure_gms_user()
        self.dir = tempfile.mkdtemp(prefix="gms-echod-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.der = make_cert(self.dir, "old.test") if tls else None
        lines = [
            "server.user = gms",
            "server.group = gms",
            "log.level = debug",
            "echod.listen = 127.0.0.1:%d, [::1]:%d" % (self.port, self.port),
            "echod.max_sessions = %d" % max_sessions,
            "echod.max_sessions_per_ip = %d" % per_ip,
            "echod.timeout = %d" % timeout,
        ]
        if tls:
            lines += [
                "echod.tls_listen = 127.0.0.1:%d" % self.tls_port,
                "tls.cert = %s/server.crt" % self.dir,
                "tls.key = %s/server.key" % self.dir,
            ]
        self.conf = os.path.join(self.dir, "gms.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf, 0o644)
        self.log = os.path.join(self.dir, "echod.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([ECHOD, "-f", "-c", self.conf],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if "event=started" in self.read_log():
                return
            time.sleep(0.05)
        out = self.read_log()
        self.stop()
        raise AssertionError("test-echod did not start:\n" + out)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def wait_log(self, text, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read_log().count(text) >= count:
                return True
            time.sleep(0.05)
        return False

    def connect(self, src="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                     source_address=(src, 0))
        return s

    def connect_tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def readline(s):
    """One line (bytes, with its end) or b"" at EOF; bounded by the timeout."""
    out = b""
    while not out.endswith(b"\n") and len(out) < 4096:
        ch = s.recv(1)
        if not ch:
            break
        out += ch
    return out


@pytest.fixture
def echod_factory():
    started = []

    def start(**kw):
        e = Echod(**kw)
        started.append(e)
        return e
    yield start
    for e in started:
        e.stop()


def test_privileges_dropped(echod_factory):
    e = echod_factory()
    with open("/proc/%d/status" % e.proc.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert status["Uid"].split() == [str(e.uid)] * 4
    assert status["Gid"].split() == [str(e.gid)] * 4
    assert "0" not in status["Groups"].split()
    assert status["NoNewPrivs"].strip() == "1"
    s = e.connect()
    assert readline(s).startswith(b"+OK echod ready ")
    s.sendall(b"hello\r\n")
    assert readline(s) == b"echo hello\r\n"
    s.close()
    s6 = socket.create_connection(("::1", e.port), timeout=5)
    assert readline(s6).startswith(b"+OK echod ready ")
    s6.close()
    log = e.read_log()
    assert "event=privileges_dropped user=gms" in log
    assert "event=accept ip=::1" in log
    assert "event=accept ip=127.0.0.1" in log


def test_busy_reply_over_max_sessions(echod_factory):
    e = echod_factory(max_sessions=2)
    a, b = e.connect(), e.connect()
    assert readline(a).startswith(b"+OK")
    assert readline(b).startswith(b"+OK")
    c = e.connect()
    assert readline(c) == b"-ERR too busy\r\n"
    assert c.recv(100) == b""          # closed, not hanging
    c.close()
    a.sendall(b"QUIT\r\n")
    assert readline(a) == b"+OK bye\r\n"
    a.close()
    assert e.wait_log("event=close", 1)
    d = e.connect()
    assert readline(d).startswith(b"+OK echod ready")
    for s in (b, d):
        s.close()
    assert "event=reject reason=max_sessions ip=127.0.0.1" in e.read_log()


def test_busy_reply_per_ip(echod_factory):
    e = echod_factory(max_sessions=10, per_ip=1)
    a = e.connect("127.0.0.1")
    assert readline(a).startswith(b"+OK")
    b = e.connect("127.0.0.1")
    assert readline(b) == b"-ERR too busy\r\n"
    assert b.recv(100) == b""
    other = e.connect("127.0.0.2")     # another client address is welcome
    assert readline(other).startswith(b"+OK")
    for s in (a, b, other):
        s.close()
    assert "reason=max_sessions_per_ip" in e.read_log()


def test_sigterm_goodbye_and_exit(echod_factory):
    e = echod_factory()
    socks = [e.connect() for _ in range(3)]
    for s in socks:
        assert readline(s).startswith(b"+OK")
    e.proc.send_signal(signal.SIGTERM)
    for s in socks:
        assert readline(s) == b"-ERR server stopping\r\n"
        assert s.recv(100) == b""
        s.close()
    assert e.proc.wait(timeout=15) == 0
    with pytest.raises(OSError):
        e.connect().close()


def test_implicit_tls(echod_factory):
    e = echod_factory(tls=True)
    s = e.connect_tls()
    assert s.version() in ("TLSv1.2", "TLSv1.3")
    assert s.getpeercert(binary_form=True) == e.der
    assert readline(s).startswith(b"+OK echod ready")
    s.sendall(b"ping\r\n")
    assert readline(s) == b"echo ping\r\n"
    s.sendall(b"QUIT\r\n")
    assert readline(s) == b"+OK bye\r\n"
    s.close()
    # TLS 1.1 is refused.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", e.tls_port), timeout=5)
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(raw, server_hostname="localhost")
    raw.close()


def test_starttls_discards_pipelined_plaintext(echod_factory):
    e = echod_factory(tls=True)
    raw = e.connect()
    assert readline(raw).startswith(b"+OK")
    raw.sendall(b"STARTTLS\r\nINJECTED\r\n")
    assert readline(raw) == b"+OK go\r\n"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"hello\r\n")
    assert readline(s) == b"echo hello\r\n"
    s.close()
    assert e.wait_log("event=starttls discarded=10")


def test_sighup_new_certificate_old_session_keeps_working(echod_factory):
    e = echod_factory(tls=True)
    old = e.connect_tls()
    assert old.getpeercert(binary_form=True) == e.der
    assert readline(old).startswith(b"+OK")
    new_der = make_cert(e.dir, "new.test")
    assert new_der != e.der
    e.proc.send_signal(signal.SIGHUP)
    assert e.wait_log("event=reload status=ok"), e.read_log()
    s = e.connect_tls()
    assert s.getpeercert(binary_form=True) == new_der
    assert readline(s).startswith(b"+OK")
    s.close()
    old.sendall(b"still here\r\n")
    assert readline(old) == b"echo still here\r\n"
    old.close()
    # A broken certificate on reload keeps the working one.
    with open(os.path.join(e.dir, "server.crt"), "w") as f:
        f.write("not a certificate\n")
    e.proc.send_signal(signal.SIGHUP)
    assert e.wait_log("event=reload_failed"), e.read_log()
    s = e.connect_tls()
    assert s.getpeercert(binary_form=True) == new_der
    s.close()
    assert e.proc.poll() is None


def test_busy_reply_over_implicit_tls(echod_factory):
    e = echod_factory(max_sessions=1, tls=True)
    a = e.connect_tls()
    assert readline(a).startswith(b"+OK")
    b = e.connect_tls()                # the refusal comes under TLS
    assert readline(b) == b"-ERR too busy\r\n"
    assert readline(b) == b""
    for s in (a, b):
        s.close()


def test_sighup_reloads_limits(echod_factory):
    e = echod_factory(max_sessions=1)
    a = e.connect()
    assert readline(a).startswith(b"+OK")
    b = e.connect()
    assert readline(b) == b"-ERR too busy\r\n"
    b.close()
    with open(e.conf) as f:
        text = f.read()
    with open(e.conf, "w") as f:
        f.write(text.replace("echod.max_sessions = 1\n", "echod.max_sessions = 3\n"))
    e.proc.send_signal(signal.SIGHUP)
    assert e.wait_log("event=reload status=ok"), e.read_log()
    c = e.connect()
    assert readline(c).startswith(b"+OK echod ready")
    a.sendall(b"after reload\r\n")
    assert readline(a) == b"echo after reload\r\n"
    # A configuration error on reload keeps the one in force.
    with open(e.conf, "a") as f:
        f.write("echod.no_such_key = 1\n")
    e.proc.send_signal(signal.SIGHUP)
    assert e.wait_log("event=reload_failed"), e.read_log()
    d = e.connect()
    assert readline(d).startswith(b"+OK echod ready")
    for s in (a, c, d):
        s.close()
