/*
 * listmatch.c - LIST/LSUB pattern matching (RFC 9051 6.3.9): "*" matches
 * anything, "%" anything but the hierarchy separator "/".  A dynamic
 * programme over (pattern, name), O(pattern x name) in time and
 * O(name) in memory, never recursive, so a hostile pattern such as
 * "*%*%*%...x" cannot make it exponential.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

bool
imapd_list_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), nl = strlen(name), i, j;
	unsigned char *prev, *cur, *t;
	bool ok;

	if (pl > SPOOL_MAILBOX_MAX || nl > SPOOL_MAILBOX_MAX)
		return false;
	/* prev[j]: pattern[0..i) matches name[0..j). */
	prev = xcalloc(nl + 1, 1);
	cur = xcalloc(nl + 1, 1);
	prev[0] = 1;
	for (i = 0; i < pl; i++) {
		char pc = pattern[i];

		memset(cur, 0, nl + 1);
		if (pc == '*' || pc == '%') {
			/* cur[j] = prev[k] for some k <= j with no '/' in
			 * name[k..j) when '%'. */
			bool run = false;

			for (j = 0; j <= nl; j++) {
				if (pc == '%' && j > 0 && name[j - 1] == '/')
					run = false;
				if (prev[j])
					run = true;
				cur[j] = run;
			}
		} else {
			for (j = 1; j <= nl; j++)
				cur[j] = prev[j - 1] && name[j - 1] == pc;
		}
		t = prev;
		prev = cur;
		cur = t;
	}
	ok = prev[nl] != 0;
	free(prev);
	free(cur);
	return ok;
}

