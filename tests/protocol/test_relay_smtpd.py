"""The relay inside gms-smtpd, end to end: a message submitted with AUTH
to a remote recipient is queued by gms-smtpd and relayed by its queue
runner to the recipient's MX (the SMTP sink of test_relay.py, on a
loopback port given as relay.port, found through a real DNS server).
Skipped while gms-smtpd does not run the relay yet (its -n output lists
no relay.* keys).
"""
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import shutil
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gmsfix.dns import DnsServer  # noqa: E402
from gmsfix.suite import Suite, DEMO_USER, DEMO_PASSWORD, free_port, wait_port  # noqa: E402
import test_relay as tr  # noqa: E402


def relay_wired(suite):
    r = subprocess.run([suite.binary("gms-smtpd"), "-n", "-c", suite.conf_path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return "relay.enable" in r.stdout


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gms-relay3-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.sink_dir = os.path.join(self.dir, "sink")
        os.makedirs(self.sink_dir)
        self.sink_port = free_port()
        self.dns = DnsServer(os.path.join(self.dir, "dns"))
        self.dns.zone("far.test")
        self.dns.add("far.test", "MX", "10 mx.far.test.")
        self.dns.add("mx.far.test", "A", "127.0.0.1")
        self.dns.start()
        self.suite = Suite(os.path.join(self.dir, "gms"), extra_conf="\n".join([
            "smtpd.dns_server = %s" % self.dns.address,
            "relay.enable = yes",
            "relay.dns_server = %s" % self.dns.address,
            "relay.port = %d" % self.sink_port,
            "relay.ipv6 = no",
            "relay.retry_min = 1s",
            "relay.retry_max = 2s",
            "relay.poll_interval = 1s",
            "relay.timeout = 3s",
            "relay.data_timeout = 3s",
            "relay.lease = 3s",
        ]))
        self.sink = None

    def start_sink(self):
        self.sink = subprocess.Popen(
            [tr.PY, os.path.join(HERE, "test_relay.py"), "sink", "127.0.0.1",
             str(self.sink_port), self.sink_dir, self.suite.cert, self.suite.key],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.sink_port, 15, self.sink):
            raise RuntimeError("sink did not start")

    def close(self):
        try:
            self.suite.stop()
        finally:
            if self.sink is not None:
                self.sink.terminate()
                self.sink.wait(10)
            self.dns.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        e.suite.start(daemons=("gms-smtpd",))
        if "gms-smtpd" not in e.suite.procs:
            pytest.skip("gms-smtpd is not built")
        if not relay_wired(e.suite):
            pytest.skip("gms-smtpd does not run the relay yet (relay_start not wired)")
        e.start_sink()
        yield e
    finally:
        e.close()


def submit(e, rcpt, token):
    ctx = ssl.create_default_context(cafile=e.suite.ca_cert)
    ctx.check_hostname = False
    with smtplib.SMTP("127.0.0.1", e.suite.ports["SUBMISSION_PORT"], timeout=30) as s:
        s.starttls(context=ctx)
        s.login(DEMO_USER, DEMO_PASSWORD)
        s.sendmail(DEMO_USER, [rcpt], tr.message(token).replace("alice@sender.test", DEMO_USER))


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def inbox(e, user):
    tool = tr.RELAYTOOL
    r = subprocess.run([tool, "-c", e.suite.conf_path, "inbox", user],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.stdout.decode("utf-8", "replace").split("=== uid ")[1:]


def test_submission_is_relayed(env):
    tr.set_mode(env.sink_dir, "ok")
    token = uuid.uuid4().hex
    t0 = time.monotonic()
    submit(env, "bob@far.test", token)
    got = wait_for(lambda: tr.sink_messages(env.sink_dir, token), 20)
    assert len(got) == 1, env.suite.log_tail("gms-smtpd")
    assert got[0][1]["tls"] is True
    assert time.monotonic() - t0 < 10, "relay_wakeup: no wait for the next scan"


def test_remote_5xx_dsn_in_sender_inbox(env):
    tr.set_mode(env.sink_dir, "reject")
    token = uuid.uuid4().hex
    submit(env, "carol@far.test", token)
    dsn = wait_for(lambda: [m for m in inbox(env, DEMO_USER)
                            if "carol@far.test" in m and "delivery-status" in m], 30)
    tr.set_mode(env.sink_dir, "ok")
    assert len(dsn) == 1, env.suite.log_tail("gms-smtpd")
    assert "Status: 5.1.1" in dsn[0] and "Subject: relay test %s" % token in dsn[0]


def test_sigkill_of_gms_smtpd_loses_nothing(env):
    tr.set_mode(env.sink_dir, "stall")
    token = uuid.uuid4().hex
    log = os.path.join(env.sink_dir, "log")
    before = open(log).read().count("stalled")
    submit(env, "dan@far.test", token)
    assert wait_for(lambda: open(log).read().count("stalled") > before, 20)
    env.suite.stop_daemon("gms-smtpd", sig=signal.SIGKILL)
    tr.set_mode(env.sink_dir, "ok")
    env.suite.start_daemon("gms-smtpd")
    got = wait_for(lambda: tr.sink_messages(env.sink_dir, token), 30)
    assert len(got) >= 1, env.suite.log_tail("gms-smtpd")


def test_sigterm_during_delivery_stops_promptly(env):
    tr.set_mode(env.sink_dir, "stall")
    token = uuid.uuid4().hex
    log = os.path.join(env.sink_dir, "log")
    before = open(log).read().count("stalled")
    submit(env, "eve@far.test", token)
    assert wait_for(lambda: open(log).read().count("stalled") > before, 20)
    t0 = time.monotonic()
    rc = env.suite.stop_daemon("gms-smtpd", sig=signal.SIGTERM, timeout=20)
    assert rc == 0 and time.monotonic() - t0 < 10
    tr.set_mode(env.sink_dir, "ok")
    env.suite.start_daemon("gms-smtpd")
    got = wait_for(lambda: tr.sink_messages(env.sink_dir, token), 30)
    assert len(got) >= 1, env.suite.log_tail("gms-smtpd")
