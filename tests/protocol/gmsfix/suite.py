"""gmsfix.suite - start a whole GMS suite for the tests and the quickstart.

One Suite object owns a data folder and everything it starts there:

- a self-signed CA and a server certificate for localhost / 127.0.0.1,
- a real slapd seeded with the institutions (scripts/gms-slapd),
- a gms.conf with the ports and paths of this instance,
- gms-smtpd and gms-imapd from the build folder (GMS_BUILD), when built,
- a demo domain and mailbox,
- gms.env (shell syntax) describing how to reach it all.

Everything started is stopped by Suite.stop(), also after a failure.  Only
loopback addresses are used.  Run as a program (``python3 suite.py run``)
it is the quickstart: start, print how to connect, wait for Ctrl-C, stop.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SLAPD = os.path.join(TOP, "scripts", "gms-slapd")

DEMO_DOMAIN = "demo.go.tz"
DEMO_USER = "demo@demo.go.tz"
DEMO_PASSWORD = "Demo-Passw0rd!"


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0, proc=None):
    """Wait until 127.0.0.1:port accepts a connection; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def read_env(path):
    """Parse a shell-syntax KEY=VALUE file (as written by our scripts)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if k.startswith("export "):
                k = k[7:]
            parts = shlex.split(v)
            env[k.strip()] = parts[0] if parts else ""
    return env


def run(cmd, **kw):
    """Run a command, raising with its output when it fails."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout))
    return r.stdout


def make_certs(d):
    """A CA and a server certificate for localhost, 127.0.0.1 and ::1."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "server.ext")
    if not os.path.exists(ca_crt):
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/O=GMS test/CN=GMS test CA", "-keyout", ca_key, "-out", ca_crt])
    if not os.path.exists(crt):
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,DNS:mail.gms.test,IP:127.0.0.1,IP:::1\n"
                    "extendedKeyUsage=serverAuth\n")
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/O=GMS test/CN=localhost", "-keyout", key, "-out", csr])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "825", "-extfile", ext, "-out", crt])
    os.chmod(key, 0o640)
    try:
        import grp
        os.chown(key, 0, grp.getgrnam("gms").gr_gid)
    except (KeyError, PermissionError):
        pass
    return ca_crt, crt, key


def gms_ids():
    """uid and gid of the gms user, or None when it does not exist."""
    try:
        import pwd
        pw = pwd.getpwnam("gms")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return None


class Suite:
    """A running GMS instance in a data folder."""

    def __init__(self, data_dir, build_dir=None, fixed_ports=False, extra_conf=""):
        self.data = os.path.abspath(data_dir)
        self.build = os.path.abspath(build_dir or os.environ.get("GMS_BUILD")
                                     or os.path.join(TOP, "build"))
        self.extra_conf = extra_conf
        if fixed_ports:
            self.ports = dict(SMTP_PORT=2525, SUBMISSION_PORT=2587, SMTPS_PORT=2465,
                              IMAP_PORT=2143, IMAPS_PORT=2993, LDAP_PORT=3389)
        else:
            self.ports = {k: free_port() for k in ("SMTP_PORT", "SUBMISSION_PORT",
                                                  "SMTPS_PORT", "IMAP_PORT",
                                                  "IMAPS_PORT", "LDAP_PORT")}
        self.procs = {}
        self.logs = {}
        self.ldap = {}
        self.slapd_dir = os.path.join(self.data, "ldap")
        self.spool_dir = os.path.join(self.data, "spool")
        self.conf_path = os.path.join(self.data, "gms.conf")
        self.missing = []
        self.started_slapd = False

    # -- binaries ---------------------------------------------------------
    def binary(self, name):
        sub = {"gms-smtpd": "smtpd", "gms-imapd": "imapd", "gmsadm": "admin"}[name]
        return os.path.join(self.build, sub, name)

    def have(self, name):
        return os.access(self.binary(name), os.X_OK)

    # -- setup ------------------------------------------------------------
    def start(self, daemons=("gms-smtpd", "gms-imapd")):
        os.makedirs(self.data, exist_ok=True)
        os.chmod(self.data, 0o755)
        self.ca_cert, self.cert, self.key = make_certs(os.path.join(self.data, "tls"))
        self.start_slapd()
        self.write_conf()
        os.makedirs(self.spool_dir, exist_ok=True)
        os.chmod(self.spool_dir, 0o700)
        ids = gms_ids()
        if ids is not None and os.geteuid() == 0:
            for root, dirs, files in os.walk(self.spool_dir):
                os.chown(root, *ids)
                for f in files:
                    os.chown(os.path.join(root, f), *ids)
        self.provision_demo()
        for d in daemons:
            if self.have(d):
                self.start_daemon(d)
            else:
                self.missing.append(d)
        self.write_env()
        return self

    def start_slapd(self):
        if not os.access(SLAPD, os.X_OK):
            self.missing.append("slapd (scripts/gms-slapd not built yet)")
            return
        run([SLAPD, "start", self.slapd_dir, str(self.ports["LDAP_PORT"])])
        self.started_slapd = True
        self.ldap = read_env(os.path.join(self.slapd_dir, "slapd.env"))

    def slapd(self, *args):
        """Run a scripts/gms-slapd subcommand against this instance."""
        return run([SLAPD] + list(args[:1]) + [self.slapd_dir] + [str(a) for a in args[1:]])

    def provision_demo(self):
        if not self.started_slapd:
            return
        self.add_domain(DEMO_DOMAIN)
        self.add_mailbox(DEMO_USER, DEMO_PASSWORD)

    def add_domain(self, domain):
        return self.slapd("add-domain", domain)

    def add_mailbox(self, address, password, quota=None):
        args = ["add-mailbox", address, password]
        if quota is not None:
            args.append(str(quota))
        return self.slapd(*args)

    def conf_text(self):
        p = self.ports
        lines = [
            "# gms.conf written by gmsfix.suite for %s" % self.data,
            "log.level = debug",
            "server.user = gms",
            "server.group = gms",
            "tls.cert = %s" % self.cert,
            "tls.key = %s" % self.key,
            "spool.dir = %s" % self.spool_dir,
            "smtpd.hostname = mail.gms.test",
            "smtpd.listen = 127.0.0.1:%d" % p["SMTP_PORT"],
            "smtpd.submission_listen = 127.0.0.1:%d" % p["SUBMISSION_PORT"],
            "smtpd.submissions_listen = 127.0.0.1:%d" % p["SMTPS_PORT"],
            "imapd.listen = 127.0.0.1:%d" % p["IMAP_PORT"],
            "imapd.imaps_listen = 127.0.0.1:%d" % p["IMAPS_PORT"],
            # A demo on loopback relays nowhere: mail to other domains
            # stays queued (gmsadm queue list) instead of reaching for the
            # world's DNS.  Tests that relay set relay.enable = yes and
            # their own relay.dns_server.
            "relay.enable = no",
        ]
        if self.ldap:
            lines += [
                "directory.uri = %s" % self.ldap["LDAP_URI"],
                "directory.base = %s" % self.ldap["LDAP_BASE"],
                "directory.bind_dn = %s" % self.ldap["LDAP_SERVICE_DN"],
                "directory.bind_password_file = %s" % self.ldap["LDAP_SERVICE_PW_FILE"],
            ]
            if "LDAP_ADMIN_DN" in self.ldap:
                lines.append("directory.admin_dn = %s" % self.ldap["LDAP_ADMIN_DN"])
            if "LDAP_ADMIN_PW_FILE" in self.ldap:
                lines.append("directory.admin_password_file = %s" % self.ldap["LDAP_ADMIN_PW_FILE"])
        if self.extra_conf:
            lines.append(self.extra_conf)
        return "\n".join(lines) + "\n"

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text())
        os.chmod(self.conf_path, 0o644)

    def start_daemon(self, name):
        log = os.path.join(self.data, name + ".log")
        self.logs[name] = log
        lf = open(log, "ab")
        self.log_start = getattr(self, "log_start", {})
        self.log_start[name] = lf.tell()
        proc = subprocess.Popen([self.binary(name), "-f", "-c", self.conf_path],
                                stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        lf.close()
        self.procs[name] = proc
        port = self.ports["SMTP_PORT" if name == "gms-smtpd" else "IMAP_PORT"]
        # Listening comes before the privilege drop and the opening of the
        # store: the daemon is ready once it logged event=started.
        if not wait_port(port, 20, proc) or not self.wait_log(name, "event=started", 20):
            tail = self.log_tail(name)
            self.stop_daemon(name)
            raise RuntimeError("%s did not start on %d:\n%s" % (name, port, tail))
        return proc

    def wait_log(self, name, text, timeout):
        """Wait until the daemon's log holds text; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.logs[name], "rb") as f:
                    f.seek(self.log_start.get(name, 0))
                    if text.encode() in f.read():
                        return True
            except OSError:
                pass
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop_daemon(self, name, sig=signal.SIGTERM, timeout=15):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)

    def restart_daemon(self, name):
        self.stop_daemon(name)
        return self.start_daemon(name)

    def log_tail(self, name, n=40):
        try:
            with open(self.logs[name], errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except (OSError, KeyError):
            return ""

    def env(self):
        e = dict(self.ports)
        e.update(LDAP_URI=self.ldap.get("LDAP_URI", ""), DEMO_USER=DEMO_USER,
                 DEMO_PASSWORD=DEMO_PASSWORD, CA_CERT=self.ca_cert, DATA_DIR=self.data,
                 GMS_CONF=self.conf_path)
        return e

    def write_env(self):
        path = os.path.join(self.data, "gms.env")
        with open(path + ".tmp", "w") as f:
            for k, v in sorted(self.env().items()):
                f.write("%s=%s\n" % (k, shlex.quote(str(v))))
        os.rename(path + ".tmp", path)

    def stop(self):
        for name in list(self.procs):
            self.stop_daemon(name)
        if self.started_slapd:
            subprocess.run([SLAPD, "stop", self.slapd_dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.started_slapd = False
        try:
            os.unlink(os.path.join(self.data, "gms.env"))
        except OSError:
            pass


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Run a GMS instance in the foreground.")
    ap.add_argument("command", choices=["run"])
    ap.add_argument("--data", default=os.environ.get("GMS_DATA") or os.path.join(TOP, "data-run"))
    ap.add_argument("--build", default=None)
    a = ap.parse_args(argv)
    suite = Suite(a.data, a.build, fixed_ports=True)
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.start()
        e = suite.env()
        print("""
GMS is running (data in %(DATA_DIR)s).

  SMTP (MTA)              127.0.0.1:%(SMTP_PORT)s
  Submission (STARTTLS)   127.0.0.1:%(SUBMISSION_PORT)s
  Submission (TLS)        127.0.0.1:%(SMTPS_PORT)s
  IMAP (STARTTLS)         127.0.0.1:%(IMAP_PORT)s
  IMAPS                   127.0.0.1:%(IMAPS_PORT)s
  LDAP directory          %(LDAP_URI)s
  CA certificate          %(CA_CERT)s
  Demo account            %(DEMO_USER)s / %(DEMO_PASSWORD)s

Point a mail client at 127.0.0.1 with these ports and trust the CA
certificate above; the details are in %(DATA_DIR)s/gms.env.""" % e)
        if suite.missing:
            print("\nNot started (not built yet): %s" % ", ".join(suite.missing))
        print("\nPress Ctrl-C to stop.", flush=True)
        while not stop["now"]:
            for name, proc in list(suite.procs.items()):
                if proc.poll() is not None:
                    print("%s exited with %s; see %s" % (name, proc.returncode, suite.logs[name]))
                    suite.procs.pop(name)
            time.sleep(0.5)
    finally:
        print("\nStopping GMS ...", flush=True)
        suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
