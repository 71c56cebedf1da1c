/*
 * dkim.c - "gmsadm domain dkim-keygen | dkim-show": DKIM signing keys for
 * our domains (RFC 6376 rsa-sha256 with 2048-bit RSA, RFC 8463
 * ed25519-sha256), made with OpenSSL 3, and the DNS TXT records that
 * publish them.
 *
 * Where the keys live is gms-smtpd's contract (smtpd/smtp_dkim.c): files
 * DOMAIN.SELECTOR.key (PEM, PKCS#8) in smtpd.dkim_key_dir, the selector
 * one DNS label; gms-smtpd signs with every key of the sender's domain,
 * so an RSA and an Ed25519 selector can be published side by side.
 * gmsadm also writes DOMAIN.SELECTOR.pub (the public key, PEM) for
 * reference, and records the (RSA) selector in the domain's directory
 * entry.
 *
 * Security: a key is written to a temporary file created 0600 with
 * O_EXCL in the key folder and renamed into place, so no other user can
 * ever read it and gms-smtpd never sees half a key; the folder itself is
 * created 0700.  gmsadm has dropped to the gms user before it gets here,
 * so the files belong to the user gms-smtpd runs as.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "admin/admin.h"
#include "directory/directory.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* Set by --key-dir (tests, or a gmsadm built without smtpd's table). */
static const char *key_dir_override;

const char *
adm_dkim_key_dir(const struct adm *a)
{
	if (key_dir_override != NULL)
		return key_dir_override;
	if (a->conf != NULL && conf_lookup_def("smtpd.dkim_key_dir") != NULL)
		return conf_str(a->conf, "smtpd.dkim_key_dir");
	return SYSCONFDIR "/gms/dkim";
}

/* selector_ok - one DNS label: letters, digits, '-', not at the ends. */
static bool
selector_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* domain_ok - safe to use in a file name: LDH labels and dots. */
static bool
domain_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	return strstr(s, "..") == NULL;
}

/* txt_of - the DKIM TXT record of a key: "v=DKIM1; k=...; p=...". */
static int
txt_of(EVP_PKEY *k, char *dst, size_t len, char *alg, size_t alglen)
{
	struct buf b = BUF_INIT(0);
	unsigned char *der = NULL, raw[64];
	size_t rawlen = sizeof(raw);
	int n, rc = -1;

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		n = i2d_PUBKEY(k, &der);
		if (n <= 0)
			return -1;
		(void)buf_puts(&b, "v=DKIM1; k=rsa; p=");
		(void)base64_encode(&b, der, (size_t)n);
		OPENSSL_free(der);
		(void)gms_strlcpy(alg, "rsa", alglen);
	} else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(k, raw, &rawlen) != 1)
			return -1;
		(void)buf_puts(&b, "v=DKIM1; k=ed25519; p=");
		(void)base64_encode(&b, raw, rawlen);
		(void)gms_strlcpy(alg, "ed25519", alglen);
	} else
		return -1;
	if (gms_strlcpy(dst, buf_cstr(&b), len) == 0)
		rc = 0;
	buf_free(&b);
	return rc;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *fp;
	EVP_PKEY *k;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return NULL;
	}
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	return k;
}

int
adm_dkim_keys(struct adm *a, const char *domain, struct adm_dkim_key *v,
    size_t max)
{
	const char *dir = adm_dkim_key_dir(a);
	size_t dlen = strlen(domain), n = 0, i, j;
	struct dirent *de;
	DIR *dp;

	dp = opendir(dir);
	if (dp == NULL) {
		if (errno == ENOENT)
			return 0;
		adm_fail(a, EX_NOPERM, "cannot read the DKIM key folder %s: %s",
		    dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL && n < max) {
		const char *f = de->d_name;
		size_t fl = strlen(f), sl;
		EVP_PKEY *k;

		if (fl <= dlen + 5 || strncmp(f, domain, dlen) != 0 ||
		    f[dlen] != '.' || strcmp(f + fl - 4, ".key") != 0)
			continue;
		sl = fl - dlen - 5;
		if (sl >= sizeof(v[n].selector) ||
		    memchr(f + dlen + 1, '.', sl) != NULL)
			continue;
		memcpy(v[n].selector, f + dlen + 1, sl);
		v[n].selector[sl] = '\0';
		if (gms_snprintf(v[n].path, sizeof(v[n].path), "%s/%s", dir,
		    f) < 0)
			continue;
		if ((k = load_key(v[n].path)) == NULL) {
			fprintf(stderr, "gmsadm: warning: %s is not a readable "
			    "PEM key\n", v[n].path);
			continue;
		}
		if (txt_of(k, v[n].txt, sizeof(v[n].txt), v[n].alg,
		    sizeof(v[n].alg)) == 0)
			n++;
		EVP_PKEY_free(k);
	}
	closedir(dp);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1].selector,
		    v[j].selector) > 0; j--) {
			struct adm_dkim_key t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return (int)n;
}

/* write_pem - write a key (private or public) atomically, mode 0600. */
static int
write_pem(struct adm *a, const char *path, EVP_PKEY *k, bool priv)
{
	char tmp[600];
	FILE *fp;
	int fd, ok;

	if (gms_snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
	    (long)getpid()) < 0)
		return adm_fail(a, EX_SOFTWARE, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    priv ? 0600 : 0644);
	if (fd < 0)
		return adm_fail(a, EX_CANTCREAT, "cannot create %s: %s", tmp,
		    strerror(errno));
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return adm_fail(a, EX_OSERR, "fdopen: %s", strerror(errno));
	}
	ok = priv ? PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_PUBKEY(fp, k);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (ok != 1 || rename(tmp, path) != 0) {
		unlink(tmp);
		return adm_fail(a, EX_IOERR, "cannot write %s: %s", path,
		    strerror(errno));
	}
	return EX_OK;
}

static int
ensure_dir(struct adm *a, const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return EX_OK;
	if (errno != EEXIST)
		return adm_fail(a, EX_CANTCREAT, "cannot create the DKIM key "
		    "folder %s: %s; create it with 'install -d -o gms -g gms "
		    "-m 0700 %s' or set smtpd.dkim_key_dir", dir,
		    strerror(errno), dir);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return adm_fail(a, EX_CANTCREAT, "%s is not a folder", dir);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fprintf(stderr, "gmsadm: warning: %s is open to other users; "
		    "chmod 700 %s\n", dir, dir);
	return EX_OK;
}

static const struct adm_opt keygen_opts[] = {
	{ "selector", true, 's' }, { "algorithm", true, 'a' },
	{ "force", false, 'f' }, { "key-dir", true, 'K' },
	{ NULL, false, 0 },
};

int adm_cmd_dkim_keygen(struct adm *a, int argc, char **argv);
int adm_cmd_dkim_show(struct adm *a, int argc, char **argv);

int
adm_cmd_dkim_keygen(struct adm *a, int argc, char **argv)
{
	struct adm_getopt g;
	struct dir_domain dom;
	const char *arg, *base = NULL, *algo = "both", *dir;
	char sel[2][64], defsel[32], path[2][600], pub[600], alg[16];
	char txt[1024];
	const char *kinds[2];
	int nk = 0, ch, code = EX_OK, rc, i;
	bool force = false;
	struct adm_out *o;
	struct buf line = BUF_INIT(0);
	char *recs[2] = { NULL, NULL }, *sels[2] = { NULL, NULL };
	time_t now = time(NULL);
	struct tm tm;

	adm_getopt_init(&g, argc, argv, keygen_opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		switch (ch) {
		case 's': base = arg; break;
		case 'a': algo = arg; break;
		case 'f': force = true; break;
		case 'K': key_dir_override = arg; break;
		default:
			adm_getopt_free(&g);
			return EX_USAGE;
		}
	}
	if (g.noperands != 1) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_USAGE, "usage: gmsadm domain dkim-keygen "
		    "DOMAIN [--selector S] [--algorithm rsa|ed25519|both] "
		    "[--force]");
	}
	code = adm_check_domain_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_domain(a->dir, g.operands[0], &dom);
		if (rc != DIR_FOUND)
			code = rc == DIR_NOTFOUND ? adm_fail(a, EX_NOUSER,
			    "%s is not one of our domains; add it with "
			    "'gmsadm domain add'", g.operands[0]) :
			    adm_fail(a, EX_TEMPFAIL, "the directory is "
			    "unavailable; try again later");
	}
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	if (!domain_ok(dom.name))
		return adm_fail(a, EX_DATAERR, "domain %s cannot name a key file",
		    dom.name);

	if (strcmp(algo, "rsa") == 0)
		kinds[nk++] = "RSA";
	else if (strcmp(algo, "ed25519") == 0)
		kinds[nk++] = "ED25519";
	else if (strcmp(algo, "both") == 0) {
		kinds[nk++] = "RSA";
		kinds[nk++] = "ED25519";
	} else
		return adm_fail(a, EX_USAGE, "--algorithm %s: one of rsa ed25519 "
		    "both", algo);
	if (base == NULL) {
		base = conf_str(a->conf, "admin.dkim_selector");
		if (base[0] == '\0') {
			gmtime_r(&now, &tm);
			(void)gms_snprintf(defsel, sizeof(defsel), "gms%04d%02d",
			    tm.tm_year + 1900, tm.tm_mon + 1);
			base = defsel;
		}
	}
	for (i = 0; i < nk; i++) {
		if (nk == 1)
			(void)gms_strlcpy(sel[i], base, sizeof(sel[i]));
		else if (gms_snprintf(sel[i], sizeof(sel[i]), "%s-%s", base,
		    i == 0 ? "rsa" : "ed25519") < 0)
			return adm_fail(a, EX_USAGE, "selector %s is too long",
			    base);
		if (!selector_ok(sel[i]))
			return adm_fail(a, EX_USAGE, "selector '%s' must be one "
			    "DNS label: letters, digits and '-'", sel[i]);
	}
	dir = adm_dkim_key_dir(a);
	if ((code = ensure_dir(a, dir)) != EX_OK)
		return code;
	for (i = 0; i < nk; i++) {
		if (gms_snprintf(path[i], sizeof(path[i]), "%s/%s.%s.key", dir,
		    dom.name, sel[i]) < 0)
			return adm_fail(a, EX_USAGE, "key path too long");
		if (!force && access(path[i], F_OK) == 0)
			return adm_fail(a, EX_CANTCREAT, "%s exists; choose "
			    "another --selector (key rotation) or use --force "
			    "to replace it", path[i]);
	}

	o = adm_object_new(a);
	adm_object_str(o, "domain", dom.name);
	adm_object_str(o, "key_dir", dir);
	for (i = 0; i < nk; i++) {
		EVP_PKEY *k = strcmp(kinds[i], "RSA") == 0 ?
		    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
		    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

		if (k == NULL) {
			code = adm_fail(a, EX_SOFTWARE, "OpenSSL could not make "
			    "a %s key: %s", kinds[i],
			    ERR_error_string(ERR_get_error(), NULL));
			break;
		}
		code = write_pem(a, path[i], k, true);
		if (code == EX_OK && gms_snprintf(pub, sizeof(pub),
		    "%s/%s.%s.pub", dir, dom.name, sel[i]) == 0)
			code = write_pem(a, pub, k, false);
		if (code == EX_OK && txt_of(k, txt, sizeof(txt), alg,
		    sizeof(alg)) < 0)
			code = adm_fail(a, EX_SOFTWARE, "cannot encode the "
			    "public key");
		EVP_PKEY_free(k);
		if (code != EX_OK)
			break;
		buf_reset(&line);
		adm_dkim_zone_line(&line, dom.name, sel[i], txt);
		recs[i] = xstrdup(buf_cstr(&line));
		sels[i] = xstrdup(sel[i]);
	}
	if (code == EX_OK) {
		/* Record the selector (the RSA one when both). */
		(void)gms_strlcpy(dom.dkim_selector, sel[0],
		    sizeof(dom.dkim_selector));
		rc = directory_domain_modify(a->dir, &dom);
		if (rc != DIR_OK)
			fprintf(stderr, "gmsadm: warning: the keys are made but "
			    "the directory did not record selector %s: %s\n",
			    sel[0], directory_strerror(rc));
		adm_object_list(o, "selectors", (const char *const *)sels,
		    (size_t)nk);
		adm_object_list(o, "dns_records", (const char *const *)recs,
		    (size_t)nk);
		if (!a->json)
			printf("Publish these records, then check them with "
			    "'gmsadm domain show %s':\n", dom.name);
		adm_out_print(&o);
	} else {
		/* Take away the half of a pair that was made. */
		for (i = 0; i < nk; i++)
			if (recs[i] != NULL && !force)
				unlink(path[i]);
		adm_out_print(&o);
	}
	for (i = 0; i < 2; i++) {
		free(recs[i]);
		free(sels[i]);
	}
	buf_free(&line);
	return code;
}

int
adm_cmd_dkim_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "key-dir", true, 'K' }, { NULL, false, 0 } };
	static const char *const cols[] = { "selector", "algorithm", "record" };
	struct adm_getopt g;
	struct adm_dkim_key keys[8];
	struct adm_out *o;
	struct buf line = BUF_INIT(0);
	const char *arg;
	char domain[256];
	int ch, n, i, code;

	adm_getopt_init(&g, argc, argv, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch == 'K')
			key_dir_override = arg;
		else {
			adm_getopt_free(&g);
			return EX_USAGE;
		}
	}
	if (g.noperands != 1) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_USAGE, "usage: gmsadm domain dkim-show "
		    "DOMAIN");
	}
	(void)gms_strlcpy(domain, g.operands[0], sizeof(domain));
	adm_getopt_free(&g);
	gms_lowercase(domain);
	if ((code = adm_check_domain_scope(a, domain)) != EX_OK)
		return code;
	if (!domain_ok(domain))
		return adm_fail(a, EX_DATAERR, "'%s' is not a domain", domain);
	n = adm_dkim_keys(a, domain, keys, GMS_NELEM(keys));
	if (n < 0)
		return EX_NOPERM;
	if (n == 0)
		return adm_fail(a, EX_NOINPUT, "%s has no DKIM key in %s; make "
		    "one with 'gmsadm domain dkim-keygen %s'", domain,
		    adm_dkim_key_dir(a), domain);
	if (!a->json) {
		/* People want the zone lines, ready to paste. */
		for (i = 0; i < n; i++) {
			buf_reset(&line);
			adm_dkim_zone_line(&line, domain, keys[i].selector,
			    keys[i].txt);
			printf("; %s (%s) %s\n%s\n", keys[i].selector,
			    keys[i].alg, keys[i].path, buf_cstr(&line));
		}
		buf_free(&line);
		return EX_OK;
	}
	o = adm_table_new(a, cols, 3);
	for (i = 0; i < n; i++) {
		const char *row[3];

		buf_reset(&line);
		adm_dkim_zone_line(&line, domain, keys[i].selector,
		    keys[i].txt);
		row[0] = keys[i].selector;
		row[1] = keys[i].alg;
		row[2] = buf_cstr(&line);
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	buf_free(&line);
	return EX_OK;
}
