"""gmsfix.netns - network namespaces for the multi-host tests.

A test creates its own namespaces, links them with veth pairs carrying
private addresses (10.77.N.0/24 by default), runs programs inside them, and
deletes everything afterwards, also after a failure.  Nothing here reaches
an address outside this machine: the namespaces have no route but their
own links.  Needs root (CAP_NET_ADMIN) and iproute2.

    with NetLab() as lab:
        b = lab.namespace("b")                  # a new namespace
        lab.link(None, b)                       # veth: this namespace <-> b
        # lab.addr(None) -> "10.77.N.1", lab.addr(b) -> "10.77.N.2"
        p = b.popen(["python3", "sink.py"])     # runs inside b
        ...
    # namespaces, links and processes started with popen are gone here
"""

import os
import shutil
import subprocess
import time

IP = shutil.which("ip") or "/usr/sbin/ip"


def available():
    """Can this process create namespaces (root and iproute2)?"""
    return os.geteuid() == 0 and os.access(IP, os.X_OK)


def _ip(*args, check=True):
    r = subprocess.run([IP] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stdout.strip()))
    return r


class Namespace:
    """One network namespace created by a NetLab."""

    def __init__(self, name):
        self.name = name
        self.procs = []
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")

    def cmd(self, argv):
        return [IP, "netns", "exec", self.name] + list(argv)

    def run(self, argv, **kw):
        """Run argv inside the namespace; returns CompletedProcess."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(argv), **kw)

    def popen(self, argv, **kw):
        """Start argv inside the namespace; stopped by NetLab.close()."""
        p = subprocess.Popen(self.cmd(argv), **kw)
        self.procs.append(p)
        return p

    def stop_procs(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs = []

    def pids(self):
        r = _ip("netns", "pids", self.name, check=False)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def delete(self):
        self.stop_procs()
        # Anything else still inside (a daemon that forked) is ours too.
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        _ip("netns", "delete", self.name, check=False)


class NetLab:
    """A set of namespaces and links, removed by close() (or `with`)."""

    def __init__(self, prefix="gmst", subnet_base=77):
        tag = "%d" % (os.getpid() % 100000)
        self.prefix = "%s%s" % (prefix, tag)
        self.tag = tag
        self.base = subnet_base
        self.spaces = []
        self.links = []         # (ifname in the root namespace or None)
        self.addrs = {}         # (link index, side) -> address
        self.nlinks = 0
        self._addr_of = {}      # namespace name or None -> address

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def namespace(self, short):
        ns = Namespace("%s-%s" % (self.prefix, short))
        self.spaces.append(ns)
        return ns

    def link(self, a, b):
        """A veth pair between a and b (Namespace, or None for the
        namespace this process runs in) with 10.77.K.1/24 on a and
        10.77.K.2/24 on b, K = 1 + the link count.  Returns (addr_a,
        addr_b)."""
        self.nlinks += 1
        k = self.nlinks
        net = "10.%d.%d" % (self.base, (int(self.tag) % 200) + k)
        ia, ib = "v%sa%d" % (self.tag, k), "v%sb%d" % (self.tag, k)
        _ip("link", "add", ia, "type", "veth", "peer", "name", ib)
        self.links.append(ia)
        addr_a, addr_b = net + ".1", net + ".2"
        for ifname, ns, addr in ((ia, a, addr_a), (ib, b, addr_b)):
            if ns is not None:
                _ip("link", "set", ifname, "netns", ns.name)
                _ip("-n", ns.name, "addr", "add", addr + "/24", "dev", ifname)
                _ip("-n", ns.name, "link", "set", ifname, "up")
            else:
                _ip("addr", "add", addr + "/24", "dev", ifname)
                _ip("link", "set", ifname, "up")
            self._addr_of[ns.name if ns is not None else None] = addr
        # Wait until the addresses can be used (DAD does not apply to
        # IPv4, but the links need a moment to come up).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = _ip("link", "show", ia, check=False) if a is None else \
                _ip("-n", a.name, "link", "show", ia, check=False)
            if "LOWER_UP" in r.stdout or "state UP" in r.stdout:
                break
            time.sleep(0.05)
        return addr_a, addr_b

    def addr(self, ns):
        """The last address given to ns (Namespace or None)."""
        return self._addr_of[ns.name if ns is not None else None]

    def close(self):
        for ns in self.spaces:
            ns.delete()
        self.spaces = []
        for ifname in self.links:
            # Gone with its namespace peer usually; delete if still here.
            _ip("link", "delete", ifname, check=False)
        self.links = []
