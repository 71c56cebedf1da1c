# data/local.mk - the directory's data: the LDAP schema (slapd.conf and
# cn=config forms), the seed of the 359 institutions and its generator,
# and the slapd.conf template of scripts/gms-slapd.  Included by the top
# Makefile.am.
EXTRA_DIST += data/README.md data/gms.schema data/gms.ldif data/seed.ldif \
	data/gen-seed.py data/schema2ldif.py data/slapd.conf.in
