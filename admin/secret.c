/*
 * secret.c - reading passwords for gmsadm: from a file that only its owner
 * can read, from the terminal with echo off, or from a non-terminal stdin
 * (for scripts that pipe it).  Never from the command line, where every
 * user of the machine could read it in ps(1) or /proc.
 *
 * Security: the bytes are kept in a buf with a hard maximum and wiped by
 * the caller (buf_wipe_free); the terminal's echo is restored on every
 * path, SIGINT included, because the read is done with ISIG left on and
 * the handler restores the saved settings before exiting.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "admin/admin.h"

#define PW_MAX	1024

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;
static int tio_fd = -1;

static void
restore_tty(int sig)
{
	if (tio_saved)
		(void)tcsetattr(tio_fd, TCSAFLUSH, &saved_tio);
	if (write(STDERR_FILENO, "\n", 1) < 0)
		_exit(128 + sig);
	_exit(128 + sig);
}

/* read_line_fd - one line (without the end) of at most PW_MAX bytes. */
static int
read_line_fd(int fd, struct buf *pw)
{
	char ch;
	ssize_t r;

	buf_reset(pw);
	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return pw->len > 0 ? 0 : -1;
		if (ch == '\n')
			break;
		if (pw->len >= PW_MAX || buf_putc(pw, ch) < 0)
			return -2;
	}
	if (pw->len > 0 && pw->data[pw->len - 1] == '\r')
		pw->data[--pw->len] = '\0';
	return 0;
}

/* prompt_tty - one no-echo read from the terminal. */
static int
prompt_tty(int fd, const char *prompt, struct buf *pw)
{
	struct termios tio;
	struct sigaction sa, old_int, old_term;
	int r;

	if (tcgetattr(fd, &saved_tio) < 0)
		return -1;
	tio_fd = fd;
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_tty;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	tio_saved = 1;
	if (tcsetattr(fd, TCSAFLUSH, &tio) < 0) {
		tio_saved = 0;
		return -1;
	}
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	r = read_line_fd(fd, pw);
	(void)tcsetattr(fd, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	fputc('\n', stderr);
	return r;
}

int
adm_read_password(struct adm *a, const char *file, const char *prompt,
    bool confirm, struct buf *pw, int *exit_r)
{
	struct buf again = BUF_INIT(PW_MAX + 2);
	struct stat st;
	char p[256];
	int fd, r;

	buf_init(pw, PW_MAX + 2);
	if (file != NULL) {
		fd = adm_open_input(a, file);
		if (fd < 0) {
			*exit_r = adm_fail(a, EX_NOINPUT, "cannot open the "
			    "password file %s: %s", file, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			*exit_r = adm_fail(a, EX_NOINPUT, "%s is not a regular "
			    "file", file);
			return -1;
		}
		if (st.st_mode & (S_IRWXG | S_IRWXO)) {
			close(fd);
			*exit_r = adm_fail(a, EX_NOPERM, "%s can be read by "
			    "other users: run 'chmod 600 %s' first", file, file);
			return -1;
		}
		r = read_line_fd(fd, pw);
		close(fd);
	} else if (isatty(STDIN_FILENO)) {
		(void)gms_snprintf(p, sizeof(p), "%s: ", prompt);
		r = prompt_tty(STDIN_FILENO, p, pw);
		if (r == 0 && confirm) {
			r = prompt_tty(STDIN_FILENO, "Again: ", &again);
			if (r == 0 && (again.len != pw->len ||
			    memcmp(again.data, pw->data, pw->len) != 0)) {
				buf_wipe_free(&again);
				buf_wipe_free(pw);
				*exit_r = adm_fail(a, EX_DATAERR, "the two "
				    "passwords differ; nothing was changed");
				return -1;
			}
		}
		buf_wipe_free(&again);
	} else
		r = read_line_fd(STDIN_FILENO, pw);
	if (r == -2) {
		buf_wipe_free(pw);
		*exit_r = adm_fail(a, EX_DATAERR, "the password is longer than "
		    "%d bytes", PW_MAX);
		return -1;
	}
	if (r < 0 || pw->len == 0) {
		buf_wipe_free(pw);
		*exit_r = adm_fail(a, EX_DATAERR, "no password given (an empty "
		    "password is never accepted)%s", file == NULL ?
		    "; type it at the prompt, pipe it on stdin, or use "
		    "--password-file" : "");
		return -1;
	}
	return 0;
}
