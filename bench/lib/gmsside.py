"""bench/lib/gmsside.py - GMS as the benchmark runs it.

GMS is started exactly as the README's quickstart starts it: through
tests/protocol/gmsfix/suite.py (class Suite), here with free ports and a
data folder of the benchmark.  Two things differ from the quickstart's
gms.conf, all said in RESULTS.md: log.level is info instead of debug
(debug logging would be measured otherwise; Postfix and Dovecot log at
their default level), the per-IP session limits are raised because the
benchmark's clients all come from 127.0.0.1 (Dovecot gets the same), and
gms-smtpd does what Debian's Postfix does by default: no SPF, DKIM or
DMARC checks and no greeting pause (BENCH_KEYS).

A daemon that is not built is not started (Suite records it in .missing);
the workloads that need it then report "not run" with the reason.
"""

import imaplib
import os
import re
import ssl
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "protocol"))

from gmsfix.suite import Suite  # noqa: E402

# gms.conf keys the benchmark sets, by the program whose table has them.
# The peer's clients all come from 127.0.0.1, and Postfix as Debian ships it
# checks neither SPF, DKIM nor DMARC and has no greeting pause: GMS gets the
# same, so that both do the same work per message.  A key is only written
# when the program that owns it knows it (its name is in the binary), so a
# renamed key cannot stop GMS from starting.
BENCH_KEYS = [
    ("gms-smtpd", "smtpd.max_sessions", "2000"),
    ("gms-smtpd", "smtpd.max_sessions_per_ip", "2000"),
    ("gms-smtpd", "smtpd.greet_pause_ms", "0"),
    ("gms-smtpd", "smtpd.spf", "no"),
    ("gms-smtpd", "smtpd.dkim_verify", "no"),
    ("gms-smtpd", "smtpd.dmarc", "no"),
    ("gms-imapd", "imapd.max_sessions", "2000"),
    ("gms-imapd", "imapd.max_sessions_per_ip", "2000"),
]


def bench_conf(suite):
    """The lines of BENCH_KEYS whose program is built and knows the key."""
    lines = ["# bench/run: see bench/lib/gmsside.py"]
    cache = {}
    for prog, key, value in BENCH_KEYS:
        if prog not in cache:
            try:
                with open(suite.binary(prog), "rb") as f:
                    cache[prog] = f.read()
            except OSError:
                cache[prog] = b""
        if key.encode() + b"\0" in cache[prog]:
            lines.append("%s = %s" % (key, value))
    return "\n".join(lines)


class BenchSuite(Suite):
    """The quickstart's Suite with the two differences named above."""

    def conf_text(self):
        text = Suite.conf_text(self)
        return text.replace("log.level = debug", "log.level = info")


def _tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class GmsSide:
    """A GMS suite in a data folder, seen through what the workloads need."""

    name = "GMS"

    def __init__(self, folder, build, domain):
        self.suite = BenchSuite(folder, build)
        self.suite.extra_conf = bench_conf(self.suite)
        self.domain = domain
        self.users = {}
        self.domain_added = False
        self.watchers = {}
        self.start_error = None

    # -- life cycle --------------------------------------------------------
    def start(self):
        try:
            self.suite.start()
        except Exception as e:  # a daemon that is built but fails to start
            self.start_error = str(e).strip().splitlines()[0][:200] if str(e).strip() else repr(e)
            raise

    def stop(self):
        for m in self.watchers.values():
            try:
                m.logout()
            except Exception:
                pass
        self.watchers = {}
        self.suite.stop()

    @property
    def smtp_port(self):
        return self.suite.ports["SMTP_PORT"]

    @property
    def imaps_port(self):
        return self.suite.ports["IMAPS_PORT"]

    def why_not(self, daemon):
        """None when daemon runs; else why the workloads that need it cannot run."""
        if daemon in self.suite.procs and self.suite.procs[daemon].poll() is None:
            return None
        if self.start_error:
            return "GMS did not start: %s" % self.start_error
        if not self.suite.started_slapd:
            return "no directory (scripts/gms-slapd not there yet)"
        if not self.suite.have(daemon):
            return "%s not built" % daemon
        if daemon in self.suite.procs:
            return "%s exited (%s)" % (daemon, self.suite.procs[daemon].returncode)
        return "%s not started" % daemon

    # -- users ---------------------------------------------------------------
    def add_users(self, users):
        if not self.suite.started_slapd:
            return
        if not self.domain_added:
            self.suite.add_domain(self.domain)
            self.domain_added = True
        for addr, pw in users:
            if addr not in self.users:
                self.suite.add_mailbox(addr, pw)
                self.users[addr] = pw

    # -- processes charged ---------------------------------------------------
    def _pid(self, name):
        p = self.suite.procs.get(name)
        return p.pid if p is not None and p.poll() is None else None

    def slapd_pid(self):
        try:
            return int(self.suite.ldap.get("SLAPD_PID", ""))
        except ValueError:
            return None

    def smtp_roots(self):
        """gms-smtpd and the directory it asks (gms-imapd only watches)."""
        return [p for p in (self._pid("gms-smtpd"), self.slapd_pid()) if p]

    def imap_roots(self):
        return [p for p in (self._pid("gms-imapd"), self.slapd_pid()) if p]

    # -- observation -----------------------------------------------------------
    def count(self, addr):
        """Messages in addr's INBOX by IMAP STATUS, or None when unknown."""
        if self.why_not("gms-imapd") is not None:
            return None
        m = self.watchers.get(addr)
        try:
            if m is None:
                m = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=_tls_context(),
                                      timeout=30)
                m.login(addr, self.users[addr])
                self.watchers[addr] = m
            typ, data = m.status("INBOX", "(MESSAGES)")
            if typ != "OK":
                return None
            text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
            return int(text.rsplit("MESSAGES", 1)[1].strip(" )"))
        except Exception:
            self.watchers.pop(addr, None)
            return None

    def forget_watcher(self, addr):
        m = self.watchers.pop(addr, None)
        if m is not None:
            try:
                m.logout()
            except Exception:
                pass

    def log_mark(self):
        """Where gms-imapd's log ends now, for refusals_since()."""
        try:
            return os.path.getsize(self.suite.logs["gms-imapd"])
        except (OSError, KeyError):
            return 0

    def refusals_since(self, mark):
        """{reason: count} of the "login refused" lines logged after mark."""
        out = {}
        try:
            with open(self.suite.logs["gms-imapd"], "rb") as f:
                f.seek(mark)
                for raw in f:
                    line = raw.decode(errors="replace")
                    if "login refused" not in line:
                        continue
                    m = re.search(r"reason=(\S+)", line)
                    r = m.group(1) if m else "?"
                    out[r] = out.get(r, 0) + 1
        except (OSError, KeyError):
            pass
        return out

    def gmsadm_has(self, group):
        """True when gmsadm is built and its help lists the command group."""
        if not self.suite.have("gmsadm"):
            return False
        r = subprocess.run([self.suite.binary("gmsadm"), "-c", self.suite.conf_path, "help"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        return any(line.split()[:1] == [group] for line in r.stdout.splitlines())

    def gmsadm(self, *args, timeout=600):
        return subprocess.run([self.suite.binary("gmsadm"), "-c", self.suite.conf_path]
                              + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)

    def log_tail(self, n=30):
        return "\n".join("== %s\n%s" % (d, self.suite.log_tail(d, n)) for d in self.suite.logs)


def wait_until(pred, timeout, step=0.05):
    """Call pred until it returns true or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = pred()
    return v
