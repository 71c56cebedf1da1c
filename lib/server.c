/*
 * server.c - the server loop of gms-smtpd and gms-imapd: listen on the
 * configured addresses, load the TLS certificates, drop root for good,
 * then accept connections and run each session on its own detached
 * thread with a small stack.
 *
 * Limits: PREFIX.max_sessions overall and PREFIX.max_sessions_per_ip per
 * client address (IPv6 per /64).  A connection over a limit gets the
 * program's busy reply (after the TLS handshake on an implicit-TLS port)
 * from one of a few short-lived reject threads, then is closed; when even
 * those are busy it is closed at once.  Nothing ever hangs.
 *
 * Signals are turned into bytes on a self-pipe by an async-signal-safe
 * handler and handled by the main thread's poll loop; session threads
 * block them.  SIGTERM/SIGINT: close the listeners, make the stop pipe
 * readable (every session's next wait ends with CONN_STOP, the session
 * writes its goodbye), wait up to SERVER_STOP_WAIT_S seconds, return.
 * SIGHUP: load gms.conf again and the certificates; when both are good
 * they become current, running sessions keep the references they hold.
 * Listen addresses are bound once: a change needs a restart.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gms.h"

#if defined(__SANITIZE_ADDRESS__)
#define SERVER_STACK_SIZE	(2 * 1024 * 1024)	/* ASan needs room */
#else
#define SERVER_STACK_SIZE	(256 * 1024)
#endif
#define SERVER_STOP_WAIT_S	10
#define SERVER_MAX_LISTENERS	64
#define SERVER_REJECT_THREADS	8
#define SERVER_REJECT_TIMEOUT	5000	/* ms, for the busy reply */
#define SERVER_BACKLOG		256

struct listener {
	int			 fd;
	const struct listen_spec *spec;		/* borrowed from the def */
	char			 name[80];	/* "addr:port" for the logs */
};

/* A running session and its place in the list of sessions. */
struct server_session {
	struct session		 s;
	struct server_session	*prev, *next;
	unsigned char		 ipkey[16];
	int64_t			 start_ms;
};

struct reject_job {
	int		 fd;
	struct tls_ctx	*tls;		/* a reference, or NULL */
	char		 peer[64];
};

static struct {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct server_session	*head;		/* under lock */
	unsigned int		 nsessions;	/* under lock */
	unsigned int		 nreject;	/* under lock */
	struct tls_ctx		*tls;		/* under lock: current context */
	uint64_t		 counter;	/* main thread only */
	int			 sig_pipe[2];
	int			 stop_pipe[2];
	atomic_bool		 stopping;
	const struct server_def	*def;
	struct listener		 l[SERVER_MAX_LISTENERS];
	size_t			 nl;
	char			*key_max;	/* "PREFIX.max_sessions" */
	char			*key_max_ip;
	char			*key_timeout;
} srv = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.sig_pipe = { -1, -1 },
	.stop_pipe = { -1, -1 },
};

static int64_t
server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
server_stopping(void)
{
	return atomic_load(&srv.stopping);
}

/* server_signal - async-signal-safe: one byte per signal on the pipe. */
static void
server_signal(int sig)
{
	int save = errno;
	unsigned char b = (unsigned char)sig;

	if (write(srv.sig_pipe[1], &b, 1) == -1) {
		/* A full pipe already holds a wake-up. */
	}
	errno = save;
}

/* server_pipe - a close-on-exec pipe; non-blocking ends when asked. */
static int
server_pipe(int p[2], bool nonblock)
{
	if (pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)) == -1) {
		log_error("event=pipe_failed");
		return -1;
	}
	return 0;
}

int
server_drop_privileges(const char *user, const char *group)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pwbuf[16384], grbuf[16384];
	uid_t uid;
	gid_t gid;
	int r;

	if (geteuid() != 0) {
		log_debug("event=privileges_kept reason=\"not root\" uid=%u",
		    (unsigned int)geteuid());
		return 0;
	}
	if (user == NULL || *user == '\0') {
		log_errorx("event=privileges_error error=\"server.user is empty\"");
		return -1;
	}
	r = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp);
	if (r != 0 || pwp == NULL) {
		log_errorx("event=privileges_error error=\"unknown user\" user=%s", user);
		return -1;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	if (group != NULL && *group != '\0') {
		r = getgrnam_r(group, &gr, grbuf, sizeof(grbuf), &grp);
		if (r != 0 || grp == NULL) {
			log_errorx("event=privileges_error error=\"unknown group\" group=%s",
			    group);
			return -1;
		}
		gid = gr.gr_gid;
	}
	if (uid == 0 || gid == 0) {
		log_errorx("event=privileges_error error=\"refusing to run as root\" "
		    "user=%s", user);
		return -1;
	}
	if (initgroups(user, gid) == -1) {
		log_error("event=privileges_error call=initgroups user=%s", user);
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		log_error("event=privileges_error call=setresgid gid=%u", (unsigned int)gid);
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		log_error("event=privileges_error call=setresuid uid=%u", (unsigned int)uid);
		return -1;
	}
	/* Security: prove that root cannot come back. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1 || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid) {
		log_errorx("event=privileges_error error=\"root could be regained\"");
		return -1;
	}
	/* No setuid program run later can hand privileges back either. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("event=no_new_privs_failed");
	log_info("event=privileges_dropped user=%s uid=%u gid=%u", user,
	    (unsigned int)uid, (unsigned int)gid);
	return 0;
}

/* server_apply_log - log.level and log.trace from c. */
static void
server_apply_log(const struct conf *c)
{
	unsigned int mask;
	int lvl;

	lvl = log_level_parse(conf_str(c, "log.level"));
	if (lvl >= 0)
		log_set_level((enum log_level)lvl);
	if (log_trace_parse(conf_str(c, "log.trace"), &mask) == 0)
		log_trace_mask = mask;
}

/* server_addr_string - numeric address and port of sa. */
static void
server_addr_string(const struct sockaddr *sa, socklen_t len, char *addr,
    size_t addrlen, int *port_r)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	const char *h = host;

	*port_r = 0;
	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		(void)gms_strlcpy(addr, "?", addrlen);
		return;
	}
	if (strncmp(h, "::ffff:", 7) == 0 && strchr(h + 7, ':') == NULL)
		h += 7;		/* IPv4-mapped: show the IPv4 address */
	(void)gms_strlcpy(addr, h, addrlen);
	*port_r = atoi(serv);
}

/* server_ipkey - 16 bytes per client: IPv4 mapped, IPv6 cut to /64. */
static void
server_ipkey(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		memcpy(key, &in6->sin6_addr, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			memset(key + 8, 0, 8);
	}
}

/* server_listen_one - bind and listen on "addr:port" or "[v6]:port". */
static int
server_listen_one(const struct listen_spec *spec, const char *tok, size_t len)
{
	char host[64], port[8], *endp;
	const char *colon;
	struct addrinfo hints, *ai = NULL;
	struct listener *l;
	size_t hlen;
	long pn;
	int fd = -1, one = 1, r;

	if (len >= sizeof(host) + sizeof(port))
		goto bad;
	if (tok[0] == '[') {
		const char *rb = memchr(tok, ']', len);

		if (rb == NULL || rb + 1 >= tok + len || rb[1] != ':')
			goto bad;
		hlen = (size_t)(rb - tok - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, tok + 1, hlen);
		host[hlen] = '\0';
		colon = rb + 1;
	} else {
		colon = NULL;
		for (hlen = 0; hlen < len; hlen++)
			if (tok[hlen] == ':')
				colon = tok + hlen;
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - tok);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, tok, hlen);
		host[hlen] = '\0';
		if (strchr(host, ':') != NULL)
			goto bad;	/* IPv6 needs brackets */
		if (strcmp(host, "*") == 0)
			(void)gms_strlcpy(host, "0.0.0.0", sizeof(host));
	}
	if ((size_t)(tok + len - colon - 1) >= sizeof(port) || tok + len - colon - 1 == 0)
		goto bad;
	memcpy(port, colon + 1, (size_t)(tok + len - colon - 1));
	port[tok + len - colon - 1] = '\0';
	errno = 0;
	pn = strtol(port, &endp, 10);
	if (errno != 0 || *endp != '\0' || pn < 1 || pn > 65535)
		goto bad;
	if (srv.nl >= SERVER_MAX_LISTENERS) {
		log_errorx("event=listen_error error=\"more than %d listen addresses\"",
		    SERVER_MAX_LISTENERS);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0 || ai == NULL) {
		log_errorx("event=listen_error key=%s addr=%.*s error=\"%s\"",
		    spec->conf_key, (int)len, tok, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_error("event=listen_error key=%s addr=%.*s call=socket",
		    spec->conf_key, (int)len, tok);
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, SERVER_BACKLOG) == -1) {
		log_error("event=listen_error key=%s addr=%.*s", spec->conf_key,
		    (int)len, tok);
		goto fail;
	}
	freeaddrinfo(ai);
	l = &srv.l[srv.nl++];
	l->fd = fd;
	l->spec = spec;
	(void)gms_snprintf(l->name, sizeof(l->name), "%.*s", (int)len, tok);
	log_info("event=listen key=%s addr=%s tls=%s", spec->conf_key, l->name,
	    spec->tls == LISTEN_IMPLICIT ? "implicit" : "starttls");
	return 0;
bad:
	log_errorx("event=listen_error key=%s addr=\"%.*s\" error=\"want ADDR:PORT or [IPV6]:PORT\"",
	    spec->conf_key, (int)(len > 80 ? 80 : len), tok);
	return -1;
fail:
	if (fd != -1)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return -1;
}

/* server_listen_all - every address of every listen key of def. */
static int
server_listen_all(const struct server_def *def, const struct conf *c,
    bool *implicit_r)
{
	const struct listen_spec *spec;

	*implicit_r = false;
	for (spec = def->listen; spec != NULL && spec->conf_key != NULL; spec++) {
		const char *v = conf_str(c, spec->conf_key);
		size_t i = 0, n = strlen(v), start;

		while (i < n) {
			while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
				i++;
			start = i;
			while (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
				i++;
			if (i > start) {
				if (server_listen_one(spec, v + start, i - start) == -1)
					return -1;
				if (spec->tls == LISTEN_IMPLICIT)
					*implicit_r = true;
			}
		}
	}
	if (srv.nl == 0) {
		log_errorx("event=listen_error error=\"no listen address configured\"");
		return -1;
	}
	return 0;
}

/* server_load_tls - the context of c's tls.* keys; NULL when unset. */
static int
server_load_tls(const struct conf *c, struct tls_ctx **tls_r)
{
	const char *cert = conf_str(c, "tls.cert");
	char err[512];

	*tls_r = NULL;
	if (*cert == '\0')
		return 0;
	*tls_r = tls_server_new(cert, conf_str(c, "tls.key"),
	    conf_str(c, "tls.sni_dir"), err, sizeof(err));
	if (*tls_r == NULL) {
		log_errorx("event=tls_error error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* server_session_id - unique: base32 of the time, then of a counter. */
static void
server_session_id(char *id, size_t len)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	uint64_t t = (uint64_t)time(NULL), n = ++srv.counter;
	char tmp[24];
	size_t i = 0, k;

	for (k = 0; k < 7; k++) {
		tmp[i++] = b32[t & 31];
		t >>= 5;
	}
	do {
		tmp[i++] = b32[n & 31];
		n >>= 5;
	} while (n != 0 && i < sizeof(tmp) - 1);
	/* The time part reads most significant first, the counter after it. */
	for (k = 0; k < 7 / 2; k++) {
		char x = tmp[k];

		tmp[k] = tmp[6 - k];
		tmp[6 - k] = x;
	}
	tmp[i] = '\0';
	(void)gms_strlcpy(id, tmp, len);
}

/* server_block_signals - the signals only the main thread handles. */
static void
server_block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/* server_spawn - a detached thread with a small stack. */
static int
server_spawn(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t old;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
	server_block_signals(&old);
	r = pthread_create(&tid, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		errno = r;
		log_error("event=thread_failed");
		return -1;
	}
	return 0;
}

/* server_reject_main - give one refused connection its busy reply. */
static void *
server_reject_main(void *arg)
{
	struct reject_job *job = arg;
	struct conn *c;
	char drain[512];
	int status, i;

	log_set_session("-");
	c = conn_new(job->fd, SERVER_REJECT_TIMEOUT, srv.stop_pipe[0]);
	if (job->tls != NULL && conn_starttls_server(c, job->tls, NULL) < 0)
		goto done;
	if (srv.def->busy_reply != NULL) {
		(void)conn_printf(c, "%s\r\n", srv.def->busy_reply);
		if (conn_flush(c) < 0)
			goto done;
	}
	if (job->tls == NULL) {
		/* Read what the client sent, so that close does not reset the
		 * connection before it reads the reply. */
		(void)shutdown(job->fd, SHUT_WR);
		conn_set_timeout(c, 1000);
		for (i = 0; i < 16; i++)
			if (conn_read_some(c, drain, sizeof(drain), &status) <= 0)
				break;
	}
done:
	conn_free(&c);
	tls_unref(&job->tls);
	free(job);
	pthread_mutex_lock(&srv.lock);
	srv.nreject--;
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	return NULL;
}

/* server_reject - refuse fd: busy reply on a reject thread, or close. */
static void
server_reject(int fd, const struct listener *l, const char *peer,
    const char *reason)
{
	struct reject_job *job;
	bool spawn;

	log_info("event=reject reason=%s ip=%s listen=%s", reason, peer, l->name);
	pthread_mutex_lock(&srv.lock);
	spawn = srv.nreject < SERVER_REJECT_THREADS;
	if (spawn)
		srv.nreject++;
	pthread_mutex_unlock(&srv.lock);
	if (!spawn) {
		close(fd);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->fd = fd;
	(void)gms_strlcpy(job->peer, peer, sizeof(job->peer));
	if (l->spec->tls == LISTEN_IMPLICIT) {
		pthread_mutex_lock(&srv.lock);
		job->tls = tls_ref(srv.tls);
		pthread_mutex_unlock(&srv.lock);
	}
	if (server_spawn(server_reject_main, job) == -1) {
		close(fd);
		tls_unref(&job->tls);
		free(job);
		pthread_mutex_lock(&srv.lock);
		srv.nreject--;
		pthread_mutex_unlock(&srv.lock);
	}
}

/* server_session_main - one session on its own thread. */
static void *
server_session_main(void *arg)
{
	struct server_session *ss = arg;
	struct session *s = &ss->s;
	size_t discarded;
	int64_t ms;

	log_set_session(s->id);
	log_info("event=accept ip=%s port=%d local=%s%s%s:%d kind=%d tls=%s",
	    s->peer_addr, s->peer_port, strchr(s->local_addr, ':') ? "[" : "",
	    s->local_addr, strchr(s->local_addr, ':') ? "]" : "", s->local_port, s->kind,
	    s->listen_tls == LISTEN_IMPLICIT ? "implicit" : "none");
	if (s->listen_tls == LISTEN_IMPLICIT) {
		if (conn_starttls_server(s->conn, s->tls, &discarded) < 0) {
			log_info("event=tls_failed ip=%s", s->peer_addr);
			goto done;
		}
		log_info("event=tls ip=%s cipher=\"%s\" sni=%s", s->peer_addr,
		    conn_tls_info(s->conn),
		    conn_tls_sni(s->conn) != NULL ? conn_tls_sni(s->conn) : "-");
	}
	srv.def->serve(s);
done:
	conn_free(&s->conn);
	ms = server_now_ms() - ss->start_ms;
	log_info("event=close ip=%s port=%d kind=%d duration=%lld.%03lld",
	    s->peer_addr, s->peer_port, s->kind, (long long)(ms / 1000),
	    (long long)(ms % 1000));
	conf_release(&s->conf);
	tls_unref(&s->tls);
	pthread_mutex_lock(&srv.lock);
	if (ss->prev != NULL)
		ss->prev->next = ss->next;
	else
		srv.head = ss->next;
	if (ss->next != NULL)
		ss->next->prev = ss->prev;
	srv.nsessions--;
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	free(ss);
	return NULL;
}

/* server_accept - take one connection from l; false when none is left. */
static bool
server_accept(const struct listener *l)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	struct server_session *ss, *it;
	struct conf *c;
	unsigned char key[16];
	char addr[64];
	long long max, max_ip, timeout;
	unsigned int same = 0;
	int fd, port;

	fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			return true;
		log_warn("event=accept_failed listen=%s", l->name);
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			usleep(100000);
		return false;
	}
	/* No Nagle: a connection gathers each response and writes it at the
	 * end of the command (or every 16 KiB), so Nagle would only hold
	 * back the short tail of a large response until the peer's delayed
	 * ACK, about 40 ms (measured on IMAP FETCH 1:*). */
	{
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
	server_addr_string((struct sockaddr *)&peer, plen, addr, sizeof(addr), &port);
	server_ipkey(&peer, key);
	c = conf_acquire();
	max = conf_int(c, srv.key_max);
	max_ip = conf_int(c, srv.key_max_ip);
	timeout = conf_int(c, srv.key_timeout);

	pthread_mutex_lock(&srv.lock);
	for (it = srv.head; it != NULL; it = it->next)
		if (memcmp(it->ipkey, key, sizeof(key)) == 0)
			same++;
	if ((long long)srv.nsessions >= max || (long long)same >= max_ip) {
		bool total = (long long)srv.nsessions >= max;

		pthread_mutex_unlock(&srv.lock);
		conf_release(&c);
		server_reject(fd, l, addr, total ? "max_sessions" : "max_sessions_per_ip");
		return true;
	}
	ss = xcalloc(1, sizeof(*ss));
	memcpy(ss->ipkey, key, sizeof(key));
	ss->start_ms = server_now_ms();
	ss->s.tls = tls_ref(srv.tls);
	ss->next = srv.head;
	if (srv.head != NULL)
		srv.head->prev = ss;
	srv.head = ss;
	srv.nsessions++;
	pthread_mutex_unlock(&srv.lock);

	ss->s.conf = c;
	ss->s.kind = l->spec->kind;
	ss->s.listen_tls = l->spec->tls;
	ss->s.conn = conn_new(fd, timeout > INT32_MAX / 1000 ? INT32_MAX :
	    (int)(timeout * 1000), srv.stop_pipe[0]);
	server_session_id(ss->s.id, sizeof(ss->s.id));
	(void)gms_strlcpy(ss->s.peer_addr, addr, sizeof(ss->s.peer_addr));
	ss->s.peer_port = port;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		server_addr_string((struct sockaddr *)&local, llen, ss->s.local_addr,
		    sizeof(ss->s.local_addr), &ss->s.local_port);
	if (server_spawn(server_session_main, ss) == -1) {
		/* Undo, then refuse like an over-limit connection. */
		conn_free(&ss->s.conn);	/* closes fd */
		conf_release(&ss->s.conf);
		tls_unref(&ss->s.tls);
		pthread_mutex_lock(&srv.lock);
		if (ss->prev != NULL)
			ss->prev->next = ss->next;
		else
			srv.head = ss->next;
		if (ss->next != NULL)
			ss->next->prev = ss->prev;
		srv.nsessions--;
		pthread_mutex_unlock(&srv.lock);
		free(ss);
	}
	return true;
}

/* server_listen_changed - do c's listen keys differ from old's. */
static bool
server_listen_changed(const struct conf *old, const struct conf *c)
{
	const struct listen_spec *spec;

	for (spec = srv.def->listen; spec->conf_key != NULL; spec++)
		if (strcmp(conf_str(old, spec->conf_key), conf_str(c, spec->conf_key)) != 0)
			return true;
	return false;
}

/* server_reload - SIGHUP: new configuration and certificates, or none. */
static void
server_reload(bool need_tls)
{
	struct conf *old, *c;
	struct tls_ctx *tls = NULL, *otls;
	const char *path;
	char err[512];

	old = conf_acquire();
	path = conf_path(old);
	c = conf_load(strcmp(path, "(defaults)") == 0 ? NULL : path, err, sizeof(err));
	if (c == NULL) {
		log_errorx("event=reload_failed error=\"%s\"", err);
		conf_release(&old);
		return;
	}
	if (server_load_tls(c, &tls) == -1 || (need_tls && tls == NULL)) {
		if (tls == NULL && need_tls)
			log_errorx("event=reload_failed error=\"implicit TLS "
			    "listeners need tls.cert and tls.key\"");
		else
			log_errorx("event=reload_failed error=\"certificates not loaded\"");
		conf_free(&c);
		conf_release(&old);
		return;
	}
	if (server_listen_changed(old, c))
		log_warnx("event=reload_note msg=\"listen addresses change at restart\"");
	conf_release(&old);
	conf_set_current(c);
	pthread_mutex_lock(&srv.lock);
	otls = srv.tls;
	srv.tls = tls;
	pthread_mutex_unlock(&srv.lock);
	tls_unref(&otls);
	server_apply_log(c);
	if (srv.def->after_setup != NULL && srv.def->after_setup(c) == -1)
		log_errorx("event=reload_after_setup_failed");
	log_info("event=reload status=ok conf=%s", conf_path(c));
}

/* server_shutdown - stop accepting, wake the sessions, wait (bounded). */
static void
server_shutdown(void)
{
	struct timespec until;
	unsigned char b = 0;
	size_t i;
	int r = 0;

	atomic_store(&srv.stopping, true);
	for (i = 0; i < srv.nl; i++) {
		close(srv.l[i].fd);
		srv.l[i].fd = -1;
	}
	if (write(srv.stop_pipe[1], &b, 1) == -1)
		log_warn("event=stop_pipe_failed");
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SERVER_STOP_WAIT_S;
	pthread_mutex_lock(&srv.lock);
	log_info("event=stopping sessions=%u", srv.nsessions);
	while ((srv.nsessions > 0 || srv.nreject > 0) && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&srv.cond, &srv.lock, &until);
	if (srv.nsessions > 0)
		log_warnx("event=stop_timeout sessions=%u", srv.nsessions);
	pthread_mutex_unlock(&srv.lock);
}

int
server_main(const struct server_def *def, struct conf *c, bool foreground)
{
	struct pollfd pfd[SERVER_MAX_LISTENERS + 1];
	struct sigaction sa;
	struct conf *cur;
	struct tls_ctx *tls = NULL;
	bool implicit, stop = false;
	size_t i;

	(void)foreground;	/* logging was set up by the caller */
	srv.def = def;
	cur = conf_acquire();
	if (cur != c)
		conf_set_current(c);
	conf_release(&cur);
	server_apply_log(c);
	srv.key_max = xasprintf("%s.max_sessions", def->conf_prefix);
	srv.key_max_ip = xasprintf("%s.max_sessions_per_ip", def->conf_prefix);
	srv.key_timeout = xasprintf("%s.timeout", def->conf_prefix);
	/* A missing key is a bug of the program's table: find it now. */
	(void)conf_int(c, srv.key_max);
	(void)conf_int(c, srv.key_max_ip);
	(void)conf_int(c, srv.key_timeout);

	if (server_pipe(srv.sig_pipe, true) == -1 ||
	    server_pipe(srv.stop_pipe, false) == -1)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = server_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (server_listen_all(def, c, &implicit) == -1)
		return 1;
	if (server_load_tls(c, &tls) == -1)
		return 1;
	if (implicit && tls == NULL) {
		log_errorx("event=tls_error error=\"implicit TLS listeners need "
		    "tls.cert and tls.key\"");
		return 1;
	}
	srv.tls = tls;
	if (server_drop_privileges(conf_str(c, "server.user"),
	    conf_str(c, "server.group")) == -1)
		return 1;
	if (def->after_setup != NULL && def->after_setup(c) == -1) {
		log_errorx("event=setup_failed program=%s", def->name);
		return 1;
	}
	log_info("event=started program=%s listeners=%zu tls=%s", def->name,
	    srv.nl, tls != NULL ? "yes" : "no");

	while (!stop) {
		for (i = 0; i < srv.nl; i++) {
			pfd[i].fd = srv.l[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		pfd[srv.nl].fd = srv.sig_pipe[0];
		pfd[srv.nl].events = POLLIN;
		pfd[srv.nl].revents = 0;
		if (poll(pfd, srv.nl + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_error("event=poll_failed");
			break;
		}
		if (pfd[srv.nl].revents != 0) {
			unsigned char sigs[16];
			ssize_t n, k;
			bool hup = false;

			while ((n = read(srv.sig_pipe[0], sigs, sizeof(sigs))) > 0)
				for (k = 0; k < n; k++) {
					if (sigs[k] == SIGHUP)
						hup = true;
					else
						stop = true;
				}
			if (stop) {
				log_info("event=signal action=stop");
				break;
			}
			if (hup) {
				log_info("event=signal action=reload");
				server_reload(implicit);
			}
		}
		for (i = 0; i < srv.nl; i++) {
			int k;

			if (pfd[i].revents == 0)
				continue;
			for (k = 0; k < 64 && server_accept(&srv.l[i]); k++)
				;
		}
	}
	server_shutdown();
	return 0;
}
