/*
 * test-spool.c - unit tests of the spool API (spool/spool.h), each part
 * in a scratch Berkeley DB environment in a temporary directory: users
 * and their mailbox sets, mailbox create/rename/delete/list/status,
 * UIDVALIDITY of re-created mailboxes, deliver and append with quotas at
 * the exact boundary, views, the MIME cache and sections, body reads,
 * STORE with UNCHANGEDSINCE, COPY/MOVE with UIDPLUS answers, EXPUNGE,
 * changes since a modseq, refresh between two sessions, subscriptions,
 * the queue, verify (and repair), backup and restore, and statistics.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "spool/spool-private.h"
#include "tests/unit/unit.h"
#include "tests/unit/test-spool-common.h"

static char msgbuf[300000];
static void vdebug(struct spool *sp, const char *what);

/* deliver_one - deliver a message to one local user; returns the status. */
static int
deliver_one(struct spool *sp, const char *user, const char *mailbox,
    uint32_t use, const char *id, size_t body, int *rstatus, uint32_t *uid)
{
	struct spool_local_rcpt rc;
	struct spool_delivery d;
	char qid[SPOOL_QID_SIZE];
	int r;

	memset(&rc, 0, sizeof(rc));
	rc.user = user;
	rc.mailbox = mailbox;
	rc.special_use = use;
	memset(&d, 0, sizeof(d));
	d.len = make_msg(msgbuf, sizeof(msgbuf), id, user, body);
	d.data = msgbuf;
	d.mail_from = "sender@example.org";
	d.local = &rc;
	d.nlocal = 1;
	r = spool_deliver(sp, &d, qid);
	if (rstatus)
		*rstatus = rc.status;
	if (uid)
		*uid = rc.uid;
	return r;
}

static void
test_errors(void)
{
	CHECK(!spool_err_temporary(SPOOL_ENOENT), "ENOENT is permanent");
	CHECK(!spool_err_temporary(SPOOL_EQUOTA_BYTES), "quota is permanent");
	CHECK(spool_err_temporary(SPOOL_ETIMEOUT), "timeout is temporary");
	CHECK(spool_err_temporary(SPOOL_ERUNRECOVERY), "runrecovery is temporary");
	CHECK(spool_err_temporary(SPOOL_ENOSPC), "ENOSPC is temporary");
	CHECK(spool_err_temporary(SPOOL_EIO), "EIO is temporary");
	CHECK(spool_err_temporary(SPOOL_EDEADLOCK), "deadlock is temporary");
	CHECK_STR(spool_err_name(SPOOL_EEXIST), "SPOOL_EEXIST", "err name");
	CHECK_STR(spool_err_name(-77), "unknown (-77)", "unknown err name");
	CHECK(strcmp(spool_strerror(SPOOL_EQUOTA_BYTES),
	    spool_strerror(SPOOL_EQUOTA_MESSAGES)) != 0,
	    "the two quota errors read differently");
	CHECK_STR(spool_use_name(SPOOL_USE_JUNK), "\\Junk", "use name");
	CHECK_STR(spool_rcpt_state_name(SPOOL_RCPT_FAILED), "failed", "state name");
}

static void
test_conf(void)
{
	char *dir = scratch_dir("spool-conf");
	char path[4200], err[256];
	struct spool_settings s;
	struct spool *sp = NULL;
	struct conf *c;
	FILE *f;

	conf_register(spool_conf_table);
	c = conf_load(NULL, err, sizeof(err));
	CHECK(c != NULL, "defaults load with the spool table (%s)",
	    c ? "" : err);
	if (c != NULL) {
		spool_settings_from_conf(&s, c);
		CHECK(s.cache_size == 64ULL * 1024 * 1024 &&
		    s.mime_max_depth == 100 && s.mime_max_parts == 10000 &&
		    s.lock_timeout_ms == 5000 && s.watchdog == 120 &&
		    strstr(s.dir, "spool") != NULL, "conf defaults");
		conf_free(&c);
	}
	snprintf(path, sizeof(path), "%s/gms.conf", dir);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "spool.dir = %s/env\nspool.cache_size = 16m\n"
		    "spool.lock_timeout_ms = 700\nspool.append_limit = 1k\n", dir);
		fclose(f);
	}
	c = conf_load(path, err, sizeof(err));
	CHECK(c != NULL, "gms.conf with spool keys loads (%s)", c ? "" : err);
	if (c != NULL) {
		spool_settings_from_conf(&s, c);
		CHECK(s.cache_size == 16 * 1024 * 1024 && s.lock_timeout_ms == 700 &&
		    s.append_limit == 1024, "values from the file");
		CHECK(spool_open_conf(c, &sp) == SPOOL_OK &&
		    spool_append_limit(sp) == 1024, "spool_open_conf");
		spool_close(&sp);
		conf_free(&c);
	}
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "spool.mime_max_depth = 0\n");
		fclose(f);
	}
	c = conf_load(path, err, sizeof(err));
	CHECK(c == NULL, "an out-of-range value is refused");
	conf_free(&c);
	rm_tree(dir);
	free(dir);
}

static void
test_env(const char *dir)
{
	struct stat st;
	char path[4096];
	DIR *d;
	struct dirent *de;
	bool private = true;
	int nfiles = 0;

	CHECK(stat(dir, &st) == 0 && (st.st_mode & 077) == 0,
	    "environment directory is 0700");
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			nfiles++;
			if (st.st_mode & 077)
				private = false;
		}
	}
	if (d)
		closedir(d);
	CHECK(nfiles >= 13 && private, "%d environment files, none readable "
	    "by others", nfiles);
}

static void
test_users(struct spool *sp)
{
	struct spool_mbox_list l;
	struct spool_strlist subs, users;
	char *name = NULL;
	size_t i;
	bool all_sub = true;

	CHECK(spool_user_create(sp, "alice@example.go.tz") == SPOOL_OK,
	    "user_create");
	CHECK(spool_user_create(sp, "alice@example.go.tz") == SPOOL_EEXIST,
	    "user_create twice: EEXIST");
	CHECK(spool_user_create(sp, "bad user") == SPOOL_EINVAL,
	    "user with a space: EINVAL");
	CHECK(spool_user_exists(sp, "alice@example.go.tz") == 1, "user exists");
	CHECK(spool_user_exists(sp, "nobody@example.go.tz") == 0,
	    "unknown user does not exist");
	CHECK(spool_mailbox_list(sp, "alice@example.go.tz", &l) == SPOOL_OK &&
	    l.n == 6, "six mailboxes in a new set (%zu)", l.n);
	CHECK(l.n > 0 && strcmp(l.v[0].name, "INBOX") == 0, "INBOX first");
	for (i = 0; i < l.n; i++) {
		if (!(l.v[i].attrs & SPOOL_MBOX_SUBSCRIBED))
			all_sub = false;
		if (strcmp(l.v[i].name, "Junk") == 0)
			CHECK(l.v[i].special_use == SPOOL_USE_JUNK, "Junk is \\Junk");
		if (strcmp(l.v[i].name, "Sent") == 0)
			CHECK(l.v[i].special_use == SPOOL_USE_SENT, "Sent is \\Sent");
	}
	CHECK(all_sub, "all default mailboxes subscribed");
	spool_mbox_list_free(&l);
	CHECK(spool_mailbox_by_use(sp, "alice@example.go.tz", SPOOL_USE_ARCHIVE,
	    &name) == SPOOL_OK && name && strcmp(name, "Archive") == 0,
	    "mailbox_by_use(ARCHIVE)");
	free(name);
	CHECK(spool_subscriptions(sp, "alice@example.go.tz", &subs) == SPOOL_OK &&
	    subs.n == 6, "six subscriptions");
	spool_strlist_free(&subs);
	CHECK(spool_user_list(sp, &users) == SPOOL_OK && users.n == 1 &&
	    strcmp(users.v[0], "alice@example.go.tz") == 0, "user_list");
	spool_strlist_free(&users);
}

static void
test_mailboxes(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_mbox st, st2, st3;
	struct spool_mbox_list l;
	struct spool_view *v = NULL;
	uint32_t uv1;
	size_t i;
	bool work_children = false;

	CHECK(spool_mailbox_create(sp, u, "Work/Projects/A", 0) == SPOOL_OK,
	    "create with missing parents");
	CHECK(spool_mailbox_status(sp, u, "Work", &st) == SPOOL_OK &&
	    (st.attrs & SPOOL_MBOX_HASCHILDREN), "parent created, has children");
	CHECK(spool_mailbox_create(sp, u, "Work/Projects", 0) == SPOOL_EEXIST,
	    "create existing: EEXIST");
	CHECK(spool_mailbox_create(sp, u, "", 0) == SPOOL_EINVAL, "empty name");
	CHECK(spool_mailbox_create(sp, u, "/x", 0) == SPOOL_EINVAL, "leading /");
	CHECK(spool_mailbox_create(sp, u, "x/", 0) == SPOOL_EINVAL, "trailing /");
	CHECK(spool_mailbox_create(sp, u, "a//b", 0) == SPOOL_EINVAL, "empty level");
	CHECK(spool_mailbox_create(sp, u, "a\nb", 0) == SPOOL_EINVAL, "control char");
	CHECK(spool_mailbox_create(sp, "nobody@x", "A", 0) == SPOOL_ENOENT,
	    "create for unknown user: ENOENT");
	CHECK(spool_mailbox_create(sp, u, "inbox", 0) == SPOOL_EEXIST,
	    "inbox is INBOX (case-insensitive)");

	/* Rename with children. */
	CHECK(spool_mailbox_status(sp, u, "Work/Projects/A", &st) == SPOOL_OK,
	    "status of a child");
	CHECK(spool_mailbox_rename(sp, u, "Work", "Job") == SPOOL_OK,
	    "rename with children");
	CHECK(spool_mailbox_status(sp, u, "Job/Projects/A", &st2) == SPOOL_OK &&
	    st2.id == st.id && st2.uidvalidity == st.uidvalidity,
	    "child moved with its id and UIDVALIDITY");
	CHECK(spool_mailbox_status(sp, u, "Work/Projects/A", &st3) == SPOOL_ENOENT,
	    "old child name gone");
	CHECK(spool_mailbox_status(sp, u, "Work", &st3) == SPOOL_ENOENT,
	    "old parent name gone");
	CHECK(spool_mailbox_rename(sp, u, "Job", "Job/Sub") == SPOOL_EPERM,
	    "rename into itself: EPERM");
	CHECK(spool_mailbox_rename(sp, u, "Job", "Sent") == SPOOL_EEXIST,
	    "rename onto existing: EEXIST");
	CHECK(spool_mailbox_rename(sp, u, "Nope", "Nope2") == SPOOL_ENOENT,
	    "rename missing: ENOENT");
	CHECK(spool_mailbox_rename(sp, u, "Job/Projects", "Deep/Er/Projects") ==
	    SPOOL_OK && spool_mailbox_status(sp, u, "Deep/Er", &st3) == SPOOL_OK &&
	    spool_mailbox_status(sp, u, "Deep/Er/Projects/A", &st3) == SPOOL_OK,
	    "rename creates the new parents");

	/* UIDVALIDITY of a re-created mailbox. */
	CHECK(spool_mailbox_create(sp, u, "Tmp", 0) == SPOOL_OK, "create Tmp");
	spool_mailbox_status(sp, u, "Tmp", &st);
	uv1 = st.uidvalidity;
	CHECK(spool_mailbox_delete(sp, u, "Tmp") == SPOOL_OK, "delete Tmp");
	CHECK(spool_mailbox_status(sp, u, "Tmp", &st) == SPOOL_ENOENT,
	    "deleted mailbox is gone");
	CHECK(spool_mailbox_create(sp, u, "Tmp", 0) == SPOOL_OK, "create Tmp again");
	spool_mailbox_status(sp, u, "Tmp", &st);
	CHECK(st.uidvalidity != uv1 && st.uidvalidity > uv1,
	    "re-created mailbox has a new UIDVALIDITY (%u -> %u)", uv1,
	    st.uidvalidity);
	CHECK(st.id != 0, "mailbox id");

	/* Delete: INBOX, with children, \Noselect. */
	CHECK(spool_mailbox_delete(sp, u, "INBOX") == SPOOL_EPERM,
	    "delete INBOX: EPERM");
	CHECK(spool_mailbox_delete(sp, u, "Deep") == SPOOL_OK,
	    "delete a mailbox with children");
	CHECK(spool_mailbox_status(sp, u, "Deep", &st) == SPOOL_OK &&
	    (st.attrs & SPOOL_MBOX_NOSELECT), "it became \\Noselect");
	CHECK(spool_view_open(sp, u, "Deep", 0, &v) == SPOOL_ENOSELECT,
	    "select \\Noselect: ENOSELECT");
	CHECK(spool_mailbox_delete(sp, u, "Deep") == SPOOL_EHASCHILDREN,
	    "delete \\Noselect with children: EHASCHILDREN");
	CHECK(spool_mailbox_delete(sp, u, "Nope") == SPOOL_ENOENT,
	    "delete missing: ENOENT");
	CHECK(spool_mailbox_create(sp, u, "Deep", 0) == SPOOL_OK &&
	    spool_mailbox_status(sp, u, "Deep", &st) == SPOOL_OK &&
	    !(st.attrs & SPOOL_MBOX_NOSELECT), "create revives a \\Noselect");
	CHECK(spool_mailbox_list(sp, u, &l) == SPOOL_OK, "list");
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, "Job") == 0 &&
		    (l.v[i].attrs & SPOOL_MBOX_HASCHILDREN))
			work_children = true;
	CHECK(!work_children, "Job has no children after moving Projects");
	spool_mbox_list_free(&l);
}

static void
test_subscriptions(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_strlist l;
	size_t i;
	bool found = false;

	CHECK(spool_subscribe(sp, u, "Ghost/Box") == SPOOL_OK,
	    "subscribe a name that does not exist");
	CHECK(spool_subscriptions(sp, u, &l) == SPOOL_OK, "subscriptions");
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i], "Ghost/Box") == 0)
			found = true;
	spool_strlist_free(&l);
	CHECK(found, "subscription listed");
	CHECK(spool_unsubscribe(sp, u, "Ghost/Box") == SPOOL_OK, "unsubscribe");
	CHECK(spool_unsubscribe(sp, u, "Ghost/Box") == SPOOL_ENOENT,
	    "unsubscribe again: ENOENT");
}

static void
test_deliver_quota(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_local_rcpt rc[3];
	struct spool_remote_rcpt rr;
	struct spool_delivery d;
	struct spool_queue_entry e;
	struct spool_stats st;
	struct spool_quota q;
	struct spool_mbox mb;
	char qid[SPOOL_QID_SIZE];
	size_t len;
	int r, status;
	uint32_t uid;

	memset(rc, 0, sizeof(rc));
	rc[0].user = u;
	rc[1].user = "bob@example.go.tz";
	rc[1].special_use = SPOOL_USE_JUNK;
	rc[2].user = "carol@example.go.tz";
	rc[2].mailbox = "NoSuchBox";
	memset(&rr, 0, sizeof(rr));
	rr.address = "dave@remote.example";
	rr.orcpt = "rfc822;dave@remote.example";
	rr.notify = SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY;
	memset(&d, 0, sizeof(d));
	len = make_msg(msgbuf, sizeof(msgbuf), "multi1", "many", 1000);
	d.data = msgbuf;
	d.len = len;
	d.mail_from = "sender@example.org";
	d.envid = "ENV123";
	d.ret = SPOOL_RET_HDRS;
	d.local = rc;
	d.nlocal = 3;
	d.remote = &rr;
	d.nremote = 1;
	r = spool_deliver(sp, &d, qid);
	CHECK(r == SPOOL_OK, "deliver to 3 local + 1 remote (%s)",
	    spool_err_name(r));
	CHECK(strlen(qid) == 20, "queue id of 20 characters (%s)", qid);
	CHECK(rc[0].status == SPOOL_OK && rc[0].uid == 1, "alice got uid 1");
	CHECK(rc[1].status == SPOOL_OK && rc[1].uid == 1, "bob got uid 1");
	CHECK(spool_user_exists(sp, "bob@example.go.tz") == 1,
	    "bob's mailbox set created at first delivery");
	CHECK(spool_mailbox_status(sp, "bob@example.go.tz", "Junk", &mb) ==
	    SPOOL_OK && mb.messages == 1 && mb.uidvalidity == rc[1].uidvalidity,
	    "bob's copy went to \\Junk");
	CHECK(spool_mailbox_status(sp, "carol@example.go.tz", "INBOX", &mb) ==
	    SPOOL_OK && mb.messages == 1,
	    "a missing named mailbox falls back to INBOX");
	CHECK(mb.unseen == 1 && mb.recent == 1 && mb.size == len,
	    "status counters unseen/recent/size");
	CHECK(spool_stats(sp, &st) == SPOOL_OK && st.bodies == 1 &&
	    st.messages == 3 && st.body_bytes == len,
	    "one body stored for 3 index records and a queue entry "
	    "(bodies %llu messages %llu)", (unsigned long long)st.bodies,
	    (unsigned long long)st.messages);
	CHECK(spool_queue_get(sp, qid, &e) == SPOOL_OK && e.nrcpt == 1 &&
	    strcmp(e.rcpt[0].address, "dave@remote.example") == 0 &&
	    strcmp(e.mail_from, "sender@example.org") == 0 &&
	    e.envid && strcmp(e.envid, "ENV123") == 0 &&
	    e.ret == SPOOL_RET_HDRS && e.rcpt[0].notify ==
	    (SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY) && e.size == len &&
	    e.rcpt[0].orcpt && strcmp(e.rcpt[0].orcpt,
	    "rfc822;dave@remote.example") == 0,
	    "queue entry with envelope and DSN parameters");
	spool_queue_entry_free(&e);

	/* Quota at the exact boundary: bytes. */
	CHECK(spool_quota_get(sp, u, &q) == SPOOL_OK && q.bytes_used == len &&
	    q.messages_used == 1, "quota usage after delivery");
	len = make_msg(msgbuf, sizeof(msgbuf), "q1", u, 500);
	CHECK(spool_quota_set(sp, u, q.bytes_used + len, 0) == SPOOL_OK,
	    "quota_set to usage + one message");
	CHECK(spool_quota_check(sp, u, len) == SPOOL_OK, "quota_check: fits");
	CHECK(spool_quota_check(sp, u, len + 1) == SPOOL_EQUOTA_BYTES,
	    "quota_check: one byte more does not");
	r = deliver_one(sp, u, NULL, 0, "q1", 500, &status, &uid);
	CHECK(r == SPOOL_OK && status == SPOOL_OK,
	    "delivery exactly at the byte limit succeeds");
	r = deliver_one(sp, u, NULL, 0, "q2", 0, &status, &uid);
	CHECK(r == SPOOL_EQUOTA_BYTES && status == SPOOL_EQUOTA_BYTES,
	    "one more message over the byte limit: EQUOTA_BYTES (%s)",
	    spool_err_name(r));
	/* Messages. */
	spool_quota_get(sp, u, &q);
	CHECK(spool_quota_set(sp, u, 0, q.messages_used + 1) == SPOOL_OK,
	    "message quota set");
	r = deliver_one(sp, u, NULL, 0, "q3", 10, &status, &uid);
	CHECK(r == SPOOL_OK, "delivery at the message limit succeeds");
	r = deliver_one(sp, u, NULL, 0, "q4", 10, &status, &uid);
	CHECK(r == SPOOL_EQUOTA_MESSAGES && status == SPOOL_EQUOTA_MESSAGES,
	    "over the message limit: EQUOTA_MESSAGES");
	{
		struct spool_append ap;
		uint32_t uv, auid;

		memset(&ap, 0, sizeof(ap));
		ap.data = "Subject: x\r\n\r\nhi\r\n";
		ap.len = strlen(ap.data);
		CHECK(spool_append(sp, u, "INBOX", &ap, 1, &uv, &auid) ==
		    SPOOL_EQUOTA_MESSAGES, "append over quota: EQUOTA_MESSAGES");
	}
	/* Partial delivery: alice over quota, bob fine. */
	memset(rc, 0, sizeof(rc));
	rc[0].user = u;
	rc[1].user = "bob@example.go.tz";
	memset(&d, 0, sizeof(d));
	d.len = make_msg(msgbuf, sizeof(msgbuf), "partial", "x", 10);
	d.data = msgbuf;
	d.local = rc;
	d.nlocal = 2;
	d.mail_from = "";
	r = spool_deliver(sp, &d, qid);
	CHECK(r == SPOOL_OK && rc[0].status == SPOOL_EQUOTA_MESSAGES &&
	    rc[1].status == SPOOL_OK, "one recipient over quota, the other "
	    "delivered");
	CHECK(spool_quota_set(sp, u, 0, 0) == SPOOL_OK, "quota unlimited again");
	CHECK(spool_quota_get(sp, "nobody@x", &q) == SPOOL_ENOENT,
	    "quota_get unknown user: ENOENT");
	memset(&d, 0, sizeof(d));
	CHECK(spool_deliver(sp, &d, qid) == SPOOL_EINVAL,
	    "deliver without recipients: EINVAL");
}

static void
test_append_limit(void)
{
	char *dir = scratch_dir("spool-limit");
	struct spool_settings s;
	struct spool *sp = NULL;
	struct spool_append ap;
	uint32_t uv, uid;

	spool_settings_default(&s);
	s.dir = dir;
	s.cache_size = 4 * 1024 * 1024;
	s.append_limit = 100;
	s.max_threads = 50;
	s.max_locks = 5000;
	CHECK(spool_open(&s, &sp) == SPOOL_OK, "open with append_limit 100");
	CHECK(spool_append_limit(sp) == 100, "append_limit reported");
	spool_user_create(sp, "x@y");
	memset(&ap, 0, sizeof(ap));
	ap.len = make_msg(msgbuf, sizeof(msgbuf), "big", "x@y", 200);
	ap.data = msgbuf;
	CHECK(spool_append(sp, "x@y", "INBOX", &ap, 1, &uv, &uid) ==
	    SPOOL_ETOOBIG, "append over the limit: ETOOBIG");
	CHECK(spool_quota_check(sp, "x@y", 101) == SPOOL_ETOOBIG,
	    "quota_check over the limit: ETOOBIG");
	spool_close(&sp);
	CHECK(sp == NULL, "spool_close clears the pointer");
	rm_tree(dir);
	free(dir);
}

static void
test_append_view(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	static const char m1[] =
	    "From: a@b\r\nSubject: one\r\nContent-Type: multipart/mixed; "
	    "boundary=XX\r\n\r\npre\r\n--XX\r\nContent-Type: text/plain\r\n\r\n"
	    "part one\r\n--XX\r\nContent-Type: text/html\r\n\r\n<b>2</b>\r\n"
	    "--XX--\r\n";
	static const char m2[] = "Subject: two\r\n\r\nbody two\r\n";
	const char *kw[] = { "$Important", "project-x" };
	struct spool_append ap[2];
	struct spool_view *v = NULL;
	const struct spool_msg *msg;
	struct spool_cache c;
	struct spool_body *b = NULL;
	struct spool_mbox st;
	struct buf out = BUF_INIT(0);
	uint32_t uv = 0, uids[2] = { 0, 0 };
	const char *const *names;
	size_t nk, got, total;
	uint64_t off, sz;
	uint32_t path[2];
	char tmp[8];
	int r;

	memset(ap, 0, sizeof(ap));
	ap[0].data = m1;
	ap[0].len = sizeof(m1) - 1;
	ap[0].flags = SPOOL_F_SEEN | SPOOL_F_FLAGGED;
	ap[0].keywords = kw;
	ap[0].nkeywords = 2;
	ap[0].internal_date = 1700000000;
	ap[0].tz_offset = 180;
	ap[1].data = m2;
	ap[1].len = sizeof(m2) - 1;
	r = spool_append(sp, u, "Drafts", ap, 2, &uv, uids);
	CHECK(r == SPOOL_OK && uids[0] == 1 && uids[1] == 2,
	    "MULTIAPPEND of two messages (%s)", spool_err_name(r));
	CHECK(spool_mailbox_status(sp, u, "Drafts", &st) == SPOOL_OK &&
	    st.uidvalidity == uv && st.uidnext == 3 && st.messages == 2 &&
	    st.unseen == 1, "APPENDUID uidvalidity and counters");
	CHECK(spool_append(sp, u, "NoBox", ap, 1, &uv, uids) == SPOOL_ENOENT,
	    "append to a missing mailbox: ENOENT (TRYCREATE)");
	{
		const char *badkw[] = { "bad word" };

		ap[1].keywords = badkw;
		ap[1].nkeywords = 1;
		CHECK(spool_append(sp, u, "Drafts", &ap[1], 1, &uv, uids) ==
		    SPOOL_EINVAL, "append with an invalid keyword: EINVAL");
		ap[1].keywords = NULL;
		ap[1].nkeywords = 0;
	}

	CHECK(spool_view_open(sp, u, "Drafts", SPOOL_VIEW_CLAIM_RECENT, &v) ==
	    SPOOL_OK && spool_view_count(v) == 2, "view of Drafts with 2 rows");
	msg = spool_view_msg(v, 0);
	CHECK(msg && msg->uid == 1 && (msg->flags & SPOOL_F_STORED_MASK) ==
	    (SPOOL_F_SEEN | SPOOL_F_FLAGGED) && msg->internal_date == 1700000000 &&
	    msg->tz_offset == 180 && msg->size == sizeof(m1) - 1,
	    "row 1: flags, internal date, zone, size");
	CHECK(msg && (msg->flags & SPOOL_F_RECENT), "row 1 is \\Recent");
	names = spool_view_keywords(v, &nk);
	CHECK(nk == 2 && strcmp(names[0], "$Important") == 0 &&
	    msg && msg->keywords == 3, "keywords table and bits");
	CHECK(spool_view_find(v, 2) == 1 && spool_view_find(v, 7) == -1,
	    "view_find");
	CHECK(spool_view_status(v)->recent == 2, "2 recent in the claiming view");
	spool_view_close(&v);
	CHECK(spool_view_open(sp, u, "Drafts", 0, &v) == SPOOL_OK &&
	    spool_view_status(v)->recent == 0, "recent claimed by the first view");
	CHECK(spool_mailbox_status(sp, u, "Drafts", &st) == SPOOL_OK &&
	    st.recent == 0, "status recent 0 after the claim");

	/* The MIME cache. */
	CHECK(spool_view_cache(v, 1, &c) == SPOOL_OK, "view_cache");
	CHECK_STR(c.envelope, "(NIL \"one\" ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	    "cached ENVELOPE");
	CHECK_STR(c.bodystructure, "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 8 1"
	    " NIL NIL NIL NIL)(\"text\" \"html\" NIL NIL NIL \"7bit\" 8 1 NIL NIL "
	    "NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)",
	    "cached BODYSTRUCTURE");
	CHECK_STR(c.body, "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 8 1)"
	    "(\"text\" \"html\" NIL NIL NIL \"7bit\" 8 1) \"mixed\")", "cached BODY");
	CHECK(c.nparts == 3, "3 entries in the part table");
	path[0] = 2;
	r = spool_section_find(c.parts, c.nparts, path, 1, SPOOL_SECT_ALL,
	    &off, &sz);
	CHECK(r == SPOOL_OK && sz == 8 && memcmp(m1 + off, "<b>2</b>", 8) == 0,
	    "section 2 is a seek into the body");
	r = spool_section_find(c.parts, c.nparts, path, 1, SPOOL_SECT_MIME,
	    &off, &sz);
	CHECK(r == SPOOL_OK && memcmp(m1 + off, "Content-Type: text/html\r\n\r\n",
	    sz) == 0 && sz == 27, "section 2.MIME");
	path[0] = 3;
	CHECK(spool_section_find(c.parts, c.nparts, path, 1, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_ENOENT, "section 3 does not exist");
	path[0] = 1;
	CHECK(spool_section_find(c.parts, c.nparts, path, 1, SPOOL_SECT_HEADER,
	    &off, &sz) == SPOOL_EINVAL, "1.HEADER on a text part: EINVAL");
	CHECK(spool_section_find(c.parts, c.nparts, path, 0, SPOOL_SECT_TEXT,
	    &off, &sz) == SPOOL_OK && memcmp(m1 + off, "pre\r\n", 5) == 0,
	    "TEXT of the message");
	spool_cache_free(&c);
	CHECK(spool_view_cache(v, 99, &c) == SPOOL_EEXPUNGED,
	    "cache of a missing uid: EEXPUNGED");

	/* Bodies. */
	CHECK(spool_body_open(v, 1, &b) == SPOOL_OK &&
	    spool_body_size(b) == sizeof(m1) - 1, "body_open and size");
	CHECK(spool_body_get(b, 0, UINT64_MAX, &out) == SPOOL_OK &&
	    out.len == sizeof(m1) - 1 && memcmp(out.data, m1, out.len) == 0,
	    "whole body equals what was stored");
	buf_reset(&out);
	CHECK(spool_body_get(b, 10, 5, &out) == SPOOL_OK && out.len == 5 &&
	    memcmp(out.data, m1 + 10, 5) == 0, "byte range");
	buf_reset(&out);
	total = 0;
	for (;;) {
		if (spool_body_read(b, total, tmp, sizeof(tmp), &got) != SPOOL_OK ||
		    got == 0)
			break;
		(void)buf_append(&out, tmp, got);
		total += got;
	}
	CHECK(out.len == sizeof(m1) - 1 && memcmp(out.data, m1, out.len) == 0,
	    "streaming reads of 8 bytes rebuild the body");
	buf_free(&out);
	spool_body_close(&b);
	CHECK(b == NULL, "body_close clears the pointer");
	spool_view_close(&v);
}

static void
test_big_body(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_view *v = NULL;
	struct spool_body *b = NULL;
	struct buf out = BUF_INIT(0);
	uint32_t uid = 0;
	size_t len;
	int status;

	len = make_msg(msgbuf, sizeof(msgbuf), "big", u, 200000);
	CHECK(deliver_one(sp, u, "Archive", 0, "big", 200000, &status, &uid) ==
	    SPOOL_OK, "deliver 200 KB (chunked)");
	spool_view_open(sp, u, "Archive", 0, &v);
	CHECK(v && spool_body_open(v, uid, &b) == SPOOL_OK &&
	    spool_body_size(b) == len, "big body size");
	CHECK(b && spool_body_get(b, 65530, 20, &out) == SPOOL_OK &&
	    out.len == 20 && memcmp(out.data, msgbuf + 65530, 20) == 0,
	    "range across a chunk boundary");
	buf_reset(&out);
	CHECK(b && spool_body_get(b, 0, UINT64_MAX, &out) == SPOOL_OK &&
	    out.len == len && memcmp(out.data, msgbuf, len) == 0,
	    "whole 200 KB body");
	buf_free(&out);
	spool_body_close(&b);
	spool_view_close(&v);
}

static void
test_store_copy_expunge(struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_view *v = NULL, *v2 = NULL, *tv = NULL;
	struct spool_uidlist changed, failed, exp;
	struct spool_copy_result cr;
	struct spool_changes ch;
	struct spool_refresh rf;
	struct spool_mbox st;
	struct spool_stats s1, s2;
	const struct spool_msg *m;
	uint64_t ms0, ms1;
	uint32_t uids[3];
	const char *kw[] = { "$Label1" };
	size_t i, n;
	int r, status;

	/* INBOX has uids 1..3 from the quota test. */
	CHECK(spool_view_open(sp, u, "INBOX", 0, &v) == SPOOL_OK, "open INBOX");
	n = spool_view_count(v);
	CHECK(n == 3, "INBOX holds 3 messages (%zu)", n);
	ms0 = spool_view_status(v)->highestmodseq;
	uids[0] = 1;
	uids[1] = 2;
	r = spool_store(v, uids, 2, SPOOL_STORE_ADD, SPOOL_F_SEEN, NULL, 0, 0,
	    &changed, &failed);
	CHECK(r == SPOOL_OK && changed.n == 2 && failed.n == 0,
	    "STORE +FLAGS \\Seen on 2 messages");
	m = spool_view_msg(v, 0);
	CHECK(m && (m->flags & SPOOL_F_SEEN) && m->modseq > ms0,
	    "view row updated with a new modseq");
	ms1 = spool_view_status(v)->highestmodseq;
	CHECK(ms1 >= ms0 + 2, "HIGHESTMODSEQ went up by one per message");
	spool_uidlist_free(&changed);
	spool_uidlist_free(&failed);
	r = spool_store(v, uids, 1, SPOOL_STORE_ADD, SPOOL_F_SEEN, NULL, 0, 0,
	    &changed, &failed);
	CHECK(r == SPOOL_OK && changed.n == 0, "a no-op STORE changes nothing");
	spool_uidlist_free(&changed);
	spool_uidlist_free(&failed);
	CHECK(spool_mailbox_status(sp, u, "INBOX", &st) == SPOOL_OK &&
	    st.unseen == 1, "unseen counter follows \\Seen");

	/* UNCHANGEDSINCE. */
	uids[0] = 1;
	uids[1] = 3;
	r = spool_store(v, uids, 2, SPOOL_STORE_ADD, SPOOL_F_FLAGGED, NULL, 0,
	    ms0, &changed, &failed);
	CHECK(r == SPOOL_OK && failed.n == 1 && failed.v[0] == 1 &&
	    changed.n == 1 && changed.v[0] == 3,
	    "UNCHANGEDSINCE: uid 1 (modified) fails, uid 3 changes");
	m = spool_view_msg(v, 0);
	CHECK(m && !(m->flags & SPOOL_F_FLAGGED), "the failed one kept its flags");
	spool_uidlist_free(&changed);
	spool_uidlist_free(&failed);
	m = spool_view_msg(v, 0);
	r = spool_store(v, uids, 1, SPOOL_STORE_ADD, SPOOL_F_FLAGGED, NULL, 0,
	    m->modseq, &changed, &failed);
	CHECK(r == SPOOL_OK && changed.n == 1 && failed.n == 0,
	    "UNCHANGEDSINCE equal to the modseq succeeds");
	spool_uidlist_free(&changed);
	spool_uidlist_free(&failed);

	/* Keywords and SET / REMOVE. */
	uids[0] = 2;
	r = spool_store(v, uids, 1, SPOOL_STORE_ADD, 0, kw, 1, 0, &changed, NULL);
	m = spool_view_msg(v, 1);
	CHECK(r == SPOOL_OK && changed.n == 1 && m && m->keywords == 1,
	    "STORE +FLAGS $Label1");
	spool_uidlist_free(&changed);
	r = spool_store(v, uids, 1, SPOOL_STORE_SET, SPOOL_F_ANSWERED, NULL, 0, 0,
	    NULL, NULL);
	m = spool_view_msg(v, 1);
	CHECK(r == SPOOL_OK && m && m->keywords == 0 &&
	    (m->flags & SPOOL_F_STORED_MASK) == SPOOL_F_ANSWERED, "STORE FLAGS");
	r = spool_store(v, uids, 1, SPOOL_STORE_REMOVE, SPOOL_F_ANSWERED, NULL, 0,
	    0, NULL, NULL);
	m = spool_view_msg(v, 1);
	CHECK(r == SPOOL_OK && m && (m->flags & SPOOL_F_STORED_MASK) == 0,
	    "STORE -FLAGS");

	/* Changes since a modseq. */
	CHECK(spool_changes_since(v, ms0, &ch) == SPOOL_OK &&
	    ch.changed.n == 3 && ch.expunged.n == 0 &&
	    ch.highestmodseq == spool_view_status(v)->highestmodseq,
	    "changes since the first modseq: 3 changed (%zu)", ch.changed.n);
	spool_changes_free(&ch);
	CHECK(spool_changes_since(v, spool_view_status(v)->highestmodseq, &ch) ==
	    SPOOL_OK && ch.changed.n == 0, "no change since HIGHESTMODSEQ");
	spool_changes_free(&ch);

	/* A second session sees the first one's changes at refresh. */
	CHECK(spool_view_open(sp, u, "INBOX", 0, &v2) == SPOOL_OK, "second view");
	uids[0] = 3;
	spool_store(v, uids, 1, SPOOL_STORE_ADD, SPOOL_F_DRAFT, NULL, 0, 0,
	    NULL, NULL);
	deliver_one(sp, u, NULL, 0, "late", 10, &status, NULL);
	CHECK(spool_view_refresh(v2, &rf) == SPOOL_OK && rf.changed.n == 1 &&
	    rf.changed.v[0] == 3 && rf.exists == 4 && rf.nexpunged == 0,
	    "refresh: one flag change and one new message");
	m = spool_view_msg(v2, 2);
	CHECK(m && (m->flags & SPOOL_F_DRAFT), "refreshed row has the new flag");
	spool_refresh_free(&rf);
	CHECK(spool_view_refresh(v, &rf) == SPOOL_OK && rf.changed.n == 0 &&
	    rf.exists == 4, "own changes are not reported again");
	spool_refresh_free(&rf);

	vdebug(sp, "before copy");
	/* Copy with UIDPLUS. */
	spool_stats(sp, &s1);
	uids[0] = 1;
	uids[1] = 2;
	uids[2] = 99;
	CHECK(spool_mailbox_status(sp, u, "Archive", &st) == SPOOL_OK, "Archive");
	r = spool_copy(v, uids, 3, "Archive", false, &cr);
	CHECK(r == SPOOL_OK && cr.src.n == 2 && cr.dst.n == 2 &&
	    cr.src.v[0] == 1 && cr.src.v[1] == 2 && cr.dst.v[0] == st.uidnext &&
	    cr.dst.v[1] == st.uidnext + 1 && cr.dest_uidvalidity == st.uidvalidity,
	    "COPY: source uids -> destination uids, UIDVALIDITY (%s)",
	    spool_err_name(r));
	spool_copy_result_free(&cr);
	spool_stats(sp, &s2);
	CHECK(s2.bodies == s1.bodies && s2.messages == s1.messages + 2,
	    "copy shares the bodies");
	CHECK(spool_copy(v, uids, 1, "NoBox", false, &cr) == SPOOL_ENOENT,
	    "copy to a missing mailbox: ENOENT");
	vdebug(sp, "after copy");
	/* Move. */
	CHECK(spool_mailbox_status(sp, u, "Trash", &st) == SPOOL_OK, "Trash");
	uids[0] = 2;
	r = spool_copy(v, uids, 1, "Trash", true, &cr);
	CHECK(r == SPOOL_OK && cr.src.n == 1 && cr.dst.v[0] == st.uidnext,
	    "MOVE uid 2 to Trash");
	spool_copy_result_free(&cr);
	CHECK(spool_view_refresh(v, &rf) == SPOOL_OK && rf.nexpunged == 1 &&
	    rf.expunged_uid[0] == 2 && rf.expunged_seq[0] == 2 && rf.exists == 3,
	    "after MOVE the source view reports the expunge (seq 2)");
	spool_refresh_free(&rf);
	CHECK(spool_view_open(sp, u, "Trash", 0, &tv) == SPOOL_OK &&
	    spool_view_count(tv) == 1, "Trash holds the moved message");
	spool_view_close(&tv);

	vdebug(sp, "after move");
	/* Expunge. */
	uids[0] = 1;
	uids[1] = 3;
	spool_store(v, uids, 2, SPOOL_STORE_ADD, SPOOL_F_DELETED, NULL, 0, 0,
	    NULL, NULL);
	uids[0] = 3;
	CHECK(spool_expunge(v, uids, 1, &exp) == SPOOL_OK && exp.n == 1 &&
	    exp.v[0] == 3, "UID EXPUNGE 3 removes only uid 3");
	spool_uidlist_free(&exp);
	vdebug(sp, "after uid expunge");
	uids[0] = spool_view_msg(v, spool_view_count(v) - 1)->uid;
	CHECK(spool_expunge(v, uids, 1, &exp) == SPOOL_OK && exp.n == 0,
	    "UID EXPUNGE of a message without \\Deleted removes nothing");
	spool_uidlist_free(&exp);
	CHECK(spool_expunge(v, NULL, 0, &exp) == SPOOL_OK && exp.n == 1 &&
	    exp.v[0] == 1, "EXPUNGE removes the remaining \\Deleted");
	spool_uidlist_free(&exp);
	CHECK(spool_view_refresh(v2, &rf) == SPOOL_OK && rf.nexpunged == 3 &&
	    rf.expunged_seq[0] > rf.expunged_seq[1] &&
	    rf.expunged_seq[1] > rf.expunged_seq[2] && rf.exists == 1,
	    "other view: 3 expunges in descending sequence order");
	spool_refresh_free(&rf);
	CHECK(spool_changes_since(v, ms0, &ch) == SPOOL_OK && ch.expunged.n == 3,
	    "changes since: expunged uids listed (%zu)", ch.expunged.n);
	for (i = 1; i < ch.expunged.n; i++)
		if (ch.expunged.v[i - 1] >= ch.expunged.v[i])
			break;
	CHECK(i >= ch.expunged.n, "expunged uids ascending");
	spool_changes_free(&ch);
	CHECK(spool_mailbox_status(sp, u, "INBOX", &st) == SPOOL_OK &&
	    st.messages == 1 && st.deleted == 0, "counters after expunge");
	spool_view_close(&v2);

	/* Read-only views. */
	CHECK(spool_view_open(sp, u, "INBOX", SPOOL_VIEW_READONLY, &v2) ==
	    SPOOL_OK, "EXAMINE view");
	CHECK(spool_store(v2, uids, 1, SPOOL_STORE_ADD, SPOOL_F_SEEN, NULL, 0, 0,
	    NULL, NULL) == SPOOL_EPERM, "store in a read-only view: EPERM");
	CHECK(spool_expunge(v2, NULL, 0, NULL) == SPOOL_EPERM,
	    "expunge in a read-only view: EPERM");
	spool_view_close(&v2);

	/* A deleted mailbox under a view. */
	spool_mailbox_create(sp, u, "Gone", 0);
	spool_view_open(sp, u, "Gone", 0, &v2);
	spool_mailbox_delete(sp, u, "Gone");
	CHECK(v2 && spool_view_refresh(v2, &rf) == SPOOL_ENOENT,
	    "refresh of a deleted mailbox: ENOENT");
	spool_view_close(&v2);
	spool_view_close(&v);
}

static void
test_rename_inbox(struct spool *sp)
{
	const char *u = "carol@example.go.tz";
	struct spool_mbox a, b;

	CHECK(spool_mailbox_status(sp, u, "INBOX", &a) == SPOOL_OK &&
	    a.messages == 1, "carol's INBOX has 1 message");
	CHECK(spool_mailbox_rename(sp, u, "INBOX", "Old") == SPOOL_OK,
	    "RENAME INBOX");
	CHECK(spool_mailbox_status(sp, u, "INBOX", &a) == SPOOL_OK &&
	    a.messages == 0, "INBOX stays, empty");
	CHECK(spool_mailbox_status(sp, u, "Old", &b) == SPOOL_OK &&
	    b.messages == 1, "the messages moved to the new mailbox");
}

static void
test_queue(struct spool *sp)
{
	struct spool_remote_rcpt rr[2];
	struct spool_rcpt_update up;
	struct spool_queue_entry e, *list = NULL;
	struct spool_strlist ids;
	struct spool_body *b = NULL;
	struct spool_stats s1, s2;
	struct buf out = BUF_INIT(0);
	char qid[SPOOL_QID_SIZE];
	time_t now = time(NULL), when;
	size_t n = 0, len;

	memset(rr, 0, sizeof(rr));
	rr[0].address = "x@remote.example";
	rr[1].address = "y@remote.example";
	len = make_msg(msgbuf, sizeof(msgbuf), "queued", "x", 100);
	spool_stats(sp, &s1);
	CHECK(spool_queue_add(sp, msgbuf, len, "me@example.go.tz", NULL,
	    SPOOL_RET_FULL, SPOOL_QF_8BITMIME, rr, 2, qid) == SPOOL_OK,
	    "queue_add");
	CHECK(spool_queue_next_due(sp, &when) == SPOOL_OK && when != 0 &&
	    when <= now + 1, "next_due");
	/* Two entries exist (one from the delivery test): claim both. */
	CHECK(spool_queue_claim_due(sp, now + 1, 600, 10, &ids) == SPOOL_OK &&
	    ids.n == 2, "claim_due takes the due entries (%zu)", ids.n);
	spool_strlist_free(&ids);
	CHECK(spool_queue_claim_due(sp, now + 1, 600, 10, &ids) == SPOOL_OK &&
	    ids.n == 0, "a second claim gets nothing (leased)");
	spool_strlist_free(&ids);
	CHECK(spool_queue_get(sp, qid, &e) == SPOOL_OK && e.attempts == 1 &&
	    e.next_attempt == now + 1 + 600 && e.qflags == SPOOL_QF_8BITMIME,
	    "claim counted an attempt and set the lease");
	spool_queue_entry_free(&e);
	memset(&up, 0, sizeof(up));
	up.address = "x@remote.example";
	up.state = SPOOL_RCPT_DELIVERED;
	up.status = "2.0.0";
	up.diag = "250 ok";
	CHECK(spool_queue_update(sp, qid, &up, 1, now + 30) == SPOOL_OK,
	    "queue_update");
	CHECK(spool_queue_get(sp, qid, &e) == SPOOL_OK &&
	    e.rcpt[0].state == SPOOL_RCPT_DELIVERED &&
	    e.rcpt[1].state == SPOOL_RCPT_PENDING && e.rcpt[0].attempts == 1 &&
	    strcmp(e.rcpt[0].diag, "250 ok") == 0 && e.next_attempt == now + 30,
	    "per-recipient state recorded");
	spool_queue_entry_free(&e);
	up.address = "nobody@remote.example";
	CHECK(spool_queue_update(sp, qid, &up, 1, 0) == SPOOL_ENOENT,
	    "update of an unknown recipient: ENOENT");
	CHECK(spool_queue_hold(sp, qid, true) == SPOOL_OK, "hold");
	CHECK(spool_queue_claim_due(sp, now + 100, 60, 10, &ids) == SPOOL_OK &&
	    ids.n == 0, "a held entry is never due");
	spool_strlist_free(&ids);
	CHECK(spool_queue_hold(sp, qid, false) == SPOOL_OK, "release");
	CHECK(spool_queue_claim_due(sp, now + 100, 60, 10, &ids) == SPOOL_OK &&
	    ids.n == 1 && strcmp(ids.v[0], qid) == 0, "released entry is due");
	spool_strlist_free(&ids);
	CHECK(spool_queue_schedule(sp, qid, now + 5000) == SPOOL_OK &&
	    spool_queue_get(sp, qid, &e) == SPOOL_OK &&
	    e.next_attempt == now + 5000, "schedule");
	spool_queue_entry_free(&e);
	CHECK(spool_queue_list(sp, &list, &n) == SPOOL_OK && n == 2,
	    "queue_list (%zu)", n);
	spool_queue_list_free(&list, n);
	CHECK(spool_queue_body_open(sp, qid, &b) == SPOOL_OK &&
	    spool_body_get(b, 0, UINT64_MAX, &out) == SPOOL_OK &&
	    out.len == len && memcmp(out.data, msgbuf, len) == 0,
	    "the queued body reads back");
	spool_body_close(&b);
	buf_free(&out);
	CHECK(spool_queue_delete(sp, qid) == SPOOL_OK, "queue_delete");
	CHECK(spool_queue_get(sp, qid, &e) == SPOOL_ENOENT, "deleted entry gone");
	CHECK(spool_queue_delete(sp, qid) == SPOOL_ENOENT, "delete again: ENOENT");
	spool_stats(sp, &s2);
	CHECK(s2.bodies == s1.bodies && s2.queue_entries == 1,
	    "the queue-only body was released");
}

/* A transaction that takes the lock on a mailbox record, then stops. */
static uint32_t stop_mbox;
static int
stop_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mrec m;
	int r;

	(void)arg;
	if ((r = spool_mrec_get(sp, txn, stop_mbox, &m, true)) != SPOOL_OK)
		return r;
	raise(SIGSTOP);
	return SPOOL_OK;
}

static void
test_sigstop(const char *dir, struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_mbox st;
	double t0, t1;
	pid_t pid;
	int r, status = 0, i;

	spool_mailbox_status(sp, u, "INBOX", &st);
	stop_mbox = (uint32_t)st.id;
	pid = fork();
	if (pid == 0) {
		struct spool *csp = scratch_open(dir, 500);

		spool_txn(csp, 0, stop_txn, NULL);
		_exit(0);
	}
	/* Wait until the child is stopped holding the lock. */
	CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status),
	    "child stopped inside a transaction");
	t0 = now_ms();
	r = deliver_one(sp, u, NULL, 0, "blocked", 10, NULL, NULL);
	t1 = now_ms();
	CHECK(r == SPOOL_ETIMEOUT && spool_err_temporary(r),
	    "delivery behind a stopped lock holder: temporary ETIMEOUT (%s)",
	    spool_err_name(r));
	CHECK(t1 - t0 < 3000, "it gave up in bounded time (%.0f ms)", t1 - t0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* failchk (every second) frees the dead holder's locks. */
	r = -1;
	for (i = 0; i < 20 && r != SPOOL_OK; i++) {
		r = deliver_one(sp, u, NULL, 0, "after", 10, NULL, NULL);
		if (r != SPOOL_OK)
			usleep(250000);
	}
	CHECK(r == SPOOL_OK, "after the holder is killed failchk frees its "
	    "locks (%s)", spool_err_name(r));
}

static void
test_notify(const char *dir, struct spool *sp)
{
	const char *u = "alice@example.go.tz";
	struct spool_watch *w = NULL;
	struct spool_mbox st;
	struct pollfd pfd;
	double sent_at = 0, woke_at;
	int pfds[2], status;
	pid_t pid;

	spool_mailbox_status(sp, u, "INBOX", &st);
	CHECK(spool_watch_open(sp, st.id, &w) == SPOOL_OK, "watch_open");
	pfd.fd = spool_watch_fd(w);
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 200) == 0, "an idle watch is not readable");
	if (pipe(pfds) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct spool *csp = scratch_open(dir, 5000);
		double t;

		close(pfds[0]);
		usleep(100000);
		deliver_one(csp, u, NULL, 0, "notify", 10, NULL, NULL);
		t = now_ms();
		if (write(pfds[1], &t, sizeof(t)) < 0)
			_exit(1);
		spool_close(&csp);
		_exit(0);
	}
	close(pfds[1]);
	CHECK(poll(&pfd, 1, 5000) == 1, "a delivery by another process wakes "
	    "the watch");
	woke_at = now_ms();
	if (read(pfds[0], &sent_at, sizeof(sent_at)) != sizeof(sent_at))
		sent_at = 0;
	CHECK(sent_at > 0 && woke_at - sent_at < 100,
	    "woken within 100 ms of the commit (%.1f ms)", woke_at - sent_at);
	waitpid(pid, &status, 0);
	close(pfds[0]);
	spool_watch_ack(w);
	CHECK(poll(&pfd, 1, 0) == 0, "watch_ack clears it");
	/* A flag change in this process also signals. */
	{
		struct spool_view *v = NULL;
		uint32_t uid;

		spool_view_open(sp, u, "INBOX", 0, &v);
		uid = spool_view_msg(v, 0)->uid;
		spool_store(v, &uid, 1, SPOOL_STORE_ADD, SPOOL_F_FLAGGED, NULL, 0,
		    0, NULL, NULL);
		spool_view_close(&v);
	}
	CHECK(poll(&pfd, 1, 1000) == 1, "a STORE wakes the watch");
	spool_watch_close(&w);
	CHECK(w == NULL, "watch_close clears the pointer");
}

static void
report_line(void *arg, const char *line)
{
	(void)arg;
	printf("# verify: %s\n", line);
}

static void
test_verify_backup(const char *dir, struct spool *sp)
{
	struct spool_verify_report rep;
	struct spool_stats s1, s2;
	struct spool_mbox st;
	char *bdir, *rdir;
	struct spool *rsp;
	struct mrec m;

	(void)dir;
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0 && rep.checked_messages > 0,
	    "verify: consistent (%llu errors, %llu messages)",
	    (unsigned long long)rep.errors,
	    (unsigned long long)rep.checked_messages);
	/* Damage a counter behind the API's back, then repair it. */
	spool_mailbox_status(sp, "bob@example.go.tz", "INBOX", &st);
	stop_mbox = (uint32_t)st.id;
	{
		DB_TXN *txn = NULL;

		sp->env->txn_begin(sp->env, NULL, &txn, 0);
		spool_mrec_get(sp, txn, stop_mbox, &m, true);
		m.messages += 5;
		m.unseen += 1;
		spool_mrec_put(sp, txn, stop_mbox, &m);
		txn->commit(txn, 0);
	}
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.bad_counters == 1 && rep.errors == 1 && rep.repaired == 0,
	    "verify finds the damaged counter");
	CHECK(spool_verify(sp, true, &rep, NULL, NULL) == SPOOL_OK &&
	    rep.repaired == 1, "verify repairs it");
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0, "consistent after repair");

	/* Hot backup and restore. */
	bdir = scratch_dir("spool-backup");
	rdir = scratch_dir("spool-restore");
	rmdir(rdir);
	CHECK(spool_backup(sp, bdir) == SPOOL_OK, "hot backup");
	CHECK(spool_restore(bdir, bdir) == SPOOL_EEXIST,
	    "restore into a non-empty directory: EEXIST");
	CHECK(spool_restore(bdir, rdir) == SPOOL_OK, "restore");
	rsp = scratch_open(rdir, 5000);
	spool_stats(sp, &s1);
	spool_stats(rsp, &s2);
	CHECK(s1.messages == s2.messages && s1.bodies == s2.bodies &&
	    s1.users == s2.users && s1.mailboxes == s2.mailboxes &&
	    s1.queue_entries == s2.queue_entries,
	    "restored store has the same content (%llu messages)",
	    (unsigned long long)s2.messages);
	CHECK(spool_verify(rsp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0, "restored store verifies");
	spool_close(&rsp);
	rm_tree(bdir);
	rm_tree(rdir);
	free(bdir);
	free(rdir);
}

static void
test_user_delete_stats(struct spool *sp)
{
	struct spool_verify_report rep;
	struct spool_stats st;

	CHECK(spool_user_delete(sp, "carol@example.go.tz") == SPOOL_OK,
	    "user_delete");
	CHECK(spool_user_exists(sp, "carol@example.go.tz") == 0,
	    "deleted user is gone");
	CHECK(spool_user_delete(sp, "carol@example.go.tz") == SPOOL_ENOENT,
	    "delete again: ENOENT");
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0, "consistent after user_delete");
	CHECK(spool_checkpoint(sp) == SPOOL_OK, "checkpoint");
	CHECK(spool_stats(sp, &st) == SPOOL_OK && st.txn_commits > 10 &&
	    st.log_flushes > 0 && st.users == 2, "stats: commits %llu, "
	    "flushes %llu, users %llu", (unsigned long long)st.txn_commits,
	    (unsigned long long)st.log_flushes, (unsigned long long)st.users);
}

static void
vdebug(struct spool *sp, const char *what)
{
	struct spool_verify_report rep;

	if (getenv("SPOOL_VDEBUG") == NULL)
		return;
	spool_verify(sp, false, &rep, report_line, NULL);
	printf("# after %s: %llu errors\n", what, (unsigned long long)rep.errors);
}

/* test_set_uids - an import keeps another server's UIDVALIDITY and UIDs. */
static void
test_set_uids(void)
{
	char *dir = scratch_dir("spool-uids");
	struct spool *sp = scratch_open(dir, 1000);
	const char *u = "imp@example.go.tz";
	struct spool_verify_report rep;
	struct spool_append ap[3];
	struct spool_mbox st;
	uint32_t uv = 0, uids[3] = { 0, 0, 0 }, uid1;
	size_t i;
	int r;

	CHECK(spool_user_create(sp, u) == SPOOL_OK, "uids: user");
	CHECK(spool_mailbox_create(sp, u, "Old", 0) == SPOOL_OK,
	    "uids: mailbox Old");
	CHECK(spool_mailbox_set_uids(sp, u, "Nope", 5, 5) == SPOOL_ENOENT,
	    "set_uids on a missing mailbox: ENOENT");
	CHECK(spool_mailbox_set_uids(sp, "nobody@x", "INBOX", 5, 5) ==
	    SPOOL_ENOENT, "set_uids for a missing user: ENOENT");
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 0, 5) == SPOOL_EINVAL,
	    "set_uids with UIDVALIDITY 0: EINVAL");
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 7, 0) == SPOOL_EINVAL,
	    "set_uids with UIDNEXT 0: EINVAL");
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 1234567, 40) == SPOOL_OK,
	    "set_uids on an empty mailbox");
	CHECK(spool_mailbox_status(sp, u, "Old", &st) == SPOOL_OK &&
	    st.uidvalidity == 1234567 && st.uidnext == 40,
	    "status shows UIDVALIDITY 1234567 UIDNEXT 40 (got %u %u)",
	    st.uidvalidity, st.uidnext);
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 1234567, 39) ==
	    SPOOL_EINVAL, "same UIDVALIDITY with a lower UIDNEXT: EINVAL");

	memset(ap, 0, sizeof(ap));
	for (i = 0; i < 3; i++) {
		char id[16];
		static char bufs[3][2048];

		(void)snprintf(id, sizeof(id), "imp%zu", i);
		ap[i].len = make_msg(bufs[i], sizeof(bufs[i]), id, u, 10);
		ap[i].data = bufs[i];
	}
	ap[0].uid = 40;
	ap[1].uid = 0;		/* the next one: 41 */
	ap[2].uid = 100;
	r = spool_append(sp, u, "Old", ap, 3, &uv, uids);
	CHECK(r == SPOOL_OK && uv == 1234567 && uids[0] == 40 &&
	    uids[1] == 41 && uids[2] == 100, "append keeps the given UIDs "
	    "(r %d, uv %u, uids %u %u %u)", r, uv, uids[0], uids[1], uids[2]);
	CHECK(spool_mailbox_status(sp, u, "Old", &st) == SPOOL_OK &&
	    st.uidnext == 101 && st.messages == 3 && st.recent == 3,
	    "UIDNEXT 101 after uid 100, three recent messages (got %u %u %u)",
	    st.uidnext, st.messages, st.recent);
	ap[0].uid = 100;
	CHECK(spool_append(sp, u, "Old", ap, 1, &uv, &uid1) == SPOOL_EINVAL,
	    "a UID below UIDNEXT: EINVAL");
	ap[0].uid = 200;
	ap[1].uid = 150;
	CHECK(spool_append(sp, u, "Old", ap, 2, &uv, uids) == SPOOL_EINVAL,
	    "UIDs not increasing within one append: EINVAL");
	CHECK(spool_mailbox_status(sp, u, "Old", &st) == SPOOL_OK &&
	    st.uidnext == 101 && st.messages == 3,
	    "a refused append stored nothing");
	ap[0].uid = UINT32_MAX;
	CHECK(spool_append(sp, u, "Old", ap, 1, &uv, &uid1) == SPOOL_EINVAL,
	    "UID 4294967295: EINVAL");
	ap[0].uid = 0;
	CHECK(spool_append(sp, u, "Old", ap, 1, &uv, &uid1) == SPOOL_OK &&
	    uid1 == 101, "uid 0 assigns UIDNEXT as before (got %u)", uid1);
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 99, 500) == SPOOL_EPERM,
	    "a new UIDVALIDITY on a mailbox with messages: EPERM");
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 1234567, 101) ==
	    SPOOL_EPERM, "lowering UIDNEXT of a mailbox with messages: EPERM");
	CHECK(spool_mailbox_set_uids(sp, u, "Old", 1234567, 300) == SPOOL_OK &&
	    spool_mailbox_status(sp, u, "Old", &st) == SPOOL_OK &&
	    st.uidnext == 300 && st.messages == 4 && st.uidvalidity == 1234567,
	    "UIDNEXT raised to 300 with messages kept (got %u %u)",
	    st.uidnext, st.messages);
	ap[0].uid = 0;
	CHECK(spool_append(sp, u, "Old", ap, 1, &uv, &uid1) == SPOOL_OK &&
	    uid1 == 300, "the next append gets UID 300 (got %u)", uid1);

	/* A mailbox created afterwards gets a UIDVALIDITY above the
	 * imported one, even one far in the future. */
	CHECK(spool_mailbox_set_uids(sp, u, "INBOX", 4000000000u, 1) ==
	    SPOOL_OK, "set_uids INBOX to 4000000000");
	CHECK(spool_mailbox_create(sp, u, "New", 0) == SPOOL_OK &&
	    spool_mailbox_status(sp, u, "New", &st) == SPOOL_OK &&
	    st.uidvalidity > 4000000000u, "a later mailbox gets UIDVALIDITY "
	    "above the imported one (got %u)", st.uidvalidity);
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0, "consistent after set_uids and kept UIDs");
	spool_close(&sp);
	rm_tree(dir);
	free(dir);
}

/* test_refresh_many - a refresh after stores of many messages in an
 * order other than the uids' (the change log is in modseq order) and
 * many new messages: every changed row read once, ascending, current. */
static void
test_refresh_many(struct spool *sp)
{
	const char *u = "bulk@example.org";
	struct spool_view *v1 = NULL, *v2 = NULL;
	struct spool_refresh rf;
	uint32_t uids[150];
	size_t i, bad = 0, nonasc = 0;
	int status, r;

	for (i = 0; i < 150; i++) {
		char id[32];

		snprintf(id, sizeof(id), "bulk%zu", i);
		(void)deliver_one(sp, u, NULL, 0, id, 100, &status, NULL);
	}
	CHECK(spool_view_open(sp, u, "INBOX", SPOOL_VIEW_CLAIM_RECENT, &v1) ==
	    SPOOL_OK && spool_view_open(sp, u, "INBOX", 0, &v2) == SPOOL_OK &&
	    spool_view_count(v2) == 150, "two views of 150 messages");
	if (v1 == NULL || v2 == NULL)
		goto out;
	for (i = 0; i < 150; i++)
		uids[i] = spool_view_msg(v1, i)->uid;
	/* The last 50 first, then the first 100: the log is out of uid order. */
	r = spool_store(v1, uids + 100, 50, SPOOL_STORE_ADD, SPOOL_F_FLAGGED,
	    NULL, 0, 0, NULL, NULL);
	r = r != SPOOL_OK ? r : spool_store(v1, uids, 100, SPOOL_STORE_ADD,
	    SPOOL_F_FLAGGED, NULL, 0, 0, NULL, NULL);
	CHECK(r == SPOOL_OK, "two STOREs over 150 messages");
	for (i = 0; i < 120; i++) {
		char id[32];

		snprintf(id, sizeof(id), "bulknew%zu", i);
		(void)deliver_one(sp, u, NULL, 0, id, 100, &status, NULL);
	}
	memset(&rf, 0, sizeof(rf));
	r = spool_view_refresh(v2, &rf);
	for (i = 1; i < rf.changed.n; i++)
		if (rf.changed.v[i - 1] >= rf.changed.v[i])
			nonasc++;
	for (i = 0; i < 150 && i < spool_view_count(v2); i++) {
		const struct spool_msg *a = spool_view_msg(v1, i);
		const struct spool_msg *b = spool_view_msg(v2, i);

		if (!(b->flags & SPOOL_F_FLAGGED) || a->modseq != b->modseq ||
		    a->uid != b->uid)
			bad++;
	}
	CHECK(r == SPOOL_OK && rf.changed.n == 150 && nonasc == 0 &&
	    rf.exists == 270 && spool_view_count(v2) == 270 && bad == 0,
	    "refresh: 150 changed, ascending, rows current, 120 new "
	    "(changed %zu, out of order %zu, exists %u, stale rows %zu)",
	    rf.changed.n, nonasc, rf.exists, bad);
	CHECK(spool_view_msg(v2, 269) != NULL &&
	    spool_view_msg(v2, 269)->uid > spool_view_msg(v2, 149)->uid &&
	    spool_view_status(v2)->messages == 270,
	    "new rows appended in uid order");
	spool_refresh_free(&rf);
	r = spool_view_refresh(v2, &rf);
	CHECK(r == SPOOL_OK && rf.changed.n == 0 && rf.exists == 270,
	    "a second refresh reports nothing");
	spool_refresh_free(&rf);
	{
		/* Batched cache reads: runs, gaps, a missing uid, a step
		 * back; each entry as spool_view_cache gives it. */
		uint32_t want[8];
		struct spool_cache cm[8], one;
		int err[8];
		size_t same = 0;

		want[0] = uids[0];
		want[1] = uids[1];
		want[2] = uids[2];
		want[3] = uids[40];
		want[4] = uids[41];
		want[5] = 4000000000u;
		want[6] = uids[7];
		want[7] = spool_view_msg(v2, 269)->uid;
		r = spool_view_cache_many(v2, want, 8, cm, err);
		for (i = 0; i < 8; i++) {
			if (i == 5) {
				same += err[i] == SPOOL_EEXPUNGED &&
				    cm[i].envelope == NULL;
				continue;
			}
			memset(&one, 0, sizeof(one));
			if (err[i] == SPOOL_OK &&
			    spool_view_cache(v2, want[i], &one) == SPOOL_OK &&
			    one.envelope != NULL && cm[i].envelope != NULL &&
			    strcmp(one.envelope, cm[i].envelope) == 0 &&
			    strcmp(one.bodystructure, cm[i].bodystructure) == 0 &&
			    one.nparts == cm[i].nparts)
				same++;
			spool_cache_free(&one);
		}
		CHECK(r == SPOOL_OK && same == 8 && cm[3].envelope != NULL &&
		    strstr(cm[3].envelope, "bulk40") != NULL,
		    "cache_many: 7 entries as cache gives them, the missing "
		    "uid EEXPUNGED (%zu of 8)", same);
		for (i = 0; i < 8; i++)
			spool_cache_free(&cm[i]);
		CHECK(spool_view_cache_many(v2, want, 0, cm, err) == SPOOL_OK,
		    "cache_many of nothing");
	}
out:
	spool_view_close(&v1);
	spool_view_close(&v2);
	CHECK(spool_user_delete(sp, u) == SPOOL_OK, "the bulk user deleted");
}

int
main(void)
{
	char *dir = scratch_dir("spool");
	struct spool *sp;

	log_init("test-spool", true);
	log_set_level(LOG_LVL_ERROR);
	test_errors();
	test_conf();
	sp = scratch_open(dir, 1000);
	test_env(dir);
	test_users(sp);
	vdebug(sp, "test_users");
	test_mailboxes(sp);
	vdebug(sp, "test_mailboxes");
	test_subscriptions(sp);
	vdebug(sp, "test_subscriptions");
	test_deliver_quota(sp);
	vdebug(sp, "test_deliver_quota");
	test_append_limit();
	vdebug(sp, "test_append_limit");
	test_append_view(sp);
	vdebug(sp, "test_append_view");
	test_big_body(sp);
	vdebug(sp, "test_big_body");
	test_store_copy_expunge(sp);
	vdebug(sp, "test_store_copy_expunge");
	test_refresh_many(sp);
	vdebug(sp, "test_refresh_many");
	test_rename_inbox(sp);
	vdebug(sp, "test_rename_inbox");
	test_queue(sp);
	vdebug(sp, "test_queue");
	test_sigstop(dir, sp);
	vdebug(sp, "test_sigstop");
	test_notify(dir, sp);
	vdebug(sp, "test_notify");
	test_verify_backup(dir, sp);
	vdebug(sp, "test_verify_backup");
	test_user_delete_stats(sp);
	test_set_uids();
	vdebug(sp, "test_user_delete_stats");
	spool_close(&sp);
	rm_tree(dir);
	free(dir);
	return unit_done();
}
