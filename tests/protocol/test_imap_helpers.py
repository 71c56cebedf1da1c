"""Helpers of the gms-imapd protocol tests (test_imap*.py); no tests here.

Clients: Python's imaplib over STARTTLS or implicit TLS, and a raw TLS
socket for scripted dialogs with hostile input.  Every read has a timeout,
every loop a bound.
"""
import imaplib
import itertools
import os
import shutil
import socket
import ssl
import tempfile
import time

import pytest

_counter = itertools.count(1)


def tls_context(suite):
    return ssl.create_default_context(cafile=suite.ca_cert)


def new_user(suite, quota=None):
    """A fresh mailbox in the directory: (address, password)."""
    n = next(_counter)
    addr = "imapt%d.%d@demo.go.tz" % (int(time.time() * 1000) % 10000000, n)
    pw = "Pw-%d-secret" % n
    suite.add_mailbox(addr, pw, quota)
    return addr, pw


def connect(suite, user=None, password=None, implicit=False):
    """An imaplib client, TLS on, logged in when user is given."""
    ctx = tls_context(suite)
    if implicit:
        m = imaplib.IMAP4_SSL("127.0.0.1", suite.ports["IMAPS_PORT"], ssl_context=ctx,
                              timeout=20)
    else:
        m = imaplib.IMAP4("127.0.0.1", suite.ports["IMAP_PORT"], timeout=20)
        m.starttls(ssl_context=ctx)
    if user is not None:
        m.login(user, password)
    return m


class Raw:
    """A scripted IMAP dialog over implicit TLS (or plaintext)."""

    def __init__(self, suite, tls=True, timeout=10):
        if tls:
            ctx = tls_context(suite)
            s = socket.create_connection(("127.0.0.1", suite.ports["IMAPS_PORT"]), timeout)
            self.sock = ctx.wrap_socket(s, server_hostname="localhost")
        else:
            self.sock = socket.create_connection(("127.0.0.1", suite.ports["IMAP_PORT"]),
                                                 timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """One response line (without CRLF); b'' at EOF."""
        deadline = time.monotonic() + 20
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no line from the server")
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionResetError, OSError):
                chunk = b""
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def read_bytes(self, n):
        deadline = time.monotonic() + 20
        while len(self.buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("short literal")
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until_tagged(self, tag, limit=1000000):
        """Lines up to and including the tagged one: (untagged, tagged)."""
        untagged = []
        for _ in range(limit):
            ln = self.line()
            if ln == b"":
                return untagged, b""
            if ln.startswith(tag.encode() + b" "):
                return untagged, ln
            untagged.append(ln)
        raise AssertionError("too many lines")

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until_tagged(tag)

    def login(self, user, password):
        u, t = self.cmd("L1", 'LOGIN "%s" "%s"' % (user, password))
        assert b" OK " in t, t
        return u, t

    def closed(self, wait=5):
        """True when the server closed the connection (EOF) in time."""
        self.sock.settimeout(wait)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, ConnectionResetError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def make_message(subject="hello", body="body text\r\n", frm="a@example.org",
                 to="demo@demo.go.tz", extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 2 Feb 2026 10:00:00 +0000\r\n"
            "Message-ID: <%d@test>\r\n%s\r\n%s" % (frm, to, subject, next(_counter), extra,
                                                   body)).encode()


@pytest.fixture(scope="session")
def imap_suite():
    """A suite of our own in a folder the gms user can reach.

    The shared conftest's suite lives under pytest's basetemp, whose parent
    (/tmp/pytest-of-root) is mode 0700, so the daemons, which drop to the
    gms user, cannot open the spool there.  Until that is fixed we start
    the same gmsfix Suite in a world-traversable temporary folder."""
    from gmsfix.suite import Suite
    d = tempfile.mkdtemp(prefix="gms-imap-test-", dir="/tmp")
    os.chmod(d, 0o755)
    s = Suite(d)
    try:
        if not s.have("gms-imapd"):
            pytest.skip("gms-imapd is not built")
        s.start(daemons=("gms-imapd", "gms-smtpd"))
        if "gms-imapd" not in s.procs:
            pytest.skip("gms-imapd did not start")
        yield s
    finally:
        s.stop()
        # Keep the daemons' logs of the last run for a look afterwards.
        keep = os.path.join(tempfile.gettempdir(), "gms-imap-test-logs")
        os.makedirs(keep, exist_ok=True)
        for name in os.listdir(d):
            if name.endswith(".log"):
                shutil.copy(os.path.join(d, name),
                            os.path.join(keep, os.path.basename(d) + "-" + name))
        shutil.rmtree(d, ignore_errors=True)
