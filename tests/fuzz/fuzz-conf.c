/*
 * fuzz-conf.c - libFuzzer target for the gms.conf parser: any bytes as a
 * configuration file must give a configuration or a file:line error,
 * never a crash.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gms.h"

static const struct conf_def fuzz_table[] = {
	{ "smtpd.n", CONF_INT, "10", 0, 100, NULL, "" },
	{ "smtpd.s", CONF_SIZE, "1M", 0, 1LL << 40, NULL, "" },
	{ "smtpd.t", CONF_TIME, "1m", 0, 86400, NULL, "" },
	{ "smtpd.b", CONF_BOOL, "no", 0, 0, NULL, "" },
	{ "smtpd.e", CONF_ENUM, "a", 0, 0, "a|b", "" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static bool init;
	char err[512];
	struct conf *c;
	FILE *fp;

	if (!init) {
		log_init("fuzz-conf", true);
		log_set_level(LOG_LVL_ERROR);
		conf_register(lib_conf_table);
		conf_register(fuzz_table);
		(void)gms_snprintf(path, sizeof(path), "/tmp/fuzz-conf-%d.conf",
		    (int)getpid());
		init = true;
	}
	if ((fp = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	if (c != NULL) {
		(void)conf_int(c, "smtpd.n");
		(void)conf_str(c, "smtpd.e");
		conf_free(&c);
	}
	return 0;
}
