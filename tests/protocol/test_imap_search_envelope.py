"""gms-imapd: SEARCH keys answered from the cached ENVELOPE (SUBJECT, FROM,
TO, CC, BCC, HEADER on those fields, SENTBEFORE/SENTON/SENTSINCE) must give
the same answers as reading the header would: folded and RFC 2047 encoded
values, display names, groups, missing fields, quoted strings and
literals in the envelope, and other header fields still read from the
header.  Also STORE and FETCH over many messages in one command."""
import pytest

from test_imap_helpers import Raw, connect, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)


def msg(headers, body="text\r\n"):
    return ("".join(h + "\r\n" for h in headers) + "\r\n" + body).encode()


MSGS = [
    # 1: folded subject, display name with a comma, a group in To
    msg(["From: \"Doe, John\" <john.doe@example.org>",
         "To: Team: alice@example.org, bob@example.net;",
         "Subject: quarterly budget\r\n review meeting",
         "Date: Tue, 3 Mar 2026 09:00:00 +0300",
         "X-Priority: urgent"]),
    # 2: encoded subject and name, Cc and Bcc, a quote in the subject
    msg(["From: =?UTF-8?B?SsO2cmc=?= <jorg@example.de>",
         "To: demo@demo.go.tz",
         "Cc: Carol <carol@example.com>",
         "Bcc: hidden@example.com",
         "Subject: =?ISO-8859-1?Q?r=E9sum=E9?= with \"quotes\"",
         "Date: 1 Jan 2020 00:00:00 +0000"]),
    # 3: no Subject, no Date, no Cc
    msg(["From: plain@example.org", "To: demo@demo.go.tz"]),
    # 4: empty subject, 8-bit UTF-8 subject (a literal in the envelope)
    msg(["From: x@example.org", "Subject: ", "Date: Mon, 2 Feb 2026 10:00:00 +0000"]),
    msg(["From: y@example.org", "Subject: Mkutano wa bajeti \u00e9t\u00e9",
         "Date: Mon, 2 Feb 2026 10:00:00 +0000"]),
]


@pytest.fixture
def sel(imapd):
    user = new_user(imapd)
    c = connect(imapd, *user)
    try:
        for m in MSGS:
            typ, data = c.append("INBOX", None, None, m)
            assert typ == "OK", data
    finally:
        c.logout()
    r = Raw(imapd)
    try:
        r.login(*user)
        u, t = r.cmd("s", "SELECT INBOX")
        assert t.startswith(b"s OK"), t
        yield r
    finally:
        r.close()


def search(r, prog):
    u, t = r.cmd("q", "SEARCH " + prog)
    assert t.startswith(b"q OK"), (prog, t)
    line = [x for x in u if x.startswith(b"* SEARCH")]
    assert len(line) == 1, u
    return [int(x) for x in line[0].split()[2:]]


@pytest.mark.parametrize("prog,want", [
    ("SUBJECT budget", [1]),
    ("SUBJECT \"budget review\"", [1]),          # across the fold
    ("SUBJECT REVIEW", [1]),
    ("SUBJECT resume", []),
    ("SUBJECT \"quotes\"", [2]),
    ("SUBJECT \"\\\"quotes\\\"\"", [2]),        # the quote characters
    ("SUBJECT \"\"", [1, 2, 4, 5]),              # the field exists
    ("SUBJECT bajeti", [5]),
    ("HEADER Subject budget", [1]),
    ("HEADER SUBJECT \"\"", [1, 2, 4, 5]),
    ("FROM doe", [1]),
    ("FROM \"Doe, John\"", [1]),
    ("FROM john.doe@example.org", [1]),
    ("FROM example.org", [1, 3, 4, 5]),
    ("FROM J\u00f6rg", [2]),
    ("FROM jorg@", [2]),
    ("TO bob@example.net", [1]),
    ("TO team", [1]),
    ("TO demo", [2, 3]),
    ("CC carol", [2]),
    ("CC example", [2]),
    ("BCC hidden", [2]),
    ("BCC \"\"", [2]),
    ("CC \"\"", [2]),
    ("NOT CC \"\"", [1, 3, 4, 5]),
    ("HEADER X-Priority urgent", [1]),
    ("HEADER From doe", [1]),
    ("SENTON 3-Mar-2026", [1]),
    ("SENTBEFORE 2-Jan-2020", [2]),
    ("SENTSINCE 1-Feb-2026", [1, 4, 5]),
    ("NOT SENTBEFORE 1-Jan-1990", [1, 2, 3, 4, 5]),  # 3 has no Date
    ("OR SUBJECT budget FROM plain", [1, 3]),
])
def test_search_from_envelope(sel, prog, want):
    if any(ord(ch) > 127 for ch in prog):
        key, _, word = prog.partition(" ")
        data = word.encode()
        sel.send(b"q SEARCH CHARSET UTF-8 %s {%d+}\r\n" % (key.encode(), len(data))
                 + data + b"\r\n")
        u, t = sel.until_tagged("q")
        assert t.startswith(b"q OK"), t
        got = [int(x) for x in u[0].split()[2:]]
    else:
        got = search(sel, prog)
    assert got == want, prog


def test_store_and_fetch_many(imapd):
    """One STORE over every message, then the flags seen by FETCH and by a
    second session, and FETCH ENVELOPE of all of them."""
    user = new_user(imapd)
    c = connect(imapd, *user)
    try:
        n = 300
        for i in range(n):
            typ, data = c.append("INBOX", None, None, msg(
                ["From: s%d@example.org" % i, "Subject: number %d" % i,
                 "Date: Mon, 2 Feb 2026 10:00:00 +0000"]))
            assert typ == "OK", data
    finally:
        c.logout()
    a, b = Raw(imapd), Raw(imapd)
    try:
        a.login(*user)
        b.login(*user)
        assert a.cmd("s", "SELECT INBOX")[1].startswith(b"s OK")
        assert b.cmd("s", "SELECT INBOX")[1].startswith(b"s OK")
        u, t = a.cmd("k", "STORE 1:* +FLAGS.SILENT (\\Flagged $Work)")
        assert t.startswith(b"k OK") and not [x for x in u if b"FETCH" in x], u
        evens = ",".join(str(i) for i in range(2, n + 1, 2))
        u, t = a.cmd("k2", "STORE %s -FLAGS.SILENT (\\Flagged)" % evens)
        assert t.startswith(b"k2 OK"), t
        u, t = a.cmd("f", "FETCH 1:* (FLAGS)")
        assert t.startswith(b"f OK")
        fetches = [x for x in u if b" FETCH " in x]
        assert len(fetches) == n
        for i, line in enumerate(fetches):
            assert (b"\\Flagged" in line) == (i % 2 == 0), line
            assert b"$Work" in line
        # The other session learns every change at its next command.
        u, t = b.cmd("n", "NOOP")
        assert t.startswith(b"n OK")
        changed = [x for x in u if b" FETCH " in x]
        assert len(changed) == n, len(changed)
        assert sum(1 for x in changed if b"\\Flagged" in x) == n // 2
        u, t = b.cmd("n2", "NOOP")
        assert t.startswith(b"n2 OK") and not [x for x in u if b"FETCH" in x], u
        u, t = b.cmd("e", "FETCH 1:* (ENVELOPE)")
        assert t.startswith(b"e OK")
        env = [x for x in u if b"ENVELOPE" in x]
        assert len(env) == n
        assert b'"number 7"' in env[7] and b'"s7"' in env[7]
        assert search(b, "FLAGGED") == list(range(1, n + 1, 2))
        assert search(b, "SUBJECT \"number 29\"") == [30] + list(range(291, 301))
    finally:
        a.close()
        b.close()
