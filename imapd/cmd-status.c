/*
 * cmd-status.c - STATUS (RFC 9051 6.3.11) with DELETED, SIZE (RFC 8438),
 * HIGHESTMODSEQ (RFC 7162) and APPENDLIMIT (RFC 7889); the item parser
 * and the response writer are shared with LIST-STATUS (cmd-list.c).
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

static const struct {
	const char	*name;
	unsigned int	 bit;
} items[] = {
	{ "MESSAGES", ST_MESSAGES },
	{ "RECENT", ST_RECENT },
	{ "UIDNEXT", ST_UIDNEXT },
	{ "UIDVALIDITY", ST_UIDVALIDITY },
	{ "UNSEEN", ST_UNSEEN },
	{ "DELETED", ST_DELETED },
	{ "SIZE", ST_SIZE },
	{ "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
	{ "APPENDLIMIT", ST_APPENDLIMIT },
};

int
imapd_p_status_items(struct imap_parser *p, unsigned int *items_r)
{
	char *name;
	size_t i;

	*items_r = 0;
	if (imap_p_list_begin(p) < 0)
		return -1;
	for (;;) {
		if (imap_p_atom(p, &name) < 0)
			return -1;
		for (i = 0; i < GMS_NELEM(items); i++)
			if (gms_strcasecmp(name, items[i].name) == 0)
				break;
		if (i == GMS_NELEM(items))
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown STATUS item");
		*items_r |= items[i].bit;
		if (!imap_p_accept(p, ' '))
			break;
	}
	return imap_p_list_end(p);
}

int
imapd_send_status(struct imapd_session *s, const char *name,
    unsigned int want, const struct spool_mbox *st)
{
	struct buf b = BUF_INIT(0);
	const char *sp = "";
	uint64_t limit;
	int r;

	(void)buf_puts(&b, "* STATUS ");
	(void)imap_put_mailbox(s, &b, name);
	(void)buf_puts(&b, " (");
#define ITEM(bit, ...) do { if (want & (bit)) { (void)buf_puts(&b, sp); \
	(void)buf_printf(&b, __VA_ARGS__); sp = " "; } } while (0)
	ITEM(ST_MESSAGES, "MESSAGES %u", st->messages);
	ITEM(ST_RECENT, "RECENT %u", st->recent);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", st->uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", st->uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %u", st->unseen);
	ITEM(ST_DELETED, "DELETED %u", st->deleted);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)st->size);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)(st->highestmodseq > 0 ? st->highestmodseq : 1));
	limit = spool_append_limit(imapd_spool);
	if (limit == 0 || limit > (uint64_t)conf_int(s->conf,
	    "imapd.literal_max"))
		limit = (uint64_t)conf_int(s->conf, "imapd.literal_max");
	ITEM(ST_APPENDLIMIT, "APPENDLIMIT %llu", (unsigned long long)limit);
#undef ITEM
	(void)buf_puts(&b, ")\r\n");
	r = imapd_write_buf(s, &b);
	buf_free(&b);
	return r;
}

int
cmd_status(struct imapd_session *s, struct imap_parser *p)
{
	struct spool_mbox st;
	unsigned int want;
	char *name;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0 ||
	    imap_p_sp(p) < 0 || imapd_p_status_items(p, &want) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	memset(&st, 0, sizeof(st));
	r = spool_mailbox_status(imapd_spool, s->user, name, &st);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "status");
	if (st.attrs & SPOOL_MBOX_NOSELECT)
		return cmd_no(s, "CANNOT", "Mailbox cannot be selected");
	(void)imapd_send_status(s, name, want, &st);
	return cmd_ok(s, NULL, "STATUS completed");
}
