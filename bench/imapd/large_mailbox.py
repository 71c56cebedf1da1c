#!/usr/bin/python3
"""bench/imapd/large_mailbox.py - gms-imapd on a large mailbox and with
many idle connections (GMS only; the side-by-side run against Dovecot is
bench/run).

    bench/imapd/large_mailbox.py [--build DIR] [--messages N] [--idle M]

Starts a GMS suite (gmsfix.suite: slapd, gms-imapd from DIR, default
$GMS_BUILD or build/) in a temporary folder on loopback, fills one INBOX
with N messages through MULTIAPPEND (500 per command), then times:
SELECT, FETCH 1:* (FLAGS), UID FETCH 1:* (UID), UID SEARCH UNSEEN,
SEARCH BODY, STORE 1:* +FLAGS.SILENT (\\Seen) and FETCH 1:* (ENVELOPE);
then opens M idle, logged-in TLS connections and reports the daemon's
resident memory per connection.  Everything it starts is stopped at the
end; every loop is bounded.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "protocol"))

from gmsfix.suite import Suite  # noqa: E402
from test_imap_helpers import Raw, make_message  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(r, tag, cmd):
    t0 = time.monotonic()
    u, t = r.cmd(tag, cmd)
    dt = time.monotonic() - t0
    if not t.startswith(tag.encode() + b" OK"):
        raise RuntimeError("%s failed: %r" % (cmd, t))
    return dt, len(u)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("GMS_BUILD") or os.path.join(TOP, "build"))
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--idle", type=int, default=1000)
    a = ap.parse_args(argv)
    need = a.idle + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    d = tempfile.mkdtemp(prefix="gms-imap-bench-", dir="/tmp")
    os.chmod(d, 0o755)
    s = Suite(d, a.build, extra_conf="imapd.max_sessions = %d\nimapd.max_sessions_per_ip = %d"
              % (a.idle + 100, a.idle + 100))
    rows = []
    try:
        s.start(daemons=("gms-imapd",))
        user, pw = "bench@demo.go.tz", "Bench-Passw0rd!"
        s.add_mailbox(user, pw)
        pid = s.procs["gms-imapd"].pid
        r = Raw(s, timeout=600)
        r.login(user, pw)
        msg = make_message(subject="bench", body="some text for the body search\r\n" * 20)
        batch = 500
        t0 = time.monotonic()
        for i in range((a.messages + batch - 1) // batch):
            n = min(batch, a.messages - i * batch)
            data = b"".join(b" {%d+}\r\n" % len(msg) + msg for _ in range(n))
            r.send(b"a%d APPEND INBOX" % i + data + b"\r\n")
            u, t = r.until_tagged("a%d" % i)
            if not t.startswith(b"a%d OK" % i):
                raise RuntimeError("APPEND failed: %r" % t)
        rows.append(("APPEND %d messages (MULTIAPPEND x%d)" % (a.messages, batch),
                     time.monotonic() - t0, a.messages))
        for tag, cmd in (("s", "SELECT INBOX"), ("f", "FETCH 1:* (FLAGS)"),
                         ("g", "UID FETCH 1:* (UID)"), ("h", "UID SEARCH UNSEEN"),
                         ("b", "SEARCH BODY nothing-matches-this"),
                         ("k", "STORE 1:* +FLAGS.SILENT (\\Seen)"),
                         ("e", "FETCH 1:* (ENVELOPE)")):
            dt, n = timed(r, tag, cmd)
            rows.append((cmd, dt, n))
        r.close()
        base = rss_kb(pid)
        conns = []
        t0 = time.monotonic()
        for i in range(a.idle):
            c = Raw(s, timeout=30)
            c.login(user, pw)
            conns.append(c)
        time.sleep(1)
        after = rss_kb(pid)
        rows.append(("%d idle logged-in TLS connections" % a.idle, time.monotonic() - t0,
                     a.idle))
        for c in conns:
            c.close()
        print("\n%-48s %10s %10s" % ("gms-imapd", "seconds", "lines/n"))
        for name, dt, n in rows:
            print("%-48s %10.3f %10d" % (name, dt, n))
        print("resident memory: %d KiB before, %d KiB with %d idle connections: "
              "%.1f KiB per connection" % (base, after, a.idle, (after - base) / max(1, a.idle)))
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
