"""gms-imapd protocol tests: every command's happy and error paths, driven
by Python's imaplib and by raw scripted dialogs against the real daemon
(the suite fixture: real slapd, real mailstore, TLS with a test CA)."""
import re
import socket
import ssl
import time

import pytest

from test_imap_helpers import Raw, connect, make_message, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)


@pytest.fixture
def user(imapd):
    return new_user(imapd)


@pytest.fixture
def m(imapd, user):
    c = connect(imapd, *user)
    yield c
    try:
        c.logout()
    except Exception:
        pass


def append(c, mailbox="INBOX", flags=None, msg=None, date=None):
    typ, data = c.append(mailbox, flags, date, msg or make_message())
    assert typ == "OK", data
    return data


# -- greeting, capabilities, TLS, login ---------------------------------

def test_greeting_and_capabilities_before_tls(imapd):
    r = Raw(imapd, tls=False)
    try:
        assert r.greeting.startswith(b"* OK [CAPABILITY ")
        assert b"STARTTLS" in r.greeting and b"LOGINDISABLED" in r.greeting
        assert b"AUTH=" not in r.greeting
        u, t = r.cmd("a", "CAPABILITY")
        assert t == b"a OK CAPABILITY completed"
        assert b"LOGINDISABLED" in u[0] and b"AUTH=" not in u[0]
    finally:
        r.close()


def test_login_refused_before_tls(imapd, user):
    r = Raw(imapd, tls=False)
    try:
        u, t = r.cmd("a", 'LOGIN "%s" "%s"' % user)
        assert t.startswith(b"a NO [PRIVACYREQUIRED]")
        u, t = r.cmd("b", "AUTHENTICATE PLAIN")
        assert t.startswith(b"b NO [PRIVACYREQUIRED]")
    finally:
        r.close()


def test_starttls_then_login(imapd, user):
    c = connect(imapd)
    assert "AUTH=PLAIN" in c.capabilities and "LOGINDISABLED" not in c.capabilities
    typ, data = c.login(*user)
    assert typ == "OK" and b"CAPABILITY" in data[0] and b"IDLE" in data[0]
    c.logout()


def test_implicit_tls_login(imapd, user):
    c = connect(imapd, *user, implicit=True)
    assert c.noop()[0] == "OK"
    c.logout()


def test_authenticate_plain_sasl_ir(imapd, user):
    c = connect(imapd)
    typ, _ = c.authenticate("PLAIN", lambda _: ("\0%s\0%s" % user).encode())
    assert typ == "OK"
    assert c.select("INBOX")[0] == "OK"
    c.logout()


def test_authenticate_plain_with_initial_response(imapd, user):
    import base64
    r = Raw(imapd)
    try:
        ir = base64.b64encode(("\0%s\0%s" % user).encode()).decode()
        u, t = r.cmd("a", "AUTHENTICATE PLAIN " + ir)
        assert t.startswith(b"a OK"), t
    finally:
        r.close()


def test_authenticate_cancel_and_bad_mech(imapd):
    r = Raw(imapd)
    try:
        r.send("a AUTHENTICATE PLAIN\r\n")
        assert r.line().startswith(b"+")
        r.send("*\r\n")
        u, t = r.until_tagged("a")
        assert t.startswith(b"a BAD")
        u, t = r.cmd("b", "AUTHENTICATE CRAM-MD5")
        assert t.startswith(b"b NO")
    finally:
        r.close()


def test_login_wrong_password_and_empty(imapd, user):
    c = connect(imapd)
    with pytest.raises(imaplib_error()):
        c.login(user[0], "wrong-password")
    r = Raw(imapd)
    try:
        u, t = r.cmd("a", 'LOGIN "%s" ""' % user[0])
        assert t.startswith(b"a NO [AUTHENTICATIONFAILED]")
    finally:
        r.close()


def imaplib_error():
    import imaplib
    return imaplib.IMAP4.error


def test_commands_need_auth(imapd):
    r = Raw(imapd)
    try:
        for tag, cmd in (("a", "SELECT INBOX"), ("b", "LIST \"\" *"),
                         ("c", "FETCH 1 FLAGS"), ("d", "ENABLE IMAP4rev2")):
            u, t = r.cmd(tag, cmd)
            assert t.startswith(tag.encode() + b" BAD [CLIENTBUG]"), t
    finally:
        r.close()


def test_selected_state_commands_need_select(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        for tag, cmd in (("a", "FETCH 1 FLAGS"), ("b", "STORE 1 FLAGS (\\Seen)"),
                         ("c", "EXPUNGE"), ("d", "CLOSE"), ("e", "UID SEARCH ALL")):
            u, t = r.cmd(tag, cmd)
            assert t.startswith(tag.encode() + b" BAD [CLIENTBUG] No mailbox selected"), t
    finally:
        r.close()


def test_capability_after_login_lists_extensions(m):
    typ, data = m.capability()
    caps = data[0].decode().split()
    for c in ("IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC",
              "ESEARCH", "SEARCHRES", "SPECIAL-USE", "LIST-STATUS", "BINARY", "UNSELECT",
              "NAMESPACE", "LITERAL+", "ENABLE", "QUOTA", "SORT", "THREAD=REFERENCES",
              "THREAD=ORDEREDSUBJECT", "WITHIN", "MULTIAPPEND", "UTF8=ACCEPT"):
        assert c in caps, c
    assert any(c.startswith("APPENDLIMIT=") for c in caps)
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps


def test_noop_id_namespace_enable(m):
    assert m.noop()[0] == "OK"
    typ, data = m.xatom("ID", '("name" "pytest" "version" "1")')
    assert typ == "OK"
    assert b'"name" "GMS"' in m.untagged_responses.pop("ID")[0]
    typ, data = m.namespace()
    assert data[0] == b'(("" "/")) NIL NIL'
    typ, data = m.enable("CONDSTORE")
    assert typ == "OK"
    assert m.untagged_responses.get("ENABLED") == [b"CONDSTORE"]


def test_logout_says_bye(imapd, user):
    r = Raw(imapd)
    r.login(*user)
    u, t = r.cmd("z", "LOGOUT")
    assert u[0].startswith(b"* BYE") and t == b"z OK LOGOUT completed"
    assert r.closed()
    r.close()


# -- mailboxes -------------------------------------------------------------

def test_list_special_use_and_children(m):
    typ, data = m.list('""', "*")
    lines = [d.decode() for d in data]
    assert any(l.endswith('"INBOX"') for l in lines)
    assert any("\\Sent" in l and '"Sent"' in l for l in lines)
    assert any("\\Trash" in l for l in lines)
    typ, data = m.list('""', '""')
    assert data == [b'(\\Noselect) "/" ""']


def test_create_delete_rename_hierarchy(m):
    assert m.create("Projects/2026/Budget")[0] == "OK"
    typ, data = m.list('""', "Projects/%")
    assert data == [b'(\\HasChildren) "/" "Projects/2026"']
    typ, data = m.list('""', "Projects*")
    assert len(data) == 3
    assert m.rename("Projects", "Archive2")[0] == "OK"
    typ, data = m.list('""', "Archive2/*")
    assert b'"Archive2/2026/Budget"' in b" ".join(data)
    assert m.list('""', "Projects*")[1] == [None]
    assert m.delete("Archive2/2026/Budget")[0] == "OK"
    typ, data = m.create("Archive2/2026")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = m.delete("NoSuchBox")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    typ, data = m.delete("INBOX")
    assert typ == "NO"


def test_create_special_use(m):
    typ, data = m._simple_command("CREATE", "Important", "(USE (\\Flagged))")
    assert typ == "OK", data
    typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    lines = [d for d in m.untagged_responses.pop("LIST", [])]
    assert any(b"\\Flagged" in l and b"Important" in l for l in lines)
    assert all(b"\\HasNoChildren" in l or b"\\HasChildren" in l for l in lines)
    typ, data = m._simple_command("CREATE", "Bogus", "(USE (\\Nonsense))")
    assert typ == "NO" and b"USEATTR" in data[0]


def test_utf7_mailbox_names(m):
    assert m.create("&AOk-t&AOk-")[0] == "OK"   # "été"
    typ, data = m.list('""', "&AOk-*")
    assert data == [b'(\\HasNoChildren) "/" "&AOk-t&AOk-"']
    with pytest.raises(imaplib_error()):
        m.create("&AOk")


def test_subscribe_lsub_list_subscribed(m):
    assert m.create("Sub1")[0] == "OK"
    assert m.subscribe("Sub1")[0] == "OK"
    assert m.subscribe("Ghost")[0] == "OK"
    typ, data = m.lsub('""', "*")
    names = b" ".join(data)
    assert b'"Sub1"' in names and b'"Ghost"' in names
    typ, data = m._simple_command("LIST", "(SUBSCRIBED)", '""', "*")
    lines = m.untagged_responses.pop("LIST", [])
    assert any(b"\\NonExistent" in l and b"Ghost" in l for l in lines)
    assert any(b"\\Subscribed" in l and b"Sub1" in l for l in lines)
    assert m.unsubscribe("Ghost")[0] == "OK"
    typ, data = m.unsubscribe("Ghost")
    assert typ == "NO"


def test_status_and_list_status(m):
    append(m)
    append(m, flags="(\\Seen)")
    typ, data = m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE RECENT DELETED)")
    s = data[0].decode()
    assert "MESSAGES 2" in s and "UNSEEN 1" in s and "UIDNEXT 3" in s and "DELETED 0" in s
    assert re.search(r"SIZE \d+", s)
    typ, data = m._simple_command("LIST", '""', "INBOX", "RETURN", "(STATUS (MESSAGES))")
    assert typ == "OK"
    st = m.untagged_responses.pop("STATUS", [])
    assert st and b"MESSAGES 2" in st[0]
    typ, data = m.status("NoSuch", "(MESSAGES)")
    assert typ == "NO"
    with pytest.raises(imaplib_error()):
        m.status("INBOX", "(BOGUS)")


def test_select_examine_responses(m):
    append(m)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    assert "UIDVALIDITY" in m.untagged_responses and "UIDNEXT" in m.untagged_responses
    assert m.untagged_responses.get("READ-WRITE") is not None
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and m.untagged_responses.get("READ-ONLY") is not None
    typ, data = m.store("1", "+FLAGS", "\\Seen")
    assert typ == "NO"
    typ, data = m.select("Nope")
    assert typ == "NO"
    with pytest.raises(imaplib_error()):
        m.fetch("1", "FLAGS")   # the failed SELECT left no mailbox selected


def test_select_condstore_highestmodseq(m):
    append(m)
    typ, data = m._simple_command("SELECT", "INBOX", "(CONDSTORE)")
    assert typ == "OK"
    assert "HIGHESTMODSEQ" in m.untagged_responses


# -- APPEND ----------------------------------------------------------------

def test_append_flags_date_appenduid(m):
    typ, data = m.append("INBOX", "(\\Flagged $Work)", '"17-Jul-1996 02:44:25 -0700"',
                         make_message())
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    m.select("INBOX")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE)")
    assert b"\\Flagged" in data[0] and b"$Work" in data[0]
    assert b'INTERNALDATE "17-Jul-1996 02:44:25 -0700"' in data[0]


def test_append_trycreate_and_multiappend(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        msg = make_message().decode()
        u, t = r.cmd("a", "APPEND NoSuch {%d+}\r\n%s" % (len(msg), msg))
        assert t.startswith(b"a NO [TRYCREATE]")
        u, t = r.cmd("b", "APPEND INBOX {%d+}\r\n%s (\\Seen) {%d+}\r\n%s" % (
            len(msg), msg, len(msg), msg))
        assert t.startswith(b"b OK [APPENDUID ") and re.search(rb" \d+:\d+\]", t), t
        u, t = r.cmd("c", "STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 2" in u[0]
    finally:
        r.close()


def test_append_too_big_refused_before_continuation(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send("a APPEND INBOX {9999999999}\r\n")
        ln = r.line()
        assert ln.startswith(b"a NO [TOOBIG]"), ln
        u, t = r.cmd("b", "NOOP")
        assert t == b"b OK NOOP completed"
    finally:
        r.close()


# -- FETCH -----------------------------------------------------------------

MULTI = (b"From: Alice <alice@example.org>\r\nTo: demo@demo.go.tz\r\nSubject: multi\r\n"
         b"Date: Mon, 2 Feb 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
         b"preamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         b"first part\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n"
         b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
         b"From: b@example.org\r\nSubject: inner\r\n\r\ninner body\r\n--XX--\r\n")


def test_fetch_items(m):
    append(m, msg=MULTI)
    m.select("INBOX")
    typ, data = m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)")
    t = data[0]
    assert b"RFC822.SIZE %d" % len(MULTI) in t
    assert b'"multi"' in t and b"\"mixed\"" in t.lower()
    typ, data = m.fetch("1", "ALL")
    assert b"ENVELOPE" in data[0]
    typ, data = m.fetch("1", "FAST")
    assert b"RFC822.SIZE" in data[0] and b"ENVELOPE" not in data[0]


def test_fetch_body_sections_byte_exact(m):
    append(m, msg=MULTI)
    m.select("INBOX")
    def sect(spec):
        typ, data = m.fetch("1", "(%s)" % spec)
        assert typ == "OK", data
        return data[0][1]
    assert sect("BODY.PEEK[]") == MULTI
    hdr_end = MULTI.index(b"\r\n\r\n") + 4
    assert sect("BODY.PEEK[HEADER]") == MULTI[:hdr_end]
    assert sect("BODY.PEEK[TEXT]") == MULTI[hdr_end:]
    assert sect("BODY.PEEK[1]") == b"first part"
    assert sect("BODY.PEEK[1.MIME]") == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    assert sect("BODY.PEEK[2]") == b"AAECAwQF"
    assert sect("BODY.PEEK[3.HEADER]") == b"From: b@example.org\r\nSubject: inner\r\n\r\n"
    assert sect("BODY.PEEK[3.TEXT]") == b"inner body"
    assert sect("BODY.PEEK[3.1]") == b"inner body"
    assert sect("BODY.PEEK[HEADER.FIELDS (Subject From)]") == \
        b"From: Alice <alice@example.org>\r\nSubject: multi\r\n\r\n"
    assert b"Subject" not in sect("BODY.PEEK[HEADER.FIELDS.NOT (Subject)]")
    assert sect("BODY.PEEK[]<0.4>") == b"From"
    assert sect("BODY.PEEK[1]<6.100>") == b"part"
    assert sect("BINARY.PEEK[2]") == b"\x00\x01\x02\x03\x04\x05"
    typ, data = m.fetch("1", "(BINARY.SIZE[2])")
    assert b"BINARY.SIZE[2] 6" in data[0]
    assert sect("RFC822.HEADER") == MULTI[:hdr_end]
    typ, data = m.fetch("1", "(BODY.PEEK[9])")
    assert typ == "OK" and data[0][1] == b""


def test_fetch_sets_seen_unless_peek(m):
    append(m)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert b"\\Seen" in data[-1]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]


def test_fetch_errors(m):
    append(m)
    m.select("INBOX")
    for bad in ("(NOSUCHITEM)", "(BODY[1.])", "(BODY[MIME])", "(BODY[]<0.0>)"):
        with pytest.raises(imaplib_error()):
            m.fetch("1", bad)
    with pytest.raises(imaplib_error()):
        m.fetch("5", "FLAGS")        # past the end: BAD
    typ, data = m.uid("FETCH", "999", "FLAGS")
    assert typ == "OK" and data == [None]


def test_fetch_modseq_changedsince(m):
    append(m)
    append(m)
    m.enable("CONDSTORE")
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(MODSEQ)")
    mods = [int(re.search(rb"MODSEQ \((\d+)\)", d).group(1)) for d in data]
    m.store("2", "+FLAGS", "\\Flagged")
    typ, data = m._simple_command("FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE %d)" % max(mods))
    lines = m.untagged_responses.pop("FETCH", [])
    assert len(lines) >= 1 and all(l.startswith(b"2 ") for l in lines)


# -- STORE, COPY, MOVE, EXPUNGE ---------------------------------------------

def test_store_forms(m):
    append(m)
    m.select("INBOX")
    typ, data = m.store("1", "FLAGS", "(\\Seen \\Draft)")
    assert b"\\Seen" in data[0] and b"\\Draft" in data[0]
    typ, data = m.store("1", "-FLAGS", "(\\Draft)")
    assert b"\\Draft" not in data[0]
    typ, data = m.store("1", "+FLAGS.SILENT", "(\\Answered)")
    assert typ == "OK" and data == [None]
    typ, data = m.fetch("1", "FLAGS")
    assert b"\\Answered" in data[0]
    typ, data = m.store("1", "+FLAGS", "(NonStandard)")
    assert b"NonStandard" in data[0]
    with pytest.raises(imaplib_error()):
        m.store("1", "+FLAGS", "(\\Bogus)")


def test_store_unchangedsince_modified(m):
    append(m)
    m.enable("CONDSTORE")
    m.select("INBOX")
    typ, data = m._simple_command("STORE", "1", "(UNCHANGEDSINCE 1)", "+FLAGS", "(\\Seen)")
    assert typ == "OK"
    typ, data = m._simple_command("STORE", "1", "(UNCHANGEDSINCE 1)", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"MODIFIED 1" in data[0], data


def test_copy_move_copyuid(m):
    append(m)
    append(m)
    m.create("Dest")
    m.select("INBOX")
    typ, data = m.copy("1:2", "Dest")
    assert typ == "OK" and data[0].startswith(b"[COPYUID ")
    typ, data = m.copy("1", "NoSuch")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    typ, data = m._simple_command("MOVE", "1", "Dest")
    assert typ == "OK"
    assert m.untagged_responses.get("EXPUNGE") == [b"1"]
    typ, data = m.status("Dest", "(MESSAGES)")
    assert b"MESSAGES 3" in data[0]
    typ, data = m.uid("MOVE", "99999", "Dest")
    assert typ == "OK"


def test_expunge_and_uid_expunge(m):
    for _ in range(4):
        append(m)
    m.select("INBOX")
    m.store("1,3", "+FLAGS", "\\Deleted")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"3", b"1"]
    typ, data = m.fetch("1:*", "UID")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    assert uids == [2, 4]
    m.store("1:2", "+FLAGS", "\\Deleted")
    typ, data = m.uid("EXPUNGE", "4")
    assert typ == "OK" and m.untagged_responses.pop("EXPUNGE") == [b"2"]
    typ, data = m.fetch("1:*", "UID")
    assert len(data) == 1 and b"UID 2" in data[0]


def test_close_expunges_unselect_does_not(m):
    append(m)
    append(m)
    m.select("INBOX")
    m.store("1", "+FLAGS", "\\Deleted")
    assert m.unselect()[0] == "OK"
    assert b"MESSAGES 2" in m.status("INBOX", "(MESSAGES)")[1][0]
    m.select("INBOX")
    assert m.close()[0] == "OK"
    assert b"MESSAGES 1" in m.status("INBOX", "(MESSAGES)")[1][0]


# -- SEARCH ----------------------------------------------------------------

def test_search_keys(m):
    append(m, msg=make_message(subject="alpha report", body="the budget is ready\r\n"))
    append(m, msg=make_message(subject="beta", frm="boss@example.org"), flags="(\\Flagged)")
    append(m, msg=MULTI)
    m.select("INBOX")
    def s(*keys):
        typ, data = m.search(None, *keys)
        assert typ == "OK", data
        return data[0].split()
    assert s("ALL") == [b"1", b"2", b"3"]
    assert s("SUBJECT", "ALPHA") == [b"1"]
    assert s("FROM", "boss") == [b"2"]
    assert s("FLAGGED") == [b"2"]
    assert s("UNFLAGGED") == [b"1", b"3"]
    assert s("BODY", "budget") == [b"1"]
    assert s("TEXT", "alpha") == [b"1"]
    assert s("NOT", "FLAGGED", "NOT", "SUBJECT", "alpha") == [b"3"]
    assert s("OR", "FLAGGED", "SUBJECT", "alpha") == [b"1", b"2"]
    assert s("2:3") == [b"2", b"3"]
    assert s("UID", "1,3") == [b"1", b"3"]
    assert s("LARGER", "400") == [b"3"]
    assert s("SMALLER", "400") == [b"1", b"2"]
    assert s("SENTON", "2-Feb-2026") == [b"1", b"2", b"3"]
    assert s("SENTBEFORE", "1-Jan-2000") == []
    assert s("SINCE", "1-Jan-2000") == [b"1", b"2", b"3"]
    assert s("HEADER", "Content-Type", "multipart") == [b"3"]
    assert s("CHARSET", "UTF-8", "SUBJECT", "beta") == [b"2"]
    assert s("YOUNGER", "3600") == [b"1", b"2", b"3"]
    assert s("(OR 1 2)", "UNFLAGGED") == [b"1"]
    # KOI8-R is converted (iconv); a charset nobody knows is BADCHARSET.
    assert s("CHARSET", "KOI8-R", "SUBJECT", "beta") == [b"2"]
    typ, data = m.search("X-NO-SUCH-CHARSET", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib_error()):
        m.search(None, "NOSUCHKEY")


def test_esearch_and_searchres(m):
    for _ in range(3):
        append(m)
    m.select("INBOX")
    typ, data = m._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
    es = m.untagged_responses.pop("ESEARCH", [])
    assert es and b"UID MIN 1 MAX 3 ALL 1:3 COUNT 3" in es[0], es
    typ, data = m._simple_command("SEARCH", "RETURN", "(SAVE)", "2:3")
    assert typ == "OK" and "ESEARCH" not in m.untagged_responses
    typ, data = m.fetch("$", "UID")
    assert len(data) == 2
    typ, data = m.search(None, "$")
    assert data[0].split() == [b"2", b"3"]


def test_huge_search_program_bounded(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.cmd("s", "SELECT INBOX")
        prog = " ".join(["NOT SEEN"] * 2000)
        t0 = time.monotonic()
        u, t = r.cmd("a", "SEARCH " + prog)
        assert t.startswith(b"a BAD [LIMIT]"), t
        prog = "OR " * 300 + "ALL " * 301
        u, t = r.cmd("b", "SEARCH " + prog.strip())
        assert t.startswith(b"b BAD [LIMIT]"), t
        prog = "(" * 500 + "ALL" + ")" * 500
        u, t = r.cmd("c", "SEARCH " + prog)
        assert t.startswith(b"c BAD [LIMIT]"), t
        assert time.monotonic() - t0 < 5
        u, t = r.cmd("d", "NOOP")
        assert t.startswith(b"d OK")
    finally:
        r.close()


# -- QUOTA -----------------------------------------------------------------

def test_quota(imapd):
    user = new_user(imapd, quota=10 * 1024 * 1024)
    c = connect(imapd, *user)
    try:
        typ, data = c.getquotaroot("INBOX")
        assert typ == "OK"
        qr = c.untagged_responses
        typ, data = c._simple_command("GETQUOTA", '""')
        q = c.untagged_responses.pop("QUOTA", [])
        assert typ == "OK" and q, q
        typ, data = c._simple_command("SETQUOTA", '""', "(STORAGE 1)")
        assert typ == "NO"
    finally:
        c.logout()


# -- parser abuse ------------------------------------------------------------

def test_bad_commands(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        u, t = r.cmd("a", "FROBNICATE")
        assert t.startswith(b"a BAD [CLIENTBUG]")
        u, t = r.cmd("b", "SELECT")
        assert t.startswith(b"b BAD [CLIENTBUG]")
        u, t = r.cmd("c", 'SELECT "unterminated')
        assert t.startswith(b"c BAD")
        r.send("\r\n")
        assert r.line().startswith(b"* BAD")
        u, t = r.cmd("d", "UID NOOP")
        assert t.startswith(b"d BAD")
    finally:
        r.close()


def test_nul_in_command(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send(b'a SELECT "IN\x00BOX"\r\n')
        ln = r.line()
        assert ln.startswith(b"a BAD [CLIENTBUG]"), ln
        r.send(b"b LOGIN {3}\r\n")
        u, t = r.cmd("c", "NOOP")
        r.send(b"d SELECT {5+}\r\nIN\x00OX\r\n")
        u, t = r.until_tagged("d")
        assert t.startswith(b"d BAD"), t
    finally:
        r.close()


def test_literal_2_63_octets(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send("a APPEND INBOX {9223372036854775808}\r\n")
        ln = r.line()
        assert ln.startswith(b"a NO [TOOBIG]"), ln
        u, t = r.cmd("b", "NOOP")
        assert t.startswith(b"b OK")
        r.send("c APPEND INBOX {9223372036854775808+}\r\nxxxx")
        u, t = r.until_tagged("c")
        assert t.startswith(b"c BAD [TOOBIG]"), t
        assert r.line().startswith(b"* BYE [TOOBIG]")
        assert r.closed()
    finally:
        r.close()


def test_unterminated_literal_times_out_cleanly(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.send("a APPEND INBOX {100}\r\n")
        assert r.line().startswith(b"+")
        r.send("only a part")
    finally:
        r.close()
    # The server must still serve others.
    c = connect(imapd, *user)
    assert c.noop()[0] == "OK"
    c.logout()


def test_deep_nesting_and_long_line(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.cmd("s", "SELECT INBOX")
        u, t = r.cmd("a", "FETCH 1 " + "(" * 1000 + "FLAGS" + ")" * 1000)
        assert t.startswith(b"a BAD"), t
        r.send("b NOOP " + "x" * 200000 + "\r\n")
        ln = r.line()
        assert ln.startswith(b"* BAD [TOOBIG]"), ln
        u, t = r.cmd("c", "NOOP")
        assert t.startswith(b"c OK")
    finally:
        r.close()


def test_preauth_limits_smaller(imapd):
    r = Raw(imapd)
    try:
        r.send("a LOGIN {100000}\r\n")
        assert r.line().startswith(b"a NO [TOOBIG]")
        r.send("b NOOP " + "x" * 20000 + "\r\n")
        assert r.line().startswith(b"* BAD [TOOBIG]")
    finally:
        r.close()


def test_bye_after_too_many_bad_commands(imapd):
    r = Raw(imapd)
    try:
        got_bye = False
        for i in range(30):
            r.send("x%d GARBAGE\r\n" % i)
            ln = r.line()
            if ln.startswith(b"x%d BAD" % i):
                continue
            if ln.startswith(b"* BYE"):
                got_bye = True
                break
        assert got_bye
        assert r.closed()
    finally:
        r.close()


def test_seqset_bounds(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        r.cmd("s", "SELECT INBOX")
        u, t = r.cmd("a", "FETCH " + ",".join(["1"] * 20000) + " FLAGS")
        assert t.startswith(b"a BAD [LIMIT]"), t
        u, t = r.cmd("b", "UID FETCH 1:4294967295 FLAGS")
        assert t.startswith(b"b OK"), t
        u, t = r.cmd("c", "UID FETCH 1:4294967296 FLAGS")
        assert t.startswith(b"c BAD"), t
    finally:
        r.close()


def test_imap4rev2_mode(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        u, t = r.cmd("e", "ENABLE IMAP4rev2 UTF8=ACCEPT")
        assert u == [b"* ENABLED IMAP4rev2 UTF8=ACCEPT"], u
        msg = make_message(subject="résumé")
        r.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(msg) + msg + b")\r\n")
        u, t = r.until_tagged("a")
        assert t.startswith(b"a OK [APPENDUID"), t
        u, t = r.cmd("s", "SELECT INBOX")
        assert not any(b"RECENT" in l for l in u), u
        assert any(l.startswith(b'* LIST () "/" "INBOX"') for l in u), u
        u, t = r.cmd("f", "SEARCH ALL")
        assert u == [b'* ESEARCH (TAG "f") ALL 1'], u
        u, t = r.cmd("c", 'CREATE "été"')
        assert t.startswith(b"c OK"), t
        u, t = r.cmd("l", 'LIST "" "é*"')
        assert any("été".encode() in l for l in u), u
    finally:
        r.close()


def test_utf8_append_needs_enable(imapd, user):
    r = Raw(imapd)
    try:
        r.login(*user)
        msg = make_message()
        r.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(msg) + msg + b")\r\n")
        u, t = r.until_tagged("a")
        assert t.startswith(b"a BAD"), t
    finally:
        r.close()


def test_sort_and_thread(m):
    msgs = [("Re: plan", "carol@example.org", "Tue, 3 Feb 2026 10:00:00 +0000", "x" * 500),
            ("plan", "alice@example.org", "Mon, 2 Feb 2026 10:00:00 +0000", "x"),
            ("budget", "bob@example.org", "Wed, 4 Feb 2026 10:00:00 +0000", "x" * 50)]
    for subj, frm, date, body in msgs:
        msg = ("From: %s\r\nTo: demo@demo.go.tz\r\nSubject: %s\r\nDate: %s\r\n\r\n%s\r\n" % (
            frm, subj, date, body)).encode()
        append(m, msg=msg)
    m.select("INBOX")
    def sort(crit, *keys):
        typ, data = m.sort(crit, "UTF-8", *keys)
        assert typ == "OK", data
        return data[0].split()
    assert sort("(DATE)", "ALL") == [b"2", b"1", b"3"]
    assert sort("(REVERSE DATE)", "ALL") == [b"3", b"1", b"2"]
    assert sort("(SUBJECT)", "ALL") == [b"3", b"1", b"2"]   # ties by number
    assert sort("(FROM)", "ALL") == [b"2", b"3", b"1"]
    assert sort("(SIZE)", "ALL") == [b"2", b"3", b"1"]
    assert sort("(ARRIVAL)", "NOT", "FROM", "bob") == [b"1", b"2"]
    typ, data = m.uid("SORT", "(REVERSE SIZE)", "UTF-8", "ALL")
    assert data[0].split() == [b"1", b"3", b"2"]
    typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    assert typ == "OK" and data[0] == b"(2 1)(3)", data
    with pytest.raises(imaplib_error()):
        m.sort("(NOSUCH)", "UTF-8", "ALL")
    with pytest.raises(imaplib_error()):
        m.thread("NOSUCHALGO", "UTF-8", "ALL")


def test_thread_references(m):
    def msg(mid, subj, date, refs=None, irt=None):
        h = "From: a@example.org\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n" % (
            subj, date, mid)
        if refs:
            h += "References: %s\r\n" % " ".join("<%s>" % r for r in refs)
        if irt:
            h += "In-Reply-To: <%s>\r\n" % irt
        return (h + "\r\nbody\r\n").encode()
    d = "Mon, 2 Feb 2026 %02d:00:00 +0000"
    append(m, msg=msg("a@x", "topic", d % 1))                      # 1
    append(m, msg=msg("b@x", "Re: topic", d % 2, refs=["a@x"]))    # 2
    append(m, msg=msg("c@x", "Re: topic", d % 3, irt="a@x"))       # 3
    append(m, msg=msg("d@x", "Re: topic", d % 4, refs=["a@x", "b@x"]))  # 4
    append(m, msg=msg("e@x", "other", d % 5))                      # 5
    append(m, msg=msg("f@x", "Re: lost", d % 6, refs=["gone@x"]))  # 6
    append(m, msg=msg("g@x", "Re: lost", d % 7, refs=["gone@x"]))  # 7
    m.select("INBOX")
    typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    assert data[0] == b"(1 (2 4)(3))(5)((6)(7))", data


def test_rename_inbox_moves_messages(m):
    append(m)
    append(m)
    assert m.rename("INBOX", "Old-Inbox")[0] == "OK"
    assert b"MESSAGES 0" in m.status("INBOX", "(MESSAGES)")[1][0]
    assert b"MESSAGES 2" in m.status("Old-Inbox", "(MESSAGES)")[1][0]
    typ, data = m.rename("NoSuch", "Other")
    assert typ == "NO"
    m.create("Taken")
    typ, data = m.rename("Old-Inbox", "Taken")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]


def test_search_decodes_encoded_words_and_transfer_encodings(m):
    import base64
    append(m, msg=make_message(subject="=?UTF-8?B?%s?=" % base64.b64encode(
        "Mkutano wa bajeti".encode()).decode()))
    append(m, msg=make_message(subject="=?ISO-8859-1?Q?r=E9sum=E9?="))
    body64 = base64.b64encode(b"the secret word is kilimanjaro\r\n").decode()
    append(m, msg=make_message(subject="b64", extra="Content-Transfer-Encoding: base64\r\n",
                               body=body64 + "\r\n"))
    append(m, msg=make_message(subject="qp", extra="Content-Transfer-Encoding: quoted-printable\r\n",
                               body="soft=\r\nbreak here =3D done\r\n"))
    m.select("INBOX")
    assert m.search(None, "SUBJECT", "bajeti")[1][0].split() == [b"1"]
    assert m.search(None, "BODY", "kilimanjaro")[1][0].split() == [b"3"]
    assert m.search(None, "BODY", '"softbreak here = done"')[1][0].split() == [b"4"]


def test_search_utf8_literal(imapd, user):
    c = connect(imapd, *user)
    c.append("INBOX", None, None, make_message(subject="=?ISO-8859-1?Q?r=E9sum=E9?="))
    c.logout()
    r = Raw(imapd)
    try:
        r.login(*user)
        r.cmd("s", "SELECT INBOX")
        word = "résumé".encode()
        r.send(b"a SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n" % len(word) + word + b"\r\n")
        u, t = r.until_tagged("a")
        assert t.startswith(b"a OK") and u == [b"* SEARCH 1"], (u, t)
    finally:
        r.close()
