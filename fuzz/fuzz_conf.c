/* Fuzz harness of the configuration loaders: the strict INI parser (common/ini.c) and cluster/party/client conf (common/conf.c). */
#include "common/conf.h"
#include "common/err.h"
#include "common/ini.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Input: byte 0 selects the loader, the rest is file text.
 *   0: ini_parse_string() with a handler that checks what it is given
 *   1: mpc_cluster_load() of the text
 *   2: mpc_party_conf_load(), 3: mpc_client_conf_load(): the text up to a
 *      line "%%" is mpcd.conf / client.conf, the rest is the cluster.conf
 *      beside it (`cluster = cluster.conf` names it)
 * The files live in one temp dir per process (mode 0600, as the loaders
 * require for files with secret keys). A loader returns 0 with an object
 * or an error code with a message naming the file.
 */

static char dir[64];

static void cleanup(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/main.conf", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/cluster.conf", dir);
	unlink(path);
	rmdir(dir);
}

static void write_file(const char *name, const uint8_t *d, size_t n)
{
	char path[128];
	int fd;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n))
		abort();
	close(fd);
}

static int check_entry(void *ctx, const char *section, const char *key, const char *value,
		       char *errmsg)
{
	(void)ctx;
	(void)errmsg;
	if (key[0] == '\0' || strchr(key, '\n') != NULL || strchr(value, '\n') != NULL ||
	    strchr(section, '\n') != NULL)
		abort(); /* one line per key, never an empty key */
	if (strcmp(key, "fail") == 0) {
		mpc_errmsg_printf(errmsg, "handler refused '%s'", value);
		return MPC_ECONFIG;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[MPC_ERRMSG_SIZE], path[128];
	const uint8_t *text = data + 1, *sep;
	size_t n = size - 1;
	int rc;

	if (size < 1)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/fuzz_conf.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
	}
	errmsg[0] = '\0';
	snprintf(path, sizeof path, "%s/main.conf", dir);
	switch (data[0] % 4) {
	case 0: {
		char *s = malloc(n + 1);
		if (s == NULL)
			return 0;
		memcpy(s, text, n);
		s[n] = '\0';
		rc = ini_parse_string("fuzz.ini", s, check_entry, NULL, errmsg);
		if (rc != 0 && strncmp(errmsg, "fuzz.ini:", 9) != 0)
			abort(); /* errors name file:line */
		free(s);
		return 0;
	}
	case 1: {
		struct mpc_cluster *c = NULL;
		write_file("main.conf", text, n);
		rc = mpc_cluster_load(path, &c, errmsg);
		if (rc == 0 && (c == NULL || c->n_parties < 1 || c->n_parties > MPC_MAX_PARTIES ||
				c->n_clients > MPC_MAX_CLIENTS))
			abort();
		if (rc != 0 && errmsg[0] == '\0')
			abort();
		if (rc == 0)
			mpc_cluster_free(c);
		return 0;
	}
	default:
		break;
	}
	sep = memmem(text, n, "\n%%\n", 4);
	if (sep == NULL) {
		write_file("main.conf", text, n);
		write_file("cluster.conf", NULL, 0);
	} else {
		write_file("main.conf", text, (size_t)(sep - text) + 1);
		write_file("cluster.conf", sep + 4, n - (size_t)(sep - text) - 4);
	}
	if (data[0] % 4 == 2) {
		struct mpc_party_conf *pc = NULL;
		rc = mpc_party_conf_load(path, &pc, errmsg);
		if (rc == 0 && (pc->party_id < 0 || pc->party_id >= pc->cluster->n_parties))
			abort();
		if (rc == 0)
			mpc_party_conf_free(pc);
	} else {
		struct mpc_client_conf *cc = NULL;
		rc = mpc_client_conf_load(path, &cc, errmsg);
		if (rc == 0 && mpc_cluster_client(cc->cluster, cc->name) == NULL)
			abort();
		if (rc == 0)
			mpc_client_conf_free(cc);
	}
	if (rc != 0 && errmsg[0] == '\0')
		abort(); /* every refusal says why */
	return 0;
}
