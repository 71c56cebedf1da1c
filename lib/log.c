/*
 * log.c - the one logging API of GMS.  Lines go to syslog (facility mail)
 * or, in foreground mode, to stderr with a timestamp.  Each line starts
 * with the calling thread's session id so that a message can be followed
 * from SMTP to mailbox; the text after it is key=value fields by habit of
 * the callers.  Levels below the threshold are never formatted (the
 * macros in gms.h test log_level_current first).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gms.h"

int log_level_current = LOG_LVL_INFO;
unsigned int log_trace_mask;

static bool log_foreground = true;
static char log_ident[32] = "gms";
static __thread char log_sid[32];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static const struct {
	const char	*name;
	unsigned int	 bit;
} trace_names[] = {
	{ "smtp", TRACE_SMTP }, { "imap", TRACE_IMAP }, { "spool", TRACE_SPOOL },
	{ "directory", TRACE_DIR }, { "tls", TRACE_TLS }, { "sasl", TRACE_SASL },
	{ "relay", TRACE_RELAY },
};

void
log_init(const char *ident, bool foreground)
{
	(void)gms_strlcpy(log_ident, ident, sizeof(log_ident));
	log_foreground = foreground;
	if (!foreground)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(enum log_level lvl)
{
	log_level_current = lvl;
}

int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < GMS_NELEM(level_names); i++)
		if (gms_strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(int lvl)
{
	static __thread char unknown[24];

	if (lvl >= 0 && (size_t)lvl < GMS_NELEM(level_names))
		return level_names[lvl];
	(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", lvl);
	return unknown;
}

int
log_trace_parse(const char *s, unsigned int *mask_r)
{
	unsigned int mask = 0;
	struct cursor c;

	cur_init(&c, s, strlen(s));
	for (;;) {
		const char *w;
		size_t n, i;

		while (!cur_eof(&c) && (cur_peek(&c) == ' ' ||
		    cur_peek(&c) == ',' || cur_peek(&c) == '\t'))
			cur_skip(&c, 1);
		if (cur_eof(&c))
			break;
		n = cur_take_until(&c, " ,\t", &w);
		for (i = 0; i < GMS_NELEM(trace_names); i++)
			if (strlen(trace_names[i].name) == n &&
			    gms_strncasecmp(w, trace_names[i].name, n) == 0)
				break;
		if (i == GMS_NELEM(trace_names))
			return -1;
		mask |= trace_names[i].bit;
	}
	*mask_r = mask;
	return 0;
}

void
log_set_session(const char *sid)
{
	(void)gms_strlcpy(log_sid, sid != NULL ? sid : "", sizeof(log_sid));
}

const char *
log_get_session(void)
{
	return log_sid[0] != '\0' ? log_sid : "-";
}

/* log_emit - write one formatted line to the sink. */
static void
log_emit(int lvl, const char *text)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

	if (lvl < 0 || lvl > LOG_LVL_ERROR)
		lvl = LOG_LVL_ERROR;
	if (!log_foreground) {
		syslog(prio[lvl], "%s %s", log_get_session(), text);
		return;
	}

	struct timespec ts;
	struct tm tm;
	char tbuf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s %s: %s\n", tbuf,
	    ts.tv_nsec / 1000000, log_ident, (int)getpid(), log_get_session(),
	    level_names[lvl], text);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

static void
log_vmsg(int lvl, bool with_errno, const char *fmt, va_list ap)
{
	char text[1024];
	int saved = errno;
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (with_errno) {
		char eb[128];
		const char *es = strerror_r(saved, eb, sizeof(eb));

		n = strlen(text);
		if (n < sizeof(text))
			snprintf(text + n, sizeof(text) - n, ": %s", es);
	}
	log_emit(lvl, text);
	errno = saved;
}

void
log_msg(int lvl, bool with_errno, const char *fmt, ...)
{
	va_list ap;

	if (lvl < log_level_current)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, with_errno, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, true, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, false, fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;
	char text[900];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERROR, false, "panic: %s", text);
	abort();
}

char *
log_escape(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	bool cut = srclen > max;

	if (dstlen == 0)
		return dst;
	if (cut)
		srclen = max;
	for (i = 0; i < srclen; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)ch;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	if (i < srclen)
		cut = true;
	if (cut && dstlen >= 4) {
		if (o > dstlen - 4)
			o = dstlen - 4;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
