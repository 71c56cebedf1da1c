"""test_directory_data.py - the directory's data files are consistent.

data/seed.ldif is what data/gen-seed.py generates (359 institutions, one
domain each, counted by kind); data/gms.ldif is what data/schema2ldif.py
makes of data/gms.schema, and it loads into a cn=config database.
"""
import os
import re
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(TOP, "data")
PY = "/usr/bin/python3"


def test_seed_is_generated():
    out = subprocess.run([PY, os.path.join(DATA, "gen-seed.py")],
                         capture_output=True, text=True, check=True).stdout
    with open(os.path.join(DATA, "seed.ldif")) as f:
        assert f.read() == out


def test_seed_counts():
    with open(os.path.join(DATA, "seed.ldif")) as f:
        text = f.read()
    kinds = re.findall(r"^gmsInstitutionKind: (\w+)$", text, re.M)
    assert len(kinds) == 359
    counts = {k: kinds.count(k) for k in set(kinds)}
    assert counts == {"ministry": 26, "department": 20, "agency": 40,
                      "region": 26, "hospital": 28, "council": 184,
                      "embassy": 35}
    domains = re.findall(r"^dn: gmsDomainName=([^,]+),", text, re.M)
    assert len(domains) == len(set(domains)) == 359
    assert all(d.endswith(".go.tz") for d in domains)
    missions = re.findall(r"^gmsDomainName: (\S+)$", text, re.M)
    assert sum(1 for d in set(missions) if d.endswith(".nje.go.tz")) == 35
    # every mission abroad has a country and a city
    for block in text.split("\n\n"):
        if "gmsInstitutionKind: embassy" in block:
            assert "gmsCountry: " in block and "gmsCity: " in block


def test_cn_config_schema_matches():
    out = subprocess.run([PY, os.path.join(DATA, "schema2ldif.py"),
                          os.path.join(DATA, "gms.schema")],
                         capture_output=True, text=True, check=True).stdout
    with open(os.path.join(DATA, "gms.ldif")) as f:
        assert f.read() == out


def test_cn_config_schema_loads(tmp_path):
    ldif = ["dn: cn=config", "objectClass: olcGlobal", "cn: config", "",
            "dn: cn=schema,cn=config", "objectClass: olcSchemaConfig",
            "cn: schema", ""]
    parts = ["\n".join(ldif)]
    for name in ("core", "cosine", "inetorgperson"):
        with open("/etc/ldap/schema/%s.ldif" % name) as f:
            parts.append(f.read())
    with open(os.path.join(DATA, "gms.ldif")) as f:
        parts.append(f.read())
    src = tmp_path / "config.ldif"
    src.write_text("\n".join(parts))
    confdir = tmp_path / "slapd.d"
    confdir.mkdir()
    r = subprocess.run(["/usr/sbin/slapadd", "-n0", "-F", str(confdir), "-l",
                        str(src)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["/usr/sbin/slaptest", "-F", str(confdir)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (confdir / "cn=config" / "cn=schema" / "cn={3}gms.ldif").exists()
