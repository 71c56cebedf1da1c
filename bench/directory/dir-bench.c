/*
 * dir-bench.c - lookups per second through the directory library.
 *
 * Reads addresses (one per line) from a file and resolves each of them,
 * pass after pass, from T threads sharing one handle, as the daemons do.
 * The first pass over a fresh handle is the cold cache (every answer comes
 * from slapd); the following passes are the warm cache.  With
 * directory.cache_ttl = 0 every pass goes to slapd.  Prints one line per
 * pass: "pass=N threads=T lookups=L errors=E seconds=S rate=R".
 *
 *   dir-bench -c gms.conf -f addresses.txt [-t threads] [-p passes]
 *             [-r rounds]   (passes after the first go over the list
 *                            `rounds` times, to time the warm cache)
 * Used by bench/directory/run; not a test.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gms.h"
#include "directory/directory.h"

struct job {
	struct directory	*d;
	char			**addr;		/* borrowed */
	size_t			 naddr;
	size_t			 start, step;	/* this thread's share */
	int			 rounds;	/* times over the list */
	unsigned long		 lookups;
	unsigned long		 errors;
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	size_t i;
	int round;

	for (round = 0; round < j->rounds; round++)
	for (i = j->start; i < j->naddr; i += j->step) {
		struct dir_resolution *r = NULL;
		int rc = directory_resolve(j->d, j->addr[i], &r);

		if (rc != DIR_FOUND)
			j->errors++;
		directory_resolution_free(&r);
		j->lookups++;
	}
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *confpath = NULL, *file = NULL;
	char err[512], line[512];
	struct directory *d;
	struct conf *c;
	char **addr = NULL;
	size_t naddr = 0;
	int ch, threads = 1, passes = 3, rounds = 1, p, t;
	FILE *fp;

	log_init("dir-bench", true);
	log_set_level(LOG_LVL_ERROR);
	while ((ch = getopt(argc, argv, "c:f:t:p:r:")) != -1) {
		switch (ch) {
		case 'c': confpath = optarg; break;
		case 'f': file = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'p': passes = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (confpath == NULL || file == NULL || threads < 1 || threads > 64 ||
	    passes < 1 || passes > 100 || rounds < 1 || rounds > 10000)
		goto usage;
	conf_register(lib_conf_table);
	conf_register(directory_conf_table);
	if ((c = conf_load(confpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dir-bench: %s\n", err);
		return 1;
	}
	if ((d = directory_open(c, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dir-bench: %s\n", err);
		return 1;
	}
	if ((fp = fopen(file, "r")) == NULL) {
		perror(file);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		addr = xreallocarray(addr, naddr + 1, sizeof(*addr));
		addr[naddr++] = xstrdup(line);
	}
	fclose(fp);

	for (p = 1; p <= passes; p++) {
		struct job *jobs = xcalloc((size_t)threads, sizeof(*jobs));
		pthread_t *tid = xcalloc((size_t)threads, sizeof(*tid));
		unsigned long lookups = 0, errors = 0;
		double t0 = now(), secs;

		for (t = 0; t < threads; t++) {
			jobs[t].d = d;
			jobs[t].addr = addr;
			jobs[t].naddr = naddr;
			jobs[t].start = (size_t)t;
			jobs[t].step = (size_t)threads;
			jobs[t].rounds = p == 1 ? 1 : rounds;
			pthread_create(&tid[t], NULL, worker, &jobs[t]);
		}
		for (t = 0; t < threads; t++) {
			pthread_join(tid[t], NULL);
			lookups += jobs[t].lookups;
			errors += jobs[t].errors;
		}
		secs = now() - t0;
		printf("pass=%d threads=%d lookups=%lu errors=%lu seconds=%.3f "
		    "rate=%.0f\n", p, threads, lookups, errors, secs,
		    secs > 0 ? (double)lookups / secs : 0.0);
		fflush(stdout);
		free(jobs);
		free(tid);
	}
	directory_close(&d);
	conf_free(&c);
	while (naddr > 0)
		free(addr[--naddr]);
	free(addr);
	return 0;
usage:
	fprintf(stderr, "usage: dir-bench -c CONF -f ADDRESSES [-t THREADS] "
	    "[-p PASSES] [-r ROUNDS]\n");
	return 2;
}
