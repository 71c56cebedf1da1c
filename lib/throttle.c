/*
 * throttle.c - slow down and lock out password guessing, for both daemons'
 * AUTH/LOGIN paths.  Each failed check is counted twice: for the client
 * address (IPv6 per /64, the unit a single host usually gets) and for the
 * account.  The first "free" failures cost nothing; then every attempt
 * waits delay_ms, doubled per failure up to max_delay_ms; past "lockout"
 * failures the key is refused outright for lockout_s seconds.  Failures
 * are forgotten after forget_s seconds of quiet.
 *
 * Security: attempts in flight count together with the failures, but
 * only for a key that already has a confirmed failure.  Thirty connections
 * that guess at once after a first wrong password therefore wait as if
 * thirty had failed, while fifty colleagues behind one NAT address who all
 * log in correctly at nine o'clock are never slowed or refused.  A lockout
 * comes from confirmed failures only, so parallel logins cannot cause one;
 * the first wave of guesses from a clean address is bounded by the
 * daemons' sessions per address, and every guess of it is counted.
 *
 * Memory is fixed: two tables of "slots" entries each, keyed by a 64-bit
 * hash under a random per-process seed (so a peer cannot aim collisions).
 * A key lives in one of PROBE slots after its hash; when all are taken the
 * least valuable one goes: expired first, then the least recently used
 * entry that is neither locked out nor in flight.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gms.h"

#define THROTTLE_PROBE		8
#define THROTTLE_SLOTS_MAX	(1u << 22)

struct throttle_entry {
	uint64_t	key;		/* 0: empty */
	unsigned int	failures;	/* confirmed failures */
	unsigned int	inflight;	/* attempts between begin and end */
	int64_t		last_ms;	/* last use (LRU) */
	int64_t		fail_ms;	/* last failure */
	int64_t		locked_until_ms;
};

struct throttle_table {
	struct throttle_rule	 rule;
	struct throttle_entry	*e;	/* owned, mask + 1 entries */
	size_t			 mask;
};

struct throttle {
	pthread_mutex_t		lock;
	uint64_t		seed;
	struct throttle_table	addr;
	struct throttle_table	account;
};

/*
 * Defaults: an address (an office behind NAT may hold many users) gets 5
 * free failures, a lockout after 30 for 10 minutes; an account gets 3 free
 * failures and a lockout after 10 for 15 minutes.  Delays start at 1 s and
 * stop growing at 16 s.  Quiet for 30 minutes forgets.
 */
void
throttle_defaults(struct throttle_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->addr.free = 5;
	cfg->addr.delay_ms = 1000;
	cfg->addr.max_delay_ms = 16000;
	cfg->addr.lockout = 30;
	cfg->addr.lockout_s = 600;
	cfg->addr.forget_s = 1800;
	cfg->account.free = 3;
	cfg->account.delay_ms = 1000;
	cfg->account.max_delay_ms = 16000;
	cfg->account.lockout = 10;
	cfg->account.lockout_s = 900;
	cfg->account.forget_s = 1800;
	cfg->slots = 16384;
}

/* throttle_now_ms - monotonic milliseconds. */
static int64_t
throttle_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* throttle_hash - seeded 64-bit hash of tag and bytes (never 0). */
static uint64_t
throttle_hash(uint64_t seed, char tag, const unsigned char *p, size_t n, bool fold)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	size_t i;

	h = (h ^ (unsigned char)tag) * 0x100000001b3ULL;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 0x100000001b3ULL;
	}
	/* splitmix64 finaliser: spread the bits over the whole word. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h != 0 ? h : 1;
}

/* throttle_addr_key - hash of an address: IPv4, or the /64 of IPv6. */
static uint64_t
throttle_addr_key(uint64_t seed, const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET6, addr, a) == 1) {
		static const unsigned char mapped[12] =
		    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a, mapped, sizeof(mapped)) == 0)
			return throttle_hash(seed, '4', a + 12, 4, false);
		return throttle_hash(seed, '6', a, 8, false);
	}
	if (inet_pton(AF_INET, addr, a) == 1)
		return throttle_hash(seed, '4', a, 4, false);
	return throttle_hash(seed, '?', (const unsigned char *)addr,
	    strlen(addr), false);
}

static void
throttle_table_init(struct throttle_table *tt, const struct throttle_rule *r,
    size_t slots)
{
	size_t n = THROTTLE_PROBE;

	while (n < slots && n < THROTTLE_SLOTS_MAX)
		n *= 2;
	tt->rule = *r;
	tt->e = xcalloc(n, sizeof(*tt->e));
	tt->mask = n - 1;
}

struct throttle *
throttle_new(const struct throttle_config *cfg)
{
	struct throttle *t;

	t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	if (getrandom(&t->seed, sizeof(t->seed), 0) != (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t;
	throttle_table_init(&t->addr, &cfg->addr, cfg->slots);
	throttle_table_init(&t->account, &cfg->account, cfg->slots);
	return t;
}

void
throttle_free(struct throttle **tp)
{
	struct throttle *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	pthread_mutex_destroy(&t->lock);
	free(t->addr.e);
	free(t->account.e);
	free(t);
}

/* throttle_expire - forget an entry's old failures; true if it is idle. */
static bool
throttle_expire(const struct throttle_table *tt, struct throttle_entry *e,
    int64_t now)
{
	if (e->key == 0)
		return true;
	if (e->locked_until_ms != 0 && now >= e->locked_until_ms) {
		/* After a lockout, the next failures are delayed again. */
		e->locked_until_ms = 0;
		if (e->failures > tt->rule.free)
			e->failures = tt->rule.free;
	}
	if (e->inflight == 0 && e->locked_until_ms == 0 &&
	    now - e->fail_ms >= (int64_t)tt->rule.forget_s * 1000)
		e->failures = 0;
	return e->failures == 0 && e->inflight == 0 && e->locked_until_ms == 0;
}

/*
 * throttle_find - the entry of key, or NULL; with create, make one,
 * evicting the least valuable entry of the probe window.
 */
static struct throttle_entry *
throttle_find(struct throttle_table *tt, uint64_t key, int64_t now, bool create)
{
	struct throttle_entry *victim = NULL, *e;
	int victim_rank = 0, rank;
	size_t i;

	for (i = 0; i < THROTTLE_PROBE; i++) {
		e = &tt->e[(key + i) & tt->mask];
		if (e->key == key) {
			(void)throttle_expire(tt, e, now);
			e->last_ms = now;
			return e;
		}
	}
	if (!create)
		return NULL;
	for (i = 0; i < THROTTLE_PROBE; i++) {
		e = &tt->e[(key + i) & tt->mask];
		/* Rank: 0 empty or idle, 1 plain, 2 in flight, 3 locked out. */
		if (throttle_expire(tt, e, now))
			rank = 0;
		else if (e->locked_until_ms != 0)
			rank = 3;
		else if (e->inflight > 0)
			rank = 2;
		else
			rank = 1;
		if (victim == NULL || rank < victim_rank ||
		    (rank == victim_rank && e->last_ms < victim->last_ms)) {
			victim = e;
			victim_rank = rank;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->last_ms = now;
	return victim;
}

/* throttle_delay - the delay that n earlier failures cost under r. */
static int64_t
throttle_delay(const struct throttle_rule *r, unsigned int n)
{
	int64_t d;
	unsigned int k;

	if (n < r->free || r->delay_ms == 0)
		return 0;
	d = r->delay_ms;
	for (k = r->free; k < n && d < r->max_delay_ms; k++)
		d *= 2;
	return d > r->max_delay_ms ? r->max_delay_ms : d;
}

/* throttle_pressure - failures that set the delay: confirmed ones, and
 * the attempts in flight once the key has failed at all. */
static unsigned int
throttle_pressure(const struct throttle_entry *e)
{
	return e->failures == 0 ? 0 : e->failures + e->inflight;
}

/* throttle_locked - is e refused now (lockout window or too many). */
static bool
throttle_locked(const struct throttle_rule *r, const struct throttle_entry *e)
{
	if (e->locked_until_ms != 0)
		return true;
	return r->lockout != 0 && e->failures >= r->lockout;
}

int
throttle_begin(struct throttle *t, const char *addr, const char *account,
    struct throttle_ticket *tk)
{
	struct throttle_entry *ea, *eu = NULL;
	int64_t now = throttle_now_ms(), d, du;

	memset(tk, 0, sizeof(*tk));
	tk->addr_key = throttle_addr_key(t->seed, addr != NULL ? addr : "");
	if (account != NULL && *account != '\0') {
		tk->has_account = true;
		tk->account_key = throttle_hash(t->seed, 'u',
		    (const unsigned char *)account, strlen(account), true);
	}
	pthread_mutex_lock(&t->lock);
	ea = throttle_find(&t->addr, tk->addr_key, now, true);
	if (tk->has_account)
		eu = throttle_find(&t->account, tk->account_key, now, true);
	if (throttle_locked(&t->addr.rule, ea) ||
	    (eu != NULL && throttle_locked(&t->account.rule, eu))) {
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	d = throttle_delay(&t->addr.rule, throttle_pressure(ea));
	ea->inflight++;
	if (eu != NULL) {
		du = throttle_delay(&t->account.rule, throttle_pressure(eu));
		if (du > d)
			d = du;
		eu->inflight++;
	}
	pthread_mutex_unlock(&t->lock);
	tk->active = true;
	return (int)d;
}

/* throttle_settle - finish one side of an attempt. */
static void
throttle_settle(struct throttle_table *tt, uint64_t key, int result,
    bool reset_on_success, int64_t now)
{
	struct throttle_entry *e;

	e = throttle_find(tt, key, now, result == 0);
	if (e == NULL)
		return;		/* evicted meanwhile: nothing to undo */
	if (e->inflight > 0)
		e->inflight--;
	if (result == 0) {
		e->failures++;
		e->fail_ms = now;
		if (tt->rule.lockout != 0 && e->failures >= tt->rule.lockout &&
		    e->locked_until_ms == 0)
			e->locked_until_ms = now + (int64_t)tt->rule.lockout_s * 1000;
		return;
	}
	if (result == 1 && reset_on_success)
		e->failures = 0;
}

void
throttle_end(struct throttle *t, struct throttle_ticket *tk, int result)
{
	int64_t now = throttle_now_ms();

	if (!tk->active)
		return;
	tk->active = false;
	pthread_mutex_lock(&t->lock);
	throttle_settle(&t->addr, tk->addr_key, result, false, now);
	if (tk->has_account)
		throttle_settle(&t->account, tk->account_key, result, true, now);
	pthread_mutex_unlock(&t->lock);
}
