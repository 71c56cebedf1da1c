/*
 * test-throttle.c - lib/throttle.c: growing delays and the lockout per
 * address and per account, IPv6 counted per /64 and IPv4-mapped as IPv4,
 * parallel attempts counting together, temporary failures not counted,
 * success forgetting an account's failures, the lockout window ending,
 * locked entries surviving table churn in bounded memory, and many
 * threads keeping the counters exact.
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "gms.h"
#include "unit.h"

static struct throttle_config cfg;

static void
small_config(void)
{
	throttle_defaults(&cfg);
	cfg.addr.free = 2;
	cfg.addr.delay_ms = 100;
	cfg.addr.max_delay_ms = 400;
	cfg.addr.lockout = 6;
	cfg.addr.lockout_s = 1;
	cfg.addr.forget_s = 60;
	cfg.account.free = 1;
	cfg.account.delay_ms = 50;
	cfg.account.max_delay_ms = 1000;
	cfg.account.lockout = 4;
	cfg.account.lockout_s = 60;
	cfg.account.forget_s = 60;
	cfg.slots = 16;
}

/* fail_n - n failed attempts; returns the delays as text. */
static void
fail_n(struct throttle *t, const char *addr, const char *acct, int n, char *out,
    size_t len)
{
	struct throttle_ticket tk;
	size_t off = 0;
	int i, d;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		d = throttle_begin(t, addr, acct, &tk);
		throttle_end(t, &tk, 0);
		if (off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%d", i ? " " : "", d);
	}
}

struct worker {
	struct throttle	*t;
	int		 n;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct throttle_ticket tk;
	int i;

	for (i = 0; i < w->n; i++) {
		if (throttle_begin(w->t, "198.51.100.9", "shared@example.org", &tk) >= 0)
			throttle_end(w->t, &tk, i % 2 == 0 ? 1 : -1);
	}
	return NULL;
}

int
main(void)
{
	struct throttle *t;
	struct throttle_ticket tk, tks[3];
	char got[128];
	int d, i;

	small_config();
	t = throttle_new(&cfg);

	fail_n(t, "192.0.2.1", NULL, 7, got, sizeof(got));
	CHECK_STR(got, "0 0 100 200 400 400 -1", "address: free, doubling, capped, then locked");
	fail_n(t, "192.0.2.2", NULL, 1, got, sizeof(got));
	CHECK_STR(got, "0", "address: another address is not slowed");
	d = throttle_begin(t, "::ffff:192.0.2.1", NULL, &tk);
	CHECK(d == -1 && !tk.active, "address: IPv4-mapped IPv6 is the same address");

	fail_n(t, "2001:db8::1", NULL, 2, got, sizeof(got));
	fail_n(t, "2001:db8::ffff", NULL, 1, got, sizeof(got));
	CHECK_STR(got, "100", "address: IPv6 counts per /64");
	fail_n(t, "2001:db8:0:1::1", NULL, 1, got, sizeof(got));
	CHECK_STR(got, "0", "address: another /64 is apart");

	/* Parallel correct logins from a clean address (an office behind
	 * NAT) are never slowed... */
	for (i = 0; i < 3; i++)
		throttle_begin(t, "203.0.113.5", NULL, &tks[i]);
	d = throttle_begin(t, "203.0.113.5", NULL, &tk);
	CHECK(d == 0, "parallel: clean address, the 4th concurrent login waits not (%d)", d);
	throttle_end(t, &tk, 1);
	for (i = 0; i < 3; i++)
		throttle_end(t, &tks[i], 1);
	/* ... but once it has failed, attempts in flight count together. */
	fail_n(t, "203.0.113.5", NULL, 1, got, sizeof(got));
	CHECK_STR(got, "0", "parallel: one failure");
	for (i = 0; i < 3; i++)
		throttle_begin(t, "203.0.113.5", NULL, &tks[i]);
	d = throttle_begin(t, "203.0.113.5", NULL, &tk);
	CHECK(d == 400, "parallel: after a failure the 4th concurrent attempt waits (%d)", d);
	throttle_end(t, &tk, 1);
	for (i = 0; i < 3; i++)
		throttle_end(t, &tks[i], 1);
	d = throttle_begin(t, "203.0.113.5", NULL, &tk);
	CHECK(d == 0, "parallel: settled successes leave only the one failure (%d)", d);
	throttle_end(t, &tk, 1);
	{
		struct throttle_ticket many[40];

		int slowed = 0;

		for (i = 0; i < 40; i++)
			if (throttle_begin(t, "203.0.113.50", "office@example.org",
			    &many[i]) != 0)
				slowed++;
		CHECK(slowed == 0, "parallel: 40 logins at once, none slowed (%d)", slowed);
		d = 0;
		for (i = 0; i < 40; i++)
			if (throttle_begin(t, "203.0.113.50", "office@example.org", &tk) < 0)
				d = -1;
			else
				throttle_end(t, &tk, 1);
		CHECK(d == 0, "parallel: 40 logins in flight never lock out");
		for (i = 0; i < 40; i++)
			throttle_end(t, &many[i], 1);
	}

	/* Temporary failures do not count. */
	for (i = 0; i < 10; i++) {
		throttle_begin(t, "203.0.113.6", "tmp@example.org", &tk);
		throttle_end(t, &tk, -1);
	}
	d = throttle_begin(t, "203.0.113.6", "tmp@example.org", &tk);
	CHECK(d == 0, "tempfail: ten directory outages cost nothing (%d)", d);
	throttle_end(t, &tk, 1);

	/* Accounts: counted across addresses, success forgets. */
	fail_n(t, "203.0.113.10", "Alice@Example.org", 1, got, sizeof(got));
	fail_n(t, "203.0.113.11", "alice@example.org", 2, got, sizeof(got));
	CHECK_STR(got, "50 100", "account: counted across addresses, case folded");
	throttle_begin(t, "203.0.113.12", "alice@example.org", &tk);
	throttle_end(t, &tk, 1);
	fail_n(t, "203.0.113.12", "alice@example.org", 1, got, sizeof(got));
	CHECK_STR(got, "0", "account: a success forgets the failures");
	fail_n(t, "203.0.113.13", "bob@example.org", 5, got, sizeof(got));
	CHECK_STR(got, "0 50 100 200 -1", "account: locked out after 4 failures");
	d = throttle_begin(t, "203.0.113.99", "bob@example.org", &tk);
	CHECK(d == -1, "account: the lockout holds from any address");
	throttle_end(t, &tk, 0);
	CHECK(!tk.active, "an inactive ticket stays inactive");

	/* The address lockout window ends (lockout_s = 1). */
	sleep(1);
	usleep(200000);
	d = throttle_begin(t, "192.0.2.1", NULL, &tk);
	CHECK(d == 100, "lockout: over after its window, delays resume (%d)", d);
	throttle_end(t, &tk, 0);

	/* Bounded table: churn through 5000 addresses; a lockout survives. */
	fail_n(t, "192.0.2.77", NULL, 7, got, sizeof(got));
	for (i = 0; i < 5000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		throttle_begin(t, a, NULL, &tk);
		throttle_end(t, &tk, 0);
	}
	d = throttle_begin(t, "192.0.2.77", NULL, &tk);
	CHECK(d == -1, "bounded: a locked address survives 5000 others in 16 slots");
	throttle_free(&t);
	CHECK(t == NULL, "throttle_free clears the pointer");

	/* Threads: successes and tempfails only, so the count ends at zero. */
	throttle_defaults(&cfg);
	t = throttle_new(&cfg);
	{
		pthread_t th[4];
		struct worker w = { t, 2000 };

		for (i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, worker_main, &w);
		for (i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
	}
	d = throttle_begin(t, "198.51.100.9", "shared@example.org", &tk);
	CHECK(d == 0, "threads: 8000 settled attempts leave no failure behind (%d)", d);
	throttle_end(t, &tk, 1);
	throttle_free(&t);
	return unit_done();
}
