#!/usr/bin/python3
"""schema2ldif.py - turn data/gms.schema (slapd.conf form) into data/gms.ldif
(cn=config form, for ldapadd -Y EXTERNAL -H ldapi:/// -f gms.ldif).

Usage: /usr/bin/python3 data/schema2ldif.py data/gms.schema > data/gms.ldif
"""
import re
import sys


def main():
    text = open(sys.argv[1]).read()
    # Join continuation lines (starting with whitespace), drop comments.
    stmts = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and stmts:
            stmts[-1] += " " + line.strip()
        else:
            stmts.append(line.strip())
    out = ["# gms.ldif - generated from gms.schema by data/schema2ldif.py.",
           "# Load into cn=config: ldapadd -Y EXTERNAL -H ldapi:/// -f gms.ldif",
           "dn: cn=gms,cn=schema,cn=config", "objectClass: olcSchemaConfig",
           "cn: gms"]
    for s in stmts:
        word, rest = s.split(None, 1)
        rest = re.sub(r"\s+", " ", rest)
        key = {"objectidentifier": "olcObjectIdentifier",
               "attributetype": "olcAttributeTypes",
               "objectclass": "olcObjectClasses"}[word.lower()]
        out.append("%s: %s" % (key, rest))
    print("\n".join(out))


if __name__ == "__main__":
    main()
