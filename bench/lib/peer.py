"""bench/lib/peer.py - Postfix and Dovecot from Debian, as the peer of GMS.

Peer owns a private folder and runs there, on loopback only and on free
unprivileged ports:

- Postfix with its own config_directory and queue_directory (postfix -c DIR),
  inet_interfaces = loopback-only, one virtual mailbox domain whose users are
  listed in a file (texthash), delivering to Dovecot over LMTP on loopback;
- Dovecot with its own configuration file (dovecot -c FILE -F), listen =
  127.0.0.1, passdb and userdb from one passwd-file, Maildir under the
  folder, default mail_fsync (optimized), TLS with the same kind of
  certificate as GMS (RSA 2048, signed by a throw-away CA).

The settings an operator must change to serve 1 000 connections at all are
changed (Dovecot's per-user-per-IP limit, its login process limits, the
number of imap processes); everything else stays at the Debian defaults.
Peer.stop() stops both, also after a failure.
"""

import os
import pwd
import grp
import resource
import shutil
import signal
import subprocess
import time

from procstat import tree

MAIL_USER = "nobody"
MAIL_GROUP = "nogroup"
PACKAGES = ["postfix", "dovecot-imapd", "dovecot-lmtpd"]


def install_packages(log):
    """Install Postfix (with smtp-source) and Dovecot if missing.

    Debian would start them on all addresses after installing them; a
    policy-rc.d that answers 101 keeps that from happening.  Returns a list
    of what is still missing (empty on success).
    """
    missing = []
    for p in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "ok installed" not in r.stdout:
            missing.append(p)
    if not missing:
        return []
    if os.geteuid() != 0:
        return missing
    policy = "/usr/sbin/policy-rc.d"
    created = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# written by GMS bench/run while it installs packages\nexit 101\n")
        os.chmod(policy, 0o755)
        created = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        log("installing %s" % " ".join(missing))
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=900)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=900)
    finally:
        if created:
            os.unlink(policy)
    # The packaging may have started them anyway (a policy that allowed it).
    for svc in ("postfix", "dovecot"):
        subprocess.run(["service", svc, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return [p for p in PACKAGES
            if "ok installed" not in subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True).stdout]


def _raise_nofile():
    """preexec_fn: the hard limit of open files for a server."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


MASTER_CF = """\
# master.cf of the GMS bench Postfix instance: the Debian services, none chrooted.
127.0.0.1:%(smtp_port)d inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
# main.cf of the GMS bench Postfix instance (postfix -c %(etc)s).
compatibility_level = 3.6
queue_directory = %(queue)s
data_directory = %(data)s
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.%(domain)s
mydomain = %(domain)s
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination = localhost
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = %(domain)s
virtual_mailbox_maps = texthash:%(etc)s/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:%(lmtp_port)d
maillog_file = %(dir)s/maillog
biff = no
"""

DOVECOT_CONF = """\
# dovecot.conf of the GMS bench Dovecot instance (dovecot -c %(conf)s).
base_dir = %(run)s
state_dir = %(state)s
instance_name = gmsbench-dovecot
protocols = imap lmtp
listen = 127.0.0.1
log_path = %(dir)s/dovecot.log
ssl = required
ssl_cert = <%(cert)s
ssl_key = <%(key)s
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %(users)s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %(users)s
  default_fields = uid=%(uid)d gid=%(gid)d home=%(mail)s/%%d/%%n
}
mail_location = maildir:~/Maildir
# Serving 1 000 connections needs these (the defaults allow 10 per user and
# IP, and 100 login processes).
default_client_limit = 4000
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %(imaps_port)d
    ssl = yes
  }
  service_count = 0
  process_min_avail = %(cores)d
  client_limit = 2000
}
service imap {
  process_limit = 2000
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(lmtp_port)d
  }
}
protocol imap {
  mail_max_userip_connections = 2000
}
"""


class Peer:
    """Postfix + Dovecot in a private folder."""

    name = "Postfix+Dovecot"

    def __init__(self, folder, ports, domain, cert, key):
        self.dir = os.path.abspath(folder)
        self.domain = domain
        self.cert, self.key = cert, key
        self.smtp_port = ports["smtp"]
        self.imaps_port = ports["imaps"]
        self.lmtp_port = ports["lmtp"]
        self.pf_etc = os.path.join(self.dir, "postfix", "etc")
        self.pf_queue = os.path.join(self.dir, "postfix", "spool")
        self.pf_data = os.path.join(self.dir, "postfix", "data")
        self.dc_conf = os.path.join(self.dir, "dovecot", "dovecot.conf")
        self.dc_run = os.path.join(self.dir, "dovecot", "run")
        self.dc_users = os.path.join(self.dir, "dovecot", "users")
        self.mail = os.path.join(self.dir, "mail")
        self.uid = pwd.getpwnam(MAIL_USER).pw_uid
        self.gid = grp.getgrnam(MAIL_GROUP).gr_gid
        self.users = {}
        self.dovecot = None
        self.postfix_started = False

    # -- configuration ----------------------------------------------------
    def make_dirs(self):
        for d in (self.pf_etc, self.pf_data, self.pf_queue, os.path.dirname(self.dc_conf),
                  self.dc_run, os.path.join(self.dir, "dovecot", "state"), self.mail):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)

    def write_config(self):
        self.make_dirs()
        v = dict(etc=self.pf_etc, queue=self.pf_queue, data=self.pf_data, dir=self.dir,
                 domain=self.domain, smtp_port=self.smtp_port, lmtp_port=self.lmtp_port,
                 conf=self.dc_conf, run=self.dc_run,
                 state=os.path.join(self.dir, "dovecot", "state"), cert=self.cert,
                 key=self.key, users=self.dc_users, uid=self.uid, gid=self.gid,
                 mail=self.mail, imaps_port=self.imaps_port, cores=os.cpu_count() or 1)
        with open(os.path.join(self.pf_etc, "main.cf"), "w") as f:
            f.write(MAIN_CF % v)
        with open(os.path.join(self.pf_etc, "master.cf"), "w") as f:
            f.write(MASTER_CF % v)
        with open(self.dc_conf, "w") as f:
            f.write(DOVECOT_CONF % v)
        os.chown(self.pf_data, pwd.getpwnam("postfix").pw_uid, 0)
        self.write_users()

    def write_users(self):
        with open(os.path.join(self.pf_etc, "vmailbox"), "w") as f:
            for u in sorted(self.users):
                f.write("%s OK\n" % u)
        tmp = self.dc_users + ".tmp"
        with open(tmp, "w") as f:
            for u, pw in sorted(self.users.items()):
                f.write("%s:{PLAIN}%s::::::\n" % (u, pw))
        os.chmod(tmp, 0o640)
        os.chown(tmp, 0, grp.getgrnam("dovecot").gr_gid)
        os.rename(tmp, self.dc_users)

    def add_users(self, users):
        """Add (address, password) pairs; their Maildir homes are created."""
        self.make_dirs()
        for addr, pw in users:
            self.users[addr] = pw
            md = self.maildir(addr)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(md, sub), exist_ok=True)
            for d in (os.path.dirname(os.path.dirname(md)), os.path.dirname(md), md,
                      os.path.join(md, "cur"), os.path.join(md, "new"),
                      os.path.join(md, "tmp")):
                os.chown(d, self.uid, self.gid)
        self.write_users()
        if self.postfix_started:
            # texthash tables are read when a process starts: make them re-read.
            subprocess.run(["postfix", "-c", self.pf_etc, "reload"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)

    def maildir(self, addr):
        local, domain = addr.split("@", 1)
        return os.path.join(self.mail, domain, local, "Maildir")

    def chown_maildir(self, addr):
        """Give files written into a Maildir by the harness to the mail user."""
        for root, dirs, files in os.walk(self.maildir(addr)):
            os.chown(root, self.uid, self.gid)
            for n in files:
                os.chown(os.path.join(root, n), self.uid, self.gid)

    # -- life cycle --------------------------------------------------------
    def start(self):
        self.write_config()
        log = open(os.path.join(self.dir, "dovecot-stderr.log"), "ab")
        self.dovecot = subprocess.Popen(["dovecot", "-F", "-c", self.dc_conf],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_raise_nofile)
        log.close()
        # "postfix check" creates the queue's subfolders with their owners.
        subprocess.run(["postfix", "-c", self.pf_etc, "check"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        r = subprocess.run(["postfix", "-c", self.pf_etc, "start"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60,
                           preexec_fn=_raise_nofile)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s" % r.stdout)
        self.postfix_started = True
        for port in (self.imaps_port, self.lmtp_port, self.smtp_port):
            if not _wait_port(port, 30):
                raise RuntimeError("nothing listens on 127.0.0.1:%d; see %s" % (port, self.dir))

    def postfix_pid(self):
        try:
            with open(os.path.join(self.pf_queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def smtp_roots(self):
        """Processes charged with SMTP delivery: all of Postfix and Dovecot."""
        return [p for p in (self.postfix_pid(), self.dovecot and self.dovecot.pid) if p]

    def imap_roots(self):
        return [self.dovecot.pid] if self.dovecot else []

    def stop(self):
        if self.postfix_started:
            pid = self.postfix_pid()
            subprocess.run(["postfix", "-c", self.pf_etc, "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.monotonic() + 20
            while pid and time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if pid and _alive(pid):
                for p in tree([pid]):
                    _kill(p)
            self.postfix_started = False
        if self.dovecot is not None:
            pids = tree([self.dovecot.pid])
            self.dovecot.send_signal(signal.SIGTERM)
            try:
                self.dovecot.wait(20)
            except subprocess.TimeoutExpired:
                for p in pids:
                    _kill(p)
                self.dovecot.wait(5)
            self.dovecot = None

    # -- observation -------------------------------------------------------
    def why_not(self, daemon):
        """Postfix and Dovecot play every role once started."""
        return None

    def log_mark(self):
        return 0

    def refusals_since(self, mark):
        """Dovecot refuses no correct login here (its penalty follows failures)."""
        return {}

    def count(self, addr):
        """Messages delivered into addr's INBOX (files in new/ and cur/)."""
        md = self.maildir(addr)
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(md, sub)))
            except OSError:
                pass
        return n

    def log_tail(self, n=30):
        out = []
        for name in ("maillog", "dovecot.log", "dovecot-stderr.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out.append("== %s\n%s" % (name, "".join(f.readlines()[-n:])))
            except OSError:
                pass
        return "\n".join(out)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _wait_port(port, timeout):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
