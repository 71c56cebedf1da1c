/*
 * import.c - "gmsadm import maildir | mbox PATH ADDRESS".  (Not written
 * yet: the table is empty, so "gmsadm help" does not offer the command.)
 */
#include "config.h"

#include "admin/admin.h"

const struct adm_cmd adm_import_cmds[] = {
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
