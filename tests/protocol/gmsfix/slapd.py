"""gmsfix.slapd - a real slapd for the tests, through scripts/gms-slapd.

    s = Slapd(dir)          # a folder of its own; a free loopback port
    s.start()               # schema, seed (359 institutions), ACLs
    s.env["LDAP_URI"], s.env["LDAP_SERVICE_DN"], ...
    s.write_conf(path)      # a gms.conf with the directory.* keys
    s.add_mailbox("juma@mof.go.tz", "secret")
    s.restart()             # stop + start on the same port, data kept
    s.stop()                # always safe to call

Also the helpers to drive the C library through tests/unit/dirtool
(DirTool), since the library has no other command line entry point that
the directory tests could use before gmsadm exists.
"""
import os
import shlex
import socket
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GMS_SLAPD = os.path.join(TOP, "scripts", "gms-slapd")


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path):
    """Parse the shell-syntax KEY=VALUE lines of slapd.env."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            parts = shlex.split(v)
            env[k] = parts[0] if parts else ""
    return env


class Slapd:
    """One slapd instance in folder d."""

    def __init__(self, d, port=None):
        self.dir = os.path.abspath(d)
        self.port = port or free_port()
        self.env = {}
        self.running = False

    def run(self, *args, check=True, input=None):
        r = subprocess.run([GMS_SLAPD] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60,
                           input=input)
        if check and r.returncode != 0:
            raise RuntimeError("gms-slapd %s failed (%d): %s" % (
                " ".join(str(a) for a in args), r.returncode, r.stderr))
        return r

    def start(self):
        self.run("start", self.dir, self.port)
        self.running = True
        self.env = read_env(os.path.join(self.dir, "slapd.env"))
        return self

    def stop(self):
        if self.running or os.path.exists(os.path.join(self.dir, "slapd.pid")):
            self.run("stop", self.dir, check=False)
        self.running = False

    def restart(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        try:
            with open(os.path.join(self.dir, "slapd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def conf_lines(self):
        e = self.env
        return ["directory.uri = %s" % e["LDAP_URI"],
                "directory.base = %s" % e["LDAP_BASE"],
                "directory.bind_dn = %s" % e["LDAP_SERVICE_DN"],
                "directory.bind_password_file = %s" % e["LDAP_SERVICE_PW_FILE"],
                "directory.admin_dn = %s" % e["LDAP_ADMIN_DN"],
                "directory.admin_password_file = %s" % e["LDAP_ADMIN_PW_FILE"]]

    def write_conf(self, path, extra=()):
        with open(path, "w") as f:
            f.write("\n".join(self.conf_lines() + list(extra)) + "\n")
        return path

    def add_mailbox(self, address, password, quota=None):
        args = ["add-mailbox", self.dir, address, password]
        if quota is not None:
            args.append(quota)
        return self.run(*args)

    def add_domain(self, domain, institution="ega", catchall=None):
        args = ["add-domain", self.dir, domain, institution]
        if catchall:
            args.append(catchall)
        return self.run(*args)

    def add_alias(self, alias, *targets, owner=None):
        args = ["add-alias", self.dir, alias] + list(targets)
        if owner:
            args += ["--owner", owner]
        return self.run(*args)

    def add_list(self, address, policy, *members, owner=None):
        args = ["add-list", self.dir, address, policy] + list(members)
        if owner:
            args += ["--owner", owner]
        return self.run(*args)

    def ldap(self, tool, *args, dn=None, password=None, input=None):
        """Run an OpenLDAP client tool (ldapsearch, ldapmodify...) against
        this slapd, bound as dn with password (default: anonymous)."""
        cmd = [tool, "-x", "-H", self.env["LDAP_URI"]]
        if dn is not None:
            cmd += ["-D", dn, "-w", password]
        return subprocess.run(cmd + list(args), capture_output=True, text=True,
                              timeout=30, input=input)


class DirTool:
    """tests/unit/dirtool from the build folder under test."""

    def __init__(self, build, conf):
        self.path = os.path.join(build, "tests", "unit", "dirtool")
        self.conf = conf

    def available(self):
        return os.access(self.path, os.X_OK)

    def run(self, *args, admin=False, stdin=None, timeout=60):
        cmd = [self.path, "-c", self.conf] + (["-a"] if admin else []) + \
            [str(a) for a in args]
        return subprocess.run(cmd, capture_output=True, text=True,
                              input=stdin, timeout=timeout)

    def result(self, *args, **kw):
        """Run and parse: (result word, dict of the key=value lines,
        list of repeated keys' values as dict of lists)."""
        r = self.run(*args, **kw)
        if r.returncode != 0:
            raise RuntimeError("dirtool %s failed (%d): %s" % (
                " ".join(str(a) for a in args), r.returncode, r.stderr))
        values, multi = {}, {}
        for line in r.stdout.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                values.setdefault(k, v)
                multi.setdefault(k, []).append(v)
        return values.get("result"), values, multi
