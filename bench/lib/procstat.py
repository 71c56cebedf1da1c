"""bench/lib/procstat.py - what a server costs, read from /proc.

The harness charges each server with the CPU time and the memory of every
process it consists of: the process it started (Postfix's master, Dovecot's
master, gms-smtpd, gms-imapd, slapd) and all their live descendants.  The
CPU time of children that have already exited is in their parent's
cutime/cstime once the parent reaped them (Postfix's and Dovecot's masters
do), so summing utime+stime+cutime+cstime over the live tree, before and
after a workload, gives the CPU that the workload cost the server.
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    end = s.rfind(")")
    if end < 0:
        return None
    return s[end + 2:].split()


def parents():
    """A map pid -> ppid of every process on the machine right now."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is None or len(fields) < 2:
            continue
        out[int(name)] = int(fields[1])
    return out


def tree(roots):
    """Every live pid that is one of roots or descends from one of them."""
    pp = parents()
    children = {}
    for pid, ppid in pp.items():
        children.setdefault(ppid, []).append(pid)
    seen = set()
    todo = [r for r in roots if r in pp]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, ()))
    return sorted(seen)


def cpu_seconds(roots):
    """CPU seconds (user+system, children reaped included) of a process tree."""
    total = 0
    for pid in tree(roots):
        f = _stat_fields(pid)
        if f is None or len(f) < 15:
            continue
        # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / float(CLK_TCK)


def _smaps_rollup(pid):
    """(pss_kib, rss_kib) of one process, or None when it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
    except OSError:
        return None
    pss = rss = 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
        elif line.startswith("Rss:"):
            rss = int(line.split()[1])
    return pss, rss


def memory_kib(roots):
    """(pss_kib, rss_kib, nprocs) summed over a process tree.

    PSS divides shared pages among the processes that map them, so a sum of
    PSS over Dovecot's many processes is comparable with the one process of
    gms-imapd; RSS is given too.
    """
    pss = rss = n = 0
    for pid in tree(roots):
        m = _smaps_rollup(pid)
        if m is None:
            continue
        pss += m[0]
        rss += m[1]
        n += 1
    return pss, rss, n


def machine():
    """A dict describing this machine: cores, memory, kernel, CPU model, load."""
    info = {"cores": os.cpu_count() or 0, "kernel": os.uname().release,
            "cpu": "unknown", "mem_mib": 0, "load": "?"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_mib"] = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            info["load"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return info
