"""gms-imapd: COMPRESS=DEFLATE (RFC 4978) against the real daemon.

Python's imaplib has no COMPRESS, so after the tagged OK the client's
socket is wrapped here with zlib (raw deflate, wbits -15, a sync flush
after every command), and imaplib then runs SELECT, APPEND with a literal
and FETCH of a large body (byte-exact) through it; IDLE sees a message
delivered by gms-smtpd.  A raw dialog checks the edges: compressed
commands pipelined right behind COMPRESS, a second COMPRESS, an unknown
mechanism, COMPRESS before login, STARTTLS after COMPRESS, a corrupt
stream and a decompression bomb against the line limit.  Debian's
mbsync (isync 1.4) turns COMPRESS on by itself: a sync runs through it.
curl has no COMPRESS support, so it is not driven here (test_imap_clients
runs it against the same capability list).
"""
import glob
import imaplib
import os
import random
import re
import shutil
import subprocess
import time
import zlib

import pytest

from test_imap_helpers import Raw, connect, make_message, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)

imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


@pytest.fixture
def user(imapd):
    return new_user(imapd)


class Deflate:
    """Raw deflate both ways over an existing socket-like reader/writer."""

    def __init__(self, recv, sendall):
        self.recv, self.sendall = recv, sendall
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.dec = zlib.decompressobj(-15)
        self.buf = b""
        self.wire_in = 0
        self.plain_in = 0

    def send(self, data, flush=zlib.Z_SYNC_FLUSH):
        if isinstance(data, str):
            data = data.encode()
        self.sendall(self.comp.compress(data) + self.comp.flush(flush))

    def fill(self):
        chunk = self.recv(65536)
        if not chunk:
            return False
        self.wire_in += len(chunk)
        out = self.dec.decompress(chunk)
        self.plain_in += len(out)
        self.buf += out
        return True

    def readline(self, limit=10 * 1024 * 1024):
        deadline = time.monotonic() + 30
        while b"\n" not in self.buf:
            if time.monotonic() > deadline or len(self.buf) > limit:
                raise TimeoutError("no line")
            if not self.fill():
                out, self.buf = self.buf, b""
                return out
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read(self, n):
        deadline = time.monotonic() + 30
        while len(self.buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("short read")
            if not self.fill():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def imaplib_compress(m):
    """COMPRESS DEFLATE on an imaplib connection, then route its I/O
    through zlib.  Returns the Deflate object (for byte counts)."""
    typ, data = m._simple_command("COMPRESS", "DEFLATE")
    assert typ == "OK", (typ, data)
    z = Deflate(m.file.read1, m.sock.sendall)
    m.send = z.send
    m.readline = z.readline
    m.read = z.read
    return z


class ZRaw:
    """A scripted dialog (Raw, implicit TLS) that turns on COMPRESS."""

    def __init__(self, imapd, user):
        self.r = Raw(imapd)
        self.r.login(*user)
        self.z = None

    def start(self, pipelined=b""):
        """Send COMPRESS (with compressed bytes right behind it)."""
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        extra = b""
        if pipelined:
            extra = comp.compress(pipelined) + comp.flush(zlib.Z_SYNC_FLUSH)
        self.r.send(b"z COMPRESS DEFLATE\r\n" + extra)
        ok = self.r.line()
        assert ok == b"z OK DEFLATE active", ok
        self.z = Deflate(self.r.sock.recv, self.r.sock.sendall)
        self.z.comp = comp
        # Anything read past the OK line is already compressed.
        if self.r.buf:
            self.z.buf = self.z.dec.decompress(self.r.buf)
            self.r.buf = b""

    def line(self):
        return self.z.readline().rstrip(b"\r\n")

    def cmd(self, tag, text):
        self.z.send("%s %s\r\n" % (tag, text))
        return self.until_tagged(tag)

    def until_tagged(self, tag):
        untagged = []
        for _ in range(100000):
            ln = self.line()
            if ln == b"":
                return untagged, b""
            if ln.startswith(tag.encode() + b" "):
                return untagged, ln
            untagged.append(ln)
        raise AssertionError("too many lines")

    def close(self):
        self.r.close()


def big_message(size, seed=7):
    """A message of about size bytes: text lines, compressible but not
    trivially (a pseudo-random vocabulary)."""
    rnd = random.Random(seed)
    words = ["ministry", "budget", "circular", "district", "report", "annex",
             "approved", "meeting", "Dodoma", "regional", "finance", "2026"]
    lines = []
    n = 0
    while n < size:
        ln = " ".join(rnd.choice(words) for _ in range(12)) + "\r\n"
        lines.append(ln)
        n += len(ln)
    return make_message(subject="large", body="".join(lines))


def test_capability_only_after_login(imapd, user):
    m = connect(imapd)
    try:
        assert "COMPRESS=DEFLATE" not in m.capabilities
        m.login(*user)
        typ, data = m.capability()
        assert b"COMPRESS=DEFLATE" in data[0].split(), data
    finally:
        m.logout()


def test_imaplib_select_append_fetch_large(imapd, user):
    msg = big_message(3 * 1024 * 1024)
    m = connect(imapd, *user)
    try:
        z = imaplib_compress(m)
        typ, _ = m.select("INBOX")
        assert typ == "OK"
        # APPEND with a synchronising literal through the deflate layer.
        typ, data = m.append("INBOX", "(\\Seen)", None, msg)
        assert typ == "OK", data
        assert b"APPENDUID" in data[0]
        typ, data = m.append("INBOX", None, None, make_message(subject="small"))
        assert typ == "OK"
        typ, data = m.noop()
        typ, data = m.search(None, "ALL")
        assert data[0].split() == [b"1", b"2"], data
        before_wire, before_plain = z.wire_in, z.plain_in
        typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        assert data[0][1] == msg, "large body not byte-exact"
        assert b"RFC822.SIZE %d" % len(msg) in data[0][0]
        wire = z.wire_in - before_wire
        plain = z.plain_in - before_plain
        # The text compresses: far fewer bytes on the wire than inflated.
        assert plain >= len(msg) and wire < plain // 2, (wire, plain)
        typ, data = m.fetch("2", "(BODY[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"Subject: small" in data[0][1]
        typ, data = m.fetch("1:2", "(FLAGS)")
        assert b"\\Seen" in data[0]
        # A second COMPRESS on the same connection.
        typ, data = m._simple_command("COMPRESS", "DEFLATE")
        assert typ == "NO" and b"[COMPRESSIONACTIVE]" in data[-1], data
        typ, data = m.noop()
        assert typ == "OK"
    finally:
        m.logout()


def test_imaplib_idle_sees_smtp_delivery(imapd, user):
    import smtplib
    if "gms-smtpd" not in imapd.procs:
        pytest.skip("gms-smtpd is not built in GMS_BUILD")
    m = connect(imapd, *user)
    try:
        z = imaplib_compress(m)
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"0"], data
        z.send("i IDLE\r\n")
        assert z.readline().startswith(b"+ ")
        s = smtplib.SMTP("127.0.0.1", imapd.ports["SMTP_PORT"], timeout=20)
        s.ehlo("client.example.org")
        s.sendmail("sender@example.org", [user[0]],
                   make_message(subject="compressed idle", to=user[0]))
        s.quit()
        m.sock.settimeout(3)
        t0 = time.monotonic()
        seen = []
        for _ in range(5):
            ln = z.readline()
            seen.append(ln)
            if ln == b"* 1 EXISTS\r\n":
                break
        assert seen[-1] == b"* 1 EXISTS\r\n", seen
        assert time.monotonic() - t0 < 2.0
        m.sock.settimeout(20)
        z.send("DONE\r\n")
        ln = z.readline()
        while ln.startswith(b"* "):
            ln = z.readline()
        assert ln.startswith(b"i OK"), ln
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"compressed idle" in data[0][1]
    finally:
        m.logout()


def test_pipelined_after_compress_and_errors(imapd, user):
    c = ZRaw(imapd, user)
    try:
        # Compressed commands sent in the same packet as COMPRESS.
        c.start(pipelined=b"p1 NOOP\r\np2 SELECT INBOX\r\n")
        u, t = c.until_tagged("p1")
        assert t.startswith(b"p1 OK"), t
        u, t = c.until_tagged("p2")
        assert t.startswith(b"p2 OK"), t
        u, t = c.cmd("a2", "COMPRESS DEFLATE")
        assert t.startswith(b"a2 NO [COMPRESSIONACTIVE]"), t
        # An unknown mechanism is BAD, also when compression is on.
        u, t = c.cmd("a3", "COMPRESS LZW")
        assert t.startswith(b"a3 BAD"), t
        # STARTTLS cannot come after COMPRESS.
        u, t = c.cmd("a4", "STARTTLS")
        assert t.startswith(b"a4 BAD"), t
        # A literal (LITERAL+) and a synchronising one, compressed.
        msg = make_message(subject="literal")
        c.z.send(b"a5 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        u, t = c.until_tagged("a5")
        assert t.startswith(b"a5 OK"), t
        c.z.send(b"a6 APPEND INBOX {%d}\r\n" % len(msg))
        assert c.line().startswith(b"+ ")
        c.z.send(msg + b"\r\n")
        u, t = c.until_tagged("a6")
        assert t.startswith(b"a6 OK"), t
        c.z.send("a7 FETCH 1 BODY[]\r\n")
        ln = c.line()
        mm = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}$", ln)
        assert mm, ln
        assert c.z.read(int(mm.group(1))) == msg
        u, t = c.until_tagged("a7")
        assert t.startswith(b"a7 OK"), t
        u, t = c.cmd("a8", "LOGOUT")
        assert any(l.startswith(b"* BYE") for l in u) and t.startswith(b"a8 OK")
    finally:
        c.close()


def test_unknown_mechanism_and_preauth(imapd, user):
    r = Raw(imapd)
    try:
        u, t = r.cmd("b1", "COMPRESS DEFLATE")
        assert t.startswith(b"b1 BAD") or t.startswith(b"b1 NO"), t
        u, t = r.cmd("b2", "NOOP")          # still plain
        assert t.startswith(b"b2 OK"), t
        r.login(*user)
        u, t = r.cmd("b3", "COMPRESS LZW")
        assert t.startswith(b"b3 BAD"), t
        u, t = r.cmd("b4", "COMPRESS")
        assert t.startswith(b"b4 BAD"), t
        u, t = r.cmd("b5", "COMPRESS DEFLATE extra")
        assert t.startswith(b"b5 BAD"), t
        u, t = r.cmd("b6", "NOOP")          # none of them turned it on
        assert t == b"b6 OK NOOP completed", t
    finally:
        r.close()


def alive(imapd, user):
    m = connect(imapd, *user)
    typ, _ = m.noop()
    m.logout()
    return typ == "OK"


def test_corrupt_stream_closes_session(imapd, user):
    c = ZRaw(imapd, user)
    try:
        c.start()
        u, t = c.cmd("c1", "NOOP")
        assert t.startswith(b"c1 OK")
        c.r.send(b"\xff\xff\x00\x13\x37\xde\xad\xbe\xef\r\n")
        assert c.r.closed(10), "server kept a corrupt stream open"
    finally:
        c.close()
    assert alive(imapd, user)


def test_decompression_bomb_meets_line_limit(imapd, user):
    """64 MiB of one byte without a line end (about 64 KiB compressed):
    answered as a too-long line; the session and the daemon go on."""
    c = ZRaw(imapd, user)
    try:
        c.start()
        chunk = b"A" * (1 << 20)
        for _ in range(64):
            c.z.send(chunk, flush=zlib.Z_NO_FLUSH)
        c.z.send(b"\r\n")
        c.r.sock.settimeout(60)
        ln = c.line()
        assert ln.startswith(b"* BAD [TOOBIG]"), ln
        u, t = c.cmd("d1", "NOOP")
        assert t.startswith(b"d1 OK"), t
    finally:
        c.close()
    assert alive(imapd, user)


def test_compress_without_tls_is_refused(imapd, user):
    """Before STARTTLS no login works (LOGINDISABLED), so COMPRESS is
    never reached in plaintext; here it is refused as not authenticated."""
    r = Raw(imapd, tls=False)
    try:
        u, t = r.cmd("e1", "COMPRESS DEFLATE")
        assert t.startswith(b"e1 BAD") or t.startswith(b"e1 NO"), t
        u, t = r.cmd("e2", "NOOP")
        assert t.startswith(b"e2 OK"), t
    finally:
        r.close()


MBSYNC_CONF = """
IMAPAccount gms
Host localhost
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {ca}
AuthMechs LOGIN

IMAPStore remote
Account gms

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
"""


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync not installed")
def test_mbsync_uses_compress(imapd, user, tmp_path):
    """Debian's mbsync (isync 1.4) speaks COMPRESS=DEFLATE on its own when
    the server offers it: a two-way sync over it, bodies byte-exact."""
    big = big_message(600 * 1024, seed=11)
    c = connect(imapd, *user)
    try:
        assert c.append("INBOX", None, None, big)[0] == "OK"
        assert c.append("INBOX", None, None, make_message(subject="small"))[0] == "OK"
    finally:
        c.logout()
    maildir = tmp_path / "mail"
    maildir.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(MBSYNC_CONF.format(port=imapd.ports["IMAPS_PORT"], user=user[0],
                                       password=user[1], ca=imapd.ca_cert,
                                       maildir=maildir))
    r = subprocess.run(["mbsync", "-c", str(conf), "-Dn", "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"COMPRESS DEFLATE", out), "mbsync did not ask for COMPRESS"
    assert re.search(r"\S+ OK DEFLATE active", out), out[-3000:]
    files = sorted(glob.glob(str(maildir / "INBOX" / "*" / "*")))
    bodies = [open(f, "rb").read() for f in files]
    assert len(bodies) == 2
    # mbsync stores LF line ends and adds an X-TUID header: compare the
    # body, with line ends normalised, byte for byte.
    big_body = big.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
    assert any(b.endswith(b"\n\n" + big_body) for b in bodies), \
        "large body not exact after a compressed sync"
    # A local message goes up through the compressed connection.
    local = make_message(subject="from mbsync over deflate")
    with open(os.path.join(str(maildir / "INBOX"), "new", "1700000000.z.host"), "wb") as f:
        f.write(local)
    r = subprocess.run(["mbsync", "-c", str(conf), "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-3000:]
    c = connect(imapd, *user)
    try:
        c.select("INBOX")
        typ, data = c.search(None, "SUBJECT", '"from mbsync over deflate"')
        assert typ == "OK" and len(data[0].split()) == 1, data
        typ, data = c.fetch(data[0].split()[0], "(BODY.PEEK[TEXT])")
        assert data[0][1] == local.split(b"\r\n\r\n", 1)[1]
    finally:
        c.logout()
