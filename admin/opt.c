/*
 * opt.c - option parsing for gmsadm's subcommands: a small getopt_long
 * that permutes operands like GNU getopt (options may follow operands),
 * knows "--name=value", "--name value", "-x value" and "--", and reports
 * unknown options and missing values itself.  Used by every handler.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

void
adm_getopt_init(struct adm_getopt *g, int argc, char **argv,
    const struct adm_opt *opts)
{
	memset(g, 0, sizeof(*g));
	g->ind = 0;
	g->argc = argc;
	g->argv = argv;
	g->opts = opts;
	g->operands = xcalloc((size_t)argc + 1, sizeof(char *));
}

void
adm_getopt_free(struct adm_getopt *g)
{
	free(g->operands);
	g->operands = NULL;
	g->noperands = 0;
}

int
adm_getopt_next(struct adm_getopt *g, const char **arg_r)
{
	const struct adm_opt *o;
	const char *s, *eq;
	size_t nlen;

	*arg_r = NULL;
	while (g->ind < g->argc) {
		s = g->argv[g->ind];
		if (g->done || s[0] != '-' || s[1] == '\0') {
			g->operands[g->noperands++] = g->argv[g->ind++];
			continue;
		}
		g->ind++;
		if (strcmp(s, "--") == 0) {
			g->done = true;
			continue;
		}
		if (s[1] == '-') {
			s += 2;
			eq = strchr(s, '=');
			nlen = eq != NULL ? (size_t)(eq - s) : strlen(s);
			for (o = g->opts; o != NULL && o->name != NULL; o++)
				if (strlen(o->name) == nlen &&
				    strncmp(o->name, s, nlen) == 0)
					break;
			if (o == NULL || o->name == NULL) {
				fprintf(stderr, "gmsadm: unknown option --%.*s\n",
				    (int)nlen, s);
				return '?';
			}
			if (o->has_arg) {
				if (eq != NULL)
					*arg_r = eq + 1;
				else if (g->ind < g->argc)
					*arg_r = g->argv[g->ind++];
				else {
					fprintf(stderr, "gmsadm: option --%s "
					    "needs a value\n", o->name);
					return '?';
				}
			} else if (eq != NULL) {
				fprintf(stderr, "gmsadm: option --%s takes no "
				    "value\n", o->name);
				return '?';
			}
			return o->letter;
		}
		/* A short option, one letter. */
		for (o = g->opts; o != NULL && o->name != NULL; o++)
			if (o->letter == (unsigned char)s[1] && o->letter < 128)
				break;
		if (o == NULL || o->name == NULL || s[2] != '\0') {
			fprintf(stderr, "gmsadm: unknown option %s\n", s);
			return '?';
		}
		if (o->has_arg) {
			if (g->ind >= g->argc) {
				fprintf(stderr, "gmsadm: option %s needs a value\n",
				    s);
				return '?';
			}
			*arg_r = g->argv[g->ind++];
		}
		return o->letter;
	}
	return -1;
}

