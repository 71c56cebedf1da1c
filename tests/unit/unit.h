/*
 * unit.h - the tiny TAP harness of the C unit tests.  Each CHECK prints
 * one "ok N - what" or "not ok N - what" line; automake's TAP driver counts
 * them, so every check is one test in the suite's totals.
 */
#ifndef GMS_UNIT_H
#define GMS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_n, unit_failed;

/* cond is evaluated exactly once. */
#define CHECK(cond, ...) do {						\
	int ok_ = (cond) ? 1 : 0;					\
	unit_n++;							\
	if (!ok_)							\
		unit_failed++;						\
	printf("%s %d - ", ok_ ? "ok" : "not ok", unit_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!ok_)							\
		printf("# failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	fflush(stdout);							\
} while (0)

#define CHECK_STR(got, want, what) do {					\
	const char *g_ = (got), *w_ = (want);				\
	CHECK(g_ != NULL && strcmp(g_, w_) == 0, "%s", what);		\
	if (g_ == NULL || strcmp(g_, w_) != 0)				\
		printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_); \
} while (0)

/* Print the plan and return the exit status. */
static inline int unit_done(void)
{
	printf("1..%d\n", unit_n);
	/* LeakSanitizer ends the process without flushing stdio. */
	fflush(stdout);
	return unit_failed ? 1 : 0;
}

#endif
