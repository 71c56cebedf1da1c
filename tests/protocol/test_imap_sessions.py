"""gms-imapd: many sessions on one mailbox.  Flag changes, expunges and
new mail from other sessions (and from another gms-imapd process) reach
each session as untagged responses at the right moments with the right
sequence numbers; IDLE reports new mail within one second."""
import os
import re
import shutil
import subprocess
import time

import pytest

from test_imap_helpers import Raw, connect, make_message, new_user
from test_imap_helpers import imap_suite as imapd  # noqa: F401 (fixture)
from gmsfix.suite import free_port, wait_port


@pytest.fixture
def user(imapd):
    return new_user(imapd)


def fill(imapd, user, n):
    c = connect(imapd, *user)
    for i in range(n):
        assert c.append("INBOX", None, None, make_message(subject="m%d" % i))[0] == "OK"
    c.logout()


def wait_for(r, pattern, timeout=1.0):
    """Read lines until one matches pattern; (line, seconds) or (None, t)."""
    t0 = time.monotonic()
    r.sock.settimeout(0.1)
    while time.monotonic() - t0 < timeout:
        try:
            ln = r.line()
        except (TimeoutError, OSError):
            continue
        if re.search(pattern, ln):
            return ln, time.monotonic() - t0
    return None, time.monotonic() - t0


def test_idle_sees_append_from_other_session_within_1s(imapd, user):
    fill(imapd, user, 1)
    a = Raw(imapd)
    b = connect(imapd, *user)
    try:
        a.login(*user)
        a.cmd("s", "SELECT INBOX")
        a.send("i IDLE\r\n")
        assert a.line().startswith(b"+ ")
        time.sleep(0.2)
        typ, _ = b.append("INBOX", None, None, make_message(subject="idle"))
        assert typ == "OK"
        ln, t = wait_for(a, rb"^\* 2 EXISTS$", 1.0)
        assert ln is not None, "no EXISTS within 1 s"
        a.sock.settimeout(10)
        a.send("DONE\r\n")
        u, t = a.until_tagged("i")
        assert t == b"i OK IDLE terminated"
    finally:
        a.close()
        b.logout()


def test_idle_sees_flags_and_expunge(imapd, user):
    fill(imapd, user, 3)
    a = Raw(imapd)
    b = connect(imapd, *user)
    try:
        a.login(*user)
        a.cmd("s", "SELECT INBOX")
        a.send("i IDLE\r\n")
        assert a.line().startswith(b"+ ")
        b.select("INBOX")
        b.store("2", "+FLAGS", "\\Flagged")
        ln, t = wait_for(a, rb"^\* 2 FETCH \(.*\\Flagged", 1.0)
        assert ln is not None
        b.store("1", "+FLAGS", "\\Deleted")
        b.expunge()
        ln, t = wait_for(a, rb"^\* 1 EXPUNGE$", 1.0)
        assert ln is not None
        a.sock.settimeout(10)
        a.send("DONE\r\n")
        u, t = a.until_tagged("i")
        assert t.startswith(b"i OK")
    finally:
        a.close()
        b.logout()


def test_two_sessions_store_and_expunge_numbers(imapd, user):
    fill(imapd, user, 4)
    a = Raw(imapd)
    b = connect(imapd, *user)
    try:
        a.login(*user)
        a.cmd("s", "SELECT INBOX")
        b.select("INBOX")
        # B flags message 3: A learns it at its next command.
        b.store("3", "+FLAGS", "\\Flagged")
        u, t = a.cmd("n1", "NOOP")
        assert any(re.match(rb"\* 3 FETCH \(UID 3 FLAGS \(\\Flagged", l) for l in u), u
        # B expunges message 2 and appends one.
        b.store("2", "+FLAGS", "\\Deleted")
        b.expunge()
        b.append("INBOX", None, None, make_message(subject="new"))
        # During FETCH no EXPUNGE may be sent; the numbers stay as A knew them.
        u, t = a.cmd("f1", "FETCH 1:4 (UID)")
        assert not any(b"EXPUNGE" in l for l in u), u
        assert [int(re.search(rb"UID (\d+)", l).group(1)) for l in u if b"FETCH" in l] == \
            [1, 2, 3, 4]
        u, t = a.cmd("s1", "SEARCH ALL")
        assert not any(b"EXPUNGE" in l for l in u)
        # NOOP reports it all: EXPUNGE 2, then EXISTS 4.
        u, t = a.cmd("n2", "NOOP")
        assert b"* 2 EXPUNGE" in u and b"* 4 EXISTS" in u, u
        assert u.index(b"* 2 EXPUNGE") < u.index(b"* 4 EXISTS")
        u, t = a.cmd("f2", "FETCH 1:* (UID)")
        assert [int(re.search(rb"UID (\d+)", l).group(1)) for l in u if b"FETCH" in l] == \
            [1, 3, 4, 5]
        # UID FETCH may report expunges (RFC 9051 7.5.1) after the data.
        b.store("1", "+FLAGS", "\\Deleted")
        b.expunge()
        u, t = a.cmd("f3", "UID FETCH 1:* (FLAGS)")
        assert b"* 1 EXPUNGE" in u, u
    finally:
        a.close()
        b.logout()


def test_qresync_vanished(imapd, user):
    fill(imapd, user, 3)
    a = Raw(imapd)
    b = connect(imapd, *user)
    try:
        a.login(*user)
        a.cmd("e", "ENABLE QRESYNC")
        u, t = a.cmd("s", "SELECT INBOX")
        uidv = int(re.search(rb"UIDVALIDITY (\d+)", b" ".join(u)).group(1))
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(u)).group(1))
        b.select("INBOX")
        b.store("2", "+FLAGS", "\\Deleted")
        b.expunge()
        u, t = a.cmd("n", "NOOP")
        assert b"* VANISHED 2" in u, u
        a.cmd("c", "UNSELECT")
        b.store("1", "+FLAGS", "\\Seen")
        u, t = a.cmd("s2", "SELECT INBOX (QRESYNC (%d %d))" % (uidv, hms))
        assert t.startswith(b"s2 OK"), t
        assert any(l.startswith(b"* VANISHED (EARLIER) 2") for l in u), u
        assert any(re.match(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ", l) for l in u), u
    finally:
        a.close()
        b.logout()


@pytest.fixture
def second_imapd(imapd):
    """Another gms-imapd process on the same store (other ports)."""
    conf = open(imapd.conf_path).read()
    p1, p2 = free_port(), free_port()
    conf = re.sub(r"(?m)^imapd\.listen = .*$", "imapd.listen = 127.0.0.1:%d" % p1, conf)
    conf = re.sub(r"(?m)^imapd\.imaps_listen = .*$", "imapd.imaps_listen = 127.0.0.1:%d" % p2,
                  conf)
    path = os.path.join(imapd.data, "gms-second.conf")
    with open(path, "w") as f:
        f.write(conf)
    log = open(os.path.join(imapd.data, "gms-imapd-second.log"), "ab")
    proc = subprocess.Popen([imapd.binary("gms-imapd"), "-f", "-c", path], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    try:
        assert wait_port(p1, 20, proc)
        yield p1, p2
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_idle_sees_append_from_other_process(imapd, user, second_imapd):
    import imaplib
    fill(imapd, user, 1)
    a = Raw(imapd)
    try:
        a.login(*user)
        a.cmd("s", "SELECT INBOX")
        a.send("i IDLE\r\n")
        assert a.line().startswith(b"+ ")
        time.sleep(0.2)
        from test_imap_helpers import tls_context
        b = imaplib.IMAP4_SSL("127.0.0.1", second_imapd[1], ssl_context=tls_context(imapd),
                              timeout=20)
        b.login(*user)
        assert b.append("INBOX", None, None, make_message(subject="cross"))[0] == "OK"
        ln, t = wait_for(a, rb"^\* 2 EXISTS$", 1.0)
        assert ln is not None, "no EXISTS within 1 s from another process"
        b.logout()
        a.sock.settimeout(10)
        a.send("DONE\r\n")
        u, t = a.until_tagged("i")
        assert t.startswith(b"i OK")
    finally:
        a.close()


def test_idle_without_selection_and_bad_end(imapd, user):
    a = Raw(imapd)
    try:
        a.login(*user)
        a.send("i IDLE\r\n")
        assert a.line().startswith(b"+ ")
        a.send("NOTDONE\r\n")
        u, t = a.until_tagged("i")
        assert t.startswith(b"i BAD")
    finally:
        a.close()


def test_delete_selected_mailbox_elsewhere_gives_bye(imapd, user):
    c = connect(imapd, *user)
    c.create("Doomed")
    a = Raw(imapd)
    try:
        a.login(*user)
        a.cmd("s", "SELECT Doomed")
        assert c.delete("Doomed")[0] == "OK"
        u, t = a.cmd("n", "NOOP")
        assert any(l.startswith(b"* BYE") for l in u) or t.startswith(b"* BYE"), (u, t)
    finally:
        a.close()
        c.logout()


def test_idle_sees_smtp_delivery_within_1s(imapd, user):
    """A message accepted by gms-smtpd shows up as EXISTS on an idling
    session within one second of the 250 that accepted it."""
    import smtplib
    if "gms-smtpd" not in imapd.procs:
        pytest.skip("gms-smtpd is not built in GMS_BUILD")
    a = Raw(imapd)
    try:
        a.login(*user)
        a.cmd("s", "SELECT INBOX")
        a.send("i IDLE\r\n")
        assert a.line().startswith(b"+ ")
        s = smtplib.SMTP("127.0.0.1", imapd.ports["SMTP_PORT"], timeout=20)
        s.ehlo("client.example.org")
        s.sendmail("sender@example.org", [user[0]],
                   make_message(subject="via smtp", to=user[0]))
        s.quit()
        ln, t = wait_for(a, rb"^\* 1 EXISTS$", 1.0)
        assert ln is not None, "no EXISTS within 1 s of the SMTP 250"
        a.sock.settimeout(10)
        a.send("DONE\r\n")
        u, t = a.until_tagged("i")
        assert t.startswith(b"i OK")
    finally:
        a.close()
