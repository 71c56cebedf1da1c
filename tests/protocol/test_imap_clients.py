"""gms-imapd with clients others wrote: curl (imap:// with STARTTLS and
imaps://) and mbsync (isync) for a two-way sync, plus the mailstore's MIME
corpus (tests/mime/*.eml with expected ENVELOPE / BODYSTRUCTURE) fetched
through IMAP."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from test_imap_helpers import connect, make_message, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture
def user(imapd):
    return new_user(imapd)


def curl(imapd, user, url, *args, timeout=30):
    cmd = ["curl", "-sS", "--max-time", "20", "--cacert", imapd.ca_cert,
           "-u", "%s:%s" % user] + list(args) + [url]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
needs_mbsync = pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync not installed")


@needs_curl
def test_curl_imaps_list_fetch_append(imapd, user, tmp_path):
    base = "imaps://127.0.0.1:%d" % imapd.ports["IMAPS_PORT"]
    r = curl(imapd, user, base + "/")
    assert r.returncode == 0, r.stderr
    assert b'"INBOX"' in r.stdout and b"\\Sent" in r.stdout
    msg = make_message(subject="via curl", body="curl body\r\n")
    f = tmp_path / "m.eml"
    f.write_bytes(msg)
    r = curl(imapd, user, base + "/INBOX", "-T", str(f))
    assert r.returncode == 0, r.stderr
    r = curl(imapd, user, base + "/INBOX;UID=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == msg
    r = curl(imapd, user, base + "/INBOX;UID=1;SECTION=TEXT")
    assert r.stdout == b"curl body\r\n"
    r = curl(imapd, user, base + "/INBOX?SUBJECT%20curl")
    assert r.returncode == 0 and b"SEARCH 1" in r.stdout
    r = curl(imapd, user, base + "/INBOX", "-X", "EXAMINE INBOX")
    assert b"EXISTS" in r.stdout


@needs_curl
def test_curl_starttls_required_and_bad_password(imapd, user):
    url = "imap://127.0.0.1:%d/" % imapd.ports["IMAP_PORT"]
    r = curl(imapd, user, url, "--ssl-reqd")
    assert r.returncode == 0, r.stderr
    assert b'"INBOX"' in r.stdout
    r = curl(imapd, (user[0], "not-the-password"), url, "--ssl-reqd")
    assert r.returncode != 0
    # Without TLS curl cannot log in at all (LOGINDISABLED).
    r = curl(imapd, user, url)
    assert r.returncode != 0


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
Patterns INBOX Work
Create Both
Expunge Both
Remove None
SyncState *
"""


def run_mbsync(conf):
    r = subprocess.run(["mbsync", "-c", conf, "-V", "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    return r.stdout.decode(errors="replace")


def maildir_files(d):
    out = []
    for sub in ("cur", "new"):
        out += glob.glob(os.path.join(d, sub, "*"))
    return sorted(out)


@needs_mbsync
def test_mbsync_two_way(imapd, user, tmp_path):
    c = connect(imapd, *user)
    c.create("Work")
    for i in range(3):
        c.append("INBOX", None, None, make_message(subject="server %d" % i))
    c.append("Work", "(\\Flagged)", None, make_message(subject="work"))
    maildir = tmp_path / "mail"
    maildir.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(MBSYNC_CONF.format(port=imapd.ports["IMAPS_PORT"], user=user[0],
                                       password=user[1], ca=imapd.ca_cert, maildir=maildir))
    run_mbsync(str(conf))
    inbox = str(maildir / "INBOX")
    assert len(maildir_files(inbox)) == 3
    work = maildir_files(str(maildir / "Work"))
    assert len(work) == 1 and re.search(r":2,.*F", work[0])

    # Local changes: a new message, a flag, a deletion.
    new = os.path.join(inbox, "new", "1700000000.local.host")
    with open(new, "wb") as f:
        f.write(make_message(subject="from local"))
    files = maildir_files(inbox)
    seen_me = [p for p in files if p != new][0]
    base = seen_me.split(":2,")[0]
    os.rename(seen_me, base + ":2,S")
    gone = [p for p in maildir_files(inbox) if p not in (new, base + ":2,S")][0]
    os.rename(gone, gone.split(":2,")[0] + ":2,T")
    run_mbsync(str(conf))
    c.select("INBOX")
    typ, data = c.search(None, "SUBJECT", '"from local"')
    assert data[0] != b""
    typ, data = c.search(None, "SEEN")
    assert len(data[0].split()) == 1
    typ, data = c.search(None, "ALL")
    assert len(data[0].split()) == 3   # 3 + 1 new - 1 deleted

    # Server changes: flag one, delete one.
    c.store("1", "+FLAGS", "\\Flagged")
    c.store("2", "+FLAGS", "\\Deleted")
    c.expunge()
    run_mbsync(str(conf))
    files = maildir_files(inbox)
    assert len(files) == 2
    assert any(re.search(r":2,.*F", p) for p in files)

    # A second sync changes nothing.
    before = sorted(os.path.basename(p) for p in maildir_files(inbox))
    out = run_mbsync(str(conf))
    after = sorted(os.path.basename(p) for p in maildir_files(inbox))
    assert before == after
    typ, data = c.search(None, "ALL")
    assert len(data[0].split()) == 2
    c.logout()


# -- the mailstore's MIME corpus ---------------------------------------------

def corpus():
    d = os.path.join(TOP, "tests", "mime")
    return sorted(glob.glob(os.path.join(d, "*.eml")))


def unescape(b):
    """The corpus files write bytes outside printable ASCII as \\xNN and a
    backslash as \\\\ (tests/unit/test-spool-mime.c)."""
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i:i + 2] == b"\\\\":
            out += b"\\"
            i += 2
        elif b[i:i + 2] == b"\\x" and i + 4 <= len(b):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def expected_for(eml):
    """The expected answers of a corpus message: a dict with ENVELOPE,
    BODYSTRUCTURE and BODY as IMAP text, from the "KEY value" lines of
    NAME.expected (escaped as the spool's corpus test writes them)."""
    base = eml[:-4]
    exp = {}
    if os.path.exists(base + ".expected"):
        with open(base + ".expected", "rb") as f:
            for line in f.read().split(b"\n"):
                m = re.match(rb"(ENVELOPE|BODYSTRUCTURE|BODY) (.*)$", line.rstrip(b"\r"))
                if m:
                    exp[m.group(1).decode()] = unescape(m.group(2))
    for key in ("envelope", "bodystructure", "body"):
        p = base + "." + key
        if os.path.exists(p):
            with open(p, "rb") as f:
                exp[key.upper()] = f.read().strip()
    return exp


def raw_fetch(imapd, user, item):
    """FETCH 1 (item) over a raw dialog: the text after "item " up to the
    closing parenthesis, literals included, as the server sent it."""
    from test_imap_helpers import Raw
    r = Raw(imapd)
    try:
        r.login(*user)
        r.cmd("s", "SELECT INBOX")
        r.send("f FETCH 1 (%s)\r\n" % item)
        data = b""
        for _ in range(10000):
            ln = r.line()
            m = re.search(rb"\{(\d+)\}$", ln)
            data += ln + b"\r\n"
            if m:
                data += r.read_bytes(int(m.group(1)))
                continue
            if ln.startswith(b"f "):
                break
        body = data.split(b"\r\nf ")[0]
        start = body.index(item.encode() + b" ") + len(item) + 1
        return body[start:-1]   # drop the FETCH's closing ")"
    finally:
        r.close()


@pytest.mark.parametrize("eml", corpus() or ["(none)"])
def test_mime_corpus_envelope_bodystructure(imapd, eml):
    if eml == "(none)":
        pytest.skip("tests/mime has no corpus yet")
    exp = expected_for(eml)
    if not exp:
        pytest.skip("no expected answers for %s" % os.path.basename(eml))
    user = new_user(imapd)
    with open(eml, "rb") as f:
        msg = f.read()
    # imaplib would turn bare LF into CRLF: send the bytes as they are.
    from test_imap_helpers import Raw
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        u, t = r.until_tagged("a")
        assert t.startswith(b"a OK"), t
    finally:
        r.close()
    for key, want in exp.items():
        got = raw_fetch(imapd, user, key)
        assert got == want, "%s of %s" % (key, os.path.basename(eml))


SIMPLE = (b"From: a@example.org\r\nTo: demo@demo.go.tz\r\nSubject: hello\r\n"
          b"Date: Mon, 2 Feb 2026 10:00:00 +0000\r\n\r\nbody text\r\n")


def test_simple_message_structure_exact(imapd, user):
    c = connect(imapd, *user)
    c.append("INBOX", None, None, SIMPLE)
    c.logout()
    assert raw_fetch(imapd, user, "BODYSTRUCTURE") == \
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)'
    assert raw_fetch(imapd, user, "BODY") == \
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1)'
    assert raw_fetch(imapd, user, "ENVELOPE") == \
        (b'("Mon, 2 Feb 2026 10:00:00 +0000" "hello" ((NIL NIL "a" "example.org")) '
         b'((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) '
         b'((NIL NIL "demo" "demo.go.tz")) NIL NIL NIL NIL)')


# Keep this test last in the module: it leaves failures on 127.0.0.1 in
# the daemon's throttle, which slows later logins of this suite.
def test_login_failures_are_throttled(imapd):
    import time
    from test_imap_helpers import Raw
    user = new_user(imapd)
    times = []
    for i in range(5):
        r = Raw(imapd)
        try:
            t0 = time.monotonic()
            u, t = r.cmd("a", 'LOGIN "%s" "wrong-%d"' % (user[0], i))
            times.append(time.monotonic() - t0)
            assert t.startswith(b"a NO [AUTHENTICATIONFAILED]"), t
        finally:
            r.close()
    # Three free failures, then a delay that grows.
    assert max(times[:3]) < 0.9, times
    assert times[3] >= 0.9 and times[4] >= times[3], times
    # The right password still works (after its delay).
    r = Raw(imapd)
    try:
        u, t = r.cmd("b", 'LOGIN "%s" "%s"' % user)
        assert t.startswith(b"b OK"), t
    finally:
        r.close()


def part_table(eml):
    """The PART lines of NAME.expected as dicts."""
    parts = []
    with open(eml[:-4] + ".expected", "rb") as f:
        for line in f.read().decode("latin-1").splitlines():
            if line.startswith("PART "):
                d = dict(kv.split("=") for kv in line.split()[2:])
                parts.append({k: int(v) for k, v in d.items()})
    return parts


def section_paths(parts):
    """IMAP section numbers of each part (RFC 9051 6.4.5): children of a
    multipart are numbered from 1; the message inside a message/rfc822
    part shares that part's number."""
    paths = {0: []}
    prefix = {0: []}
    for i in range(1, len(parts)):
        p = parts[i]["parent"]
        if parts[p]["kind"] == 2:          # the encapsulated message
            paths[i] = paths[p]
            prefix[i] = paths[p]
        else:
            n = sum(1 for j in range(1, i + 1) if parts[j]["parent"] == p)
            paths[i] = prefix[p] + [n]
            prefix[i] = paths[i]
    return paths


NESTED = [e for e in corpus() if os.path.exists(e[:-4] + ".expected") and
          sum(1 for p in part_table(e) if p["parent"] >= 0) >= 2]


@pytest.mark.parametrize("eml", NESTED or ["(none)"])
def test_mime_corpus_sections_byte_exact(imapd, eml):
    if eml == "(none)":
        pytest.skip("no nested corpus messages")
    from test_imap_helpers import Raw
    with open(eml, "rb") as f:
        msg = f.read()
    parts = part_table(eml)
    if any(p.get("truncated") for p in parts):
        pytest.skip("truncated structure")
    paths = section_paths(parts)
    user = new_user(imapd)
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        assert r.until_tagged("a")[1].startswith(b"a OK")
        r.cmd("s", "SELECT INBOX")
        checks = []
        for i, p in enumerate(parts):
            if i == 0 or parts[p["parent"]]["kind"] == 2:
                continue
            sec = ".".join(str(n) for n in paths[i])
            body = msg[p["off"] + p["header"]:p["off"] + p["header"] + p["body"]]
            hdr = msg[p["off"]:p["off"] + p["header"]]
            checks.append(("BODY.PEEK[%s.MIME]" % sec, hdr))
            if p["kind"] == 0:
                checks.append(("BODY.PEEK[%s]" % sec, body))
            if p["kind"] == 2:
                inner = parts[i + 1]
                checks.append(("BODY.PEEK[%s.HEADER]" % sec,
                               msg[inner["off"]:inner["off"] + inner["header"]]))
                checks.append(("BODY.PEEK[%s.TEXT]" % sec,
                               msg[inner["off"] + inner["header"]:inner["off"] +
                                   inner["header"] + inner["body"]]))
        assert checks
        for n, (item, want) in enumerate(checks):
            tag = "f%d" % n
            r.send("%s FETCH 1 (%s)\r\n" % (tag, item))
            ln = r.line()
            m = re.search(rb"\{(\d+)\}$", ln)
            assert m, ln
            got = r.read_bytes(int(m.group(1)))
            u, t = r.until_tagged(tag)
            assert t.startswith(tag.encode() + b" OK"), t
            assert got == want, "%s of %s" % (item, os.path.basename(eml))
    finally:
        r.close()
