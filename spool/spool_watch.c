/*
 * spool_watch.c - change notification across processes.
 *
 * A writer, after its commit, updates the time stamp of the mailbox's
 * notify file DIR/notify/ID (spool_notify).  A process that watches keeps
 * one inotify instance for all its watchers and one thread that waits on
 * it; each event is passed on to the eventfd of every watcher of that
 * file.  So an idle session holds one eventfd and costs no CPU, the
 * per-user inotify instance limit is used once per process, and the wake
 * up follows the commit within milliseconds.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/spool-private.h"

struct spool_watcher {
	struct spool_watcher	*next;
	struct spool		*sp;
	uint64_t		 mbox;
	int			 wd;
	int			 efd;
};

void
spool_notify_path(const struct spool *sp, uint64_t id, char *out,
    size_t outlen)
{
	(void)gms_snprintf(out, outlen, "%s/notify/%016llx", sp->dir,
	    (unsigned long long)id);
}

void
spool_notify(struct spool *sp, uint64_t mailbox_id)
{
	char path[4200];
	int fd;

	spool_notify_path(sp, mailbox_id, path, sizeof(path));
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
		return;
	if (errno != ENOENT) {
		log_warn("spool: notify %s", path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

/* watch_main - pass inotify events on to the watchers' eventfds. */
static void *
watch_main(void *arg)
{
	struct spool *sp = arg;
	char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd pfd[2];
		ssize_t n;
		char *p;

		pfd[0].fd = sp->ino_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sp->ino_stop[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("spool: watch poll");
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(sp->ino_fd, evbuf, sizeof(evbuf));
		if (n <= 0)
			continue;
		pthread_mutex_lock(&sp->watch_mtx);
		for (p = evbuf; p < evbuf + n;) {
			const struct inotify_event *ev = (const void *)p;
			struct spool_watcher *w;

			for (w = sp->watchers; w != NULL; w = w->next) {
				if (w->wd == ev->wd) {
					uint64_t one = 1;

					if (write(w->efd, &one, sizeof(one)) < 0 &&
					    errno != EAGAIN)
						log_warn("spool: eventfd");
				}
			}
			p += sizeof(*ev) + ev->len;
		}
		pthread_mutex_unlock(&sp->watch_mtx);
	}
	return NULL;
}

/* watch_start - the inotify instance and its thread, once. */
static int
watch_start(struct spool *sp)
{
	if (sp->watch_running)
		return 0;
	sp->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sp->ino_fd < 0) {
		log_warn("spool: inotify_init1");
		return -1;
	}
	if (pipe2(sp->ino_stop, O_CLOEXEC) < 0) {
		log_warn("spool: pipe");
		close(sp->ino_fd);
		sp->ino_fd = -1;
		return -1;
	}
	if (pthread_create(&sp->watch_thread, NULL, watch_main, sp) != 0) {
		log_warnx("spool: cannot start the watch thread");
		close(sp->ino_fd);
		close(sp->ino_stop[0]);
		close(sp->ino_stop[1]);
		sp->ino_fd = sp->ino_stop[0] = sp->ino_stop[1] = -1;
		return -1;
	}
	sp->watch_running = true;
	return 0;
}

int
spool_watch_open(struct spool *sp, uint64_t mailbox_id,
    struct spool_watch **w_r)
{
	struct spool_watcher *w;
	char path[4200];
	int fd;

	*w_r = NULL;
	spool_notify_path(sp, mailbox_id, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("spool: %s", path);
		return SPOOL_ETEMP;
	}
	close(fd);
	w = xcalloc(1, sizeof(*w));
	w->sp = sp;
	w->mbox = mailbox_id;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		log_warn("spool: eventfd");
		free(w);
		return SPOOL_ETEMP;
	}
	pthread_mutex_lock(&sp->watch_mtx);
	if (watch_start(sp) < 0) {
		pthread_mutex_unlock(&sp->watch_mtx);
		close(w->efd);
		free(w);
		return SPOOL_ETEMP;
	}
	w->wd = inotify_add_watch(sp->ino_fd, path,
	    IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE);
	if (w->wd < 0) {
		pthread_mutex_unlock(&sp->watch_mtx);
		log_warn("spool: inotify_add_watch %s", path);
		close(w->efd);
		free(w);
		return SPOOL_ETEMP;
	}
	w->next = sp->watchers;
	sp->watchers = w;
	pthread_mutex_unlock(&sp->watch_mtx);
	*w_r = (struct spool_watch *)w;
	return SPOOL_OK;
}

int
spool_watch_fd(const struct spool_watch *w)
{
	return ((const struct spool_watcher *)w)->efd;
}

void
spool_watch_ack(struct spool_watch *w)
{
	uint64_t v;

	while (read(((struct spool_watcher *)w)->efd, &v, sizeof(v)) > 0)
		continue;
}

void
spool_watch_close(struct spool_watch **wp)
{
	struct spool_watcher *w = (struct spool_watcher *)*wp, **pp, *o;
	struct spool *sp;
	bool shared = false;

	if (w == NULL)
		return;
	*wp = NULL;
	sp = w->sp;
	pthread_mutex_lock(&sp->watch_mtx);
	for (pp = &sp->watchers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	for (o = sp->watchers; o != NULL; o = o->next)
		if (o->wd == w->wd)
			shared = true;
	if (!shared && sp->ino_fd >= 0)
		(void)inotify_rm_watch(sp->ino_fd, w->wd);
	pthread_mutex_unlock(&sp->watch_mtx);
	close(w->efd);
	free(w);
}

void
spool_watch_shutdown(struct spool *sp)
{
	if (!sp->watch_running)
		return;
	if (write(sp->ino_stop[1], "x", 1) < 0)
		log_warn("spool: watch stop");
	pthread_join(sp->watch_thread, NULL);
	close(sp->ino_fd);
	close(sp->ino_stop[0]);
	close(sp->ino_stop[1]);
	sp->ino_fd = sp->ino_stop[0] = sp->ino_stop[1] = -1;
	sp->watch_running = false;
}
