"""Protocol tests of gms-smtpd against the real daemon, a real slapd and a
real DNS server (unbound) with SPF, DKIM and DMARC test zones, driven by
Python's smtplib, raw sockets for hostile dialogs, swaks and curl.

What is covered: every ESMTP extension we announce and its error paths
(PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS,
AUTH, CHUNKING/BINARYMIME, DSN, LIMITS), the submission ports, recipients
against the directory (unknown, alias, lists and their posting policy,
postmaster, quota, directory down), the open-relay battery, SMTP
smuggling and STARTTLS injection, SPF (pass, fail, softfail, neutral,
none, temperror, permerror, HELO), DKIM verification of mail signed by
dkimpy and our own signatures verified by dkimpy (rsa-sha256 and
ed25519-sha256), DMARC reject / quarantine / none, Authentication-Results
removal, AUTH throttling and the sender restriction.  Delivered mail is
read back through the spool API (smtp-spooldump).
"""
import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

from test_smtp_env import (SmtpEnv, Raw, SMTPD, SPOOLDUMP, OURS, OTHER_OURS,
                           USER, PASSWORD, USER2, PASSWORD2, THROTTLED,
                           THROTTLED_PW, FULL, ALIAS, LIST_ANY, LIST_MEMBERS,
                           ed25519_seed_b64)

pytestmark = [
    pytest.mark.skipif(not os.access(SMTPD, os.X_OK), reason="gms-smtpd is not built"),
    pytest.mark.skipif(not os.access(SPOOLDUMP, os.X_OK),
                       reason="smtp-spooldump is not built (make check)"),
    pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the suite starts daemons as root"),
]


@pytest.fixture(scope="module")
def env():
    # Not under pytest's tmp folder: that one is 0700 and the daemon runs
    # as the gms user, which must reach its files.
    work = tempfile.mkdtemp(prefix="gms-smtp-test-")
    os.chmod(work, 0o755)
    e = SmtpEnv(work)
    try:
        e.start()
        yield e
    finally:
        e.stop()
        shutil.rmtree(work, ignore_errors=True)


def token():
    return uuid.uuid4().hex


def message(tok, frm="sender@spf-pass.test", to=USER, subject="test", extra=b"",
            body=None):
    body = body if body is not None else b"Hello " + tok.encode() + b"\r\n"
    return (b"From: " + frm.encode() + b"\r\nTo: " + to.encode() +
            b"\r\nSubject: " + subject.encode() + b"\r\nMessage-ID: <" +
            tok.encode() + b"@test>\r\nDate: Sat, 28 Nov 2026 20:00:00 +0000\r\n" +
            extra + b"\r\n" + body)


def smtp(env, helo="client.example"):
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    c.ehlo(helo)
    return c


def submit(env, user=USER, password=PASSWORD):
    c = smtplib.SMTP("127.0.0.1", env.sub_port, timeout=20)
    c.ehlo("client.example")
    c.starttls(context=env.tls_context())
    c.ehlo("client.example")
    c.login(user, password)
    return c


def send(env, tok, frm="sender@spf-pass.test", to=USER, **kw):
    c = smtp(env)
    try:
        c.mail(frm)
        code, _ = c.rcpt(to)
        assert code == 250
        return c.data(message(tok, frm=kw.pop("hdr_from", frm), to=to, **kw))
    finally:
        c.quit()


def ar(msg):
    """The Authentication-Results field of a stored message, unfolded."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    fields = head.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")
    return [f for f in fields if f.lower().startswith("authentication-results:")]


# ---------------------------------------------------------------- basics

def test_ehlo_announces_extensions(env):
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    code, text = c.ehlo("client.example")
    assert code == 250
    for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                "chunking", "binarymime", "dsn", "starttls", "limits"):
        assert c.has_extn(ext), ext
    assert c.esmtp_features["size"] == str(200 * 1024)
    assert "RCPTMAX=8" in c.esmtp_features["limits"]
    assert not c.has_extn("auth"), "AUTH must not be offered before TLS"
    c.quit()


def test_plain_delivery_names_queue_id(env):
    tok = token()
    code, text = send(env, tok)
    assert code == 250 and text.startswith(b"2.0.0 Ok: queued as ")
    qid = text.split()[-1].decode()
    msgs = env.find(USER, tok.encode())
    assert len(msgs) == 1
    m = msgs[0]
    assert m.startswith(b"Received: from client.example ([127.0.0.1])")
    assert b"by mail.gms.test with ESMTP" in m
    assert qid in env.log()


def test_helo_first_and_bad_helo(env):
    r = Raw(env.port)
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 503
    assert r.cmd("EHLO")[0] == 501
    assert r.cmd("EHLO bad host")[0] == 501
    assert r.cmd("EHLO [300.1.1.1]")[0] == 501
    assert r.cmd("HELO client.example")[0] == 250
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 250
    r.close()


def test_enhanced_status_codes_on_every_reply(env):
    r = Raw(env.port)
    replies = [r.cmd(c) for c in (
        "EHLO client.example", "NOOP", "HELP", "VRFY demo", "EXPN all",
        "XYZZY", "MAIL FROM:<a@spf-pass.test>", "MAIL FROM:<b@spf-pass.test>",
        "RCPT TO:<nobody@demo.go.tz>", "RCPT TO:<%s>" % USER, "RSET",
        "RCPT TO:<%s>" % USER, "DATA extra", "MAIL FROM:<a@b> FOO=1", "QUIT")]
    import re
    for code, text in replies[1:]:          # the EHLO lines are keywords
        assert re.match(r"[245]\.\d{1,3}\.\d{1,3} ", text), (code, text)
    r.close()


def test_vrfy_and_expn_reveal_nothing(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    assert r.cmd("VRFY %s" % USER) == r.cmd("VRFY nobody@demo.go.tz")
    assert r.cmd("EXPN %s" % LIST_ANY) == r.cmd("EXPN nothing@demo.go.tz")
    assert r.cmd("VRFY %s" % USER)[0] == 252
    r.close()


def test_talk_before_banner_refused(env):
    r = Raw(env.port, banner=False)
    r.send("EHLO early.example\r\nMAIL FROM:<a@spf-pass.test>\r\n")
    code, text = r.reply()
    assert code == 554
    assert r.closed()


def test_line_too_long_and_nul(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    code, text = r.cmd("NOOP " + "x" * 3000)
    assert code == 500 and text.startswith("5.5.2")
    assert r.cmd("MAIL FROM:<a\x00b@spf-pass.test>")[0] == 500
    assert r.cmd("NOOP")[0] == 250, "the session is in step after both"
    r.close()


def test_too_many_errors_disconnects(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    codes = []
    for _ in range(20):
        try:
            codes.append(r.cmd("BOGUS")[0])
        except (EOFError, ConnectionError):
            break
        if codes[-1] == 421:
            break
    assert codes[-1] == 421
    assert r.closed()


def test_http_request_is_dropped(env):
    r = Raw(env.port, banner=False)
    time.sleep(0.4)
    assert r.reply()[0] == 220
    r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.reply()[0] == 554
    assert r.closed()


def test_transaction_order(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    assert r.cmd("RCPT TO:<%s>" % USER)[0] == 503
    assert r.cmd("DATA")[0] == 503
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 250
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 503
    assert r.cmd("DATA")[0] == 554
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % USER)[0] == 503
    r.close()


# ---------------------------------------------------------------- SIZE, LIMITS

def test_size_declared_too_big(env):
    c = smtp(env)
    code, text = c.mail("a@spf-pass.test", ["SIZE=300000"])
    assert code == 552 and text.startswith(b"5.3.4")
    code, _ = c.mail("a@spf-pass.test", ["SIZE=1000"])
    assert code == 250
    c.quit()


def test_size_enforced_while_reading(env):
    tok = token()
    c = smtp(env)
    c.mail("a@spf-pass.test")
    c.rcpt(USER)
    code, text = c.data(message(tok, body=b"x" * 998 + b"\r\n") * 1 +
                        (b"y" * 998 + b"\r\n") * 250)
    assert code == 552 and text.startswith(b"5.3.4")
    # The session is still in step: a normal message goes through.
    tok2 = token()
    c.mail("a@spf-pass.test")
    c.rcpt(USER)
    assert c.data(message(tok2))[0] == 250
    c.quit()
    assert env.find(USER, tok.encode()) == []
    assert len(env.find(USER, tok2.encode())) == 1


def test_limits_rcptmax(env):
    c = smtp(env)
    c.mail("a@spf-pass.test")
    codes = [c.rcpt(USER)[0] for _ in range(9)]
    assert codes[:8] == [250] * 8
    code, text = c.rcpt(USER)
    assert code == 452 and text.startswith(b"4.5.3")
    c.quit()


def test_duplicate_recipients_one_copy(env):
    tok = token()
    c = smtp(env)
    c.mail("a@spf-pass.test")
    for to in (USER, USER.upper(), USER):
        assert c.rcpt(to)[0] == 250
    assert c.data(message(tok))[0] == 250
    c.quit()
    assert len(env.find(USER, tok.encode())) == 1


# ---------------------------------------------------------------- PIPELINING

def test_pipelining_group(env):
    tok = token()
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    r.send("MAIL FROM:<a@spf-pass.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<nobody@demo.go.tz>\r\n"
           "RCPT TO:<%s>\r\nDATA\r\n" % (USER, USER2))
    codes = [r.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 550, 250, 354]
    r.send(message(tok) + b".\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert len(env.find(USER, tok.encode())) == 1
    assert len(env.find(USER2, tok.encode())) == 1


# ---------------------------------------------------------------- 8BITMIME, SMTPUTF8

def test_8bitmime_body_intact(env):
    tok = token()
    body = "Habari za asubuhi \u00e9\u00e8 \u2713\r\n".encode()
    c = smtp(env)
    c.mail("a@spf-pass.test", ["BODY=8BITMIME"])
    c.rcpt(USER)
    assert c.data(message(tok, body=body))[0] == 250
    c.quit()
    m = env.find(USER, tok.encode())[0]
    assert m.endswith(body)


def test_smtputf8(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    code, text = r.cmd("MAIL FROM:<\u00e9l\u00e8ve@spf-none.test>")
    assert code == 553 and text.startswith("5.6.7")
    assert r.cmd("MAIL FROM:<\u00e9l\u00e8ve@spf-none.test> SMTPUTF8")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % USER)[0] == 250
    assert r.cmd("DATA")[0] == 354
    tok = token()
    r.send(message(tok, subject="\u00e9t\u00e9") + b".\r\n")
    assert r.reply()[0] == 250
    # Non-ASCII header text without SMTPUTF8 is refused (RFC 6531).
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % USER)[0] == 250
    assert r.cmd("DATA")[0] == 354
    tok2 = token()
    r.send(message(tok2, subject="\u00e9t\u00e9") + b".\r\n")
    code, text = r.reply()
    assert code == 554 and text.startswith("5.6.7")
    r.close()
    assert len(env.find(USER, tok.encode())) == 1
    assert env.find(USER, tok2.encode()) == []


# ---------------------------------------------------------------- DSN

def test_dsn_parameters(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    assert r.cmd("MAIL FROM:<a@spf-pass.test> RET=HDRS ENVID=QQ+2B123")[0] == 250
    assert r.cmd("RCPT TO:<%s> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;demo+40demo.go.tz"
                 % USER)[0] == 250
    assert r.cmd("RCPT TO:<%s> NOTIFY=NEVER,SUCCESS" % USER)[0] == 501
    assert r.cmd("RCPT TO:<%s> ORCPT=rfc822;a+0D+0Ab" % USER)[0] == 501
    assert r.cmd("RCPT TO:<%s> NOTIFY=NEVER FOO=bar" % USER)[0] == 555
    r.cmd("RSET")
    assert r.cmd("MAIL FROM:<a@spf-pass.test> ENVID=a+0D+0AX-Injected:+20yes")[0] == 501
    assert r.cmd("MAIL FROM:<a@spf-pass.test> RET=EVERYTHING")[0] == 501
    assert r.cmd("MAIL FROM:<a@spf-pass.test> SIZE=12 SIZE=13")[0] == 501
    r.close()


# ---------------------------------------------------------------- CHUNKING

def test_bdat_chunks(env):
    tok = token()
    msg = message(tok)
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    r.cmd("MAIL FROM:<a@spf-pass.test>")
    r.cmd("RCPT TO:<%s>" % USER)
    half = len(msg) // 2
    r.send(b"BDAT %d\r\n" % half + msg[:half])
    code, text = r.reply()
    assert code == 250
    r.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    code, text = r.reply()
    assert code == 250 and "queued as" in text
    m = env.find(USER, tok.encode())
    assert len(m) == 1 and m[0].endswith(msg.split(b"\r\n\r\n", 1)[1])
    r.close()


def test_bdat_errors_stay_in_step(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    # A chunk without MAIL is read and refused; its bytes are no command.
    r.send(b"BDAT 12\r\nQUIT\r\nRSET\r\n")
    assert r.reply()[0] == 503
    assert r.cmd("NOOP")[0] == 250
    # Bare LF inside a chunk: the whole message is refused (5.5.2).
    r.cmd("MAIL FROM:<a@spf-pass.test>")
    r.cmd("RCPT TO:<%s>" % USER)
    body = b"Subject: x\r\n\r\nline\nbare\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(body) + body)
    code, text = r.reply()
    assert code == 550 and text.startswith("5.5.2")
    # DATA after BINARYMIME is refused; BDAT takes it.
    assert r.cmd("MAIL FROM:<a@spf-pass.test> BODY=BINARYMIME")[0] == 250
    r.cmd("RCPT TO:<%s>" % USER)
    assert r.cmd("DATA")[0] == 503
    tok = token()
    body = message(tok, body=b"bin\x00ary\nstuff\r")
    r.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert r.reply()[0] == 250
    # An unparsable BDAT cannot be skipped safely: the server hangs up.
    r.send(b"BDAT lots\r\n")
    assert r.reply()[0] == 554
    assert r.closed()
    m = env.find(USER, tok.encode())
    assert len(m) == 1 and m[0].endswith(b"bin\x00ary\nstuff\r")


# ---------------------------------------------------------------- smuggling

SMUGGLE_ENDS = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n"]


@pytest.mark.parametrize("end", SMUGGLE_ENDS, ids=lambda e: repr(e)[2:-1])
def test_smtp_smuggling_not_acted_on(env, end):
    tok, evil = token(), token()
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    r.cmd("MAIL FROM:<a@spf-pass.test>")
    r.cmd("RCPT TO:<%s>" % USER)
    assert r.cmd("DATA")[0] == 354
    smuggled = (b"MAIL FROM:<admin@" + OURS.encode() + b">\r\nRCPT TO:<" +
                USER.encode() + b">\r\nDATA\r\nFrom: admin@" + OURS.encode() +
                b"\r\nSubject: smuggled " + evil.encode() + b"\r\n\r\nevil\r\n")
    r.send(message(tok, body=b"first\r\n") + end + smuggled + b"\r\n.\r\nQUIT\r\n")
    code, text = r.reply()
    assert code == 550 and text.startswith("5.5.2"), (code, text)
    assert r.reply()[0] == 221, "exactly one reply for the whole DATA"
    r.close()
    assert env.find(USER, evil.encode()) == []
    assert env.find(USER, tok.encode()) == []


def test_nul_in_data_rejected(env):
    tok = token()
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    r.cmd("MAIL FROM:<a@spf-pass.test>")
    r.cmd("RCPT TO:<%s>" % USER)
    assert r.cmd("DATA")[0] == 354
    r.send(message(tok, body=b"nul\x00here\r\n") + b".\r\n")
    code, text = r.reply()
    assert code == 554 and text.startswith("5.6.0")
    assert r.cmd("NOOP")[0] == 250
    r.close()
    assert env.find(USER, tok.encode()) == []


def test_dot_stuffing_round_trip(env):
    tok = token()
    body = b".leading dot\r\n..two dots\r\n.\r\nend\r\n"
    c = smtp(env)
    c.mail("a@spf-pass.test")
    c.rcpt(USER)
    assert c.data(message(tok, body=body))[0] == 250    # smtplib stuffs
    c.quit()
    assert env.find(USER, tok.encode())[0].endswith(body)


# ---------------------------------------------------------------- STARTTLS

def test_starttls_and_injection_discarded(env):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    # A command pipelined after STARTTLS in the clear must be thrown away.
    r.send("STARTTLS\r\nMAIL FROM:<injected@spf-pass.test>\r\n")
    code, text = r.reply()
    assert code == 220
    r.starttls(env.tls_context())
    r.buf = b""
    code, text = r.cmd("EHLO client.example")
    assert code == 250 and "AUTH PLAIN LOGIN" in text
    assert "STARTTLS" not in text
    # No reply for the injected MAIL, and no transaction from it.
    assert r.cmd("RCPT TO:<%s>" % USER)[0] == 503
    assert r.cmd("STARTTLS")[0] == 503
    r.close()
    assert "starttls_discarded" in env.log()


def test_starttls_smtplib_and_received(env):
    tok = token()
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    c.ehlo("client.example")
    c.starttls(context=env.tls_context())
    c.ehlo("client.example")
    c.mail("a@spf-pass.test")
    c.rcpt(USER)
    assert c.data(message(tok))[0] == 250
    c.quit()
    m = env.find(USER, tok.encode())[0]
    assert b"with ESMTPS" in m and b"TLSv1." in m


# ---------------------------------------------------------------- submission

def test_submission_requires_tls_then_auth(env):
    r = Raw(env.sub_port)
    code, text = r.cmd("EHLO client.example")
    assert "AUTH" not in text and "STARTTLS" in text
    code, text = r.cmd("MAIL FROM:<%s>" % USER)
    assert code == 530 and text.startswith("5.7.0")
    assert r.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode())[0] == 530
    assert r.cmd("STARTTLS")[0] == 220
    r.starttls(env.tls_context())
    r.cmd("EHLO client.example")
    code, text = r.cmd("MAIL FROM:<%s>" % USER)
    assert code == 530 and "Authentication required" in text
    code, text = r.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode())
    assert code == 235 and text.startswith("2.7.0")
    assert r.cmd("MAIL FROM:<%s>" % USER)[0] == 250
    r.close()


def test_submission_delivers_and_relays(env):
    tok = token()
    c = submit(env)
    c.mail(USER)
    assert c.rcpt(USER2)[0] == 250
    assert c.rcpt("friend@remote.example")[0] == 250
    assert c.data(message(tok, frm=USER, to=USER2))[0] == 250
    c.quit()
    m = env.find(USER2, tok.encode())
    assert len(m) == 1 and b"with ESMTPSA" in m[0]
    assert any("friend@remote.example" in q for q in env.queue())


def test_implicit_tls_port(env):
    tok = token()
    c = smtplib.SMTP_SSL("127.0.0.1", env.smtps_port, timeout=20,
                         context=env.tls_context())
    c.ehlo("client.example")
    c.login(USER, PASSWORD)
    c.mail(USER)
    c.rcpt(USER2)
    assert c.data(message(tok, frm=USER, to=USER2))[0] == 250
    c.quit()
    assert len(env.find(USER2, tok.encode())) == 1


def test_auth_login_and_failures_look_alike(env):
    c = smtplib.SMTP("127.0.0.1", env.sub_port, timeout=30)
    c.ehlo("x.example")
    c.starttls(context=env.tls_context())
    c.ehlo("x.example")
    c.user, c.password = USER2, PASSWORD2
    code, text = c.auth("LOGIN", c.auth_login)
    assert code == 235
    c.quit()
    replies = []
    for user, pw in ((USER2, "wrong-password"), ("nobody@demo.go.tz", "x-password"),
                     (USER2, "")):
        c = smtplib.SMTP("127.0.0.1", env.sub_port, timeout=30)
        c.ehlo("x.example")
        c.starttls(context=env.tls_context())
        c.ehlo("x.example")
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            c.login(user, pw)
        replies.append((ei.value.smtp_code, ei.value.smtp_error))
        c.close()
    assert replies[0] == replies[1] == (535, b"5.7.8 Authentication credentials invalid")
    assert replies[2][0] == 535


def test_auth_authzid_and_cancel(env):
    r = Raw(env.sub_port)
    r.cmd("EHLO x.example")
    r.cmd("STARTTLS")
    r.starttls(env.tls_context())
    r.cmd("EHLO x.example")
    ir = base64.b64encode(USER2.encode() + b"\0" + USER.encode() + b"\0" +
                          PASSWORD.encode()).decode()
    assert r.cmd("AUTH PLAIN " + ir)[0] == 535, "authzid of another user refused"
    assert r.cmd("AUTH PLAIN")[0] == 334
    code, text = r.cmd("*")
    assert code == 501
    assert r.cmd("AUTH CRAM-MD5")[0] == 504
    assert r.cmd("AUTH PLAIN !!notbase64")[0] == 501
    r.close()


def test_sender_restriction(env):
    c = submit(env)
    code, text = c.mail(USER2)
    assert code == 553 and text.startswith(b"5.7.1")
    c.rset()
    assert c.mail("<>")[0] == 553
    c.rset()
    assert c.mail("x@remote.example")[0] == 553
    c.rset()
    assert c.mail(USER.upper())[0] == 250
    c.rset()
    assert c.mail(ALIAS)[0] == 250, "an alias the user owns"
    c.quit()


def test_header_from_restriction(env):
    tok = token()
    c = submit(env)
    c.mail(USER)
    c.rcpt(USER2)
    code, text = c.data(message(tok, frm=USER2, to=USER2))
    assert code == 553 and text.startswith(b"5.7.1")
    c.mail(USER)
    c.rcpt(USER2)
    assert c.data(message(tok, frm="Info Desk <%s>" % ALIAS, to=USER2))[0] == 250
    c.quit()
    assert len(env.find(USER2, tok.encode())) == 1


@pytest.mark.parametrize("extra,frm", [
    (b"From: second@spf-pass.test\r\n", "first@spf-pass.test"),
    (b"", "undisclosed"),
    (b"", "a@spf-pass.test, b@spf-pass.test"),
])
def test_from_header_must_be_one_address(env, extra, frm):
    tok = token()
    code, text = send(env, tok, frm="a@spf-pass.test", hdr_from=frm, extra=extra)
    assert code == 550 and text.startswith(b"5.7.1")
    assert env.find(USER, tok.encode()) == []


def test_auth_line_longer_than_command_limit(env):
    """AUTH PLAIN with a long initial response (RFC 4954: 12288 octets)."""
    r = Raw(env.sub_port)
    r.cmd("EHLO x.example")
    r.cmd("STARTTLS")
    r.starttls(env.tls_context())
    r.cmd("EHLO x.example")
    ir = base64.b64encode(b"\0longline@demo.go.tz\0" + b"p" * 900).decode()
    assert len("AUTH PLAIN " + ir) > 1000
    assert r.cmd("AUTH PLAIN " + ir)[0] == 535
    assert r.cmd("NOOP " + "x" * 1200)[0] == 500
    r.close()


# ---------------------------------------------------------------- recipients

def test_recipient_checks(env):
    c = smtp(env)
    c.mail("a@spf-pass.test")
    code, text = c.rcpt("nobody@demo.go.tz")
    assert code == 550 and text.startswith(b"5.1.1")
    assert c.rcpt("nobody@" + OTHER_OURS)[0] == 550
    code, text = c.rcpt("x@remote.example")
    assert code == 554 and text.startswith(b"5.7.1")
    c.quit()


def test_alias_list_postmaster(env):
    tok = token()
    c = smtp(env)
    c.mail("a@spf-pass.test")
    for to in (ALIAS, LIST_ANY, "postmaster"):
        assert c.rcpt(to)[0] == 250, to
    assert c.data(message(tok))[0] == 250
    c.quit()
    assert len(env.find(USER, tok.encode())) == 1, "list + postmaster: one copy"
    assert len(env.find(USER2, tok.encode())) == 1, "alias + list: one copy"


def test_list_posting_policy(env):
    c = smtp(env)
    c.mail("outsider@spf-pass.test")
    code, text = c.rcpt(LIST_MEMBERS)
    assert code == 550 and text.startswith(b"5.7.1")
    c.quit()
    tok = token()
    c = submit(env)
    c.mail(USER)
    assert c.rcpt(LIST_MEMBERS)[0] == 250
    assert c.data(message(tok, frm=USER))[0] == 250
    c.quit()
    assert len(env.find(USER2, tok.encode())) == 1


def test_over_quota(env):
    tok = token()
    c = smtp(env)
    c.mail("a@spf-pass.test", ["SIZE=5000"])
    code, text = c.rcpt(FULL)
    assert code == 452 and text.startswith(b"4.2.2")
    c.rset()
    c.mail("a@spf-pass.test")
    assert c.rcpt(FULL)[0] == 250
    code, text = c.data(message(tok, body=b"z" * 4000 + b"\r\n"))
    assert code == 452 and text.startswith(b"4.2.2")
    c.quit()
    assert env.find(FULL, tok.encode()) == []


# ---------------------------------------------------------------- open relay

RELAY_TRICKS = [
    "victim@evil.example",
    "VICTIM@EVIL.EXAMPLE",
    "victim%evil.example@" + OURS,
    "victim%evil.example@" + OURS.upper(),
    "evil.example!victim@" + OURS,
    "@" + OURS + ":victim@evil.example",
    "@" + OURS + ",@evil.example:victim@evil.example",
    '"victim@evil.example"@' + OURS,
    '"victim@evil.example"',
    "victim@evil.example@" + OURS,
    "victim@[127.0.0.1]",
    "victim@[IPv6:::1]",
    "victim@" + OURS + ".evil.example",
    "victim@" + OURS.upper() + ".evil.example",
    "victim@evil.example." + OURS + "x",
    "victim@" + OURS + ".",
    "victim@evil.example " + OURS,
    "victim@localhost",
    "victim",
]


@pytest.mark.parametrize("rcpt", RELAY_TRICKS)
def test_open_relay_battery(env, rcpt):
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    assert r.cmd("MAIL FROM:<a@spf-pass.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<%s>" % rcpt)
    assert code >= 500, (rcpt, code, text)
    r.close()


def test_relay_case_control(env):
    """The battery's control: our own address in any case is accepted."""
    c = smtp(env)
    c.mail("a@spf-pass.test")
    assert c.rcpt(USER.upper())[0] == 250
    c.quit()


# ---------------------------------------------------------------- SPF

@pytest.mark.parametrize("domain,result", [
    ("spf-pass.test", "pass"), ("spf-softfail.test", "softfail"),
    ("spf-neutral.test", "neutral"), ("spf-none.test", "none"),
    ("spf-permerror.test", "permerror")])
def test_spf_results(env, domain, result):
    tok = token()
    assert send(env, tok, frm="someone@" + domain)[0] == 250
    fields = ar(env.find(USER, tok.encode())[0])
    assert len(fields) == 1
    assert "spf=%s smtp.mailfrom=someone@%s" % (result, domain) in fields[0]


def test_spf_fail_rejected(env):
    c = smtp(env)
    code, text = c.mail("someone@spf-fail.test")
    assert code == 550 and text.startswith(b"5.7.23")
    c.quit()


def test_spf_temperror(env):
    c = smtp(env)
    code, text = c.mail("someone@spf-temperror.test")
    assert code == 451 and text.startswith(b"4.4.3")
    c.quit()


def test_spf_helo_identity(env):
    c = smtp(env, helo="helo-fail.test")
    code, text = c.mail("<>")
    assert code == 550 and text.startswith(b"5.7.23")
    c.quit()
    tok = token()
    c = smtp(env, helo="helo-pass.test")
    assert c.mail("<>")[0] == 250
    c.rcpt(USER)
    assert c.data(message(tok, frm="mailer-daemon@helo-pass.test"))[0] == 250
    c.quit()
    assert "spf=pass smtp.helo=helo-pass.test" in ar(env.find(USER, tok.encode())[0])[0]


# ---------------------------------------------------------------- DKIM, DMARC

def dkimpy_sign(env, msg, algo):
    import dkim
    if algo == "rsa":
        key = open(env.keys["signer_rsa"], "rb").read()
        sig = dkim.sign(msg, b"rsa", b"signer.test", key,
                        include_headers=[b"from", b"to", b"subject", b"date"])
    else:
        sig = dkim.sign(msg, b"ed", b"signer.test", ed25519_seed_b64(env.keys["signer_ed"]),
                        signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + msg


def send_raw(env, msg, frm):
    c = smtp(env)
    try:
        c.mail(frm)
        c.rcpt(USER)
        return c.data(msg)
    finally:
        c.quit()


@pytest.mark.parametrize("algo", ["rsa", "ed25519"])
def test_dkim_pass_signed_by_dkimpy(env, algo):
    tok = token()
    msg = dkimpy_sign(env, message(tok, frm="news@signer.test"), algo)
    assert send_raw(env, msg, "news@signer.test")[0] == 250
    f = ar(env.find(USER, tok.encode())[0])[0]
    assert "dkim=pass header.d=signer.test" in f, f
    assert ("header.a=%s-sha256" % algo) in f
    assert "dmarc=pass" in f


def test_dkim_fail_on_altered_body(env):
    tok = token()
    msg = dkimpy_sign(env, message(tok, frm="news@signer.test"), "rsa")
    msg = msg.replace(b"Hello", b"Hellp")
    assert send_raw(env, msg, "news@signer.test")[0] == 250   # SPF aligned
    f = ar(env.find(USER, tok.encode())[0])[0]
    assert "dkim=fail header.d=signer.test" in f, f
    assert "dmarc=pass" in f, "SPF still aligns"


def test_dmarc_reject(env):
    tok = token()
    msg = message(tok, frm="ceo@reject.test")
    code, text = send_raw(env, msg, "bounce@spf-none.test")
    assert code == 550 and text.startswith(b"5.7.1")
    assert env.find(USER, tok.encode()) == []


def test_dmarc_organisational_domain(env):
    """No record at mail.evilorg.go.tz: the policy of evilorg.go.tz (its
    organisational domain per the Public Suffix List, go.tz being a public
    suffix) applies."""
    tok = token()
    code, text = send_raw(env, message(tok, frm="ceo@mail.evilorg.go.tz"),
                          "bounce@spf-none.test")
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)


def test_dmarc_reject_forged_signature(env):
    tok = token()
    msg = dkimpy_sign(env, message(tok, frm="ceo@signer.test"), "rsa")
    msg = msg.replace(b"Hello", b"Pay me")
    code, text = send_raw(env, msg, "bounce@spf-none.test")
    assert code == 550 and text.startswith(b"5.7.1")


def test_dmarc_quarantine_goes_to_junk(env):
    tok = token()
    assert send_raw(env, message(tok, frm="news@quarantine.test"),
                    "bounce@spf-none.test")[0] == 250
    assert env.find(USER, tok.encode()) == []
    junk = env.find(USER, tok.encode(), box="Junk")
    assert len(junk) == 1
    assert "dmarc=fail policy.dmarc=quarantine" in ar(junk[0])[0]


def test_dmarc_none_policy_delivers(env):
    tok = token()
    assert send_raw(env, message(tok, frm="news@monitor.test"),
                    "bounce@spf-none.test")[0] == 250
    assert "dmarc=fail policy.dmarc=none" in ar(env.find(USER, tok.encode())[0])[0]


def test_forged_authentication_results_removed(env):
    tok = token()
    extra = (b"Authentication-Results: mail.gms.test; dkim=pass header.d=" +
             OURS.encode() + b"\r\nAuthentication-Results: MAIL.GMS.TEST;\r\n\tdmarc=pass\r\n"
             b"Authentication-Results: other.example; spf=pass\r\n")
    assert send(env, tok, extra=extra)[0] == 250
    m = env.find(USER, tok.encode())[0]
    fields = ar(m)
    assert len(fields) == 2
    assert fields[0].startswith("Authentication-Results: mail.gms.test;\t") or \
        fields[0].startswith("Authentication-Results: mail.gms.test; ")
    assert "spf=pass smtp.mailfrom" in fields[0]
    assert "other.example" in fields[1]
    assert b"header.d=" + OURS.encode() not in m


def dns_txt(env, name):
    import dns.resolver
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = env.dns.port
    ans = res.resolve(name.decode().rstrip("."), "TXT")
    return b"".join(b"".join(r.strings) for r in ans)


def test_our_signatures_verify_with_dkimpy(env):
    import dkim
    tok = token()
    c = submit(env)
    c.mail(USER)
    c.rcpt(USER)
    assert c.data(message(tok, frm=USER))[0] == 250
    c.quit()
    m = env.find(USER, tok.encode())[0]
    assert m.count(b"DKIM-Signature:") == 2
    d = dkim.DKIM(m)
    results = {}
    for idx in range(2):
        ok = d.verify(idx=idx, dnsfunc=lambda name, timeout=5: dns_txt(env, name))
        sig = dict(d.signature_fields)
        results[sig[b"a"].decode()] = ok
        assert sig[b"d"] == OURS.encode()
    assert results == {"rsa-sha256": True, "ed25519-sha256": True}


# ---------------------------------------------------------------- other clients

def test_swaks_submission(env):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    tok = token()
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(env.sub_port),
                        "--tls", "--auth", "PLAIN", "--auth-user", USER,
                        "--auth-password", PASSWORD, "--from", USER, "--to", USER2,
                        "--header", "Subject: swaks " + tok, "--body", "hi " + tok,
                        "--ehlo", "swaks.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    assert b"250 2.0.0 Ok: queued as" in r.stdout
    assert len(env.find(USER2, tok.encode())) == 1


def test_swaks_pipelining_and_chunking(env):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    tok = token()
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(env.port),
                        "--pipeline", "--from", "a@spf-pass.test", "--to", USER,
                        "--header", "Subject: swaks " + tok, "--body", "hi " + tok,
                        "--ehlo", "swaks.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    assert len(env.find(USER, tok.encode())) == 1


def test_curl_smtps(env):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    tok = token()
    path = os.path.join(env.dir, "curl-%s.eml" % tok)
    with open(path, "wb") as f:
        f.write(message(tok, frm=USER, to=USER2))
    r = subprocess.run(["curl", "-sS", "--url", "smtps://127.0.0.1:%d" % env.smtps_port,
                        "--cacert", env.suite.ca_cert, "--insecure",
                        "--user", "%s:%s" % (USER, PASSWORD),
                        "--mail-from", USER, "--mail-rcpt", USER2,
                        "--upload-file", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    assert len(env.find(USER2, tok.encode())) == 1


def test_curl_refused_relay(env):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    path = os.path.join(env.dir, "curl-relay.eml")
    with open(path, "wb") as f:
        f.write(message(token()))
    r = subprocess.run(["curl", "-sS", "--url", "smtp://127.0.0.1:%d" % env.port,
                        "--mail-from", "a@spf-pass.test", "--mail-rcpt", "x@evil.example",
                        "--upload-file", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode != 0 and b"554" in r.stdout


# ---------------------------------------------------------------- throttling

def test_auth_throttling_and_lockout(env):
    times = []
    codes = []
    for i in range(6):
        r = Raw(env.sub_port)
        r.cmd("EHLO x.example")
        r.cmd("STARTTLS")
        r.starttls(env.tls_context())
        r.cmd("EHLO x.example")
        ir = base64.b64encode(b"\0" + THROTTLED.encode() + b"\0wrong-%d" % i).decode()
        t0 = time.monotonic()
        codes.append(r.cmd("AUTH PLAIN " + ir)[0])
        times.append(time.monotonic() - t0)
        r.close()
    assert codes[:4] == [535] * 4
    assert codes[4:] == [454, 454], codes
    assert max(times[1:4]) >= 0.04, times       # failures are delayed
    # Locked out: even the right password is refused now ...
    c = smtplib.SMTP("127.0.0.1", env.sub_port, timeout=30)
    c.ehlo("x.example")
    c.starttls(context=env.tls_context())
    c.ehlo("x.example")
    with pytest.raises(smtplib.SMTPException):
        c.login(THROTTLED, THROTTLED_PW)
    c.close()
    # ... while another account still logs in.
    c = submit(env, USER2, PASSWORD2)
    c.quit()
    assert "auth_locked_out" in env.log()


# ---------------------------------------------------------------- directory down (last)

def test_directory_down_is_tempfail(env):
    env.suite.slapd("stop")
    try:
        c = smtp(env)
        c.mail("a@spf-pass.test")
        code, text = c.rcpt("never-asked-%s@%s" % (token()[:8], OURS))
        assert code == 451 and text.startswith(b"4.4.3"), (code, text)
        c.quit()
    finally:
        env.suite.slapd("start", env.suite.ports["LDAP_PORT"])
