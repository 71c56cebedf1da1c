"""test_directory.py - the directory library against a real slapd.

A slapd of our own (gmsfix.slapd, scripts/gms-slapd) with the schema, the
seed of 359 institutions and a few mailboxes, aliases and lists; the C
library is driven through tests/unit/dirtool from GMS_BUILD.  Covers every
lookup, the seed, filter/DN injection, authentication (wrong password and
unknown user alike, in answer and time), the ACLs, and the write operations
of gmsadm.  Outages (restart, stop, hang) are in test_directory_outage.py.
"""
import base64
import os
import statistics
import subprocess

import pytest

from gmsfix.slapd import DirTool, Slapd

BUILD = os.environ.get("GMS_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))

KINDS = {"ministry": 26, "department": 20, "agency": 40, "region": 26,
         "hospital": 28, "council": 184, "embassy": 35}

PW = {"juma@mof.go.tz": "Juma-Pw-71!", "asha@mof.go.tz": "Asha-Pw-82?",
      "neema@afya.go.tz": "Neema-Pw-93#", "susp@mof.go.tz": "Susp-Pw-04$"}


def dirtool_or_skip(conf):
    t = DirTool(BUILD, conf)
    if not t.available():
        subprocess.run(["make", "-C", BUILD, "tests/unit/dirtool"],
                       capture_output=True, timeout=300)
    if not t.available():
        pytest.skip("tests/unit/dirtool is not built in %s" % BUILD)
    return t


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    s = Slapd(str(tmp_path_factory.mktemp("dir") / "slapd"))
    try:
        s.start()
        for addr, pw in PW.items():
            s.add_mailbox(addr, pw, 5000000)
        s.run("suspend", s.dir, "susp@mof.go.tz")
        s.add_domain("demo.go.tz", "ega", "postmaster@demo.go.tz")
        s.add_mailbox("postmaster@demo.go.tz", "Pm-Pw-55%")
        s.add_alias("info@mof.go.tz", "juma@mof.go.tz", "asha@mof.go.tz",
                    owner="juma@mof.go.tz")
        s.add_alias("ext@mof.go.tz", "someone@example.org", "juma@mof.go.tz")
        s.add_list("staff@mof.go.tz", "members", "juma@mof.go.tz",
                   "team@mof.go.tz", owner="asha@mof.go.tz")
        s.add_list("team@mof.go.tz", "anyone", "asha@mof.go.tz",
                   "staff@mof.go.tz", "neema@afya.go.tz")
        s.add_list("gov@mof.go.tz", "domains", "juma@mof.go.tz")
        s.add_list("self@mof.go.tz", "anyone", "self@mof.go.tz",
                   "juma@mof.go.tz")
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def tool(ldap, tmp_path_factory):
    conf = str(tmp_path_factory.mktemp("conf") / "gms.conf")
    ldap.write_conf(conf, ["log.level = debug", "log.trace = dir"])
    return dirtool_or_skip(conf)


# -- the seed ---------------------------------------------------------------

def test_seed_359_institutions_by_kind(tool):
    res, v, _ = tool.result("kinds")
    assert res == "ok"
    assert int(v["count"]) == 359
    for k, n in KINDS.items():
        assert int(v[k]) == n, k
    assert sum(KINDS.values()) == 359


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_institutions_filter_by_kind(tool, kind):
    res, v, m = tool.result("institutions", "kind=" + kind)
    assert res == "ok" and int(v["count"]) == KINDS[kind]
    assert all((" kind=%s " % kind) in line
               for line in tool.run("institutions", "kind=" + kind)
               .stdout.splitlines()[2:])


def test_institutions_by_region_and_country(tool):
    res, v, _ = tool.result("institutions", "kind=council", "region=Arusha")
    assert res == "ok" and int(v["count"]) == 7
    res, v, _ = tool.result("institutions", "region=arusha")
    # 7 councils, the regional secretariat, Mount Meru hospital
    assert int(v["count"]) == 9
    res, v, _ = tool.result("institutions", "country=United Arab Emirates")
    assert int(v["count"]) == 2
    res, v, _ = tool.result("institutions", "country=Atlantis")
    assert res == "ok" and int(v["count"]) == 0


def test_institution_lookup(tool):
    res, v, _ = tool.result("institution", "mission-nairobi")
    assert res == "found"
    line = tool.run("institution", "MISSION-NAIROBI").stdout
    assert "country=Kenya" in line and "city=Nairobi" in line
    assert "domain=nairobi.nje.go.tz" in line and "kind=embassy" in line
    assert tool.result("institution", "no-such-thing")[0] == "notfound"


def test_every_institution_has_its_domain(tool):
    out = tool.run("institutions").stdout.splitlines()[2:]
    assert len(out) == 359
    domains = [w.split("=", 1)[1] for line in out for w in line.split()
               if w.startswith("domain=")]
    assert len(set(domains)) == 359
    assert all(d.endswith(".go.tz") for d in domains)
    res, v, m = tool.result("domains")
    assert int(v["count"]) >= 359


# -- lookups -----------------------------------------------------------------

def test_domain(tool):
    res, v, _ = tool.result("domain", "MOF.go.TZ")
    assert res == "found" and v["institution"] == "mof"
    assert v["selector"] == "gms2026" and v["status"] == "active"
    res, v, _ = tool.result("domain", "demo.go.tz")
    assert res == "found" and v["catchall"] == "postmaster@demo.go.tz"
    assert tool.result("domain", "example.org")[0] == "notfound"
    assert tool.result("domain", "go.tz")[0] == "notfound"


def test_mailbox(tool):
    res, v, _ = tool.result("mailbox", "Juma@MOF.go.tz")
    assert res == "found"
    assert v["address"] == "juma@mof.go.tz" and v["institution"] == "mof"
    assert v["quota_bytes"] == "5000000" and v["status"] == "active"
    res, v, _ = tool.result("mailbox", "susp@mof.go.tz")
    assert res == "found" and v["status"] == "suspended"
    assert tool.result("mailbox", "nobody@mof.go.tz")[0] == "notfound"
    assert tool.result("mailbox", "info@mof.go.tz")[0] == "notfound"
    res, v, m = tool.result("mailboxes", "mof.go.tz")
    assert res == "ok" and int(v["count"]) == 3


def test_resolve_mailbox_plus_and_case(tool):
    res, v, m = tool.result("resolve", "JUMA@mof.go.tz")
    assert res == "found" and v["kind"] == "mailbox"
    assert m["target"] == ["juma@mof.go.tz local active"]
    res, v, _ = tool.result("resolve", "juma+Reports@mof.go.tz")
    assert res == "found" and v["address"] == "juma@mof.go.tz"
    assert v["detail"] == "reports"
    assert tool.result("resolve", "nobody+x@mof.go.tz")[0] == "notfound"
    assert tool.result("resolve", "juma@example.org")[0] == "notfound"


def test_resolve_alias(tool):
    res, v, m = tool.result("resolve", "info@mof.go.tz")
    assert res == "found" and v["kind"] == "alias"
    assert sorted(m["target"]) == ["asha@mof.go.tz local active",
                                   "juma@mof.go.tz local active"]
    res, v, m = tool.result("resolve", "ext@mof.go.tz")
    assert "someone@example.org remote active" in m["target"]


def test_resolve_nested_lists_with_loop(tool):
    res, v, m = tool.result("resolve", "staff@mof.go.tz")
    assert res == "found" and v["kind"] == "list" and v["policy"] == "members"
    assert sorted(t.split()[0] for t in m["target"]) == [
        "asha@mof.go.tz", "juma@mof.go.tz", "neema@afya.go.tz"]
    res, v, m = tool.result("resolve", "self@mof.go.tz")
    assert res == "found" and int(v["ntargets"]) == 1


def test_resolve_catchall(tool):
    res, v, _ = tool.result("resolve", "whoever@demo.go.tz")
    assert res == "found" and v["catchall"] == "1"
    assert v["address"] == "postmaster@demo.go.tz"
    # no catch-all in mof.go.tz
    assert tool.result("resolve", "whoever@mof.go.tz")[0] == "notfound"


def test_alias_and_list_reads(tool):
    res, v, m = tool.result("alias", "info@mof.go.tz")
    assert res == "found" and v["owner"] == "juma@mof.go.tz"
    assert len(m["target"]) == 2
    res, v, m = tool.result("list", "staff@mof.go.tz")
    assert res == "found" and v["policy"] == "members"
    assert v["owner"] == "asha@mof.go.tz" and len(m["member"]) == 2


def test_send_as(tool):
    assert tool.result("sendas", "juma@mof.go.tz", "Juma+x@MOF.go.tz")[0] == "yes"
    assert tool.result("sendas", "juma@mof.go.tz", "info@mof.go.tz")[0] == "yes"
    assert tool.result("sendas", "asha@mof.go.tz", "info@mof.go.tz")[0] == "no"
    assert tool.result("sendas", "asha@mof.go.tz", "juma@mof.go.tz")[0] == "no"
    assert tool.result("sendas", "asha@mof.go.tz", "staff@mof.go.tz")[0] == "yes"


def test_list_posting_policy(tool):
    assert tool.result("maypost", "team@mof.go.tz", "x@example.org")[0] == "yes"
    assert tool.result("maypost", "staff@mof.go.tz", "juma@mof.go.tz")[0] == "yes"
    assert tool.result("maypost", "staff@mof.go.tz", "neema@afya.go.tz")[0] == "yes"
    assert tool.result("maypost", "staff@mof.go.tz", "x@example.org")[0] == "no"
    assert tool.result("maypost", "gov@mof.go.tz", "anyone@tra.go.tz")[0] == "yes"
    assert tool.result("maypost", "gov@mof.go.tz", "x@example.org")[0] == "no"


# -- authentication -------------------------------------------------------------

def test_auth_right_password(tool):
    res, v, _ = tool.result("auth", "JUMA@mof.go.tz", stdin=PW["juma@mof.go.tz"] + "\n")
    assert res == "ok" and v["address"] == "juma@mof.go.tz"


def test_auth_wrong_and_unknown_look_alike(tool):
    wrong = tool.run("auth", "juma@mof.go.tz", stdin="not-the-password\n")
    unknown = tool.run("auth", "ghost@mof.go.tz", stdin="not-the-password\n")
    assert wrong.stdout == unknown.stdout == "result=refused\n"
    # Similar time: the median of 15 attempts each, in one process.
    def median_us(user):
        r = tool.run("repeat", 15, 0, "auth", user, stdin="not-the-password\n")
        lines = [l.split() for l in r.stdout.splitlines() if l[0].isdigit()]
        assert all(l[1] == "refused" for l in lines)
        return statistics.median(int(l[3]) for l in lines)
    mw, mu = median_us("juma@mof.go.tz"), median_us("ghost@mof.go.tz")
    assert max(mw, mu) < 3 * min(mw, mu) + 2000, (mw, mu)


def test_auth_refusals(tool):
    # empty password: refused before any bind
    assert tool.result("auth", "juma@mof.go.tz", stdin="\n")[0] == "refused"
    # suspended mailbox
    assert tool.result("auth", "susp@mof.go.tz",
                       stdin=PW["susp@mof.go.tz"] + "\n")[0] == "refused"
    # an alias cannot log in, nor a list, nor the service account
    assert tool.result("auth", "info@mof.go.tz", stdin="x\n")[0] == "refused"
    assert tool.result("auth", "gms-service", stdin="x\n")[0] == "refused"


# -- injection ---------------------------------------------------------------

INJECTIONS = [
    "*", "*@mof.go.tz", "juma*@mof.go.tz", "*)(mail=*@mof.go.tz",
    "juma)(objectClass=*@mof.go.tz", "juma@mof.go.tz)(|(mail=*",
    "ju\\2a@mof.go.tz", "juma\\@mof.go.tz", "(juma)@mof.go.tz",
    "j\u00fcm\u00e4@mof.go.tz", "juma@mof.go.tz*", "juma@*.go.tz",
    "juma@mof.go.tz,ou=people,o=gms", "mail=juma@mof.go.tz", " juma@mof.go.tz",
    "#juma@mof.go.tz", "juma@mof.go.tz ", "\u0000juma@mof.go.tz"[1:] + "\u00ff",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_finds_nothing(tool, value):
    assert tool.result("resolve", value)[0] == "notfound"
    assert tool.result("mailbox", value)[0] == "notfound"
    secret = PW["juma@mof.go.tz"]
    r = tool.run("auth", value, stdin=secret + "\n")
    assert r.stdout == "result=refused\n"
    assert secret not in r.stderr and secret not in r.stdout


@pytest.mark.parametrize("value", ["*", "mof*", "*)(gmsInstitutionId=*",
                                   "mof)(|(x=*", "m\u00f6f"])
def test_injection_institutions_and_domains(tool, value):
    assert tool.result("institution", value)[0] == "notfound"
    assert tool.result("domain", value)[0] == "notfound"
    assert tool.result("domain", value + ".go.tz")[0] == "notfound"
    res, v, _ = tool.result("institutions", "region=" + value)
    assert res == "ok" and int(v["count"]) == 0
    res, v, _ = tool.result("institutions", "country=" + value)
    assert int(v["count"]) == 0


def test_no_secret_in_logs(tool, ldap):
    """At debug level, with DIR tracing, no password and no bind credential
    ever reaches the log."""
    secret = PW["asha@mof.go.tz"]
    outs = [tool.run("auth", "asha@mof.go.tz", stdin=secret + "\n"),
            tool.run("auth", "asha@mof.go.tz", stdin=secret + "x\n"),
            tool.run("resolve", "staff@mof.go.tz")]
    with open(ldap.env["LDAP_SERVICE_PW_FILE"]) as f:
        service_pw = f.read().strip()
    for r in outs:
        assert secret not in r.stderr and secret not in r.stdout
        assert service_pw not in r.stderr and service_pw not in r.stdout


# -- ACLs ------------------------------------------------------------------------

def user_dn(addr):
    return "mail=%s,ou=people,o=gms" % addr


def test_acl_user_cannot_read_hashes(ldap):
    r = ldap.ldap("ldapsearch", "-LLL", "-b", user_dn("asha@mof.go.tz"),
                  "*", "userPassword", dn=user_dn("juma@mof.go.tz"),
                  password=PW["juma@mof.go.tz"])
    assert r.returncode == 0, r.stderr
    assert "mail: asha@mof.go.tz" in r.stdout     # the address book
    assert "userPassword" not in r.stdout
    # not even one's own hash
    r = ldap.ldap("ldapsearch", "-LLL", "-b", user_dn("juma@mof.go.tz"),
                  "userPassword", dn=user_dn("juma@mof.go.tz"),
                  password=PW["juma@mof.go.tz"])
    assert r.returncode == 0 and "userPassword" not in r.stdout


def test_acl_address_book_for_users_only(ldap):
    r = ldap.ldap("ldapsearch", "-LLL", "-b", "ou=people,o=gms", "(mail=*)",
                  "mail", dn=user_dn("juma@mof.go.tz"),
                  password=PW["juma@mof.go.tz"])
    assert r.stdout.count("mail: ") >= 4
    r = ldap.ldap("ldapsearch", "-LLL", "-b", "ou=people,o=gms", "(mail=*)")
    assert "mail: " not in r.stdout      # anonymous: nothing


def test_acl_user_cannot_read_routing(ldap):
    r = ldap.ldap("ldapsearch", "-LLL", "-b", "ou=aliases,o=gms", "(mail=*)",
                  "gmsTarget", dn=user_dn("asha@mof.go.tz"),
                  password=PW["asha@mof.go.tz"])
    assert r.returncode == 0 and "gmsTarget" not in r.stdout


def test_acl_service_reads_routing_not_hashes(ldap):
    svc = open(ldap.env["LDAP_SERVICE_PW_FILE"]).read().strip()
    r = ldap.ldap("ldapsearch", "-LLL", "-b", "o=gms", "(mail=info@mof.go.tz)",
                  "gmsTarget", dn=ldap.env["LDAP_SERVICE_DN"], password=svc)
    assert "gmsTarget: juma@mof.go.tz" in r.stdout
    r = ldap.ldap("ldapsearch", "-LLL", "-b", "ou=people,o=gms", "(mail=*)",
                  "userPassword", dn=ldap.env["LDAP_SERVICE_DN"], password=svc)
    assert r.returncode == 0 and "mail=" in r.stdout
    assert "userPassword" not in r.stdout
    # and it cannot write
    r = ldap.ldap("ldapmodify", dn=ldap.env["LDAP_SERVICE_DN"], password=svc,
                  input="dn: %s\nchangetype: modify\nreplace: gmsStatus\n"
                        "gmsStatus: suspended\n" % user_dn("juma@mof.go.tz"))
    assert r.returncode == 50, r.stderr      # insufficientAccessRights


def test_acl_user_cannot_change_anothers_password(ldap):
    r = ldap.ldap("ldapmodify", dn=user_dn("juma@mof.go.tz"),
                  password=PW["juma@mof.go.tz"],
                  input="dn: %s\nchangetype: modify\nreplace: userPassword\n"
                        "userPassword: hacked\n" % user_dn("asha@mof.go.tz"))
    assert r.returncode == 50, r.stderr


def test_user_changes_own_password(tool, ldap):
    addr = "neema@afya.go.tz"
    old, new = PW[addr], "Neema-New-Pw-1"
    res = tool.result("passwd", addr, stdin="wrong\n%s\n" % new)[0]
    assert res == "denied"
    res = tool.result("passwd", addr, stdin="%s\n%s\n" % (old, new))[0]
    assert res == "ok"
    assert tool.result("auth", addr, stdin=new + "\n")[0] == "ok"
    assert tool.result("auth", addr, stdin=old + "\n")[0] == "refused"
    assert stored_hash(ldap, addr).startswith("{SSHA512}")
    PW[addr] = new


def stored_hash(ldap, addr):
    """userPassword as stored, read with slapcat (not through the ACLs)."""
    r = subprocess.run(["/usr/sbin/slapcat", "-f",
                        os.path.join(ldap.dir, "slapd.conf"), "-a",
                        "(mail=%s)" % addr], capture_output=True, text=True,
                       timeout=30)
    text = r.stdout.replace("\n ", "")      # unfold LDIF lines
    for line in text.splitlines():
        if line.startswith("userPassword:: "):
            return base64.b64decode(line.split(" ", 1)[1]).decode()
        if line.startswith("userPassword: "):
            return line.split(" ", 1)[1]
    return ""


# -- writes (gmsadm) -----------------------------------------------------------------

def test_writes_as_admin(tool, ldap):
    A = dict(admin=True)
    # the read-only service DN cannot write
    assert tool.result("add-institution", "tcra-test", "agency", "X")[0] == "denied"
    assert tool.result("add-institution", "gms-lab", "agency",
                       "GMS Laboratory", "Maabara ya GMS", **A)[0] == "ok"
    assert tool.result("add-institution", "gms-lab", "agency", "Again", **A)[0] == "exists"
    assert tool.result("add-institution", "lab*", "agency", "Bad", **A)[0] == "invalid"
    assert tool.result("add-domain", "lab.go.tz", "no-such-inst", **A)[0] == "noent"
    assert tool.result("add-domain", "lab.go.tz", "gms-lab", **A)[0] == "ok"
    assert tool.result("domain", "lab.go.tz")[0] == "found"
    assert tool.result("add-mailbox", "Kim@lab.go.tz", "Kim Lee",
                       stdin="Kim-Pw-1\n", **A)[0] == "ok"
    assert stored_hash(ldap, "kim@lab.go.tz").startswith("{SSHA512}")
    assert tool.result("auth", "kim@lab.go.tz", stdin="Kim-Pw-1\n")[0] == "ok"
    assert tool.result("set-password", "kim@lab.go.tz", stdin="Kim-Pw-2\n", **A)[0] == "ok"
    assert tool.result("auth", "kim@lab.go.tz", stdin="Kim-Pw-1\n")[0] == "refused"
    assert tool.result("auth", "kim@lab.go.tz", stdin="Kim-Pw-2\n")[0] == "ok"
    assert tool.result("add-mailbox", "x@nowhere.go.tz", stdin="\n", **A)[0] == "noent"
    assert tool.result("add-alias", "help@lab.go.tz", "kim@lab.go.tz",
                       "kim@lab.go.tz", "out@example.org", **A)[0] == "ok"
    res, v, m = tool.result("resolve", "help@lab.go.tz")
    assert res == "found" and len(m["target"]) == 2
    assert tool.result("add-alias", "kim@lab.go.tz", "", "x@example.org", **A)[0] == "exists"
    assert tool.result("add-list", "all@lab.go.tz", "members", "kim@lab.go.tz",
                       **A)[0] == "ok"
    assert tool.result("member-add", "all@lab.go.tz", "juma@mof.go.tz", **A)[0] == "ok"
    assert tool.result("member-add", "all@lab.go.tz", "juma@mof.go.tz", **A)[0] == "exists"
    assert tool.result("maypost", "all@lab.go.tz", "juma@mof.go.tz")[0] == "yes"
    assert tool.result("member-remove", "all@lab.go.tz", "juma@mof.go.tz", **A)[0] == "ok"
    assert tool.result("maypost", "all@lab.go.tz", "juma@mof.go.tz")[0] == "no"
    assert tool.result("suspend", "kim@lab.go.tz", **A)[0] == "ok"
    assert tool.result("auth", "kim@lab.go.tz", stdin="Kim-Pw-2\n")[0] == "refused"
    assert tool.result("delete", "institution", "gms-lab", **A)[0] == "notempty"
    assert tool.result("delete", "domain", "lab.go.tz", **A)[0] == "notempty"
    for kind, key in (("list", "all@lab.go.tz"), ("alias", "help@lab.go.tz"),
                      ("mailbox", "kim@lab.go.tz"), ("domain", "lab.go.tz"),
                      ("institution", "gms-lab")):
        assert tool.result("delete", kind, key, **A)[0] == "ok", kind
    assert tool.result("delete", "mailbox", "kim@lab.go.tz", **A)[0] == "noent"
    assert tool.result("institution", "gms-lab")[0] == "notfound"
    assert tool.result("kinds")[1]["count"] == "359"


def test_listing_aliases_and_lists(tool):
    res, v, _ = tool.result("aliases", "mof.go.tz")
    out = tool.run("aliases", "mof.go.tz").stdout.splitlines()[2:]
    assert res == "ok" and out == ["ext@mof.go.tz", "info@mof.go.tz"]
    out = tool.run("lists", "MOF.go.tz").stdout.splitlines()[2:]
    assert out == ["gov@mof.go.tz", "self@mof.go.tz", "staff@mof.go.tz",
                   "team@mof.go.tz"]
    assert tool.result("lists", "afya.go.tz")[1]["count"] == "0"
    assert tool.result("aliases", "*")[1]["count"] == "0"


def test_open_as_user_is_bound_by_acls(tool):
    """directory_open_as: a mailbox user's handle reads what the ACLs give
    a user and may not write what is not theirs."""
    pw = PW["asha@mof.go.tz"]
    cmd = [tool.path, "-c", tool.conf, "-u", "asha@mof.go.tz"]
    def as_asha(*args, stdin=""):
        return subprocess.run(cmd + list(args), capture_output=True, text=True,
                              input=pw + "\n" + stdin, timeout=60).stdout
    assert as_asha("add-institution", "x-lab", "agency", "X") == "result=denied\n"
    assert as_asha("add-alias", "mine@mof.go.tz", "", "asha@mof.go.tz") == \
        "result=denied\n"
    # reads: a user sees domains and institutions (address book)
    assert as_asha("institution", "mof").startswith("result=found")
    cmd[-1] = "asha@mof.go.tz"
    wrong = subprocess.run(cmd + ["institution", "mof"], capture_output=True,
                           text=True, input="wrong-password\n", timeout=60)
    assert wrong.stdout == "result=tempfail\n"
    assert "wrong-password" not in wrong.stderr


def test_threads_share_a_small_pool(ldap, tmp_path):
    """8 threads, 2 pooled connections, no cache: every answer right."""
    bench = os.path.join(BUILD, "bench", "directory", "dir-bench")
    if not os.access(bench, os.X_OK):
        subprocess.run(["make", "-C", BUILD, "bench/directory/dir-bench"],
                       capture_output=True, timeout=300)
    if not os.access(bench, os.X_OK):
        pytest.skip("bench/directory/dir-bench is not built")
    conf = ldap.write_conf(str(tmp_path / "gms.conf"),
                           ["directory.pool_size = 2", "directory.cache_ttl = 0",
                            "directory.negative_ttl = 0"])
    addrs = ["juma@mof.go.tz", "asha@mof.go.tz", "staff@mof.go.tz",
             "info@mof.go.tz", "Juma+tag@MOF.go.tz", "x@demo.go.tz"] * 50
    (tmp_path / "a.txt").write_text("\n".join(addrs) + "\n")
    r = subprocess.run([bench, "-c", conf, "-f", str(tmp_path / "a.txt"),
                        "-t", "8", "-p", "1"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    kv = dict(w.split("=") for w in r.stdout.split())
    assert kv["lookups"] == "300" and kv["errors"] == "0", r.stdout
