#!/usr/bin/python3
"""man/gen-gms-conf.py - regenerate the key list of gms.conf(5).

The configuration keys live in the C sources, one declarative table per
module ({ "module.key", CONF_TYPE, default, min, max, choices, help }).
This maintainer tool reads those tables and rewrites the part of
man/gms.conf.5 between the lines ".\\" BEGIN KEYS" and ".\\" END KEYS",
so the manual lists every key with its type, default, range and meaning.
The prose around it is written by hand.  tests/protocol/test_manpages.py
fails when the page and the code disagree.

    /usr/bin/python3 man/gen-gms-conf.py            # rewrite the page
    /usr/bin/python3 man/gen-gms-conf.py --check    # exit 1 if stale
    /usr/bin/python3 man/gen-gms-conf.py --keys     # print the keys
"""
import os
import re
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PAGE = os.path.join(TOP, "man", "gms.conf.5")
# Module folders in the order of the manual.
FOLDERS = ["lib", "spool", "directory", "smtpd", "relay", "imapd", "admin"]
MODULE_ORDER = ["log", "server", "tls", "spool", "directory", "smtpd",
                "relay", "dkim", "imapd", "admin"]
MACROS = {"SYSCONFDIR": "/etc", "LOCALSTATEDIR": "/var"}

MODULE_TITLE = {
    "log": "Logging (all programs)",
    "server": "Privileges (all programs)",
    "tls": "TLS (gms-smtpd, gms-imapd)",
    "spool": "The mailstore (all programs)",
    "directory": "The directory (all programs)",
    "smtpd": "gms-smtpd",
    "relay": "The outbound relay (gms-smtpd)",
    "dkim": "DKIM (gms-smtpd)",
    "imapd": "gms-imapd",
    "admin": "gmsadm",
}


def strip_comments(src):
    """Remove C comments, leaving string literals alone."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(body):
    """Split a table entry's text at commas outside strings/parens."""
    parts, cur, depth, i = [], "", 0, 0
    while i < len(body):
        c = body[i]
        if c == '"':
            j = i + 1
            while body[j] != '"':
                j += 2 if body[j] == "\\" else 1
            cur += body[i:j + 1]
            i = j + 1
            continue
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        parts.append(cur.strip())
    return parts


def c_string(expr):
    """Value of a C expression made of string literals and macros."""
    expr = expr.strip()
    if expr == "NULL":
        return None
    out = ""
    for tok in re.findall(r'"(?:[^"\\]|\\.)*"|[A-Z_]+', expr):
        if tok.startswith('"'):
            out += bytes(tok[1:-1], "utf-8").decode("unicode_escape")
        else:
            out += MACROS.get(tok, tok)
    return out


def c_number(expr):
    e = re.sub(r"(\d+)(?:LL|ULL|U|L)\b", r"\1", expr.strip())
    e = e.replace("INT64_MAX", str(2**63 - 1)).replace("LLONG_MAX", str(2**63 - 1))
    e = e.replace("INT_MAX", str(2**31 - 1)).replace("UINT32_MAX", str(2**32 - 1))
    if not re.fullmatch(r"[0-9+\-*/() ]+", e):
        return e
    return int(eval(e))  # digits and operators only


def tables():
    """Every key entry of every conf table in the sources."""
    keys = {}
    for folder in FOLDERS:
        d = os.path.join(TOP, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".c"):
                continue
            src = strip_comments(open(os.path.join(d, name), errors="replace").read())
            for m in re.finditer(r'conf_def\s+\w+\s*\[\s*\]\s*=\s*\{', src):
                i = m.end()
                depth = 1
                j = i
                while depth and j < len(src):
                    if src[j] == '"':
                        j += 1
                        while src[j] != '"':
                            j += 2 if src[j] == "\\" else 1
                    elif src[j] == "{":
                        depth += 1
                    elif src[j] == "}":
                        depth -= 1
                    j += 1
                for ent in re.finditer(r'\{\s*("[a-z0-9_]+\.[a-z0-9_]+".*?)\}\s*,', src[i:j], re.S):
                    p = split_top(ent.group(1))
                    if len(p) < 7 or not p[1].startswith("CONF_"):
                        continue
                    key = c_string(p[0])
                    keys[key] = dict(key=key, type=p[1][5:].lower(),
                                     default=c_string(p[2]) or "",
                                     min=c_number(p[3]), max=c_number(p[4]),
                                     choices=c_string(p[5]), help=c_string(p[6]) or "",
                                     source="%s/%s" % (folder, name))
    return keys


def roff_escape(s):
    s = s.replace("\\", "\\e")
    return s


def wrap(text, width=72):
    """Split text into lines of at most width bytes at blanks."""
    out, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = w
        else:
            cur = (cur + " " + w) if cur else w
    if cur:
        out.append(cur)
    return out


def human(n, typ):
    if not isinstance(n, int):
        return str(n)
    if typ == "size":
        for suf, mul in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
            if n >= mul and n % mul == 0 and n < (1 << 62):
                return "%d%s" % (n // mul, suf)
    if n == 2**63 - 1:
        return "no limit"
    return str(n)


def entry(k):
    lines = [".It Cm %s No = Ar %s" % (k["key"], k["type"])]
    help_ = roff_escape(k["help"].strip())
    if help_:
        help_ = help_[0].upper() + help_[1:]
        if not help_.endswith("."):
            help_ += "."
        lines.extend(wrap(help_))
    d = k["default"]
    if d == "":
        lines.append("Default: empty.")
    else:
        lines.append("Default:")
        lines.append(".Ql %s ." % roff_escape(d))
    if k["type"] in ("int", "size", "time"):
        unit = {"time": " seconds", "size": " bytes"}.get(k["type"], "")
        lines.append("Range: %s to %s%s." % (human(k["min"], k["type"]),
                                             human(k["max"], k["type"]), unit))
    elif k["type"] == "enum":
        lines.append("One of")
        lines.append(".Cm " + " , ".join((k["choices"] or "").split("|")) + " .")
    elif k["type"] == "bool":
        lines.append("A boolean.")
    return lines


def render(keys):
    out = []
    mods = {}
    for k in keys.values():
        mods.setdefault(k["key"].split(".")[0], []).append(k)
    order = [m for m in MODULE_ORDER if m in mods] + sorted(m for m in mods if m not in MODULE_ORDER)
    for m in order:
        out.append(".Ss %s" % MODULE_TITLE.get(m, m))
        out.append(".Bl -tag -width Ds")
        for k in sorted(mods[m], key=lambda k: k["key"]):
            out.extend(entry(k))
        out.append(".El")
    return "\n".join(out) + "\n"


def main(argv):
    keys = tables()
    if "--keys" in argv:
        for k in sorted(keys):
            print(k)
        return 0
    page = open(PAGE).read()
    begin = page.index('.\\" BEGIN KEYS\n') + len('.\\" BEGIN KEYS\n')
    end = page.index('.\\" END KEYS\n')
    new = page[:begin] + render(keys) + page[end:]
    if "--check" in argv:
        if new != page:
            print("man/gms.conf.5 is stale: run /usr/bin/python3 man/gen-gms-conf.py")
            return 1
        return 0
    if new != page:
        with open(PAGE + ".tmp", "w") as f:
            f.write(new)
        os.rename(PAGE + ".tmp", PAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
