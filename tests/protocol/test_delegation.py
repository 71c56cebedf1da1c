"""test_delegation.py - delegated administration, enforced by slapd's ACLs.

A real slapd (scripts/gms-slapd: schema, seed, data/slapd.conf.in ACLs).
boss@mof.go.tz is made a domain administrator of the Ministry of Finance
(institution mof, domain mof.go.tz) with `gms-slapd grant-admin`; then the
OpenLDAP client tools (ldapadd, ldapmodify, ldapdelete, ldapsearch,
ldapmodrdn, ldapcompare) bind as the users themselves and try things.
Every refusal must be slapd's insufficientAccessRights (50), and the data
must be unchanged afterwards (read back as the directory's admin DN).
When gmsadm is built (GMS_BUILD), `gmsadm --as` is driven end to end.
"""
import base64
import os
import pwd
import stat
import subprocess

import pytest

from gmsfix.slapd import Slapd

BUILD = os.environ.get("GMS_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
BASE = "o=gms"
INSUFFICIENT = 50

PW = {"boss@mof.go.tz": "Boss-Pw-11!", "juma@mof.go.tz": "Juma-Pw-22?",
      "tboss@tra.go.tz": "Tboss-Pw-33#", "victim@tra.go.tz": "Victim-Pw-44$",
      "gone@mof.go.tz": "Gone-Pw-55%"}
BOSS = "boss@mof.go.tz"      # administrator of mof (mof.go.tz, mofx.go.tz)
TBOSS = "tboss@tra.go.tz"    # administrator of tra (tra.go.tz)
JUMA = "juma@mof.go.tz"      # an ordinary user of mof
VICTIM = "victim@tra.go.tz"  # an ordinary user of tra


def mdn(addr, ou="people"):
    return "mail=%s,ou=%s,%s" % (addr, ou, BASE)


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    s = Slapd(str(tmp_path_factory.mktemp("deleg") / "slapd"))
    try:
        s.start()
        for addr, pw in PW.items():
            s.add_mailbox(addr, pw, 1000000)
        # a second domain of mof: an administrator has every domain of
        # their institution
        s.add_domain("mofx.go.tz", "mof")
        s.add_alias("info@tra.go.tz", VICTIM)
        s.add_list("all@tra.go.tz", "members", VICTIM)
        s.run("grant-admin", s.dir, BOSS)
        s.run("grant-admin", s.dir, TBOSS)
        s.run("grant-admin", s.dir, "gone@mof.go.tz")
        s.run("revoke-admin", s.dir, "gone@mof.go.tz")
        yield s
    finally:
        s.stop()


def as_user(ldap, addr, tool, *args, input=None, password=None):
    return ldap.ldap(tool, *args, dn=mdn(addr),
                     password=password or PW[addr], input=input)


def as_admin(ldap, tool, *args, input=None):
    e = ldap.env
    return ldap.ldap(tool, *args, dn=e["LDAP_ADMIN_DN"],
                     password=e["LDAP_ADMIN_PW"], input=input)


def entry(ldap, dn, *attrs):
    """The entry dn read as the admin DN: {attr_lower: [values]} or None."""
    r = as_admin(ldap, "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", dn,
                 "-s", "base", "(objectClass=*)", *(attrs or ("*",)))
    if r.returncode == 32:
        return None
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("dn:") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        if v.startswith(": "):
            v = base64.b64decode(v[2:]).decode()
        else:
            v = v[1:]
        out.setdefault(k.lower(), []).append(v)
    return out


def mailbox_ldif(addr, *extra, inst="mof"):
    local = addr.split("@")[0]
    lines = ["dn: " + mdn(addr), "objectClass: top",
             "objectClass: inetOrgPerson", "objectClass: gmsMailbox",
             "mail: " + addr, "cn: " + local, "sn: " + local,
             "gmsStatus: active", "gmsQuotaBytes: 5000"]
    if inst:
        lines.append("gmsInstitution: " + inst)
    return "\n".join(lines + list(extra)) + "\n"


def ssha512(pw):
    import hashlib
    salt = os.urandom(16)
    return "{SSHA512}" + base64.b64encode(
        hashlib.sha512(pw.encode() + salt).digest() + salt).decode()


def can_bind(ldap, addr, pw):
    r = ldap.ldap("ldapwhoami", dn=mdn(addr), password=pw)
    return r.returncode == 0


def refused(r):
    return r.returncode == INSUFFICIENT


# -- the grant ---------------------------------------------------------------

def test_grant_admin_lists_the_mailbox_on_its_institution(ldap):
    assert entry(ldap, "gmsInstitutionId=mof,ou=institutions," + BASE,
                 "gmsAdmin")["gmsadmin"] == [mdn(BOSS)]
    assert entry(ldap, "gmsInstitutionId=tra,ou=institutions," + BASE,
                 "gmsAdmin")["gmsadmin"] == [mdn(TBOSS)]
    # granting twice changes nothing; an unknown mailbox is refused
    ldap.run("grant-admin", ldap.dir, BOSS)
    assert entry(ldap, "gmsInstitutionId=mof,ou=institutions," + BASE,
                 "gmsAdmin")["gmsadmin"] == [mdn(BOSS)]
    r = ldap.run("grant-admin", ldap.dir, "nobody@mof.go.tz", check=False)
    assert r.returncode != 0 and "no such mailbox" in r.stderr


def test_who_administers_is_not_public(ldap):
    # an ordinary user of the same institution does not see gmsAdmin ...
    r = as_user(ldap, JUMA, "ldapsearch", "-LLL", "-b",
                "gmsInstitutionId=mof,ou=institutions," + BASE, "-s", "base",
                "(objectClass=*)", "gmsAdmin", "gmsNameEn")
    assert r.returncode == 0 and "gmsNameEn" in r.stdout
    assert "gmsAdmin" not in r.stdout
    # ... the administrator finds their own institution by it
    r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b",
                "ou=institutions," + BASE, "(gmsAdmin=%s)" % mdn(BOSS),
                "gmsInstitutionId")
    assert r.returncode == 0, r.stderr
    assert "gmsInstitutionId: mof" in r.stdout and r.stdout.count("dn:") == 1


# -- an administrator in their own domains -----------------------------------

def test_admin_adds_and_deletes_a_mailbox_in_own_domain(ldap):
    new = "new1@mof.go.tz"
    r = as_user(ldap, BOSS, "ldapadd", input=mailbox_ldif(
        new, "userPassword: " + ssha512("New1-Pw-66&")))
    assert r.returncode == 0, r.stderr
    e = entry(ldap, mdn(new))
    assert e["gmsinstitution"] == ["mof"] and e["gmsquotabytes"] == ["5000"]
    assert can_bind(ldap, new, "New1-Pw-66&")
    r = as_user(ldap, BOSS, "ldapdelete", mdn(new))
    assert r.returncode == 0, r.stderr
    assert entry(ldap, mdn(new)) is None


def test_admin_works_in_every_domain_of_the_institution(ldap):
    new = "x1@mofx.go.tz"
    r = as_user(ldap, BOSS, "ldapadd", input=mailbox_ldif(new))
    assert r.returncode == 0, r.stderr
    assert as_user(ldap, BOSS, "ldapdelete", mdn(new)).returncode == 0


def test_admin_modifies_a_mailbox_like_gmsadm_does(ldap):
    """Replace every field, remove an optional one (an empty replace), as
    directory_mailbox_modify() does; then suspend and resume."""
    r = as_user(ldap, BOSS, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nreplace: cn\ncn: Juma Hamisi\n-\n"
        "replace: sn\nsn: Hamisi\n-\nreplace: displayName\n"
        "displayName: Juma Hamisi\n-\nreplace: gmsInstitution\n"
        "gmsInstitution: mof\n-\nreplace: gmsQuotaBytes\n"
        "gmsQuotaBytes: 2000000\n-\nreplace: gmsQuotaMessages\n"
        "gmsQuotaMessages: 0\n-\nreplace: gmsStatus\ngmsStatus: suspended\n"
        "-\nreplace: gmsHomeServer\n-\n" % mdn(JUMA)))
    assert r.returncode == 0, r.stderr
    e = entry(ldap, mdn(JUMA))
    assert e["displayname"] == ["Juma Hamisi"]
    assert e["gmsquotabytes"] == ["2000000"] and e["gmsstatus"] == ["suspended"]
    r = as_user(ldap, BOSS, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nreplace: gmsStatus\ngmsStatus: active\n"
        % mdn(JUMA)))
    assert r.returncode == 0, r.stderr
    # and reads what it manages (routing and account data)
    r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b", mdn(JUMA), "-s",
                "base", "(objectClass=*)", "gmsQuotaBytes", "gmsStatus")
    assert "gmsQuotaBytes: 2000000" in r.stdout
    assert "gmsStatus: active" in r.stdout


def test_admin_sets_a_password_but_cannot_read_hashes(ldap):
    u = "pw1@mof.go.tz"
    assert as_user(ldap, BOSS, "ldapadd", input=mailbox_ldif(u)).returncode == 0
    try:
        r = as_user(ldap, BOSS, "ldapmodify", input=(
            "dn: %s\nchangetype: modify\nreplace: userPassword\n"
            "userPassword: %s\n" % (mdn(u), ssha512("Pw1-Secret-77*"))))
        assert r.returncode == 0, r.stderr
        assert can_bind(ldap, u, "Pw1-Secret-77*")
        # the password extended operation too
        r = as_user(ldap, BOSS, "ldappasswd", "-s", "Pw1-Other-88(", mdn(u))
        assert r.returncode == 0, r.stderr
        assert can_bind(ldap, u, "Pw1-Other-88(")
        assert not can_bind(ldap, u, "Pw1-Secret-77*")
        # the hash is never shown to the administrator, nor comparable
        for who in (u, JUMA, BOSS):
            r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b", mdn(who),
                        "-s", "base", "(objectClass=*)", "*", "userPassword")
            assert r.returncode == 0, r.stderr
            assert "userPassword" not in r.stdout and "SSHA" not in r.stdout
        r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b", "ou=people," + BASE,
                    "(userPassword=*)", "mail")
        assert "dn:" not in r.stdout
        r = as_user(ldap, BOSS, "ldapcompare", mdn(JUMA),
                    "userPassword:" + PW[JUMA])
        assert r.returncode == INSUFFICIENT, (r.returncode, r.stdout)
    finally:
        as_admin(ldap, "ldapdelete", mdn(u))


def test_admin_manages_aliases_and_lists(ldap):
    alias, lst = "help@mof.go.tz", "board@mof.go.tz"
    r = as_user(ldap, BOSS, "ldapadd", input=(
        "dn: %s\nobjectClass: top\nobjectClass: gmsAlias\nmail: %s\n"
        "gmsTarget: %s\ngmsTarget: someone@example.org\ngmsOwner: %s\n"
        % (mdn(alias, "aliases"), alias, JUMA, BOSS)))
    assert r.returncode == 0, r.stderr
    r = as_user(ldap, BOSS, "ldapadd", input=(
        "dn: %s\nobjectClass: top\nobjectClass: gmsList\nmail: %s\ncn: Board\n"
        "gmsPostPolicy: members\ngmsMember: %s\n" % (mdn(lst, "lists"), lst, JUMA)))
    assert r.returncode == 0, r.stderr
    r = as_user(ldap, BOSS, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nadd: gmsMember\ngmsMember: %s\n-\n"
        "delete: gmsMember\ngmsMember: %s\n" % (mdn(lst, "lists"), BOSS, JUMA)))
    assert r.returncode == 0, r.stderr
    assert entry(ldap, mdn(lst, "lists"))["gmsmember"] == [BOSS]
    for dn in (mdn(alias, "aliases"), mdn(lst, "lists")):
        assert as_user(ldap, BOSS, "ldapdelete", dn).returncode == 0
        assert entry(ldap, dn) is None


# -- another institution's domains -------------------------------------------

def test_admin_cannot_add_in_another_institutions_domain(ldap):
    for addr, ou in (("new2@tra.go.tz", "people"), ("x@tra.go.tz", "aliases")):
        if ou == "people":
            ldif = mailbox_ldif(addr, inst="tra")
        else:
            ldif = ("dn: %s\nobjectClass: top\nobjectClass: gmsAlias\nmail: %s\n"
                    "gmsTarget: %s\n" % (mdn(addr, ou), addr, BOSS))
        r = as_user(ldap, BOSS, "ldapadd", input=ldif)
        assert refused(r), (r.returncode, r.stderr)
        assert "Insufficient access" in r.stderr
        assert entry(ldap, mdn(addr, ou)) is None


def test_admin_cannot_delete_or_change_another_institutions_entries(ldap):
    before = entry(ldap, mdn(VICTIM))
    attempts = [
        ("ldapdelete", mdn(VICTIM)),
        ("ldapdelete", mdn("info@tra.go.tz", "aliases")),
        ("ldapdelete", mdn("all@tra.go.tz", "lists")),
    ]
    for tool, dn in attempts:
        r = as_user(ldap, BOSS, tool, dn)
        assert refused(r), (dn, r.returncode, r.stderr)
    for change in ("replace: gmsQuotaBytes\ngmsQuotaBytes: 1\n",
                   "replace: gmsStatus\ngmsStatus: suspended\n",
                   "replace: cn\ncn: Pwned\n",
                   "replace: userPassword\nuserPassword: %s\n" % ssha512("x"),
                   "add: mail\nmail: stolen@mof.go.tz\n"):
        r = as_user(ldap, BOSS, "ldapmodify", input="dn: %s\nchangetype: modify\n%s"
                    % (mdn(VICTIM), change))
        assert refused(r), (change, r.returncode, r.stderr)
    r = as_user(ldap, BOSS, "ldappasswd", "-s", "Hijack-99)", mdn(VICTIM))
    # (ldappasswd exits 1 and prints the result code)
    assert r.returncode != 0 and "Insufficient access (50)" in r.stdout, r
    r = as_user(ldap, BOSS, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nadd: gmsTarget\ngmsTarget: %s\n"
        % (mdn("info@tra.go.tz", "aliases"), BOSS)))
    assert refused(r)
    assert entry(ldap, mdn(VICTIM)) == before
    assert can_bind(ldap, VICTIM, PW[VICTIM])
    assert entry(ldap, mdn("info@tra.go.tz", "aliases"))["gmstarget"] == [VICTIM]
    # nor read their routing data
    r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b", mdn(VICTIM), "-s",
                "base", "(objectClass=*)", "gmsQuotaBytes", "cn")
    assert "cn: victim" in r.stdout and "gmsQuotaBytes" not in r.stdout


def test_the_other_administrator_is_bound_the_same_way(ldap):
    r = as_user(ldap, TBOSS, "ldapdelete", mdn(JUMA))
    assert refused(r)
    r = as_user(ldap, TBOSS, "ldapadd", input=mailbox_ldif("t9@tra.go.tz", inst="tra"))
    assert r.returncode == 0, r.stderr
    r = as_user(ldap, BOSS, "ldapdelete", mdn("t9@tra.go.tz"))
    assert refused(r)
    assert as_user(ldap, TBOSS, "ldapdelete", mdn("t9@tra.go.tz")).returncode == 0


def test_no_smuggling_into_another_institution(ldap):
    """An entry in one's own domain cannot carry what belongs to others."""
    cases = [
        # an address of another institution's domain on an own entry
        mailbox_ldif("s1@mof.go.tz", "mail: ceo@tra.go.tz"),
        # another institution named as the owner
        mailbox_ldif("s2@mof.go.tz", inst="tra"),
        # an entry that poses as a domain or may hold anything
        "dn: %s\nobjectClass: top\nobjectClass: gmsDomain\n"
        "objectClass: extensibleObject\nmail: s3@mof.go.tz\n"
        "gmsDomainName: tra.go.tz\ngmsInstitution: mof\n" % mdn("s3@mof.go.tz"),
        # an institution's administrator list on an own entry
        "dn: %s\nobjectClass: top\nobjectClass: gmsAlias\n"
        "objectClass: extensibleObject\nmail: s4@mof.go.tz\ngmsTarget: %s\n"
        "gmsAdmin: %s\n" % (mdn("s4@mof.go.tz", "aliases"), BOSS, mdn(BOSS)),
    ]
    for ldif in cases:
        r = as_user(ldap, BOSS, "ldapadd", input=ldif)
        assert refused(r), (ldif, r.returncode, r.stderr)
        dn = ldif.split("\n", 1)[0][4:]
        assert entry(ldap, dn) is None
    # set one's own mailbox's institution to another
    r = as_user(ldap, BOSS, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nreplace: gmsInstitution\n"
        "gmsInstitution: tra\n" % mdn(JUMA)))
    assert refused(r)
    assert entry(ldap, mdn(JUMA), "gmsInstitution")["gmsinstitution"] == ["mof"]
    # move an own mailbox into another institution's domain
    r = as_user(ldap, BOSS, "ldapmodrdn", "-r", mdn(JUMA), "mail=juma@tra.go.tz")
    assert refused(r), (r.returncode, r.stderr)
    assert entry(ldap, mdn(JUMA)) is not None
    assert entry(ldap, mdn("juma@tra.go.tz")) is None


def test_admin_cannot_change_ownership_institutions_or_system(ldap):
    inst_mof = "gmsInstitutionId=mof,ou=institutions," + BASE
    changes = [
        # domain ownership, either way
        ("gmsDomainName=tra.go.tz,ou=domains," + BASE,
         "replace: gmsInstitution\ngmsInstitution: mof\n"),
        ("gmsDomainName=mof.go.tz,ou=domains," + BASE,
         "replace: gmsInstitution\ngmsInstitution: tra\n"),
        ("gmsDomainName=mof.go.tz,ou=domains," + BASE,
         "replace: gmsCatchAll\ngmsCatchAll: boss@mof.go.tz\n"),
        # institutions: their own included, and who administers it
        (inst_mof, "replace: gmsNameEn\ngmsNameEn: Pwned\n"),
        (inst_mof, "add: gmsAdmin\ngmsAdmin: %s\n" % mdn(JUMA)),
        ("gmsInstitutionId=tra,ou=institutions," + BASE,
         "add: gmsAdmin\ngmsAdmin: %s\n" % mdn(BOSS)),
        # the system entries
        (ldap.env["LDAP_SERVICE_DN"], "replace: description\ndescription: x\n"),
        (ldap.env["LDAP_ADMIN_DN"], "replace: userPassword\nuserPassword: x\n"),
    ]
    for dn, change in changes:
        r = as_user(ldap, BOSS, "ldapmodify",
                    input="dn: %s\nchangetype: modify\n%s" % (dn, change))
        assert refused(r), (dn, change, r.returncode, r.stderr)
    adds = [
        "dn: gmsDomainName=evil.go.tz,ou=domains,%s\nobjectClass: top\n"
        "objectClass: gmsDomain\ngmsDomainName: evil.go.tz\n"
        "gmsInstitution: mof\n" % BASE,
        "dn: gmsInstitutionId=evil,ou=institutions,%s\nobjectClass: top\n"
        "objectClass: gmsInstitution\ngmsInstitutionId: evil\n"
        "gmsInstitutionKind: agency\ngmsNameEn: Evil\n" % BASE,
        "dn: cn=evil,ou=system,%s\nobjectClass: organizationalRole\ncn: evil\n"
        % BASE,
    ]
    for ldif in adds:
        r = as_user(ldap, BOSS, "ldapadd", input=ldif)
        assert refused(r), (ldif, r.returncode, r.stderr)
    for dn in ("gmsDomainName=mofx.go.tz,ou=domains," + BASE, inst_mof):
        assert refused(as_user(ldap, BOSS, "ldapdelete", dn))
    assert entry(ldap, "gmsDomainName=tra.go.tz,ou=domains," + BASE,
                 "gmsInstitution")["gmsinstitution"] == ["tra"]
    assert entry(ldap, inst_mof, "gmsAdmin")["gmsadmin"] == [mdn(BOSS)]
    assert entry(ldap, "gmsDomainName=evil.go.tz,ou=domains," + BASE) is None
    # the domain's routing data: the administrator reads it
    r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b",
                "gmsDomainName=mof.go.tz,ou=domains," + BASE, "-s", "base",
                "(objectClass=*)", "gmsDkimSelector")
    assert "gmsDkimSelector: gms2026" in r.stdout
    r = as_user(ldap, BOSS, "ldapsearch", "-LLL", "-b",
                "gmsDomainName=tra.go.tz,ou=domains," + BASE, "-s", "base",
                "(objectClass=*)", "gmsDkimSelector")
    assert "gmsDkimSelector" not in r.stdout


# -- ordinary users, revoked administrators, the service DN ------------------

def test_ordinary_user_cannot_add_or_delete(ldap):
    r = as_user(ldap, JUMA, "ldapadd", input=mailbox_ldif("u1@mof.go.tz"))
    assert refused(r), (r.returncode, r.stderr)
    assert entry(ldap, mdn("u1@mof.go.tz")) is None
    assert refused(as_user(ldap, JUMA, "ldapdelete", mdn(BOSS)))
    r = as_user(ldap, JUMA, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nreplace: gmsQuotaBytes\ngmsQuotaBytes: 0\n"
        % mdn(JUMA)))
    assert refused(r)
    r = as_user(ldap, JUMA, "ldapmodify", input=(
        "dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n"
        % (mdn(BOSS), ssha512("x"))))
    assert refused(r)
    assert can_bind(ldap, BOSS, PW[BOSS])


def test_ordinary_user_keeps_own_password_right(ldap):
    new = "Juma-New-Pw-12@"
    r = as_user(ldap, JUMA, "ldappasswd", "-a", PW[JUMA], "-s", new)
    assert r.returncode == 0, r.stderr
    try:
        assert can_bind(ldap, JUMA, new)
        r = as_user(ldap, JUMA, "ldapsearch", "-LLL", "-b", mdn(JUMA), "-s",
                    "base", "(objectClass=*)", "userPassword", "gmsQuotaBytes",
                    password=new)
        assert r.returncode == 0 and "userPassword" not in r.stdout
        assert "gmsQuotaBytes" in r.stdout     # a user reads their own
    finally:
        r = as_user(ldap, JUMA, "ldappasswd", "-a", new, "-s", PW[JUMA],
                    password=new)
        assert r.returncode == 0, r.stderr


def test_revoked_administrator_is_an_ordinary_user(ldap):
    r = as_user(ldap, "gone@mof.go.tz", "ldapadd",
                input=mailbox_ldif("g1@mof.go.tz"))
    assert refused(r)
    ldap.run("grant-admin", ldap.dir, "gone@mof.go.tz")
    try:
        r = as_user(ldap, "gone@mof.go.tz", "ldapadd",
                    input=mailbox_ldif("g1@mof.go.tz"))
        assert r.returncode == 0, r.stderr
        assert as_user(ldap, "gone@mof.go.tz", "ldapdelete",
                       mdn("g1@mof.go.tz")).returncode == 0
    finally:
        ldap.run("revoke-admin", ldap.dir, "gone@mof.go.tz")
    r = as_user(ldap, "gone@mof.go.tz", "ldapadd",
                input=mailbox_ldif("g2@mof.go.tz"))
    assert refused(r)


def test_service_dn_stays_read_only_without_hashes(ldap):
    e = ldap.env
    with open(e["LDAP_SERVICE_PW_FILE"]) as f:
        svc = f.read().strip()
    r = ldap.ldap("ldapsearch", "-LLL", "-b", mdn(JUMA), "-s", "base",
                  "(objectClass=*)", "*", "userPassword",
                  dn=e["LDAP_SERVICE_DN"], password=svc)
    assert r.returncode == 0 and "gmsQuotaBytes" in r.stdout
    assert "userPassword" not in r.stdout
    r = ldap.ldap("ldapadd", dn=e["LDAP_SERVICE_DN"], password=svc,
                  input=mailbox_ldif("svc1@mof.go.tz"))
    assert refused(r)
    r = ldap.ldap("ldapmodify", dn=e["LDAP_SERVICE_DN"], password=svc,
                  input="dn: gmsInstitutionId=mof,ou=institutions,%s\n"
                        "changetype: modify\nadd: gmsAdmin\ngmsAdmin: %s\n"
                        % (BASE, e["LDAP_SERVICE_DN"]))
    assert refused(r)


# -- gmsadm --as, end to end -------------------------------------------------

def gmsadm_path():
    p = os.path.join(BUILD, "admin", "gmsadm")
    return p if os.access(p, os.X_OK) else None


def open_for_gms(path):
    """gmsadm drops to the gms user when run as root: let it reach the
    folders pytest made (search permission, o+x) and own its files."""
    if os.geteuid() != 0:
        return
    p = os.path.abspath(path)
    while p not in ("/", "/tmp") and p.startswith("/tmp/"):
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = os.path.dirname(p)


@pytest.fixture(scope="module")
def gmsadm(ldap, tmp_path_factory):
    exe = gmsadm_path()
    if exe is None:
        pytest.skip("gmsadm is not built in %s" % BUILD)
    work = tmp_path_factory.mktemp("gmsadm")
    conf = str(work / "gms.conf")
    ldap.write_conf(conf, ["log.level = warn"])
    try:
        gms = pwd.getpwnam("gms")
    except KeyError:
        gms = None

    def secret(name, text):
        p = str(work / name)
        with open(p, "w") as f:
            f.write(text + "\n")
        os.chmod(p, 0o600)
        if gms is not None and os.geteuid() == 0:
            os.chown(p, gms.pw_uid, gms.pw_gid)
        return p

    for p in (conf,):
        os.chmod(p, 0o644)
    open_for_gms(str(work))
    open_for_gms(ldap.dir)

    def run(*args, input=None):
        return subprocess.run([exe, "-c", conf] + [str(a) for a in args],
                              input=input, capture_output=True, text=True,
                              timeout=120)
    run.secret = secret
    return run


EX_OK, EX_NOPERM = 0, 77


def test_gmsadm_as_domain_admin(gmsadm, ldap):
    pw = gmsadm.secret("boss.pw", PW[BOSS])
    newpw = gmsadm.secret("new.pw", "Gmsadm-New-Pw-31")
    new = "viagmsadm@mof.go.tz"
    r = gmsadm("--as", BOSS, "--as-password-file", pw, "mailbox", "add", new,
               "--password-file", newpw)
    assert r.returncode == EX_OK, r.stdout + r.stderr
    assert entry(ldap, mdn(new)) is not None
    assert can_bind(ldap, new, "Gmsadm-New-Pw-31")
    r = gmsadm("--as", BOSS, "--as-password-file", pw, "mailbox", "delete", new)
    assert r.returncode == EX_OK, r.stdout + r.stderr
    assert entry(ldap, mdn(new)) is None
    # another institution's domain: refused, and nothing changed
    r = gmsadm("--as", BOSS, "--as-password-file", pw, "mailbox", "add",
               "viagmsadm@tra.go.tz", "--no-password")
    assert r.returncode == EX_NOPERM, r.stdout + r.stderr
    assert entry(ldap, mdn("viagmsadm@tra.go.tz")) is None


def test_gmsadm_as_ordinary_user_is_refused_by_slapd(gmsadm, ldap):
    """gmsadm's own scope check passes (juma's institution owns mof.go.tz);
    slapd refuses because juma is not an administrator."""
    pw = gmsadm.secret("juma.pw", PW[JUMA])
    r = gmsadm("--as", JUMA, "--as-password-file", pw, "mailbox", "add",
               "byjuma@mof.go.tz", "--no-password")
    assert r.returncode == EX_NOPERM, r.stdout + r.stderr
    assert "refused" in r.stderr, r.stderr
    assert entry(ldap, mdn("byjuma@mof.go.tz")) is None
