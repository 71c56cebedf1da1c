"""gms-imapd: SEARCH over decoded text (RFC 9051 6.4.4, RFC 3501 6.4.4) and
SORT=DISPLAY (RFC 5957).

Bodies in quoted-printable and base64, in ISO-8859-1, windows-1251, KOI8-R,
ISO-8859-7 and UTF-8; subjects as RFC 2047 encoded words (Q and B, several
charsets); case-insensitive matching across scripts (Latin-1, Greek,
Cyrillic); CHARSET conversion of the needles and BADCHARSET; the CHARSET
rules after ENABLE UTF8=ACCEPT and IMAP4rev2; a body larger than what the
server loads at once; DISPLAYFROM / DISPLAYTO ordering with display names,
bare addresses and encoded names."""
import base64
import quopri

import pytest

from test_imap_helpers import Raw, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)


def qp(text, charset):
    return quopri.encodestring(text.encode(charset)).decode("ascii").replace(
        "\n", "\r\n")


def b64(text, charset, width=40):
    s = base64.b64encode(text.encode(charset)).decode("ascii")
    return "\r\n".join(s[i:i + width] for i in range(0, len(s), width)) + "\r\n"


def ew(text, charset, enc):
    raw = text.encode(charset)
    if enc == "B":
        data = base64.b64encode(raw).decode("ascii")
    else:
        data = "".join(chr(c) if (c < 128 and (chr(c).isalnum())) else
                       "_" if c == 32 else "=%02X" % c for c in raw)
    return "=?%s?%s?%s?=" % (charset, enc, data)


def msg(headers, body):
    h = "".join(x + "\r\n" for x in headers)
    return (h + "\r\n").encode() + (body if isinstance(body, bytes) else body.encode())


LARGE_TAIL = "Schlusswort Zürich"


def large_body():
    # About 2 MiB of base64 UTF-8 text: more than the server reads at once.
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40 + "\n")
    return b64(filler * 900 + LARGE_TAIL + "\n", "utf-8", 76)


MSGS = [
    # 1: ISO-8859-1 quoted-printable, Q-encoded Latin-1 subject
    msg(["From: a@example.org", "To: demo@demo.go.tz",
         "Subject: " + ew("Vacances d'été", "iso-8859-1", "Q"),
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=ISO-8859-1",
         "Content-Transfer-Encoding: quoted-printable"],
        qp("L'ÉTÉ est très chaud à Dar es Salaam, vraiment chaud.\n", "iso-8859-1")),
    # 2: windows-1251 base64, B-encoded windows-1251 subject
    msg(["From: b@example.org", "To: demo@demo.go.tz",
         "Subject: " + ew("Отчёт за квартал", "windows-1251", "B"),
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=\"windows-1251\"",
         "Content-Transfer-Encoding: base64"],
        b64("Привет, мир! Отчёт готов.\n", "windows-1251")),
    # 3: UTF-8 base64, B-encoded UTF-8 Greek subject
    msg(["From: c@example.org", "To: demo@demo.go.tz",
         "Subject: " + ew("Ελληνικά νέα", "utf-8", "B"),
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: base64"],
        b64("Grüße aus Köln. Καλημέρα κόσμε.\n", "utf-8")),
    # 4: multipart: ASCII text, KOI8-R html in QP, a base64 attachment
    msg(["From: d@example.org", "To: demo@demo.go.tz",
         "Subject: " + ew("Москва", "koi8-r", "Q") + " report",
         "MIME-Version: 1.0",
         "Content-Type: multipart/mixed; boundary=\"XYZ\""],
        "--XYZ\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Plain part only ascii.\r\n"
        "--XYZ\r\nContent-Type: text/html; charset=koi8-r\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp("<p><b>Столица</b>: Москва</p>\n", "koi8-r") +
        "--XYZ\r\nContent-Type: application/octet-stream; name=data.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64("secretword inside the attachment\n", "ascii") +
        "--XYZ--\r\n"),
    # 5: 8-bit body in a charset nobody knows: matched on its raw bytes
    msg(["From: e@example.org", "To: demo@demo.go.tz", "Subject: raw",
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=x-unknown-charset",
         "Content-Transfer-Encoding: 8bit"],
        b"Caf\xe9 noir et cr\xe8me\r\n"),
    # 6: an attached message with an encoded subject and its own body
    msg(["From: f@example.org", "To: demo@demo.go.tz", "Subject: forward",
         "MIME-Version: 1.0",
         "Content-Type: multipart/mixed; boundary=\"B6\""],
        "--B6\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--B6\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: inner@example.org\r\n"
        "Subject: " + ew("Jahresbericht für 2025", "utf-8", "Q") + "\r\n"
        "Content-Type: text/plain; charset=iso-8859-15\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp("Inner body words, 5 €.\n", "iso-8859-15") +
        "--B6--\r\n"),
    # 7: large base64 body, the words at its very end
    msg(["From: g@example.org", "To: demo@demo.go.tz", "Subject: large",
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: base64"],
        large_body()),
    # 8: ISO-8859-7 quoted-printable Greek, upper case in the body
    msg(["From: h@example.org", "To: demo@demo.go.tz", "Subject: greek",
         "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=iso-8859-7",
         "Content-Transfer-Encoding: quoted-printable"],
        qp("ΣΥΝΑΝΤΗΣΗ ΑΎΡΙΟ\n", "iso-8859-7")),
]


@pytest.fixture(scope="module")
def mbox(imapd):
    user = new_user(imapd)
    r = Raw(imapd, timeout=30)
    try:
        r.login(*user)
        for i, m in enumerate(MSGS):
            r.send(b"a%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n")
            u, t = r.until_tagged("a%d" % i)
            assert t.startswith(b"a%d OK" % i), t
    finally:
        r.close()
    return user


@pytest.fixture
def sel(imapd, mbox):
    r = Raw(imapd, timeout=30)
    try:
        r.login(*mbox)
        u, t = r.cmd("s", "SELECT INBOX")
        assert t.startswith(b"s OK") and b"* %d EXISTS" % len(MSGS) in u, (u, t)
        yield r
    finally:
        r.close()


def run(r, head, key, needle, charset="utf-8"):
    """SEARCH head KEY {literal needle}: (untagged, tagged)."""
    data = needle if isinstance(needle, bytes) else needle.encode(charset)
    r.send(head.encode() + b" " + key.encode() + b" {%d+}\r\n" % len(data) + data
           + b"\r\n")
    return r.until_tagged(head.split()[0])


def numbers(u, what=b"* SEARCH"):
    lines = [x for x in u if x.startswith(what)]
    assert len(lines) == 1, u
    return [int(x) for x in lines[0].split()[2:]]


@pytest.mark.parametrize("key,needle,want", [
    ("BODY", "ÉTÉ", [1]),
    ("BODY", "été", [1]),
    ("BODY", "TRÈS CHAUD À DAR", [1]),
    ("BODY", "=C9T", []),                 # QP escapes are not the text
    ("BODY", "ПРИВЕТ", [2]),
    ("BODY", "отчёт", [2]),
    ("BODY", "ОТЧЁТ ГОТОВ", [2]),
    ("BODY", "LCDs6PAh", []),             # base64 is not the text
    ("BODY", "καλημέρα", [3]),
    ("BODY", "GRÜßE AUS KÖLN", [3]),
    ("BODY", "grüsse", []),               # simple folding: ß is not ss
    ("BODY", "σύνάντηση", []),            # a different accent placement
    ("BODY", "συναντηση αύριο", [8]),
    ("BODY", "PLAIN PART ONLY", [4]),
    ("BODY", "столица", [4]),
    ("BODY", "МОСКВА", [4]),
    ("BODY", "secretword", []),           # not a text part
    ("TEXT", "secretword", []),
    ("BODY", "vacances", []),             # the subject is not the body
    ("TEXT", "VACANCES D'ÉTÉ", [1]),      # TEXT decodes the header
    ("BODY", "jahresbericht FÜR", [6]),   # an attached message's header
    ("BODY", "inner BODY words, 5 €", [6]),
    ("BODY", "see attached", [6]),
    ("BODY", "schlusswort zürich", [7]),  # past the first window
    ("BODY", "lorem ipsum", [7]),
    ("SUBJECT", "ÉTÉ", [1]),
    ("SUBJECT", "d'été", [1]),
    ("SUBJECT", "отчёт ЗА", [2]),
    ("SUBJECT", "ΕΛΛΗΝΙΚΆ", [3]),
    ("SUBJECT", "москва REPORT", [4]),
    ("HEADER Subject", "КВАРТАЛ", [2]),
    ("FROM", "A@EXAMPLE.ORG", [1]),
])
def test_search_decoded(sel, key, needle, want):
    u, t = run(sel, "q SEARCH CHARSET UTF-8", key, needle)
    assert t.startswith(b"q OK"), t
    assert numbers(u) == want, (key, needle)


@pytest.mark.parametrize("charset,key,needle,want", [
    ("ISO-8859-1", "BODY", "ÉTÉ", [1]),
    ("iso-8859-1", "SUBJECT", "d'été", [1]),
    ("windows-1251", "BODY", "МИР", [2]),
    ("KOI8-R", "BODY", "москва", [4]),
    ("ISO-8859-7", "BODY", "ΚΑΛΗΜΈΡΑ", [3]),
    ("US-ASCII", "BODY", "Dar es Salaam", [1]),
])
def test_search_charset_conversion(sel, charset, key, needle, want):
    u, t = run(sel, "q SEARCH CHARSET " + charset, key, needle, charset)
    assert t.startswith(b"q OK"), t
    assert numbers(u) == want, (charset, key, needle)


def test_search_raw_unknown_charset(sel):
    # The body's charset is unknown: its raw bytes are compared.
    u, t = run(sel, "q SEARCH", "BODY", b"CAF\xe9 NOIR")
    assert t.startswith(b"q OK"), t
    assert numbers(u) == [5]
    u, t = run(sel, "q SEARCH CHARSET UTF-8", "BODY", "café noir")
    assert t.startswith(b"q OK"), t
    assert numbers(u) == []


def test_search_program_combines_decoded_keys(sel):
    u, t = sel.cmd("q", "UID SEARCH OR BODY \"plain part\" BODY zzz-none NOT FROM d@")
    assert t.startswith(b"q OK"), t
    assert numbers(u) == []
    sel.send(b"q SEARCH CHARSET UTF-8 OR BODY {5+}\r\n\xc3\x89T\xc3\x89 SUBJECT raw\r\n")
    u, t = sel.until_tagged("q")
    assert t.startswith(b"q OK"), t
    assert numbers(u) == [1, 5]


def test_badcharset(sel):
    u, t = sel.cmd("q", "SEARCH CHARSET X-NO-SUCH-CHARSET BODY hello")
    assert t.startswith(b"q NO [BADCHARSET (UTF-8 US-ASCII)]"), t
    u, t = sel.cmd("q", "SEARCH CHARSET \"UTF-8//TRANSLIT\" BODY hello")
    assert t.startswith(b"q NO [BADCHARSET"), t
    u, t = sel.cmd("q", "SORT (SUBJECT) X-NO-SUCH-CHARSET ALL")
    assert t.startswith(b"q NO [BADCHARSET (UTF-8 US-ASCII)]"), t
    u, t = sel.cmd("q", "THREAD REFERENCES X-NO-SUCH ALL")
    assert t.startswith(b"q NO [BADCHARSET"), t
    # The session goes on.
    u, t = sel.cmd("q", "SEARCH CHARSET US-ASCII SUBJECT raw")
    assert t.startswith(b"q OK") and numbers(u) == [5], (u, t)


def test_sort_and_thread_charset(sel):
    u, t = run(sel, "q SORT (REVERSE ARRIVAL) ISO-8859-1", "BODY", "été", "iso-8859-1")
    assert t.startswith(b"q OK"), t
    assert numbers(u, b"* SORT") == [1]
    u, t = run(sel, "q SORT (ARRIVAL) UTF-8", "TEXT", "ΣΥΝΑΝΤΗΣΗ")
    assert t.startswith(b"q OK"), t
    assert numbers(u, b"* SORT") == [8]


def test_utf8_accept_charset_rules(imapd, mbox):
    r = Raw(imapd, timeout=30)
    try:
        r.login(*mbox)
        u, t = r.cmd("e", "ENABLE UTF8=ACCEPT")
        assert t.startswith(b"e OK") and b"ENABLED UTF8=ACCEPT" in b" ".join(u), (u, t)
        assert r.cmd("s", "SELECT INBOX")[1].startswith(b"s OK")
        # RFC 6855 3: a charset other than UTF-8 is a conflict: BAD.
        u, t = r.cmd("q", "SEARCH CHARSET ISO-8859-1 BODY x")
        assert t.startswith(b"q BAD"), t
        # No CHARSET: UTF-8, 8-bit text in a quoted string.
        r.send("q SEARCH BODY \"été\"\r\n".encode())
        u, t = r.until_tagged("q")
        assert t.startswith(b"q OK") and numbers(u) == [1], (u, t)
    finally:
        r.close()


def test_imap4rev2_default_utf8(imapd, mbox):
    r = Raw(imapd, timeout=30)
    try:
        r.login(*mbox)
        u, t = r.cmd("e", "ENABLE IMAP4rev2")
        assert t.startswith(b"e OK"), t
        assert r.cmd("s", "SELECT INBOX")[1].startswith(b"s OK")
        # No CHARSET means UTF-8 (RFC 9051 6.4.4); the answer is ESEARCH.
        data = "ОТЧЁТ".encode()
        r.send(b"q SEARCH BODY {%d+}\r\n" % len(data) + data + b"\r\n")
        u, t = r.until_tagged("q")
        assert t.startswith(b"q OK"), t
        assert [x for x in u if x.startswith(b"* ESEARCH")] == \
            [b'* ESEARCH (TAG "q") ALL 2'], u
        # CHARSET UTF-8 stays allowed, and other known charsets convert.
        u, t = run(r, "q SEARCH CHARSET KOI8-R", "BODY", "СТОЛИЦА", "koi8-r")
        assert t.startswith(b"q OK"), t
        assert [x for x in u if x.startswith(b"* ESEARCH")] == \
            [b'* ESEARCH (TAG "q") ALL 4'], u
        u, t = r.cmd("q", "SEARCH CHARSET X-NOPE BODY x")
        assert t.startswith(b"q NO [BADCHARSET"), t
    finally:
        r.close()


# ---------------------------------------------------------------------
# SORT=DISPLAY (RFC 5957).

SORT_MSGS = [
    # (From, To)
    ("\"Zed Alpha\" <aaa@example.org>", "Mike <m1@example.org>"),
    ("bob@example.org", "\"Xavier\" <a2@example.org>"),
    (ew("Émile", "utf-8", "Q") + " <zzz@example.org>", "c3@example.org"),
    ("anna <yyy@example.org>", "=?ISO-8859-1?Q?=C5sa?= <b4@example.org>"),
    ("Carl (the boss) <ccc@example.org>", "Team: Bert <z5@example.org>;"),
]


@pytest.fixture(scope="module")
def sortbox(imapd):
    user = new_user(imapd)
    r = Raw(imapd, timeout=30)
    try:
        r.login(*user)
        for i, (f, to) in enumerate(SORT_MSGS):
            m = msg(["From: " + f, "To: " + to, "Subject: s%d" % i,
                     "Date: Mon, 2 Feb 2026 10:00:0%d +0000" % i], "body\r\n")
            r.send(b"a%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n")
            u, t = r.until_tagged("a%d" % i)
            assert t.startswith(b"a%d OK" % i), t
        yield (r, user)
    finally:
        r.close()


def test_capability_sort_display(imapd, sortbox):
    r, _ = sortbox
    u, t = r.cmd("c", "CAPABILITY")
    assert t.startswith(b"c OK")
    caps = b" ".join(u).split()
    assert b"SORT=DISPLAY" in caps and b"SORT" in caps, caps


@pytest.mark.parametrize("crit,want", [
    # FROM sorts on the mailbox: aaa bob ccc yyy zzz
    ("FROM", [1, 2, 5, 4, 3]),
    # DISPLAYFROM: anna, bob@example.org, carl, zed alpha, émile
    ("DISPLAYFROM", [4, 2, 5, 1, 3]),
    ("REVERSE DISPLAYFROM", [3, 1, 5, 2, 4]),
    # TO sorts on the mailbox: a2 b4 c3 m1 z5
    ("TO", [2, 4, 3, 1, 5]),
    # DISPLAYTO: bert (in a group), c3@example.org, mike, xavier, åsa
    ("DISPLAYTO", [5, 3, 1, 2, 4]),
    ("DISPLAYTO REVERSE DISPLAYFROM", [5, 3, 1, 2, 4]),
])
def test_sort_display(sortbox, crit, want):
    r, _ = sortbox
    u, t = r.cmd("s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    u, t = r.cmd("q", "SORT (%s) UTF-8 ALL" % crit)
    assert t.startswith(b"q OK"), (crit, t)
    assert numbers(u, b"* SORT") == want, crit


def test_sort_display_uid_and_search(sortbox):
    r, _ = sortbox
    assert r.cmd("s", "SELECT INBOX")[1].startswith(b"s OK")
    u, t = r.cmd("f", "UID FETCH 1:* (UID)")
    uids = [int(x.split(b"UID ")[1].rstrip(b")")) for x in u if b"FETCH" in x]
    assert len(uids) == 5
    u, t = r.cmd("q", "UID SORT (DISPLAYFROM) US-ASCII NOT FROM bob")
    assert t.startswith(b"q OK"), t
    assert numbers(u, b"* SORT") == [uids[3], uids[4], uids[0], uids[2]]
    u, t = r.cmd("q", "SORT (DISPLAY) UTF-8 ALL")
    assert t.startswith(b"q BAD"), t      # not a key of RFC 5957
