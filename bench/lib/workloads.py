"""bench/lib/workloads.py - the workloads, run the same way against each side.

A side is a GmsSide or a Peer: it has smtp_port, imaps_port, count(addr),
smtp_roots(), imap_roots() and why_not(daemon) (None when the daemon of
that role runs, else the reason).  Every function here runs
one measurement against one side and returns a dict: the figures, or
"skip" (why it could not run) or "error" (what went wrong).  Nothing here
makes a figure up: a run that did not finish says so.

Every external program runs with a timeout, and every wait is bounded.
"""

import os
import statistics
import subprocess
import time

import procstat

PASSWORD = "Bench-Passw0rd"
DOMAIN = "bench.test"


def addr(i):
    """The address of bench user i (the load tool builds the same names)."""
    return "bench%03d@%s" % (i, DOMAIN)


def _kv(line):
    """key=value pairs of the load tool's output; repeated keys make lists."""
    out = {}
    for tok in line.split():
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        try:
            v = float(v)
        except ValueError:
            pass
        if k in out:
            if not isinstance(out[k], list):
                out[k] = [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def tool(side, tool_path, args, timeout):
    """Run the IMAP load tool against side; (rc, parsed stdout, stderr)."""
    cmd = [tool_path, "-p", str(side.imaps_port), "-w", PASSWORD,
           "-u", "bench@" + DOMAIN] + [str(a) for a in args]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, {}, "timed out after %ds" % timeout
    lines = r.stdout.strip().splitlines()
    return r.returncode, _kv(lines[-1] if lines else ""), r.stderr.strip()


# -- preparation ---------------------------------------------------------------

def fill(side, tool_path, user, count, size, first_msg, seconds, workdir):
    """Put count generated messages into user's INBOX.

    Dovecot: written straight into the Maildir (direct delivery; Dovecot
    indexes them at the first SELECT, which the measurements do not time).
    GMS: "gmsadm import maildir" of the same files when gmsadm offers it,
    else APPEND over 4 connections.  Bounded by seconds.  Returns a dict
    with "filled" (as the server counts them), "seconds" and "method".
    """
    t0 = time.monotonic()
    if hasattr(side, "maildir"):
        md = side.maildir(addr(user))
        r = subprocess.run([str(x) for x in (tool_path, "-m", count, "-o", first_msg, "-l",
                                             size, "-D", md, "-d", seconds, "maildir")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=seconds + 60)
        side.chown_maildir(addr(user))
        if r.returncode != 0:
            return {"error": "maildir fill: %s" % r.stdout.strip()[-200:]}
        return {"filled": side.count(addr(user)), "seconds": time.monotonic() - t0,
                "method": "files written into the Maildir"}
    why = side.why_not("gms-imapd")
    if why:
        return {"skip": why}
    if side.gmsadm_has("import"):
        src = os.path.join(workdir, "import-%d" % user)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(src, sub), exist_ok=True)
        r = subprocess.run([str(x) for x in (tool_path, "-m", count, "-o", first_msg, "-l",
                                             size, "-D", src, "-d", seconds, "maildir")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=seconds + 60)
        for root, dirs, files in os.walk(src):
            os.chmod(root, 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        r = side.gmsadm("import", "maildir", src, addr(user), timeout=seconds + 60)
        if r.returncode == 0:
            n = side.count(addr(user))
            return {"filled": n, "seconds": time.monotonic() - t0,
                    "method": "gmsadm import maildir"}
        # fall through to APPEND
    rc, kv, err = tool(side, tool_path, ["-f", user, "-c", 4, "-m", count, "-o", first_msg,
                                         "-l", size, "-d", seconds, "append"], seconds + 60)
    n = side.count(addr(user))
    out = {"filled": n, "seconds": time.monotonic() - t0, "method": "APPEND, 4 connections"}
    if rc != 0 and not n:
        out["error"] = "APPEND: %s" % (err.splitlines()[-1] if err else "failed")
    return out


def warm(side, tool_path, users):
    """SELECT every mailbox once, untimed (Dovecot builds its index then)."""
    for u in users:
        tool(side, tool_path, ["-f", u, "-r", 1, "fetchall"], 300)


# -- the physical limit ----------------------------------------------------------

def fdatasync_rate(folder, seconds, max_ops=20000):
    """4 KiB appends each followed by fdatasync, per second, in folder."""
    path = os.path.join(folder, "fdatasync.probe")
    block = b"x" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        n = 0
        t0 = time.monotonic()
        while n < max_ops and time.monotonic() - t0 < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
        t = time.monotonic() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    return {"value": n / t, "ops": n, "seconds": t}


# -- SMTP ------------------------------------------------------------------------

def smtp(side, sink, clients, size, count, timeout):
    """count messages of size bytes over clients sessions to sink's mailbox.

    The clock stops when the last message is in the mailbox (Maildir files
    for Dovecot, IMAP STATUS for GMS), not when SMTP accepted it.
    """
    why = side.why_not("gms-smtpd")
    if why:
        return {"skip": why}
    if side.count(sink) is None:
        return {"skip": "cannot see deliveries: %s" % side.why_not("gms-imapd")}
    base = side.count(sink)
    roots = side.smtp_roots()
    cpu0 = procstat.cpu_seconds(roots)
    t0 = time.monotonic()
    cmd = ["smtp-source", "-s", str(clients), "-m", str(count), "-l", str(size),
           "-f", "sender@example.test", "-t", sink, "-M", "client.example.test",
           "127.0.0.1:%d" % side.smtp_port]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        src_rc, src_out = r.returncode, r.stdout.strip()
    except subprocess.TimeoutExpired:
        src_rc, src_out = -1, "smtp-source timed out after %ds" % timeout
    accepted = time.monotonic() - t0
    left = max(1.0, timeout - accepted)
    deadline = time.monotonic() + left
    n = side.count(sink) or 0
    step = 0.05
    while n - base < count and time.monotonic() < deadline:
        time.sleep(step)
        n = side.count(sink) or n
    t = time.monotonic() - t0
    cpu = procstat.cpu_seconds(side.smtp_roots() or roots) - cpu0
    done = n - base
    out = {"delivered": done, "seconds": t, "accept_seconds": accepted,
           "value": done / t if t > 0 else 0.0, "cpu": cpu,
           "cpu_per_msg_us": cpu / done * 1e6 if done else None}
    if done < count:
        out["error"] = "%d of %d delivered in %.0f s%s" % (
            done, count, t, ("; smtp-source: " + src_out.splitlines()[-1][:160])
            if src_rc != 0 and src_out else "")
    return out


# -- IMAP ------------------------------------------------------------------------

def imap_mixed(side, tool_path, clients, users, first_user, seconds):
    """The mixed client workload; commands per second and CPU per command."""
    why = side.why_not("gms-imapd")
    if why:
        return {"skip": why}
    roots = side.imap_roots()
    mark = side.log_mark()
    cpu0 = procstat.cpu_seconds(roots)
    rc, kv, err = tool(side, tool_path, ["-f", first_user, "-U", min(users, clients),
                                         "-c", clients, "-d", seconds, "mixed"],
                       seconds + 120)
    cpu = procstat.cpu_seconds(side.imap_roots() or roots) - cpu0
    cmds = kv.get("commands", 0) or 0
    if rc != 0 or not cmds:
        return {"error": (err.splitlines()[-1] if err else "rc %d" % rc)[:200]}
    out = {"value": cmds / kv["seconds"], "commands": cmds, "sessions": kv.get("sessions"),
           "errors": kv.get("errors", 0), "cpu": cpu, "cpu_per_cmd_us": cpu / cmds * 1e6,
           "lat": {k[3:]: v for k, v in kv.items() if k.startswith("ms_")}}
    if kv.get("errors"):
        out["note"] = "%d failed commands (%s)" % (kv["errors"], (err.splitlines() or ["?"])[0][:120])
        refused = side.refusals_since(mark)
        if refused:
            out["note"] += "; the server's log: " + ", ".join(
                "%d logins refused reason=%s" % (n, r) for r, n in sorted(refused.items()))
    return out


def imap_fetchall(side, tool_path, user, rounds, expect):
    """SELECT + FETCH 1:* (FLAGS); the first round (cold) is not counted."""
    why = side.why_not("gms-imapd")
    if why:
        return {"skip": why}
    rc, kv, err = tool(side, tool_path, ["-f", user, "-r", rounds + 1, "fetchall"], 900)
    sel = _as_list(kv.get("select_ms"))[1:]
    fet = _as_list(kv.get("fetch_ms"))[1:]
    if rc != 0 or not sel or not fet:
        return {"error": (err.splitlines()[-1] if err else "rc %d" % rc)[:200]}
    tot = [a + b for a, b in zip(sel, fet)]
    out = {"value": statistics.median(tot), "select_ms": statistics.median(sel),
           "fetch_ms": statistics.median(fet), "messages": kv.get("messages"),
           "fetched": kv.get("fetched")}
    if kv.get("fetched") != kv.get("messages") or (expect and kv.get("messages") != expect):
        out["note"] = "mailbox holds %s messages, %s FETCH replies" % (
            _int(kv.get("messages")), _int(kv.get("fetched")))
    return out


def imap_search(side, tool_path, user, rounds, expect):
    """SEARCH BODY "needle"; the first round is not counted."""
    why = side.why_not("gms-imapd")
    if why:
        return {"skip": why}
    rc, kv, err = tool(side, tool_path, ["-f", user, "-r", rounds + 1, "-q", "needle",
                                         "search"], 900)
    ms = _as_list(kv.get("search_ms"))[1:]
    if rc != 0 or not ms:
        return {"error": (err.splitlines()[-1] if err else "rc %d" % rc)[:200]}
    out = {"value": statistics.median(ms), "messages": kv.get("messages"),
           "hits": kv.get("hits")}
    want_hits = (int(kv.get("messages") or 0) + 92) // 100
    if expect and kv.get("messages") != expect:
        out["note"] = "mailbox holds %s messages" % _int(kv.get("messages"))
    if kv.get("hits") is not None and int(kv["hits"]) != want_hits:
        out["note"] = (out.get("note", "") + " %s hits, %d expected" % (
            _int(kv.get("hits")), want_hits)).strip()
    return out


def imap_idle_memory(side, tool_path, conns, users, first_user, seconds):
    """Memory per idle logged-in TLS connection (PSS, all server processes)."""
    why = side.why_not("gms-imapd")
    if why:
        return {"skip": why}
    roots = side.imap_roots()
    time.sleep(1)
    pss0, rss0, n0 = procstat.memory_kib(roots)
    cmd = [tool_path, "-p", str(side.imaps_port), "-w", PASSWORD, "-u", "bench@" + DOMAIN,
           "-f", str(first_user), "-U", str(users), "-c", str(conns), "-d", str(seconds),
           "-t", "60", "idle"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = _readline_timeout(p, seconds)
        kv = _kv(line or "")
        ready = int(kv.get("ready", 0))
        if not ready:
            return {"error": "no connection held (%s)" % (line or "no answer").strip()}
        time.sleep(2)
        pss1, rss1, n1 = procstat.memory_kib(side.imap_roots())
        out = {"value": (pss1 - pss0) / ready, "rss_per_conn": (rss1 - rss0) / ready,
               "ready": ready, "procs": n1, "pss_before": pss0, "pss_after": pss1}
        if ready < conns:
            out["note"] = "%d of %d connections held" % (ready, conns)
        return out
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def _readline_timeout(p, timeout):
    """One line of p's stdout, or None after timeout seconds."""
    import select
    deadline = time.monotonic() + timeout
    buf = ""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1.0)
        if r:
            chunk = os.read(fd, 4096).decode(errors="replace")
            if not chunk:
                return buf or None
            buf += chunk
            if "\n" in buf:
                return buf.split("\n", 1)[0]
        if p.poll() is not None and not r:
            return buf or None
    return None


def _int(v):
    try:
        return "%d" % int(v)
    except (TypeError, ValueError):
        return "?"


def median_of(results, key="value"):
    """Median of key over the runs that have it; None when none has."""
    vals = [r[key] for r in results if r.get(key) is not None and "error" not in r
            and "skip" not in r]
    return statistics.median(vals) if vals else None
