"""test_smtp_env - the test environment of the gms-smtpd protocol tests (not a
test file itself): a GMS suite (real slapd, gms-smtpd from GMS_BUILD) with
a generated gms.conf that points gms-smtpd at a real DNS server (unbound,
gmsfix.dns) serving SPF, DKIM and DMARC test zones, DKIM keys for an
outside signer and for our own domain, and mailboxes, aliases and lists
for the recipient checks.  Messages are read back through the spool API
with smtp-spooldump (built by "make check").

Used by test_smtp.py and test_smtp_durability.py through SmtpEnv.
"""
import base64
import os
import re
import socket
import ssl
import subprocess
import time

from gmsfix.dns import DnsServer
from gmsfix.suite import Suite, DEMO_USER, DEMO_PASSWORD

BUILD = os.path.abspath(os.environ.get("GMS_BUILD")
                        or os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SMTPD = os.path.join(BUILD, "smtpd", "gms-smtpd")
SPOOLDUMP = os.path.join(BUILD, "smtpd", "smtp-spooldump")

OURS = "demo.go.tz"
OTHER_OURS = "mof.smtp.test"       # a second domain of ours (added)
USER = DEMO_USER                   # demo@demo.go.tz
PASSWORD = DEMO_PASSWORD
USER2 = "alice@demo.go.tz"
PASSWORD2 = "Alice-Passw0rd!"
THROTTLED = "guess@demo.go.tz"
THROTTLED_PW = "Guess-Passw0rd!"
FULL = "full@demo.go.tz"           # a mailbox with a tiny quota
ALIAS = "info@demo.go.tz"          # alias -> alice, owned by demo
LIST_ANY = "all@demo.go.tz"        # list, anyone may post: demo, alice
LIST_MEMBERS = "staff@demo.go.tz"  # list, members only


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (cmd, r.stdout))
    return r.stdout


def pem_key(path, algo):
    if algo == "rsa":
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
             "rsa_keygen_bits:2048", "-out", path])
    else:
        run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path])
    os.chmod(path, 0o640)
    return path


def dns_pubkey(path, algo):
    """The p= value of the DKIM key record for a private key file."""
    der = run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"])
    if algo == "ed25519":
        der = der[-32:]            # RFC 8463: the raw public key
    return base64.b64encode(der).decode()


def ed25519_seed_b64(path):
    """dkimpy wants an Ed25519 private key as base64 of the raw seed."""
    der = run(["openssl", "pkey", "-in", path, "-outform", "DER"])
    return base64.b64encode(der[-32:])


class SmtpEnv:
    def __init__(self, workdir, extra_conf="", greet_pause_ms=150, spool_tmpfs_mb=0):
        self.dir = workdir
        self.spool_tmpfs_mb = spool_tmpfs_mb
        self.mounted = None
        self.greet_pause_ms = greet_pause_ms
        self.dns = DnsServer(os.path.join(workdir, "dns"))
        self.suite = None
        self.keys = {}
        self.extra_conf = extra_conf

    # -- setup -------------------------------------------------------------
    def zones(self):
        d = self.dns
        d.add("spf-pass.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        d.add("spf-fail.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        d.add("spf-softfail.test", "TXT", "v=spf1 ip4:192.0.2.1 ~all")
        d.add("spf-neutral.test", "TXT", "v=spf1 ?all")
        d.add("spf-none.test", "A", "192.0.2.7")
        d.add("spf-permerror.test", "TXT", "v=spf1 -all")
        d.add("spf-permerror.test", "TXT", "v=spf1 +all")
        d.add("helo-pass.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        d.add("helo-fail.test", "TXT", "v=spf1 -all")
        d.refuse("spf-temperror.test")
        # The outside signer: SPF pass, keys rsa and ed; DMARC reject.
        d.add("signer.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        d.add("rsa._domainkey.signer.test", "TXT",
              "v=DKIM1; k=rsa; p=" + self.keys["signer_rsa_pub"])
        d.add("ed._domainkey.signer.test", "TXT",
              "v=DKIM1; k=ed25519; p=" + self.keys["signer_ed_pub"])
        d.add("_dmarc.signer.test", "TXT", "v=DMARC1; p=reject")
        # A forged sender domain with p=reject and one with p=quarantine.
        d.add("reject.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        d.add("_dmarc.reject.test", "TXT", "v=DMARC1; p=reject")
        d.add("quarantine.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        d.add("_dmarc.quarantine.test", "TXT", "v=DMARC1; p=quarantine")
        d.add("monitor.test", "TXT", "v=spf1 ip4:192.0.2.1 ~all")
        d.add("_dmarc.monitor.test", "TXT", "v=DMARC1; p=none")
        # An organisational domain under a public suffix (go.tz is one).
        d.add("_dmarc.evilorg.go.tz", "TXT", "v=DMARC1; p=reject")
        d.add("mx.test", "MX", "10 mx1.mx.test.")
        d.add("mx1.mx.test", "A", "127.0.0.1")
        # Our own domain's signing keys, published for dkimpy.
        d.add("rsa._domainkey." + OURS, "TXT",
              "v=DKIM1; k=rsa; p=" + self.keys["ours_rsa_pub"])
        d.add("ed._domainkey." + OURS, "TXT",
              "v=DKIM1; k=ed25519; p=" + self.keys["ours_ed_pub"])
        d.add(OURS, "TXT", "v=spf1 ip4:127.0.0.1 -all")

    def make_keys(self):
        kd = os.path.join(self.dir, "keys")
        os.makedirs(kd, exist_ok=True)
        dk = os.path.join(self.dir, "dkim")     # smtpd.dkim_key_dir
        os.makedirs(dk, exist_ok=True)
        k = self.keys
        k["signer_rsa"] = pem_key(os.path.join(kd, "signer-rsa.pem"), "rsa")
        k["signer_ed"] = pem_key(os.path.join(kd, "signer-ed.pem"), "ed25519")
        k["signer_rsa_pub"] = dns_pubkey(k["signer_rsa"], "rsa")
        k["signer_ed_pub"] = dns_pubkey(k["signer_ed"], "ed25519")
        k["ours_rsa"] = pem_key(os.path.join(dk, OURS + ".rsa.key"), "rsa")
        k["ours_ed"] = pem_key(os.path.join(dk, OURS + ".ed.key"), "ed25519")
        k["ours_rsa_pub"] = dns_pubkey(k["ours_rsa"], "rsa")
        k["ours_ed_pub"] = dns_pubkey(k["ours_ed"], "ed25519")
        self.dkim_dir = dk
        try:
            import grp
            gid = grp.getgrnam("gms").gr_gid
            for f in os.listdir(dk):
                os.chown(os.path.join(dk, f), 0, gid)
            os.chown(dk, 0, gid)
            os.chmod(dk, 0o750)
        except (KeyError, PermissionError):
            pass

    def conf(self):
        return "\n".join([
            "smtpd.dns_server = %s" % self.dns.address,
            "smtpd.dkim_key_dir = %s" % self.dkim_dir,
            "smtpd.greet_pause_ms = %d" % self.greet_pause_ms,
            "smtpd.max_message_size = 200k",
            "smtpd.max_recipients = 8",
            "smtpd.max_errors = 12",
            "smtpd.postmaster = %s" % USER,
            "smtpd.auth_free_failures = 1",
            "smtpd.auth_delay_ms = 50",
            "smtpd.auth_max_delay_ms = 200",
            "smtpd.auth_lockout_failures = 4",
            "smtpd.auth_lockout_time = 300",
            self.extra_conf,
        ])

    def start(self):
        self.make_keys()
        self.zones()
        self.dns.start()
        self.suite = Suite(os.path.join(self.dir, "gms"), build_dir=BUILD,
                           extra_conf=self.conf())
        if self.spool_tmpfs_mb:
            # A small file system of its own for the mailstore, to fill.
            os.makedirs(self.suite.spool_dir, exist_ok=True)
            run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % self.spool_tmpfs_mb,
                 "gms-smtp-test", self.suite.spool_dir])
            self.mounted = self.suite.spool_dir
        self.suite.start(daemons=())
        s = self.suite
        s.add_domain(OTHER_OURS)
        s.add_mailbox(USER2, PASSWORD2)
        s.add_mailbox(THROTTLED, THROTTLED_PW)
        s.add_mailbox(FULL, "Full-Passw0rd!", 2000)
        s.slapd("add-alias", ALIAS, USER2, "--owner", USER)
        s.slapd("add-list", LIST_ANY, "anyone", USER, USER2)
        s.slapd("add-list", LIST_MEMBERS, "members", USER, USER2)
        s.start_daemon("gms-smtpd")
        self.wait_ready()
        return self

    def restart_smtpd(self, sig=None):
        """Stop gms-smtpd (SIGKILL by default: a crash) and start it again."""
        import signal
        self.suite.stop_daemon("gms-smtpd", sig=sig or signal.SIGKILL)
        self.suite.start_daemon("gms-smtpd")
        self.wait_ready()

    def wait_ready(self, timeout=30):
        """The port listens before the mailstore is open; the greeting
        comes only once gms-smtpd is set up.  Raise if it never comes
        (a daemon that hangs after a crash is a failure of its own)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.settimeout(max(1, deadline - time.monotonic()))
                    if s.recv(512).startswith(b"220"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gms-smtpd did not greet within %ds after a "
                                   "restart:\n%s" % (timeout, self.suite.log_tail("gms-smtpd")))
            time.sleep(0.1)

    def stop(self):
        try:
            if self.suite is not None:
                self.suite.stop()
        finally:
            self.dns.stop()
            if self.mounted:
                subprocess.run(["umount", "-l", self.mounted])
                self.mounted = None

    # -- access ------------------------------------------------------------
    @property
    def port(self):
        return self.suite.ports["SMTP_PORT"]

    @property
    def sub_port(self):
        return self.suite.ports["SUBMISSION_PORT"]

    @property
    def smtps_port(self):
        return self.suite.ports["SMTPS_PORT"]

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.suite.ca_cert)
        ctx.check_hostname = False
        return ctx

    def log(self):
        with open(self.suite.logs["gms-smtpd"], errors="replace") as f:
            return f.read()

    def mailbox(self, user, box="INBOX"):
        """The messages (bytes) in a mailbox, read through the spool API."""
        if not os.access(SPOOLDUMP, os.X_OK):
            raise RuntimeError("smtp-spooldump not built (make check)")
        r = subprocess.run([SPOOLDUMP, "-c", self.suite.conf_path, user, box],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode == 2:
            return []
        if r.returncode != 0:
            raise RuntimeError("smtp-spooldump: %s" % r.stderr.decode(errors="replace"))
        out, msgs, pos = r.stdout, [], 0
        while pos < len(out):
            m = re.match(rb"=== uid (\d+) size (\d+)\n", out[pos:])
            assert m, out[pos:pos + 80]
            size = int(m.group(2))
            start = pos + m.end()
            msgs.append(out[start:start + size])
            pos = start + size + 1
        return msgs

    def find(self, user, token, box="INBOX"):
        """Messages of the mailbox that contain token (bytes)."""
        return [m for m in self.mailbox(user, box) if token in m]

    def queue(self):
        r = subprocess.run([SPOOLDUMP, "-c", self.suite.conf_path, "-q"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.stdout.decode(errors="replace").splitlines()


class Raw:
    """A raw SMTP dialog over a socket, for hostile input."""

    def __init__(self, port, banner=True, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if banner:
            self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        deadline = time.monotonic() + 15
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply line")
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """One reply (all lines); returns (code, text of the last line)."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                break
        return int(lines[-1][:3]), "\n".join(l[4:] for l in lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closed the connection (after any data)."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def starttls(self, ctx):
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
