/*
 * arena.c - per-command scratch memory for gms-imapd.
 *
 * The parser and the command handlers allocate their strings, lists and
 * sets here; the dispatcher clears the arena after every command, so an
 * idle session holds none of it.  Blocks grow geometrically from 1 KiB;
 * a request larger than a block gets a block of its own.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"

struct arena_block {
	struct arena_block	*next;
	size_t			 size;	/* usable bytes after the header */
	size_t			 used;
	/* data follows, aligned */
	max_align_t		 data[];
};

#define ARENA_ALIGN	(sizeof(max_align_t))
#define ARENA_FIRST	1024

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need, size;
	char *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		fatalx("arena_alloc: %zu bytes", n);
	need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (b == NULL || b->size - b->used < need) {
		size = b != NULL ? b->size * 2 : ARENA_FIRST;
		if (size > 1024 * 1024)
			size = 1024 * 1024;
		if (size < need)
			size = need;
		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
		a->total += size;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_clear(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->total = 0;
}
