"""gms-smtpd with the lenient policies an operator may choose, against the
real daemon, slapd and DNS: smtpd.bare_newline = normalise (bare CR / LF
in DATA stored as CRLF instead of a 5.5.2 rejection), smtpd.eightbit_headers
= accept, smtpd.spf_reject_fail = no.  The point of the smuggling tests
here: even when bare line ends are normalised, none of them ever ends the
DATA, so a smuggled second message is stored as text of the first one and
never as a message of its own.
"""
import os
import shutil
import smtplib
import tempfile
import uuid

import pytest

from test_smtp_env import SmtpEnv, Raw, SMTPD, SPOOLDUMP, OURS, USER

pytestmark = [
    pytest.mark.skipif(not os.access(SMTPD, os.X_OK), reason="gms-smtpd is not built"),
    pytest.mark.skipif(not os.access(SPOOLDUMP, os.X_OK),
                       reason="smtp-spooldump is not built (make check)"),
    pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the suite starts daemons as root"),
]


@pytest.fixture(scope="module")
def env():
    work = tempfile.mkdtemp(prefix="gms-smtp-policy-")
    os.chmod(work, 0o755)
    e = SmtpEnv(work, greet_pause_ms=0,
                extra_conf="smtpd.bare_newline = normalise\n"
                           "smtpd.eightbit_headers = accept\n"
                           "smtpd.spf_reject_fail = no")
    try:
        e.start()
        yield e
    finally:
        e.stop()
        shutil.rmtree(work, ignore_errors=True)


def dialog(env, payload):
    """MAIL/RCPT/DATA, then payload; returns the replies after DATA."""
    r = Raw(env.port)
    r.cmd("EHLO client.example")
    r.cmd("MAIL FROM:<a@spf-pass.test>")
    r.cmd("RCPT TO:<%s>" % USER)
    assert r.cmd("DATA")[0] == 354
    r.send(payload + b"QUIT\r\n")
    replies = []
    while True:
        code, text = r.reply()
        replies.append((code, text))
        if code == 221:
            break
    r.close()
    return replies


def test_bare_lf_normalised(env):
    tok = uuid.uuid4().hex.encode()
    replies = dialog(env, b"From: a@spf-pass.test\r\nSubject: " + tok +
                     b"\r\n\r\none\ntwo\rthree\r\n.\r\n")
    assert [c for c, _ in replies] == [250, 221]
    m = env.find(USER, tok)
    assert len(m) == 1 and m[0].endswith(b"one\r\ntwo\r\nthree\r\n")


@pytest.mark.parametrize("end", [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n"],
                         ids=lambda e: repr(e)[2:-1])
def test_smuggling_never_ends_data_when_normalising(env, end):
    tok, evil = uuid.uuid4().hex.encode(), uuid.uuid4().hex.encode()
    payload = (b"From: a@spf-pass.test\r\nSubject: " + tok + b"\r\n\r\nfirst" + end +
               b"MAIL FROM:<admin@" + OURS.encode() + b">\r\nRCPT TO:<" + USER.encode() +
               b">\r\nDATA\r\nFrom: admin@" + OURS.encode() + b"\r\nSubject: " + evil +
               b"\r\n\r\nevil\r\n.\r\n")
    replies = dialog(env, payload)
    # One message, one final reply: the smuggled commands were text.
    assert [c for c, _ in replies] == [250, 221], replies
    assert len(env.find(USER, tok)) == 1
    evil_msgs = env.find(USER, evil)
    assert len(evil_msgs) == 1 and tok in evil_msgs[0], \
        "the smuggled part is only ever text inside the first message"


def test_eightbit_header_accepted_and_spf_fail_recorded(env):
    tok = uuid.uuid4().hex.encode()
    c = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    c.ehlo("client.example")
    assert c.mail("someone@spf-fail.test")[0] == 250
    c.rcpt(USER)
    msg = (b"From: someone@spf-fail.test\r\nSubject: \xc3\xa9t\xc3\xa9 " + tok +
           b"\r\n\r\nbody\r\n")
    assert c.data(msg)[0] == 250
    c.quit()
    m = env.find(USER, tok)[0]
    assert b"spf=fail smtp.mailfrom=someone@spf-fail.test" in m.replace(b"\r\n\t", b" ")
