"""gmsfix.dns - a real DNS server for the protocol tests: Debian's unbound
on a free loopback port, serving test zones (SPF, DKIM, DMARC, MX, A
records) from local-zone / local-data lines of a generated configuration.

Nothing leaves the machine: the root zone is answered with REFUSED, so
unbound never asks a server outside.  A zone given in `refuse` answers
REFUSED too, which resolvers report as a server failure (SPF temperror).

    dns = DnsServer(workdir)
    dns.add("spf-pass.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns.start()                # returns once unbound answers
    conf_line = "smtpd.dns_server = %s" % dns.address   # "127.0.0.1:PORT"
    ...
    dns.stop()                 # also after a failure (idempotent)

Records can be added before start() only (unbound reads its file once);
restart() applies later additions.

DnsServer(workdir, netns=ns) runs unbound inside a network namespace (a
gmsfix.netns.Namespace): its 127.0.0.1 is then the namespace's own
loopback, for programs started in the same namespace.

DnsServer(workdir, host="::1") listens on the IPv6 loopback instead:
address is then "[::1]:PORT".  ipv6_loopback_usable() tells whether this
machine can bind UDP and TCP on ::1 at all (tests skip when not).
"""

import os
import shutil
import socket
import subprocess
import time

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                t.close()
            return port
        finally:
            u.close()
    raise RuntimeError("no free port for unbound")


def _free_port6():
    """A port free for both UDP and TCP on ::1."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            u.bind(("::1", 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                t.bind(("::1", port))
            except OSError:
                continue
            finally:
                t.close()
            return port
        finally:
            u.close()
    raise RuntimeError("no free port for unbound on ::1")


def ipv6_loopback_usable():
    """Can we bind UDP and TCP sockets on ::1 here?"""
    if not socket.has_ipv6:
        return False
    try:
        _free_port6()
        return True
    except OSError:
        return False


def txt_quote(text):
    """A TXT value as one or more quoted character-strings (<= 255 each)."""
    parts = [text[i:i + 250] for i in range(0, len(text), 250)] or [""]
    return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)


class DnsServer:
    """unbound serving test zones on 127.0.0.1:port."""

    def __init__(self, workdir, netns=None, host="127.0.0.1"):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("DnsServer listens on 127.0.0.1 or ::1")
        self.host = host
        self.netns = netns
        self.dir = os.path.abspath(workdir)
        self.zones = set()
        self.refused = set()
        self.records = []
        self.port = None
        self.proc = None
        self.log = os.path.join(self.dir, "unbound.log")

    @property
    def address(self):
        if self.host == "::1":
            return "[::1]:%d" % self.port
        return "127.0.0.1:%d" % self.port

    def zone(self, name):
        """Declare a static zone: names in it without data are NXDOMAIN."""
        self.zones.add(name.rstrip(".").lower())

    def refuse(self, name):
        """A zone whose every query is REFUSED (a broken DNS)."""
        self.refused.add(name.rstrip(".").lower())

    def add(self, name, rtype, value, ttl=300):
        """Add one record; TXT values are quoted here, others as given."""
        name = name.rstrip(".").lower()
        if rtype.upper() == "TXT":
            value = txt_quote(value)
        self.records.append("%s. %d IN %s %s" % (name, ttl, rtype.upper(), value))
        # The zone of a record is its last two labels unless declared.
        if not any(name == z or name.endswith("." + z) for z in self.zones):
            self.zone(".".join(name.split(".")[-2:]))

    def conf_text(self):
        lines = [
            "server:",
            "  interface: %s" % self.host,
            "  port: %d" % self.port,
            "  do-daemonize: no",
            '  chroot: ""',
            '  username: ""',
            '  directory: "%s"' % self.dir,
            '  pidfile: "%s"' % os.path.join(self.dir, "unbound.pid"),
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  do-ip6: %s" % ("yes" if self.host == "::1" else "no"),
            "  do-udp: yes",
            "  do-tcp: yes",
            "  access-control: 127.0.0.0/8 allow",
            "  access-control: ::1 allow",
            '  module-config: "iterator"',
            "  num-threads: 1",
            "  so-reuseport: no",
            "  cache-max-ttl: 0",
            "  cache-max-negative-ttl: 0",
            # Never ask the internet: everything not ours is refused.
            '  local-zone: "." refuse',
        ]
        for z in sorted(self.zones):
            lines.append('  local-zone: "%s." static' % z)
        for z in sorted(self.refused):
            lines.append('  local-zone: "%s." refuse' % z)
        for r in self.records:
            lines.append("  local-data: '%s'" % r.replace("'", ""))
        lines += ["remote-control:", "  control-enable: no", ""]
        return "\n".join(lines)

    def start(self, timeout=15.0):
        os.makedirs(self.dir, exist_ok=True)
        if self.port is None:
            self.port = _free_port6() if self.host == "::1" else _free_port()
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self.conf_text())
        r = subprocess.run([UNBOUND + "-checkconf", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True) \
            if os.path.exists(UNBOUND + "-checkconf") else None
        if r is not None and r.returncode != 0:
            raise RuntimeError("unbound-checkconf failed:\n%s" % r.stdout)
        lf = open(self.log, "ab")
        argv = [UNBOUND, "-d", "-c", conf]
        if self.netns is not None:
            argv = self.netns.cmd(argv)
        self.proc = subprocess.Popen(argv, stdout=lf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        lf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited:\n%s" % self.log_tail())
            if self.answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("unbound did not answer on %d:\n%s" % (self.port, self.log_tail()))

    def answers(self):
        """Does the server answer a query (any rcode) over UDP?"""
        q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x04test\x00\x00\x01\x00\x01")
        if self.netns is not None:
            # Ask from inside the namespace (its own loopback).
            code = ("import socket,sys;s=socket.socket(2,2);s.settimeout(0.3);"
                    "s.sendto(%r,('127.0.0.1',%d));"
                    "sys.exit(0 if s.recvfrom(512)[0][:2]==b'\\x12\\x34' else 1)"
                    % (q, self.port))
            r = subprocess.run(self.netns.cmd(["/usr/bin/python3", "-c", code]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return r.returncode == 0
        s = socket.socket(socket.AF_INET6 if self.host == "::1" else socket.AF_INET,
                          socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.sendto(q, (self.host, self.port))
            data, _ = s.recvfrom(512)
            return data[:2] == b"\x12\x34"
        except OSError:
            return False
        finally:
            s.close()

    def restart(self):
        self.stop()
        return self.start()

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""
