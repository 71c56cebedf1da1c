"""The manual pages: mandoc -Tlint is silent, every page has a SECURITY
section, gms.conf(5) documents every configuration key that the code
registers or reads (and nothing else), and the generated key list is up to
date with the sources (man/gen-gms-conf.py --check).

Needs no daemon: the sources and, when built, gmsadm (its `config
defaults` is what the programs register at run time).
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAN = os.path.join(TOP, "man")
PAGES = ["gms.conf.5", "gms-schema.5", "gms-smtpd.8", "gms-imapd.8", "gmsadm.8"]
OUR = {"gms.conf(5)", "gms-schema(5)", "gms-smtpd(8)", "gms-imapd(8)", "gmsadm(8)"}
SOURCE_FOLDERS = ["lib", "spool", "directory", "smtpd", "relay", "imapd", "admin"]


def load_gen():
    spec = importlib.util.spec_from_file_location(
        "gen_gms_conf", os.path.join(MAN, "gen-gms-conf.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def documented_keys():
    text = open(os.path.join(MAN, "gms.conf.5")).read()
    return set(re.findall(r"^\.It Cm ([a-z0-9_]+\.[a-z0-9_]+) No =", text, re.M))


def keys_read_by_code():
    """Literal keys passed to conf_str/conf_int/conf_bool in the sources."""
    found = {}
    pat = re.compile(r'conf_(?:str|int|bool)\s*\([^,()]+(?:\([^()]*\))?,\s*"([a-z0-9_]+\.[a-z0-9_]+)"')
    for folder in SOURCE_FOLDERS:
        d = os.path.join(TOP, folder)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".c"):
                src = open(os.path.join(d, name), errors="replace").read()
                for k in pat.findall(src):
                    found.setdefault(k, "%s/%s" % (folder, name))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_page_exists_with_security_section(page):
    text = open(os.path.join(MAN, page)).read()
    assert re.search(r"^\.Sh SECURITY$", text, re.M), page + " has no SECURITY section"
    assert re.search(r"^\.Sh NAME$", text, re.M)


def test_mandoc_lint_is_silent():
    if shutil.which("mandoc") is None:
        pytest.fail("mandoc is not installed: apt-get install mandoc (scripts/deps)")
    r = subprocess.run(["mandoc", "-Tlint"] + [os.path.join(MAN, p) for p in PAGES],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    bad = []
    for line in r.stdout.splitlines():
        # Cross references among our own pages cannot be found in the
        # machine's man database before "make install"; mandoc also notes
        # when that database is older than the installed pages.  Both are
        # about the machine, not the pages.
        m = re.search(r"referenced manual not found: Xr (\S+) (\d)", line)
        if m and "%s(%s)" % (m.group(1), m.group(2)) in OUR:
            continue
        if "outdated mandoc.db" in line:
            continue
        bad.append(line)
    assert bad == [], "mandoc -Tlint:\n" + "\n".join(bad)


def test_cross_references_to_our_pages_exist():
    for page in PAGES:
        text = open(os.path.join(MAN, page)).read()
        for name, sec in re.findall(r"^\.Xr (gms\S*) (\d)", text, re.M):
            assert os.path.exists(os.path.join(MAN, "%s.%s" % (name, sec))), \
                "%s refers to %s(%s), which man/ lacks" % (page, name, sec)


def test_every_registered_key_is_documented():
    gen = load_gen()
    code = set(gen.tables())
    doc = documented_keys()
    assert len(code) > 40, "the table parser found too few keys: %d" % len(code)
    missing = sorted(code - doc)
    extra = sorted(doc - code)
    assert not missing, "keys in the code but not in gms.conf(5): %s" % missing
    assert not extra, "keys in gms.conf(5) that no table defines: %s" % extra


def test_every_key_read_by_code_is_documented():
    doc = documented_keys()
    read = keys_read_by_code()
    assert read, "found no conf_str/conf_int/conf_bool call with a literal key"
    missing = sorted("%s (%s)" % (k, src) for k, src in read.items() if k not in doc)
    assert not missing, "keys read by the code but not in gms.conf(5): %s" % missing


def test_generated_key_list_is_current():
    r = subprocess.run(["/usr/bin/python3", os.path.join(MAN, "gen-gms-conf.py"),
                        "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert r.returncode == 0, r.stdout


def test_defaults_in_page_match_the_code():
    gen = load_gen()
    text = open(os.path.join(MAN, "gms.conf.5")).read()
    for key, k in gen.tables().items():
        m = re.search(r"^\.It Cm %s No = Ar (\w+)\n(.*?)(?=^\.It |^\.El)" % re.escape(key),
                      text, re.M | re.S)
        assert m, key
        assert m.group(1) == k["type"], key
        if k["default"]:
            assert ".Ql %s ." % k["default"].replace("\\", "\\e") in m.group(2), key
        else:
            assert "Default: empty." in m.group(2), key


def test_gmsadm_config_defaults_matches_page():
    gmsadm = os.path.join(os.environ.get("GMS_BUILD") or os.path.join(TOP, "build"),
                          "admin", "gmsadm")
    if not os.access(gmsadm, os.X_OK):
        pytest.skip("gmsadm is not built")
    r = subprocess.run([gmsadm, "--json", "config", "defaults"], stdout=subprocess.PIPE,
                       text=True)
    assert r.returncode == 0
    keys = {row["key"] for row in json.loads(r.stdout)}
    assert "spool.dir" in keys and "directory.uri" in keys and "log.level" in keys
    missing = sorted(keys - documented_keys())
    assert not missing, "gmsadm registers keys gms.conf(5) lacks: %s" % missing
