"""gmsadm against the real slapd and the real mailstore of the test suite.

Every subcommand is run as a sysadmin would run it (as root: gmsadm drops
to the gms user), with its exit code (sysexits) and its output checked,
for people and with --json.  The directory is looked at independently with
ldapsearch/ldapwhoami, the mailstore through gmsadm's own listing and,
where gms-imapd is built, over IMAP.
"""
import base64
import csv
import imaplib
import json
import os
import pwd
import re
import shutil
import ssl
import stat
import subprocess
import time

import pytest

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER = 0, 64, 65, 66, 67
EX_UNAVAILABLE, EX_CANTCREAT, EX_NOPERM, EX_CONFIG = 69, 73, 77, 78

_n = [0]


def uniq(prefix):
    _n[0] += 1
    return "%s%d%d" % (prefix, int(time.time() * 1000) % 1000000, _n[0])


@pytest.fixture(scope="module")
def adm(suite):
    if not suite.have("gmsadm"):
        pytest.skip("gmsadm is not built")
    if not suite.ldap:
        pytest.skip("slapd did not start")
    reachable_by_gms(suite.data)
    return Adm(suite)


def reachable_by_gms(path):
    """gmsadm works as the gms user: it must be able to reach the suite's
    data folder, which pytest creates below folders of mode 0700.  Give
    those folders search permission (o+x, not read)."""
    if os.geteuid() != 0:
        return
    p = os.path.abspath(path)
    while p not in ("/", "/tmp") and p.startswith("/tmp/"):
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = os.path.dirname(p)


class Adm:
    def __init__(self, suite):
        self.suite = suite
        self.bin = suite.binary("gmsadm")
        self.conf = suite.conf_path
        self.work = os.path.join(suite.data, "gmsadm-work")
        os.makedirs(self.work, exist_ok=True)
        try:
            self.gms = pwd.getpwnam("gms")
        except KeyError:
            self.gms = None

    def run(self, *args, input=None, conf=None, timeout=120):
        # Other pytest sessions on the machine reset /tmp/pytest-of-root to
        # 0700 when they start: make the data folder reachable every time.
        reachable_by_gms(self.suite.data)
        cmd = [self.bin, "-c", conf or self.conf] + [str(a) for a in args]
        return subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, "%s -> %d\n%s%s" % (args, r.returncode, r.stdout, r.stderr)
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw).stdout)

    def gms_dir(self, name):
        """A folder the gms user owns (gmsadm writes there after dropping)."""
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o700)
        if self.gms is not None and os.geteuid() == 0:
            os.chown(d, self.gms.pw_uid, self.gms.pw_gid)
        return d

    def secret(self, name, text, mode=0o600):
        p = os.path.join(self.work, name)
        with open(p, "w") as f:
            f.write(text + "\n")
        os.chmod(p, mode)
        return p

    def ldap_bind_ok(self, address, password):
        dn = "mail=%s,ou=people,%s" % (address, self.suite.ldap["LDAP_BASE"])
        r = subprocess.run(["ldapwhoami", "-x", "-H", self.suite.ldap["LDAP_URI"],
                            "-D", dn, "-w", password], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        return r.returncode == 0

    def ldap_entry(self, base, flt, attrs=()):
        e = self.suite.ldap
        r = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", e["LDAP_URI"], "-D",
                            e["LDAP_ADMIN_DN"], "-y", e["LDAP_ADMIN_PW_FILE"], "-b",
                            "%s,%s" % (base, e["LDAP_BASE"]), flt] + list(attrs),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
        assert r.returncode in (0, 32), r.stderr
        return r.stdout


# ---------------------------------------------------------------------------
# The command line itself.

def command_list(adm):
    out = adm.ok("help").stdout
    return re.findall(r"^  gmsadm (\S+) (\S+)", out, re.M)


def test_help_lists_every_group(adm):
    cmds = command_list(adm)
    groups = {g for g, _ in cmds}
    for g in ("institution", "domain", "mailbox", "alias", "list", "bulk", "import",
              "store", "queue", "config"):
        assert g in groups, g
    assert len(cmds) >= 35


def test_help_on_every_command(adm):
    for group, name in command_list(adm):
        r = adm.run(group, name, "--help")
        assert r.returncode == EX_OK, (group, name, r.stderr)
        assert r.stdout.startswith("usage: gmsadm %s %s" % (group, name)), r.stdout


def test_usage_errors_are_64(adm):
    assert adm.run().returncode == EX_USAGE
    r = adm.run("frobnicate")
    assert r.returncode == EX_USAGE and "gmsadm help" in r.stderr
    assert adm.run("domain", "frob").returncode == EX_USAGE
    assert adm.run("domain", "add").returncode == EX_USAGE
    assert adm.run("domain", "list", "--bogus").returncode == EX_USAGE


def test_password_never_from_argv(adm):
    r = adm.run("mailbox", "add", "nobody@demo.go.tz", "--password", "x")
    assert r.returncode == EX_USAGE
    assert "unknown option --password" in r.stderr


def test_json_error_object(adm):
    r = adm.run("--json", "institution", "show", "no-such-institution")
    assert r.returncode == EX_NOUSER
    doc = json.loads(r.stdout)
    assert doc["exit"] == EX_NOUSER and "no-such-institution" in doc["error"]


# ---------------------------------------------------------------------------
# config

def test_config_defaults_lists_every_module(adm):
    rows = adm.json("config", "defaults")
    keys = {r["key"] for r in rows}
    for k in ("log.level", "server.user", "tls.cert", "spool.dir", "directory.uri",
              "admin.spf_record"):
        assert k in keys
    assert all(r["help"] for r in rows)


def test_config_show_and_check(adm):
    shown = adm.json("config", "show")
    assert shown["spool.dir"] == adm.suite.spool_dir
    assert "log.level" in adm.json("config", "show", "--all")
    text = adm.ok("config", "show").stdout
    assert "spool.dir = %s" % adm.suite.spool_dir in text
    r = adm.run("config", "check")
    assert r.returncode == EX_OK, r.stdout + r.stderr
    assert "0 errors" in r.stdout


def test_config_check_rejects_bad_files(adm):
    bad = adm.secret("bad.conf", "include %s\nspool.cache_size = 1\n" % adm.conf, 0o644)
    r = adm.run("config", "check", conf=bad)
    assert r.returncode == EX_CONFIG
    assert "bad.conf:2" in r.stderr and "spool.cache_size" in r.stderr
    bad = adm.secret("bad2.conf", "include %s\nspool.nonsense = 1\n" % adm.conf, 0o644)
    r = adm.run("config", "check", conf=bad)
    assert r.returncode == EX_CONFIG and "unknown key 'spool.nonsense'" in r.stderr
    # A password file other users can read is refused with the fix.
    pw = adm.secret("open.pw", "secret", 0o644)
    bad = adm.secret("bad3.conf", "include %s\ndirectory.bind_password_file = %s\n"
                     % (adm.conf, pw), 0o644)
    r = adm.run("config", "check", conf=bad)
    assert r.returncode == EX_CONFIG
    assert "chmod 600" in r.stdout


def test_config_check_validates_imapd_keys(adm):
    # gmsadm links gms-imapd's table (imapd/imapd_conf.c): its keys are
    # listed, range-checked and unknown ones refused, like every module's.
    keys = {r["key"] for r in adm.json("config", "defaults")}
    assert {"imapd.listen", "imapd.max_sessions", "imapd.literal_max"} <= keys
    good = adm.secret("imapd-ok.conf", "include %s\nimapd.max_sessions = 7\n" % adm.conf,
                      0o644)
    r = adm.run("config", "check", conf=good)
    assert r.returncode == EX_OK, r.stdout + r.stderr
    assert "imapd.*" not in r.stdout
    bad = adm.secret("imapd-bad.conf", "include %s\nimapd.max_sessions = 0\n" % adm.conf,
                     0o644)
    r = adm.run("config", "check", conf=bad)
    assert r.returncode == EX_CONFIG
    assert "imapd-bad.conf:2" in r.stderr and "imapd.max_sessions" in r.stderr
    bad = adm.secret("imapd-bad2.conf", "include %s\nimapd.bogus = 1\n" % adm.conf, 0o644)
    r = adm.run("config", "check", conf=bad)
    assert r.returncode == EX_CONFIG and "unknown key 'imapd.bogus'" in r.stderr


def test_config_sample_parses(adm):
    sample = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "gms.conf.sample")
    r = adm.run("config", "show", conf=os.path.abspath(sample))
    assert r.returncode == EX_OK, r.stderr
    assert "directory.base = o=gms" in r.stdout


# ---------------------------------------------------------------------------
# institution

def test_institution_list_filters(adm):
    allrows = adm.json("institution", "list")
    assert len(allrows) >= 359
    emb = adm.json("institution", "list", "--kind", "embassy")
    assert emb and all(r["kind"] == "embassy" for r in emb)
    assert len(emb) < len(allrows)
    country = emb[0]["country"]
    same = adm.json("institution", "list", "--country", country)
    assert same and all(r["country"] == country for r in same)
    region = next(r["region"] for r in allrows if r["region"])
    reg = adm.json("institution", "list", "--region", region)
    assert reg and all(r["region"] == region for r in reg)
    r = adm.run("institution", "list", "--kind", "castle")
    assert r.returncode == EX_USAGE and "ministry" in r.stderr


def test_institution_show_add_modify(adm):
    mof = adm.json("institution", "show", "mof")
    assert mof["kind"] == "ministry" and "mof.go.tz" in mof["domains"]
    iid = uniq("inst")
    adm.ok("institution", "add", iid, "--kind", "agency", "--name-en",
           "Test Agency", "--name-sw", "Wakala wa Majaribio", "--region", "Dodoma")
    got = adm.json("institution", "show", iid)
    assert got["name_sw"] == "Wakala wa Majaribio" and got["region"] == "Dodoma"
    assert adm.run("institution", "add", iid, "--kind", "agency", "--name-en",
                   "Again").returncode == EX_CANTCREAT
    adm.ok("institution", "modify", iid, "--phone", "+255 26 000 0000")
    got = adm.json("institution", "show", iid)
    assert got["phone"] == "+255 26 000 0000" and got["name_en"] == "Test Agency"
    assert "gmsNameEn: Test Agency" in adm.ldap_entry("ou=institutions",
                                                       "(gmsInstitutionId=%s)" % iid)


# ---------------------------------------------------------------------------
# domain

def test_domain_add_list_show_delete(adm):
    dom = uniq("d") + ".go.tz"
    r = adm.ok("domain", "add", dom, "mof")
    assert "dkim-keygen" in r.stdout
    assert adm.run("domain", "add", dom, "mof").returncode == EX_CANTCREAT
    r = adm.run("domain", "add", uniq("x") + ".go.tz", "no-such-inst")
    assert r.returncode == EX_NOUSER and "institution list" in r.stderr
    rows = adm.json("domain", "list", "--institution", "mof")
    assert dom in [x["domain"] for x in rows]
    show = adm.json("domain", "show", dom)
    recs = "\n".join(show["dns_records"])
    assert re.search(r"^%s\. IN MX 10 \S+\.$" % re.escape(dom), recs, re.M)
    assert '%s. IN TXT "v=spf1 mx -all"' % dom in recs
    assert '_dmarc.%s. IN TXT "v=DMARC1; p=quarantine' % dom in recs
    assert "dkim" in show  # no key yet: it says how to make one
    adm.ok("domain", "delete", dom)
    assert adm.run("domain", "show", dom).returncode == EX_NOUSER
    assert adm.run("domain", "delete", dom).returncode == EX_NOUSER


def test_domain_delete_refuses_when_in_use(adm):
    dom = uniq("used") + ".go.tz"
    adm.ok("domain", "add", dom, "mof")
    adm.ok("mailbox", "add", "a@" + dom, "--no-password")
    r = adm.run("domain", "delete", dom)
    assert r.returncode == EX_DATAERR and "still in use" in r.stderr
    adm.ok("mailbox", "delete", "a@" + dom)
    adm.ok("domain", "delete", dom)


def dkim_verify(msg, txt_by_name):
    import dkim

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return txt_by_name.get(name.rstrip("."), "").encode()
    return dkim.verify(msg, dnsfunc=dnsfunc)


def zone_txt(line):
    """The TXT data of a zone line with one or more quoted strings."""
    return "".join(re.findall(r'"([^"]*)"', line))


def test_dkim_keygen_and_show(adm):
    import dkim
    dom = uniq("k") + ".go.tz"
    adm.ok("domain", "add", dom, "mof")
    kd = adm.gms_dir("dkim-" + dom)
    out = adm.json("domain", "dkim-keygen", dom, "--selector", "t1", "--key-dir", kd)
    assert out["selectors"] == ["t1-rsa", "t1-ed25519"]
    names = sorted(os.listdir(kd))
    assert names == sorted(["%s.t1-rsa.key" % dom, "%s.t1-rsa.pub" % dom,
                            "%s.t1-ed25519.key" % dom, "%s.t1-ed25519.pub" % dom])
    for n in names:
        st = os.stat(os.path.join(kd, n))
        if n.endswith(".key"):
            assert stat.S_IMODE(st.st_mode) == 0o600, n
        if adm.gms is not None and os.geteuid() == 0:
            assert st.st_uid == adm.gms.pw_uid, n
    # The selector is recorded in the directory.
    assert adm.json("domain", "show", dom)["dkim_selector"] == "t1-rsa"
    # An existing key is kept unless --force.
    r = adm.run("domain", "dkim-keygen", dom, "--selector", "t1", "--key-dir", kd)
    assert r.returncode == EX_CANTCREAT and "--force" in r.stderr
    rows = adm.json("domain", "dkim-show", dom, "--key-dir", kd)
    txt = {"%s._domainkey.%s" % (r["selector"], dom): zone_txt(r["record"]) for r in rows}
    assert txt["t1-rsa._domainkey." + dom].startswith("v=DKIM1; k=rsa; p=MII")
    assert txt["t1-ed25519._domainkey." + dom].startswith("v=DKIM1; k=ed25519; p=")
    # An independent implementation (dkimpy) signs with the private keys
    # and verifies against the printed TXT records.
    msg = (b"From: a@" + dom.encode() + b"\r\nTo: b@example.org\r\n"
           b"Subject: key test\r\n\r\nbody\r\n")
    with open(os.path.join(kd, "%s.t1-rsa.key" % dom), "rb") as f:
        rsa_pem = f.read()
    sig = dkim.sign(msg, b"t1-rsa", dom.encode(), rsa_pem,
                    include_headers=[b"from", b"to", b"subject"])
    assert dkim_verify(sig + msg, txt)
    with open(os.path.join(kd, "%s.t1-ed25519.key" % dom), "rb") as f:
        der = base64.b64decode(b"".join(l for l in f.read().splitlines()
                                        if not l.startswith(b"-----")))
    seed = base64.b64encode(der[-32:])  # PKCS#8 Ed25519: the seed ends it
    sig = dkim.sign(msg, b"t1-ed25519", dom.encode(), seed,
                    signature_algorithm=b"ed25519-sha256",
                    include_headers=[b"from", b"to", b"subject"])
    assert dkim_verify(sig + msg, txt)
    # A tampered record does not verify (the check can fail).
    bad = dict(txt)
    bad["t1-ed25519._domainkey." + dom] = "v=DKIM1; k=ed25519; p=" + \
        base64.b64encode(b"\x01" * 32).decode()
    assert not dkim_verify(sig + msg, bad)
    # domain show lists the keys' records too.
    show = adm.json("domain", "show", dom)
    assert not any("t1-rsa._domainkey" in r for r in show["dns_records"])  # other dir
    r = adm.run("domain", "dkim-show", uniq("none") + ".go.tz", "--key-dir", kd)
    assert r.returncode in (EX_NOINPUT, EX_NOUSER)


# ---------------------------------------------------------------------------
# mailbox

def test_mailbox_lifecycle(adm):
    addr = uniq("mb") + "@demo.go.tz"
    pw = adm.secret(uniq("pw"), "First-Passw0rd")
    r = adm.ok("mailbox", "add", addr, "--name", "Asha Juma", "--quota", "10M",
               "--password-file", pw)
    assert addr in r.stdout
    assert adm.ldap_bind_ok(addr, "First-Passw0rd")
    assert not adm.ldap_bind_ok(addr, "wrong")
    info = adm.json("mailbox", "show", addr)
    assert info["name"] == "Asha Juma" and info["quota_bytes"] == 10 * 1024 * 1024
    # The mailstore, which enforces quotas, got it too.
    assert info["store_quota_bytes"] == 10 * 1024 * 1024
    assert info["institution"] == adm.json("domain", "show", "demo.go.tz")["institution"]
    assert addr in [m["address"] for m in adm.json("mailbox", "list", "demo.go.tz")]
    assert adm.run("mailbox", "add", addr, "--no-password").returncode == EX_CANTCREAT
    # passwd from stdin (not a terminal)
    adm.ok("mailbox", "passwd", addr, input="Second-Passw0rd\n")
    assert adm.ldap_bind_ok(addr, "Second-Passw0rd")
    assert not adm.ldap_bind_ok(addr, "First-Passw0rd")
    # quota
    q = adm.json("mailbox", "quota", addr, "20M", "--messages", "500")
    assert q["quota_bytes"] == 20 * 1024 * 1024 and q["quota_messages"] == 500
    assert "gmsQuotaBytes: %d" % (20 * 1024 * 1024) in adm.ldap_entry(
        "ou=people", "(mail=%s)" % addr, ["gmsQuotaBytes"])
    assert adm.json("mailbox", "show", addr)["store_quota_messages"] == 500
    # suspend / resume
    adm.ok("mailbox", "suspend", addr)
    assert adm.json("mailbox", "show", addr)["status"] == "suspended"
    adm.ok("mailbox", "resume", addr)
    assert adm.json("mailbox", "show", addr)["status"] == "active"
    adm.ok("mailbox", "delete", addr)
    assert adm.run("mailbox", "show", addr).returncode == EX_NOUSER


def test_mailbox_password_rules(adm):
    addr = uniq("pwr") + "@demo.go.tz"
    open_pw = adm.secret(uniq("open"), "Pass-word-1", 0o644)
    r = adm.run("mailbox", "add", addr, "--password-file", open_pw)
    assert r.returncode == EX_NOPERM and "chmod 600" in r.stderr
    r = adm.run("mailbox", "add", addr, input="\n")
    assert r.returncode == EX_DATAERR and "empty" in r.stderr
    assert adm.run("mailbox", "show", addr).returncode == EX_NOUSER
    r = adm.run("mailbox", "add", uniq("x") + "@not-ours.example", "--no-password")
    assert r.returncode == EX_NOUSER and "domain add" in r.stderr


def test_mailbox_delete_purge(adm):
    addr = uniq("purge") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password")
    md = make_maildir(adm, uniq("md"), [("cur", "1.a:2,S", "Subject: x\n\nx\n")])
    adm.ok("import", "maildir", md, addr)
    inbox = [f for f in adm.json("mailbox", "folders", addr) if f["mailbox"] == "INBOX"]
    assert inbox[0]["messages"] == "1"
    adm.ok("mailbox", "delete", addr, "--purge")
    assert adm.run("mailbox", "folders", addr).returncode == EX_NOUSER
    # Added again, the address starts empty: the old mail was purged.
    adm.ok("mailbox", "add", addr, "--no-password")
    inbox = [f for f in adm.json("mailbox", "folders", addr) if f["mailbox"] == "INBOX"]
    assert inbox[0]["messages"] == "0"
    # Without --purge the mail stays for the same address.
    adm.ok("import", "maildir", md, addr)
    adm.ok("mailbox", "delete", addr)
    adm.ok("mailbox", "add", addr, "--no-password")
    inbox = [f for f in adm.json("mailbox", "folders", addr) if f["mailbox"] == "INBOX"]
    assert inbox[0]["messages"] == "1"


# ---------------------------------------------------------------------------
# alias and list

def test_alias(adm):
    al = uniq("al") + "@demo.go.tz"
    adm.ok("alias", "add", al, "demo@demo.go.tz", "someone@example.org",
           "--owner", "demo@demo.go.tz")
    got = adm.json("alias", "show", al)
    assert sorted(got["targets"]) == ["demo@demo.go.tz", "someone@example.org"]
    assert got["owner"] == "demo@demo.go.tz"
    assert adm.run("alias", "add", al, "x@example.org").returncode == EX_CANTCREAT
    rows = adm.json("alias", "list", "demo.go.tz")
    assert al in [x["alias"] for x in rows]
    adm.ok("alias", "delete", al)
    assert adm.run("alias", "show", al).returncode == EX_NOUSER


def test_list(adm):
    ls = uniq("ls") + "@demo.go.tz"
    adm.ok("list", "add", ls, "demo@demo.go.tz", "--name", "All staff",
           "--policy", "domains")
    got = adm.json("list", "show", ls)
    assert got["members"] == ["demo@demo.go.tz"] and got["policy"] == "domains"
    rows = adm.json("list", "list", "demo.go.tz")
    assert [x for x in rows if x["list"] == ls][0]["members"] == "1"
    adm.ok("list", "add-member", ls, "a@example.org", "b@example.org")
    assert len(adm.json("list", "show", ls)["members"]) == 3
    adm.ok("list", "remove-member", ls, "a@example.org")
    assert sorted(adm.json("list", "show", ls)["members"]) == ["b@example.org",
                                                               "demo@demo.go.tz"]
    r = adm.run("list", "remove-member", ls, "a@example.org")
    assert r.returncode == EX_NOUSER
    assert adm.run("list", "add", ls, "--policy", "nobody").returncode == EX_USAGE
    adm.ok("list", "delete", ls)
    assert adm.run("list", "show", ls).returncode == EX_NOUSER


# ---------------------------------------------------------------------------
# Delegated administration

def test_domain_admin_cannot_touch_another_institution(adm):
    # A domain administrator of mof (their mailbox is in a mof domain).
    admin_addr = uniq("admin") + "@mof.go.tz"
    pw = adm.secret(uniq("adminpw"), "Admin-Passw0rd")
    adm.ok("mailbox", "add", admin_addr, "--password-file", pw)
    adm.suite.slapd("grant-admin", admin_addr)
    victim = uniq("victim") + "@demo.go.tz"
    demo_inst = adm.json("domain", "show", "demo.go.tz")["institution"]
    assert demo_inst != "mof"
    r = adm.run("--as", admin_addr, "--as-password-file", pw,
                "mailbox", "add", victim, "--no-password")
    assert r.returncode == EX_NOPERM
    assert "institution 'mof'" in r.stderr and "demo.go.tz" in r.stderr
    assert adm.run("mailbox", "show", victim).returncode == EX_NOUSER  # unchanged
    for args in (["domain", "delete", "demo.go.tz"],
                 ["mailbox", "passwd", "demo@demo.go.tz"],
                 ["mailbox", "suspend", "demo@demo.go.tz"],
                 ["alias", "add", "x@demo.go.tz", "y@example.org"],
                 ["list", "delete", "x@demo.go.tz"],
                 ["domain", "add", uniq("z") + ".go.tz", demo_inst],
                 ["institution", "modify", demo_inst, "--phone", "1"]):
        r = adm.run("--as", admin_addr, "--as-password-file", pw, *args, input="x\n")
        assert r.returncode == EX_NOPERM, (args, r.stderr)
    assert adm.json("mailbox", "show", "demo@demo.go.tz")["status"] == "active"
    # What the administrator sees is their own institution.
    rows = adm.json("--as", admin_addr, "--as-password-file", pw, "domain", "list")
    assert rows and all(x["institution"] == "mof" for x in rows)
    # A wrong password reaches nothing.
    bad = adm.secret(uniq("badpw"), "not-the-password")
    r = adm.run("--as", admin_addr, "--as-password-file", bad, "domain", "list")
    assert r.returncode == EX_NOPERM and "wrong password" in r.stderr
    # --as is not for the operators' commands.
    r = adm.run("--as", admin_addr, "--as-password-file", pw, "store", "stats")
    assert r.returncode == EX_USAGE


def test_domain_admin_changes_own_institution(adm):
    admin_addr = uniq("admin") + "@mof.go.tz"
    pw = adm.secret(uniq("adminpw"), "Admin-Passw0rd")
    adm.ok("mailbox", "add", admin_addr, "--password-file", pw)
    # The operators grant the right with gmsadm itself (gmsAdmin).
    r = adm.ok("institution", "admin", "add", admin_addr)
    assert "is now an administrator of institution 'mof'" in r.stdout + r.stderr
    dn = "mail=%s,ou=people,%s" % (admin_addr, adm.suite.ldap["LDAP_BASE"])
    entry = adm.ldap_entry("ou=institutions", "(gmsInstitutionId=mof)", ["gmsAdmin"])
    assert dn.lower() in entry.replace("\n ", "").lower()
    rows = adm.json("institution", "admin", "list", "mof")
    assert {"institution": "mof", "admin": admin_addr} in rows
    adm.ok("institution", "admin", "add", admin_addr)  # twice: no change
    new = uniq("staff") + "@mof.go.tz"
    r = adm.run("--as", admin_addr, "--as-password-file", pw,
                "mailbox", "add", new, "--no-password")
    assert r.returncode == EX_OK, r.stderr
    assert adm.json("mailbox", "show", new)["address"] == new
    # The administrator sees their own institution's administrators only,
    # and cannot grant.
    rows = adm.json("--as", admin_addr, "--as-password-file", pw,
                    "institution", "admin", "list", "mof")
    assert admin_addr in [x["admin"] for x in rows]
    r = adm.run("--as", admin_addr, "--as-password-file", pw,
                "institution", "admin", "list", "tra")
    assert r.returncode == EX_NOPERM
    r = adm.run("--as", admin_addr, "--as-password-file", pw,
                "institution", "admin", "add", new)
    assert r.returncode == EX_NOPERM
    assert new not in [x["admin"] for x in adm.json("institution", "admin", "list", "mof")]
    # Revoked: --as stops at once, before any command runs.
    adm.ok("institution", "admin", "remove", admin_addr)
    assert admin_addr not in [x["admin"] for x in
                              adm.json("institution", "admin", "list", "mof")]
    r = adm.run("--as", admin_addr, "--as-password-file", pw, "domain", "list")
    assert r.returncode == EX_NOPERM
    assert "%s is not an administrator of any institution" % admin_addr in r.stderr
    assert adm.run("institution", "admin", "list", "nosuchinst").returncode == EX_NOUSER
    assert adm.run("institution", "admin", "add",
                   uniq("nobody") + "@mof.go.tz").returncode == EX_NOUSER
    assert adm.run("institution", "admin", "frob", "x").returncode == EX_USAGE


def test_as_needs_gmsadmin(adm):
    # An ordinary mailbox with the right password is not an administrator.
    user = uniq("plain") + "@mof.go.tz"
    pw = adm.secret(uniq("plainpw"), "Plain-Passw0rd")
    adm.ok("mailbox", "add", user, "--password-file", pw)
    r = adm.run("--as", user, "--as-password-file", pw,
                "mailbox", "add", uniq("x") + "@mof.go.tz", "--no-password")
    assert r.returncode == EX_NOPERM
    assert "%s is not an administrator of any institution" % user in r.stderr


# ---------------------------------------------------------------------------
# bulk add

def write_csv(adm, name, rows, header=("address", "name", "quota", "password")):
    p = os.path.join(adm.work, name)
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.chmod(p, 0o600)
    return p


def test_bulk_add_one_bad_row_changes_nothing(adm):
    tag = uniq("bk")
    rows = [("%s-%d@demo.go.tz" % (tag, i), "Staff, %d" % i, "1G", "Pw-%d-x" % i)
            for i in range(300)]
    rows[150] = ("%s-bad@not-ours.example" % tag, "Bad", "1G", "x")
    p = write_csv(adm, tag + "-bad.csv", rows)
    before = len(adm.json("mailbox", "list", "demo.go.tz"))
    r = adm.run("bulk", "add", p)
    assert r.returncode == EX_DATAERR
    assert "line 152" in r.stderr and "nothing was changed" in r.stderr
    assert len(adm.json("mailbox", "list", "demo.go.tz")) == before
    # Duplicates and an address that exists are bad rows too.
    rows2 = [("%s-a@demo.go.tz" % tag, "", "", ""), ("%s-a@demo.go.tz" % tag, "", "", ""),
             ("demo@demo.go.tz", "", "", "")]
    r = adm.run("bulk", "add", write_csv(adm, tag + "-dup.csv", rows2))
    assert r.returncode == EX_DATAERR
    assert "appears again" in r.stderr and "exists already" in r.stderr
    assert len(adm.json("mailbox", "list", "demo.go.tz")) == before


def test_bulk_add_2000(adm):
    tag = uniq("staff")
    rows = [("%s-%04d@mof.go.tz" % (tag, i), "Mtumishi %d" % i, "512M",
             "Pw-%d-%s" % (i, tag)) for i in range(2000)]
    p = write_csv(adm, tag + ".csv", rows)
    os.chmod(p, 0o644)
    r = adm.run("bulk", "add", p)
    assert r.returncode == EX_NOPERM and "chmod 600" in r.stderr
    os.chmod(p, 0o600)
    assert adm.json("bulk", "add", p, "--dry-run")["dry_run"] is True
    out = adm.json("bulk", "add", p, timeout=600)
    assert out["added"] == 2000
    listed = {m["address"] for m in adm.json("mailbox", "list", "mof.go.tz")}
    assert all(r[0] in listed for r in rows)
    assert adm.ldap_bind_ok(rows[1234][0], rows[1234][3])
    assert adm.json("mailbox", "show", rows[7][0])["quota_bytes"] == 512 << 20


# ---------------------------------------------------------------------------
# import

def make_maildir(adm, name, files, keywords=None, subfolders=None):
    root = os.path.join(adm.work, name)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for folder, fname, text in files:
        d = os.path.join(root, folder)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, fname), "w") as f:
            f.write(text)
    if keywords:
        with open(os.path.join(root, "dovecot-keywords"), "w") as f:
            for i, k in enumerate(keywords):
                f.write("%d %s\n" % (i, k))
    for dp, dn, fn in os.walk(root):
        os.chmod(dp, 0o755)
        for f in fn:
            os.chmod(os.path.join(dp, f), 0o644)
    return root


def msg(subject, body="hello\n"):
    return "From: a@example.org\nTo: u@demo.go.tz\nSubject: %s\n\n%s" % (subject, body)


def test_import_maildir_folders_flags_dates(adm):
    addr = uniq("imp") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password")
    md = make_maildir(adm, uniq("md"), [
        ("cur", "1000.M1.h:2,S", msg("seen")),
        ("cur", "1001.M2.h:2,FRa", msg("flagged-answered-kw")),
        ("new", "1002.M3.h", msg("new")),
        (".Work.Projects/cur", "1003.M4.h:2,ST", msg("deleted-in-sub")),
        (".Sent/cur", "1004.M5.h:2,S", msg("sent")),
    ], keywords=["Important"])
    os.utime(os.path.join(md, "cur", "1000.M1.h:2,S"), (1577934245, 1577934245))
    out = adm.json("import", "maildir", md, addr)
    assert out["imported"] == 5 and out["skipped"] == 0
    folders = {f["mailbox"]: f for f in adm.json("mailbox", "folders", addr)}
    # S is seen; FRa and the one in new/ are not.
    assert folders["INBOX"]["messages"] == "3" and folders["INBOX"]["unseen"] == "2"
    assert folders["Work/Projects"]["messages"] == "1"
    assert folders["Sent"]["messages"] == "1"
    r = adm.run("import", "maildir", os.path.join(adm.work, "nope"), addr)
    assert r.returncode == EX_NOINPUT
    r = adm.run("import", "maildir", md, uniq("nobody") + "@demo.go.tz")
    assert r.returncode == EX_NOUSER


def test_import_maildir_flags_over_imap(live_suite):
    adm = Adm(live_suite)
    addr = uniq("impi") + "@demo.go.tz"
    pw = adm.secret(uniq("pw"), "Imap-Passw0rd")
    adm.ok("mailbox", "add", addr, "--password-file", pw)
    md = make_maildir(adm, uniq("mdi"), [
        ("cur", "1000.M1.h:2,S", msg("one")),
        ("cur", "1001.M2.h:2,FRa", msg("two")),
        ("new", "1002.M3.h", msg("three")),
        (".Archive/cur", "1003.M4.h:2,SD", msg("four")),
    ], keywords=["Important"])
    # Dovecot's UID order differs from the names' order: it wins.
    with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
        f.write("3 V1234 N4 G0123456789abcdef\n"
                "1 :1002.M3.h\n2 :1001.M2.h:2,FRa\n3 :1000.M1.h:2,S\n")
    os.chmod(os.path.join(md, "dovecot-uidlist"), 0o644)
    os.utime(os.path.join(md, "cur", "1000.M1.h:2,S"), (1577934245, 1577934245))
    adm.ok("import", "maildir", md, addr)
    ctx = ssl.create_default_context(cafile=adm.suite.ca_cert)
    m = imaplib.IMAP4("127.0.0.1", adm.suite.ports["IMAP_PORT"], timeout=20)
    try:
        m.starttls(ssl_context=ctx)
        m.login(addr, "Imap-Passw0rd")
        typ, _ = m.select("INBOX", readonly=True)
        assert typ == "OK"
        by_subject = {}
        for uid in (1, 2, 3):
            typ, data = m.uid("FETCH", str(uid), "(FLAGS INTERNALDATE "
                              "BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert typ == "OK" and data and isinstance(data[0], tuple), data
            meta = data[0][0].decode()
            subject = data[0][1].decode().split(":", 1)[1].strip()
            flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split())
            date = re.search(r'INTERNALDATE "([^"]+)"', meta).group(1)
            by_subject[subject] = (uid, flags, date)
        assert [by_subject[s][0] for s in ("three", "two", "one")] == [1, 2, 3]
        assert "\\Seen" in by_subject["one"][1]
        assert by_subject["one"][2].startswith("02-Jan-2020")
        assert {"\\Flagged", "\\Answered", "Important"} <= by_subject["two"][1]
        assert "\\Seen" not in by_subject["two"][1]
        assert "\\Seen" not in by_subject["three"][1]
        typ, _ = m.select("Archive", readonly=True)
        assert typ == "OK"
        typ, data = m.fetch("1", "(FLAGS)")
        assert b"\\Draft" in data[0] and b"\\Seen" in data[0]
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def imap_open(adm, addr, password):
    ctx = ssl.create_default_context(cafile=adm.suite.ca_cert)
    m = imaplib.IMAP4("127.0.0.1", adm.suite.ports["IMAP_PORT"], timeout=20)
    try:
        m.starttls(ssl_context=ctx)
        m.login(addr, password)
    except Exception:
        m.shutdown()
        raise
    return m


def imap_uids(m, mailbox):
    """(UIDVALIDITY, UIDNEXT, {uid: (subject, flags)}) of a mailbox."""
    typ, data = m.status('"%s"' % mailbox, "(UIDVALIDITY UIDNEXT MESSAGES)")
    assert typ == "OK", data
    st = data[0].decode()
    uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
    uidnext = int(re.search(r"UIDNEXT (\d+)", st).group(1))
    typ, _ = m.select('"%s"' % mailbox, readonly=True)
    assert typ == "OK"
    assert int(m.response("UIDVALIDITY")[1][0]) == uidvalidity
    got = {}
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split())
        flags.discard("\\Recent")
        subject = item[1].decode().split(":", 1)[1].strip()
        got[uid] = (subject, flags)
    return uidvalidity, uidnext, got


def test_import_keeps_uids_over_imap(live_suite):
    """UIDVALIDITY and UIDs of Dovecot (dovecot-uidlist v3 and v1) and
    Courier (courierimapuiddb) come back over IMAP; files that arrived after
    the list follow its UIDNEXT; Maildir++ names in modified UTF-7 become
    UTF-8."""
    adm = Adm(live_suite)
    addr = uniq("impu") + "@demo.go.tz"
    pw = adm.secret(uniq("pw"), "Uid-Passw0rd")
    adm.ok("mailbox", "add", addr, "--password-file", pw)
    md = make_maildir(adm, uniq("mdu"), [
        ("cur", "1000.M1.h:2,S", msg("five")),
        ("cur", "1001.M2.h:2,S", msg("seventeen")),
        ("cur", "1002.M3.h:2,", msg("forty-two")),
        ("new", "1003.M4.h", msg("arrived-later")),
        (".Sent/cur", "2000.M1.h:2,S", msg("sent-three")),
        (".Sent/cur", "2001.M2.h:2,S", msg("sent-nine")),
        (".Archive.2020/cur", "3000.M1.h:2,S", msg("old-four")),
        (".Entw&APw-rfe/cur", "4000.M1.h:2,D", msg("draft")),
    ])
    files = {
        "dovecot-uidlist": "3 V987654 N50 G0123456789abcdef\n"
                           "5 :1000.M1.h\n17 W123 :1001.M2.h:2,S\n"
                           "42 :1002.M3.h\n",
        ".Sent/courierimapuiddb": "1 555000 20\n3 2000.M1.h\n9 2001.M2.h:2,S\n",
        ".Archive.2020/dovecot-uidlist": "1 777000 11\n4 3000.M1.h\n",
    }
    for name, text in files.items():
        with open(os.path.join(md, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(md, name), 0o644)
    out = adm.json("import", "maildir", md, addr)
    assert out["imported"] == 8 and out["uids_kept"] == 6, out
    names = {f["mailbox"] for f in adm.json("mailbox", "folders", addr)}
    assert "Entwürfe" in names and "Archive/2020" in names, names
    m = imap_open(adm, addr, "Uid-Passw0rd")
    try:
        uv, un, got = imap_uids(m, "INBOX")
        assert uv == 987654
        assert {u: x[0] for u, x in got.items()} == {
            5: "five", 17: "seventeen", 42: "forty-two", 50: "arrived-later"}
        assert un == 51
        assert "\\Seen" in got[17][1] and "\\Seen" not in got[42][1]
        uv, un, got = imap_uids(m, "Sent")
        assert (uv, un) == (555000, 20)
        assert {u: x[0] for u, x in got.items()} == {3: "sent-three", 9: "sent-nine"}
        uv, un, got = imap_uids(m, "Archive/2020")
        assert (uv, un, list(got)) == (777000, 11, [4])
        # IMAP4rev1 clients see the UTF-8 name in modified UTF-7 again.
        typ, data = m.list('""', "Entw*")
        assert typ == "OK" and b"Entw&APw-rfe" in data[0], data
        uv, un, got = imap_uids(m, "Entw&APw-rfe")
        assert list(got.values()) == [("draft", {"\\Draft"})]
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass
    # Importing again: the mailboxes hold mail, so new UIDs (with a warning).
    r = adm.run("--json", "import", "maildir", md, addr)
    assert r.returncode == EX_OK, r.stderr
    assert "already holds mail" in r.stderr
    assert json.loads(r.stdout)["uids_kept"] == 0
    m = imap_open(adm, addr, "Uid-Passw0rd")
    try:
        uv, un, got = imap_uids(m, "INBOX")
        assert uv == 987654 and len(got) == 8 and min(u for u in got if u > 50) == 51
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def test_import_mbox_uids_and_keywords_over_imap(live_suite):
    adm = Adm(live_suite)
    addr = uniq("mbu") + "@demo.go.tz"
    pw = adm.secret(uniq("pw"), "Mbox-Passw0rd")
    adm.ok("mailbox", "add", addr, "--password-file", pw)
    p = os.path.join(adm.work, uniq("mboxu"))
    with open(p, "w") as f:
        # UW-IMAP's pseudo message first (skipped), then Dovecot-style
        # headers with X-UID and X-Keywords (folded, commas or spaces).
        f.write("From MAILER-DAEMON Mon Jan  6 09:00:00 2020\n"
                "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
                "X-IMAP: 1577000000 0000000031 $Work\n\nfolder data\n\n"
                "From a@b.c Mon Jan  6 10:00:00 2020\nStatus: RO\n"
                "X-Keywords: $Work, Important\n\tfollowup\n"
                "X-UID: 7\nSubject: m7\n\nbody\n\n"
                "From a@b.c Mon Jan  6 11:00:00 2020\nX-UID: 30\n"
                "X-Keywords: bad\\flag \\Seen ok(no) Later\nSubject: m30\n\nx\n")
    os.chmod(p, 0o644)
    out = adm.json("import", "mbox", p, addr, "--mailbox", "Old")
    assert out["imported"] == 2 and out["uids_kept"] == 2, out
    m = imap_open(adm, addr, "Mbox-Passw0rd")
    try:
        uv, un, got = imap_uids(m, "Old")
        assert (uv, un) == (1577000000, 31)
        assert sorted(got) == [7, 30]
        assert got[7][0] == "m7" and {"\\Seen", "$Work", "Important",
                                      "followup"} <= got[7][1]
        assert got[30][0] == "m30" and got[30][1] == {"Later"}
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def test_quota_is_enforced_by_the_store(adm):
    addr = uniq("quota") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password", "--quota", "1K")
    md = make_maildir(adm, uniq("mdq"), [("cur", "%d.M.h:2,S" % i, msg("q%d" % i, "y" * 600))
                                         for i in range(3)])
    r = adm.run("import", "maildir", md, addr)
    assert r.returncode == EX_DATAERR and "quota" in r.stderr
    adm.ok("mailbox", "quota", addr, "0")
    assert adm.json("import", "maildir", md, addr)["imported"] == 3


def test_import_mbox(adm):
    addr = uniq("mbox") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password")
    p = os.path.join(adm.work, uniq("mbox"))
    with open(p, "w") as f:
        f.write("From a@b.c Mon Jan  6 10:00:00 2020\nStatus: RO\nX-Status: AF\n"
                "Subject: m1\n\nbody\n>From quoted\n\n"
                "From c@d.e Tue Jan  7 11:00:00 2020\nSubject: m2\n\nsecond\n")
    os.chmod(p, 0o644)
    out = adm.json("import", "mbox", p, addr, "--mailbox", "Archive")
    assert out["imported"] == 2
    folders = {f["mailbox"]: f for f in adm.json("mailbox", "folders", addr)}
    assert folders["Archive"]["messages"] == "2" and folders["Archive"]["unseen"] == "1"
    bad = os.path.join(adm.work, uniq("notmbox"))
    with open(bad, "w") as f:
        f.write("Subject: no separator\n\nx\n")
    os.chmod(bad, 0o644)
    assert adm.run("import", "mbox", bad, addr).returncode == EX_DATAERR


# ---------------------------------------------------------------------------
# store

def test_store_stats_checkpoint(adm):
    st = adm.json("store", "stats")
    for k in ("users", "mailboxes", "messages", "bodies", "txn_commits"):
        assert k in st
    adm.ok("store", "checkpoint")


def test_store_verify(adm):
    r = adm.run("--json", "store", "verify")
    assert r.returncode == EX_OK, r.stdout + r.stderr
    assert json.loads(r.stdout)["errors"] == 0


def test_store_backup_restore_gives_back_every_message(adm):
    addr = uniq("bkp") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password")
    files = [("cur", "%d.M%d.h:2,S" % (2000 + i, i), msg("backup %d" % i, "x" * i + "\n"))
             for i in range(40)]
    files.append((".Old/cur", "3000.M1.h:2,F", msg("old")))
    md = make_maildir(adm, uniq("mdb"), files)
    adm.ok("import", "maildir", md, addr)
    before_stats = adm.json("store", "stats")
    before = adm.json("mailbox", "folders", addr)
    bdir = os.path.join(adm.gms_dir(uniq("backups")), "b1")
    adm.ok("store", "backup", bdir)
    assert os.listdir(bdir)
    # Restore into a fresh spool.dir and read it through a second gms.conf.
    rdir = adm.gms_dir(uniq("restored"))
    conf2 = adm.secret(uniq("restored.conf"), "include %s\nspool.dir = %s\n"
                       % (adm.conf, rdir), 0o644)
    adm.ok("store", "restore", bdir, conf=conf2)
    after = adm.json("mailbox", "folders", addr, conf=conf2)
    assert [(f["mailbox"], f["messages"], f["size"], f["unseen"]) for f in after] == \
        [(f["mailbox"], f["messages"], f["size"], f["unseen"]) for f in before]
    after_stats = adm.json("store", "stats", conf=conf2)
    for k in ("users", "mailboxes", "messages", "bodies", "body_bytes"):
        assert after_stats[k] == before_stats[k], k
    # Restoring over a store that is not empty is refused.
    r = adm.run("store", "restore", bdir, conf=conf2)
    assert r.returncode == EX_CANTCREAT and "not empty" in r.stderr


# ---------------------------------------------------------------------------
# With the daemons: a second suite of our own, in a folder the gms user can
# reach, with smtpd.dkim_key_dir set.

@pytest.fixture(scope="module")
def live_suite():
    import tempfile
    from gmsfix.suite import Suite
    build = os.environ.get("GMS_BUILD") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")
    for sub, name in (("admin", "gmsadm"), ("smtpd", "gms-smtpd"), ("imapd", "gms-imapd")):
        if not os.access(os.path.join(build, sub, name), os.X_OK):
            pytest.skip("%s is not built" % name)
    top = tempfile.mkdtemp(prefix="gms-dkim-", dir="/tmp")
    os.chmod(top, 0o755)
    keydir = os.path.join(top, "dkim")
    os.makedirs(keydir, mode=0o700)
    try:
        gms = pwd.getpwnam("gms")
        os.chown(keydir, gms.pw_uid, gms.pw_gid)
    except KeyError:
        pass
    # The queue runner is off so that remote mail stays queued for the
    # queue commands.
    s = Suite(os.path.join(top, "data"), extra_conf="smtpd.dkim_key_dir = %s\n"
              "relay.enable = no" % keydir)
    try:
        try:
            s.start()
        except RuntimeError as e:
            pytest.skip("the daemons did not start: %s" % str(e)[:300])
        if s.missing:
            pytest.skip("not started: %s" % ", ".join(s.missing))
        s.keydir = keydir
        yield s
    finally:
        s.stop()
        shutil.rmtree(top, ignore_errors=True)


def test_dkim_key_signs_in_smtpd(live_suite):
    import smtplib
    import dkim
    from gmsfix.suite import DEMO_USER, DEMO_PASSWORD, DEMO_DOMAIN
    s = live_suite
    a = Adm(s)
    # No --key-dir: gmsadm finds the folder in smtpd.dkim_key_dir, as
    # gms-smtpd does.
    out = a.json("domain", "dkim-keygen", DEMO_DOMAIN, "--selector", "e2e")
    assert out["key_dir"] == s.keydir
    txt = {"%s._domainkey.%s" % (r["selector"], DEMO_DOMAIN): zone_txt(r["record"])
           for r in a.json("domain", "dkim-show", DEMO_DOMAIN)}
    token = uniq("dkim-e2e")
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@demo.go.tz>\r\n"
            "\r\nSigned by gms-smtpd with a key from gmsadm.\r\n"
            % (DEMO_USER, DEMO_USER, token, token))
    ctx = ssl.create_default_context(cafile=s.ca_cert)
    with smtplib.SMTP("127.0.0.1", s.ports["SUBMISSION_PORT"], timeout=30) as c:
        c.starttls(context=ctx)
        c.login(DEMO_USER, DEMO_PASSWORD)
        c.sendmail(DEMO_USER, [DEMO_USER], body.encode())
    raw = None
    m = imaplib.IMAP4("127.0.0.1", s.ports["IMAP_PORT"], timeout=30)
    try:
        m.starttls(ssl_context=ctx)
        m.login(DEMO_USER, DEMO_PASSWORD)
        for _ in range(50):
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "SUBJECT", token)
            if typ == "OK" and data[0].split():
                typ, data = m.fetch(data[0].split()[-1], "(BODY.PEEK[])")
                raw = data[0][1]
                break
            time.sleep(0.2)
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass
    assert raw is not None, "the message did not arrive"
    assert b"DKIM-Signature:" in raw
    nsig = raw.count(b"\nDKIM-Signature:") + raw.startswith(b"DKIM-Signature:")
    assert nsig == 2, raw[:2000]

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return txt.get(name.rstrip("."), "").encode()
    d = dkim.DKIM(raw)
    algs = set()
    for i in range(nsig):
        assert d.verify(idx=i, dnsfunc=dnsfunc), "signature %d does not verify" % i
        algs.add(d.signature_fields[b"a"])
    assert algs == {b"rsa-sha256", b"ed25519-sha256"}


def test_queue_commands(live_suite):
    import smtplib
    from gmsfix.suite import DEMO_USER, DEMO_PASSWORD
    s = live_suite
    a = Adm(s)
    before = {e["id"] for e in a.json("queue", "list")}
    ctx = ssl.create_default_context(cafile=s.ca_cert)
    token = uniq("queued")
    with smtplib.SMTP("127.0.0.1", s.ports["SUBMISSION_PORT"], timeout=30) as c:
        c.starttls(context=ctx)
        c.login(DEMO_USER, DEMO_PASSWORD)
        c.sendmail(DEMO_USER, ["someone@example.org", "other@example.net"],
                   ("From: %s\r\nSubject: %s\r\n\r\nout\r\n" % (DEMO_USER, token)).encode())
    rows = [e for e in a.json("queue", "list") if e["id"] not in before]
    assert len(rows) == 1, rows
    qid = rows[0]["id"]
    assert rows[0]["from"] == DEMO_USER and rows[0]["recipients"] == "2/2 pending"
    assert rows[0]["state"] == "queued"
    e = a.json("queue", "show", qid)
    assert sorted(r["address"] for r in e["recipients"]) == ["other@example.net",
                                                             "someone@example.org"]
    assert all(r["state"] == "pending" for r in e["recipients"])
    assert "someone@example.org" in a.ok("queue", "show", qid).stdout
    a.ok("queue", "hold", qid)
    assert a.json("queue", "show", qid)["held"] is True
    assert [x for x in a.json("queue", "list") if x["id"] == qid][0]["state"] == "held"
    a.ok("queue", "release", qid)
    assert a.json("queue", "show", qid)["held"] is False
    a.ok("queue", "flush", qid)
    a.ok("queue", "flush", "all")
    r = a.run("queue", "show", "nosuchqueueid0000000")
    assert r.returncode == EX_NOUSER and "queue list" in r.stderr
    assert a.run("queue", "hold").returncode == EX_USAGE
    a.ok("queue", "delete", qid)
    assert qid not in {x["id"] for x in a.json("queue", "list")}
    assert a.run("queue", "delete", qid).returncode == EX_NOUSER


# ---------------------------------------------------------------------------
# On a terminal: the password prompt does not echo, progress bars are drawn.

def run_on_pty(argv, answers=(), timeout=60):
    """Run argv with stdin, stdout and stderr on a new pseudo-terminal;
    write each answer after its prompt shows up.  Returns (rc, output)."""
    import pty
    import select
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    answers = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                while answers and answers[0][0].encode() in out[-200:]:
                    prompt, text = answers.pop(0)
                    out += b"<<sent>>"
                    os.write(master, text.encode() + b"\n")
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace")


def test_password_prompt_has_no_echo(adm):
    addr = uniq("tty") + "@demo.go.tz"
    rc, out = run_on_pty([adm.bin, "-c", adm.conf, "mailbox", "add", addr],
                         [("New password for %s: " % addr, "Tty-Secret-123"),
                          ("Again: ", "Tty-Secret-123")])
    assert rc == EX_OK, out
    assert "New password for" in out and "Again:" in out
    assert "Tty-Secret-123" not in out  # never echoed
    assert adm.ldap_bind_ok(addr, "Tty-Secret-123")
    # Two different answers change nothing.
    addr2 = uniq("tty") + "@demo.go.tz"
    rc, out = run_on_pty([adm.bin, "-c", adm.conf, "mailbox", "add", addr2],
                         [("New password for %s: " % addr2, "One-Secret-1"),
                          ("Again: ", "Two-Secret-2")])
    assert rc == EX_DATAERR and "differ" in out
    assert adm.run("mailbox", "show", addr2).returncode == EX_NOUSER


def test_progress_bar_on_terminal(adm):
    addr = uniq("bar") + "@demo.go.tz"
    adm.ok("mailbox", "add", addr, "--no-password")
    md = make_maildir(adm, uniq("mdbar"), [("cur", "%d.M.h:2,S" % (5000 + i),
                                            msg("bar %d" % i)) for i in range(30)])
    reachable_by_gms(adm.suite.data)
    rc, out = run_on_pty([adm.bin, "-c", adm.conf, "import", "maildir", md, addr])
    assert rc == EX_OK, out
    assert "importing [" in out and "########################################] 30/30" in out
    # Not on a terminal (the other tests) or with -q: no bar.
    md2 = make_maildir(adm, uniq("mdbar"), [("cur", "1.M.h:2,S", msg("q"))])
    reachable_by_gms(adm.suite.data)
    rc, out = run_on_pty([adm.bin, "-c", adm.conf, "-q", "import", "maildir", md2, addr])
    assert rc == EX_OK and "importing [" not in out
    r = adm.run("import", "maildir", md2, addr)
    assert "importing [" not in r.stderr
