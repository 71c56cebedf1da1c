#!/usr/bin/python3
"""bench/imapd/fetch_flags.py - SELECT + FETCH 1:* (FLAGS) on one large
mailbox, measured exactly as bench/run measures that row, GMS alone or
side by side with Dovecot.

    bench/imapd/fetch_flags.py [--build DIR] [--messages N] [--rounds R]
                               [--sets S] [--dovecot] [--perf FILE]

Starts GMS as bench/run does (bench/lib/gmsside.py: the quickstart's
suite with log.level = info) in a temporary folder under /var/tmp on
loopback, and with --dovecot also Debian's Postfix + Dovecot as bench/run
configures them (bench/lib/peer.py; they must be installed: bench/run
installs them).  Fills one INBOX on each side with the same N generated
1 KiB messages the way bench/run does (bench/imap-load maildir, then
"gmsadm import maildir" for GMS; Dovecot indexes them in one untimed
warm-up SELECT), then runs S sets, the sides in turn within each set, of
"bench/imap-load fetchall" (one TLS connection; R timed rounds of SELECT
INBOX then FETCH 1:* (FLAGS), after one untimed warm-up round).  Prints
the median SELECT, FETCH and total of each set and over all sets, and the
server's CPU time (user + system; gms-imapd, or Dovecot's whole process
tree) per round, LOGIN of the set included.  With --perf, "perf record
-g" is attached to gms-imapd during the timed sets and writes FILE.
Everything it starts is stopped at the end, also on failure; every loop
and every program it runs is bounded.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "bench", "lib"))

import procstat  # noqa: E402
import workloads as wl  # noqa: E402
from gmsside import GmsSide  # noqa: E402

USER = 101


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("GMS_BUILD") or os.path.join(TOP, "build"))
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--sets", type=int, default=3)
    ap.add_argument("--dovecot", action="store_true")
    ap.add_argument("--perf", default="")
    a = ap.parse_args(argv)
    tool = os.path.join(a.build, "bench", "imap-load")
    if not os.access(tool, os.X_OK):
        sys.exit("no %s: build first" % tool)
    d = tempfile.mkdtemp(prefix="gms-fetchflags-", dir="/var/tmp")
    os.chmod(d, 0o755)
    sides = [GmsSide(os.path.join(d, "gms"), a.build, wl.DOMAIN)]
    perf = None
    started = []
    try:
        if a.dovecot:
            from peer import Peer
            from gmsfix.suite import free_port, make_certs
            ca, crt, key = make_certs(os.path.join(d, "peer-tls"))
            sides.append(Peer(os.path.join(d, "peer"),
                              dict(smtp=free_port(), imaps=free_port(), lmtp=free_port()),
                              wl.DOMAIN, crt, key))
        for s in sides:
            started.append(s)
            s.start()
            s.add_users([(wl.addr(USER), wl.PASSWORD)])
            t0 = time.monotonic()
            f = wl.fill(s, tool, USER, a.messages, 1024, 0, 900, d)
            print("%s fill: %s (%.1f s)" % (s.name, f, time.monotonic() - t0))
            if f.get("filled") != a.messages:
                raise SystemExit("fill failed")
            if hasattr(s, "forget_watcher"):
                s.forget_watcher(wl.addr(USER))
            wl.warm(s, tool, [USER])
        if a.perf:
            pid = sides[0].suite.procs["gms-imapd"].pid
            perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        res = {s.name: dict(sel=[], fet=[], tot=[], cpu=[]) for s in sides}
        for i in range(a.sets):
            for s in sides:
                roots = s.imap_roots() if hasattr(s, "imap_roots") else []
                if s.name == "GMS":
                    roots = [s.suite.procs["gms-imapd"].pid]
                cpu0 = procstat.cpu_seconds(roots)
                rc, kv, err = wl.tool(s, tool, ["-f", USER, "-r", a.rounds + 1, "fetchall"],
                                      900)
                cpu = (procstat.cpu_seconds(roots) - cpu0) * 1000 / (a.rounds + 1)
                if rc != 0:
                    raise SystemExit("%s fetchall: rc %d %s" % (s.name, rc, err[-300:]))
                sel = wl._as_list(kv.get("select_ms"))[1:]
                fet = wl._as_list(kv.get("fetch_ms"))[1:]
                tot = [x + y for x, y in zip(sel, fet)]
                r = res[s.name]
                r["sel"] += sel
                r["fet"] += fet
                r["tot"] += tot
                r["cpu"].append(cpu)
                print("set %d %-16s select %7.2f ms  fetch %7.2f ms  total %7.2f ms  "
                      "(medians of %d; fetched=%s)  CPU %.1f ms per round"
                      % (i + 1, s.name, statistics.median(sel), statistics.median(fet),
                         statistics.median(tot), len(tot), kv.get("fetched"), cpu))
        for s in sides:
            r = res[s.name]
            print("all %-16s select %7.2f ms  fetch %7.2f ms  total %7.2f ms  (medians of %d "
                  "rounds, %d messages)  CPU per round %.1f ms (median of %d sets)"
                  % (s.name, statistics.median(r["sel"]), statistics.median(r["fet"]),
                     statistics.median(r["tot"]), len(r["tot"]), a.messages,
                     statistics.median(r["cpu"]), len(r["cpu"])))
        print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    finally:
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            try:
                perf.wait(60)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.wait(10)
        for s in started:
            try:
                s.stop()
            except Exception as e:
                print("stopping %s: %s" % (s.name, e))
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
