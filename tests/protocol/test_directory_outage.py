"""test_directory_outage.py - the directory library when slapd goes away.

slapd restarted in the middle of a run: the next lookup reconnects, and a
caller sees at most a temporary failure, never a wrong answer ("not found",
"wrong password").  slapd stopped: every lookup is a temporary failure.
slapd hung (SIGSTOP): the timeouts turn it into a temporary failure within
bounded time.  Each test leaves slapd running for the next one.
"""
import os
import signal
import subprocess
import time

import pytest

from gmsfix.slapd import DirTool, Slapd
from test_directory import BUILD, dirtool_or_skip

PASSWORD = "Outage-Pw-1"


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    s = Slapd(str(tmp_path_factory.mktemp("outage") / "slapd"))
    try:
        s.start()
        s.add_mailbox("juma@mof.go.tz", PASSWORD)
        s.add_list("staff@mof.go.tz", "anyone", "juma@mof.go.tz")
        yield s
    finally:
        if s.pid is not None:
            try:
                os.kill(s.pid, signal.SIGCONT)
            except OSError:
                pass
        s.stop()


@pytest.fixture(scope="module")
def tool(ldap, tmp_path_factory):
    # No cache: every lookup goes to slapd.
    conf = str(tmp_path_factory.mktemp("oconf") / "gms.conf")
    ldap.write_conf(conf, ["directory.cache_ttl = 0",
                           "directory.negative_ttl = 0",
                           "directory.timeout = 2",
                           "directory.pool_size = 2"])
    return dirtool_or_skip(conf)


def ensure_running(ldap):
    if ldap.pid is None:
        ldap.start()


def run_during_restart(tool, ldap, args, stdin=None, n=150, ms=50, at=0.6):
    """Run `dirtool repeat n ms ARGS` and restart slapd after `at` seconds;
    return the per-attempt answers and the reconnect count."""
    cmd = [tool.path, "-c", tool.conf, "repeat", str(n), str(ms)] + args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        if stdin is not None:
            p.stdin.write(stdin)
        p.stdin.close()
        p.stdin = None
        time.sleep(at)
        ldap.restart()
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines = [l.split() for l in out.splitlines() if l[:1].isdigit()]
    recon = [int(l.split("=")[1]) for l in out.splitlines()
             if l.startswith("reconnects=")]
    assert len(lines) == n, out + err
    return lines, recon[0] if recon else 0


def test_restart_during_lookups(tool, ldap):
    ensure_running(ldap)
    lines, reconnects = run_during_restart(
        tool, ldap, ["resolve", "juma@mof.go.tz"])
    answers = [l[1] for l in lines]
    assert set(answers) <= {"found", "tempfail"}, answers
    assert all(l[2] == "juma@mof.go.tz" for l in lines if l[1] == "found")
    assert answers[0] == "found" and answers[-1] == "found"
    assert reconnects >= 2


def test_restart_during_auth_never_says_wrong_password(tool, ldap):
    ensure_running(ldap)
    lines, reconnects = run_during_restart(
        tool, ldap, ["auth", "juma@mof.go.tz"], stdin=PASSWORD + "\n")
    answers = [l[1] for l in lines]
    assert set(answers) <= {"ok", "tempfail"}, answers
    assert answers[0] == "ok" and answers[-1] == "ok"


def test_restart_between_lookups_is_invisible(tool, ldap):
    """slapd restarted while the process idles: the next lookup finds its
    connection dead, reconnects and answers right away."""
    ensure_running(ldap)
    lines, reconnects = run_during_restart(
        tool, ldap, ["resolve", "staff@mof.go.tz"], n=2, ms=6000, at=0.5)
    assert [l[1] for l in lines] == ["found"] * 2
    assert reconnects >= 2


def test_stopped_is_tempfail_not_unknown(tool, ldap):
    ensure_running(ldap)
    ldap.stop()
    try:
        assert tool.result("resolve", "juma@mof.go.tz")[0] == "tempfail"
        assert tool.result("resolve", "nobody@mof.go.tz")[0] == "tempfail"
        assert tool.result("mailbox", "juma@mof.go.tz")[0] == "tempfail"
        assert tool.result("domain", "mof.go.tz")[0] == "tempfail"
        assert tool.result("institution", "mof")[0] == "tempfail"
        assert tool.result("institutions")[0] == "tempfail"
        assert tool.result("sendas", "juma@mof.go.tz", "info@mof.go.tz")[0] == "tempfail"
        assert tool.result("maypost", "staff@mof.go.tz", "x@example.org")[0] == "tempfail"
        assert tool.result("auth", "juma@mof.go.tz", stdin=PASSWORD + "\n")[0] == "tempfail"
        assert tool.result("auth", "juma@mof.go.tz", stdin="wrong\n")[0] == "tempfail"
        assert tool.result("ping")[0] == "tempfail"
        # an empty password needs no server to be refused
        assert tool.result("auth", "juma@mof.go.tz", stdin="\n")[0] == "refused"
    finally:
        ldap.start()
    assert tool.result("resolve", "juma@mof.go.tz")[0] == "found"


def test_hung_slapd_times_out(tool, ldap):
    ensure_running(ldap)
    pid = ldap.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        res = tool.result("resolve", "juma@mof.go.tz", timeout=60)[0]
        elapsed = time.monotonic() - t0
        assert res == "tempfail"
        # directory.timeout = 2: connect/bind and one search, no retry
        assert elapsed < 10, elapsed
        t0 = time.monotonic()
        res = tool.result("auth", "juma@mof.go.tz", stdin=PASSWORD + "\n")[0]
        assert res == "tempfail" and time.monotonic() - t0 < 10
    finally:
        os.kill(pid, signal.SIGCONT)
    assert tool.result("resolve", "juma@mof.go.tz")[0] == "found"
