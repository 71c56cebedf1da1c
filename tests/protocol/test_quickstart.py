"""The quickstart's suite end to end: gms.env is complete, the demo
mailbox can send to itself over submission (STARTTLS + AUTH) and read the
message back over IMAPS, and the daemons run as the gms user."""
import imaplib
import os
import smtplib
import ssl
import time
import uuid

from gmsfix.suite import DEMO_PASSWORD, DEMO_USER, read_env

ENV_KEYS = ("SMTP_PORT", "SUBMISSION_PORT", "SMTPS_PORT", "IMAP_PORT", "IMAPS_PORT",
            "LDAP_URI", "DEMO_USER", "DEMO_PASSWORD", "CA_CERT", "DATA_DIR")


def test_env_file_complete(suite):
    env = read_env(os.path.join(suite.data, "gms.env"))
    for k in ENV_KEYS:
        assert env.get(k), "gms.env lacks %s" % k
    assert env["DEMO_USER"] == DEMO_USER
    assert os.path.exists(env["CA_CERT"])
    assert env["LDAP_URI"].startswith("ldap://127.0.0.1:")


def test_daemons_run_as_gms(smtpd, imapd):
    import pwd
    gms = pwd.getpwnam("gms")
    for name in ("gms-smtpd", "gms-imapd"):
        pid = smtpd.procs[name].pid
        with open("/proc/%d/status" % pid) as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        uids = st["Uid"].split()
        gids = st["Gid"].split()
        assert uids == [str(gms.pw_uid)] * 4, (name, uids)
        assert gids == [str(gms.pw_gid)] * 4, (name, gids)


def test_demo_send_and_read(smtpd, imapd):
    ctx = ssl.create_default_context(cafile=smtpd.ca_cert)
    token = uuid.uuid4().hex
    msg = ("From: Demo <%s>\r\nTo: %s\r\nSubject: quickstart %s\r\n"
           "Message-ID: <%s@demo.go.tz>\r\n\r\nHello from the quickstart test.\r\n"
           % (DEMO_USER, DEMO_USER, token, token))
    with smtplib.SMTP("127.0.0.1", smtpd.ports["SUBMISSION_PORT"], timeout=30) as s:
        s.ehlo("client.test")
        assert not s.has_extn("auth"), "AUTH offered before TLS"
        s.starttls(context=ctx)
        s.ehlo("client.test")
        assert "PLAIN" in s.esmtp_features.get("auth", "").upper()
        s.login(DEMO_USER, DEMO_PASSWORD)
        refused = s.sendmail(DEMO_USER, [DEMO_USER], msg.encode())
        assert refused == {}
    deadline = time.monotonic() + 10
    found = []
    with imaplib.IMAP4_SSL("127.0.0.1", smtpd.ports["IMAPS_PORT"], ssl_context=ctx) as m:
        m.login(DEMO_USER, DEMO_PASSWORD)
        while time.monotonic() < deadline:
            typ, _ = m.select("INBOX")
            assert typ == "OK"
            typ, data = m.search(None, "SUBJECT", '"quickstart %s"' % token)
            assert typ == "OK"
            found = data[0].split()
            if found:
                break
            time.sleep(0.2)
        assert len(found) == 1, "the message is in INBOX exactly once"
        typ, data = m.fetch(found[0], "(BODY.PEEK[TEXT])")
        assert typ == "OK"
        assert b"Hello from the quickstart test." in data[0][1]


def test_wrong_password_refused(imapd):
    ctx = ssl.create_default_context(cafile=imapd.ca_cert)
    with imaplib.IMAP4_SSL("127.0.0.1", imapd.ports["IMAPS_PORT"], ssl_context=ctx) as m:
        try:
            m.login(DEMO_USER, "not-the-password")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e)
        else:
            raise AssertionError("a wrong password logged in")
