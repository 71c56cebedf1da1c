"""Durability of gms-smtpd under SIGKILL, against the real daemon, slapd
and the Berkeley DB mailstore: the daemon is killed many times (bounded)
while clients are in the middle of DATA and while messages are being
committed.  After each restart:

- every message whose sender got the final 250 is in every recipient's
  mailbox exactly once;
- a message whose sender did not get 250 is either absent or, when the
  commit reached the disk just before the kill, present once and whole
  (never twice, never cut short);
- nothing partial is ever stored: each stored copy ends with its END line.

Messages are read back through the spool API (smtp-spooldump).
"""
import os
import random
import re
import shutil
import smtplib
import socket
import tempfile
import threading
import time
import uuid

import pytest

from test_smtp_env import SmtpEnv, SMTPD, SPOOLDUMP, USER, USER2

pytestmark = [
    pytest.mark.skipif(not os.access(SMTPD, os.X_OK), reason="gms-smtpd is not built"),
    pytest.mark.skipif(not os.access(SPOOLDUMP, os.X_OK),
                       reason="smtp-spooldump is not built (make check)"),
    pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the suite starts daemons as root"),
]

ROUNDS_DATA = int(os.environ.get("GMS_SMTP_KILL_ROUNDS_DATA", "6"))
ROUNDS_COMMIT = int(os.environ.get("GMS_SMTP_KILL_ROUNDS", "10"))


@pytest.fixture(scope="module")
def env():
    work = tempfile.mkdtemp(prefix="gms-smtp-kill-")
    os.chmod(work, 0o755)
    e = SmtpEnv(work, greet_pause_ms=0)
    try:
        e.start()
        yield e
    finally:
        e.stop()
        shutil.rmtree(work, ignore_errors=True)


def body(tok, lines=40):
    text = b"BEGIN " + tok + b"\r\n"
    text += b"".join(b"line %d of %s ................................\r\n" % (i, tok)
                     for i in range(lines))
    return text + b"END " + tok + b"\r\n"


def message(tok, lines=40):
    return (b"From: a@spf-pass.test\r\nTo: " + USER.encode() + b"\r\nSubject: kill " +
            tok + b"\r\n\r\n" + body(tok, lines))


def copies(env, user, tok):
    found = env.find(user, tok)
    for m in found:
        assert m.rstrip(b"\r\n").endswith(b"END " + tok), "partial message stored"
    return len(found)


def test_sigkill_during_data(env):
    """Killed while the client is still sending DATA: nothing is stored."""
    for _ in range(ROUNDS_DATA):
        tok = uuid.uuid4().hex.encode()
        msg = message(tok, lines=1500)          # about 80 KB
        s = socket.create_connection(("127.0.0.1", env.port), timeout=10)
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"EHLO killer.example\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"MAIL FROM:<a@spf-pass.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\n"
                  b"DATA\r\n" % (USER.encode(), USER2.encode()))
        for _ in range(4):
            f.readline()
        cut = random.randint(len(msg) // 4, len(msg) - 10)
        s.sendall(msg[:cut])
        time.sleep(random.uniform(0.0, 0.05))
        env.restart_smtpd()
        s.close()
        assert copies(env, USER, tok) == 0
        assert copies(env, USER2, tok) == 0
    # The restarted daemon works.
    tok = uuid.uuid4().hex.encode()
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    c.ehlo("after.example")
    c.mail("a@spf-pass.test")
    c.rcpt(USER)
    assert c.data(message(tok))[0] == 250
    c.quit()
    assert copies(env, USER, tok) == 1


def sender(env, stop, results, lock):
    """Send messages to two recipients until stopped; record the outcome."""
    while not stop.is_set():
        tok = uuid.uuid4().hex.encode()
        with lock:
            results[tok] = "sent"
        try:
            c = smtplib.SMTP("127.0.0.1", env.port, timeout=10)
            c.ehlo("killer.example")
            c.mail("a@spf-pass.test")
            c.rcpt(USER)
            c.rcpt(USER2)
            code, _ = c.data(message(tok, lines=random.choice((5, 200, 800))))
            with lock:
                results[tok] = "250" if code == 250 else "refused"
            try:
                c.quit()
            except (smtplib.SMTPException, OSError):
                pass
        except (smtplib.SMTPException, OSError):
            time.sleep(0.02)


def test_sigkill_during_commit(env):
    """Killed while messages stream in and commit: 250 means exactly once."""
    results, lock = {}, threading.Lock()
    acked_total = 0
    for _ in range(ROUNDS_COMMIT):
        stop = threading.Event()
        threads = [threading.Thread(target=sender, args=(env, stop, results, lock))
                   for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.2, 0.8))
        try:
            env.restart_smtpd()
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not any(t.is_alive() for t in threads)
    with lock:
        outcome = dict(results)
    # Read each mailbox once and count the copies of every token: asking
    # per token would scan the mailbox once per message sent.
    counts = {}
    for user in (USER, USER2):
        per = counts.setdefault(user, {})
        for m in env.mailbox(user, "INBOX"):
            found = re.search(rb"BEGIN ([0-9a-f]{32})\r\n", m)
            assert found, "a stored message lacks its BEGIN line"
            tok = found.group(1)
            assert m.rstrip(b"\r\n").endswith(b"END " + tok), "partial message stored"
            per[tok] = per.get(tok, 0) + 1
    for tok, state in outcome.items():
        for user in (USER, USER2):
            n = counts[user].get(tok, 0)
            if state == "250":
                assert n == 1, (tok, user, n)
            else:
                assert n <= 1, (tok, user, n, state)
        if state == "250":
            acked_total += 1
    assert acked_total >= ROUNDS_COMMIT, "the senders got too few 250s to mean much"


# ---------------------------------------------------------------- disk full

@pytest.fixture(scope="module")
def full_env():
    work = tempfile.mkdtemp(prefix="gms-smtp-full-")
    os.chmod(work, 0o755)
    e = SmtpEnv(work, greet_pause_ms=0, spool_tmpfs_mb=48,
                extra_conf="spool.log_file_size = 1m\nspool.cache_size = 2m\n"
                           "spool.max_locks = 2000\nspool.max_threads = 64\n"
                           "smtpd.max_message_size = 1m")
    try:
        e.start()
        yield e
    finally:
        e.stop()
        shutil.rmtree(work, ignore_errors=True)


def send_sized(env, tok, size):
    try:
        return _send_sized(env, tok, size)
    except (smtplib.SMTPException, OSError) as e:
        proc = env.suite.procs.get("gms-smtpd")
        if proc is not None:
            try:
                proc.wait(2)
            except Exception:
                pass
        raise AssertionError("%r; gms-smtpd status %s; log:\n%s" % (
            e, proc and proc.poll(), env.suite.log_tail("gms-smtpd", 15)))


def _send_sized(env, tok, size):
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=60)
    try:
        c.ehlo("full.example")
        c.mail("a@spf-pass.test")
        c.rcpt(USER)
        return c.data(b"From: a@spf-pass.test\r\nSubject: " + tok + b"\r\n\r\n" +
                      (b"x" * 998 + b"\r\n") * (size // 1000) + b"END " + tok + b"\r\n")
    finally:
        c.close()


def test_disk_full_is_a_temporary_failure(full_env):
    """The mailstore's file system fills up: the reply is 452 4.3.1 or
    451 4.3.0 (never 250), nothing partial is stored, and delivery works
    again once there is room."""
    env = full_env
    first = uuid.uuid4().hex.encode()
    assert send_sized(env, first, 10000)[0] == 250
    st = os.statvfs(env.suite.spool_dir)
    filler = os.path.join(env.suite.spool_dir, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * (st.f_bavail * st.f_frsize - 200 * 1024))
    refused = []
    try:
        for _ in range(3):
            tok = uuid.uuid4().hex.encode()
            code, text = send_sized(env, tok, 500000)
            assert code != 250, "250 although the disk is full"
            assert (code, text[:5]) in ((452, b"4.3.1"), (451, b"4.3.0")), (code, text)
            refused.append(tok)
        proc = env.suite.procs.get("gms-smtpd")
        assert proc is not None and proc.poll() is None, \
            "gms-smtpd died on a full disk (status %s)" % (proc and proc.returncode)
    finally:
        os.unlink(filler)
    after = uuid.uuid4().hex.encode()
    deadline = time.monotonic() + 30
    while True:
        code, _ = send_sized(env, after, 10000)
        if code == 250 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert code == 250
    assert copies(env, USER, first) == 1
    assert copies(env, USER, after) == 1
    for tok in refused:
        assert copies(env, USER, tok) == 0
