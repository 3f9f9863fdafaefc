/* Unit tests of the strict INI parser and the config loaders: errors name file:line. */
#include "common/conf.h"
#include "common/err.h"
#include "common/ini.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ignore_key(void *ctx, const char *s, const char *k, const char *v, char *err)
{
	(*(int *)ctx)++;
	return 0;
}

Test(ini_parse, counts_keys_and_skips_comments)
{
	char err[MPC_ERRMSG_SIZE] = "";
	int n = 0;
	cr_assert_eq(ini_parse_string("x.conf", "# c\n[a]\nk = v\n; c\n k2=v2 \n", ignore_key, &n, err), 0);
	cr_assert_eq(n, 2);
}

Test(ini_parse, malformed_line_names_file_and_line)
{
	char err[MPC_ERRMSG_SIZE] = "";
	int n = 0;
	cr_assert_eq(ini_parse_string("x.conf", "[a]\nk = v\nnonsense\n", ignore_key, &n, err),
		     MPC_ECONFIG);
	cr_assert(strstr(err, "x.conf:3:") != NULL, "%s", err);
	cr_assert_eq(ini_parse_string("y.conf", "k = v\n", ignore_key, &n, err), MPC_ECONFIG);
	cr_assert(strstr(err, "y.conf:1: key 'k' outside any [section]") != NULL, "%s", err);
	cr_assert_eq(ini_parse_string("z.conf", "[a\n", ignore_key, &n, err), MPC_ECONFIG);
	cr_assert(strstr(err, "z.conf:1: malformed section") != NULL, "%s", err);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

Test(cluster_load, unknown_right_and_missing_keys)
{
	char err[MPC_ERRMSG_SIZE] = "";
	char path[] = "/tmp/test_conf.XXXXXX";
	struct mpc_cluster *c;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	write_file(path, "[cluster]\nid = 00112233445566778899aabbccddeeff\n[client.x]\nrights = fly\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, ":4: unknown right 'fly'") != NULL, "%s", err);
	write_file(path, "[cluster]\nid = 00112233445566778899aabbccddeeff\n[party.0]\nhost = h\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, "[party.0] needs") != NULL, "%s", err);
	write_file(path, "[cluster]\nid = 0011\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, ":2: cluster id must be 32 hex digits") != NULL, "%s", err);
	unlink(path);
}

Test(party_conf_load, world_readable_secret_file_refused)
{
	char err[MPC_ERRMSG_SIZE] = "";
	char path[] = "/tmp/test_conf.XXXXXX";
	struct mpc_party_conf *pc;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	write_file(path, "[party]\nid = 0\n", 0644);
	cr_assert_eq(mpc_party_conf_load(path, &pc, err), MPC_EPERM);
	cr_assert(strstr(err, "readable by group or others (mode 644)") != NULL, "%s", err);
	cr_assert(strstr(err, path) != NULL, "%s", err);
	unlink(path);
}

Test(party_conf_load, group_readable_secret_file_refused)
{
	char err[MPC_ERRMSG_SIZE] = "";
	char path[] = "/tmp/test_conf.XXXXXX";
	struct mpc_party_conf *pc;
	struct mpc_client_conf *cc;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	write_file(path, "[party]\nid = 0\n", 0640);
	cr_assert_eq(mpc_party_conf_load(path, &pc, err), MPC_EPERM);
	cr_assert(strstr(err, "(mode 640); run chmod 600") != NULL, "%s", err);
	write_file(path, "[client]\nname = a\n", 0660);
	cr_assert_eq(mpc_client_conf_load(path, &cc, err), MPC_EPERM);
	cr_assert(strstr(err, "(mode 660)") != NULL, "%s", err);
	unlink(path);
}

Test(rights, append_list_and_star)
{
	struct mpc_client_info ci;
	char err[MPC_ERRMSG_SIZE];
	memset(&ci, 0, sizeof ci);
	cr_assert_eq(mpc_rights_parse("append:t1, append:t2, read", &ci.rights, ci.append_tables,
				      sizeof ci.append_tables, err), 0);
	cr_assert(mpc_client_may_append(&ci, "t2"));
	cr_assert_not(mpc_client_may_append(&ci, "t3"));
	cr_assert_eq(mpc_rights_parse("append:*", &ci.rights, ci.append_tables,
				      sizeof ci.append_tables, err), 0);
	cr_assert(mpc_client_may_append(&ci, "anything"));
	/* a list past the parser's buffer is refused, not cut to a different right */
	char long_list[1100];
	memset(long_list, ' ', sizeof long_list);
	memcpy(long_list + 1010, "append:t1234", 12);
	long_list[1022] = '\0';
	cr_assert_eq(mpc_rights_parse(long_list, &ci.rights, ci.append_tables,
				      sizeof ci.append_tables, err), 0);
	cr_assert(mpc_client_may_append(&ci, "t1234"));
	memmove(long_list + 2, long_list, 1023); /* 1024 bytes: the old code kept "append:t12" */
	cr_assert_eq(mpc_rights_parse(long_list, &ci.rights, ci.append_tables,
				      sizeof ci.append_tables, err), MPC_ECONFIG);
	cr_assert_str_eq(err, "rights list longer than 1023 bytes");
}

#define PARTY0                                                                                   \
	"[cluster]\nid = 00112233445566778899aabbccddeeff\n[party.0]\nhost = h\nraft_port = 1\n"  \
	"api_port = 2\nmpc_port = 3\nsign_pk = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"      \
	"box_pk = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"

Test(cluster_load, queues_and_scheduler_limits)
{
	char err[MPC_ERRMSG_SIZE] = "", names[256];
	char path[] = "/tmp/test_conf.XXXXXX";
	struct mpc_cluster *c = NULL;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	/* no [queue.*]: one queue "default" without limits */
	write_file(path, PARTY0, 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), 0, "%s", err);
	cr_assert_eq(c->n_queues, 1);
	cr_assert_str_eq(c->queues[0].name, "default");
	cr_assert_eq(c->queues[0].weight, 1);
	cr_assert_eq(c->queues[0].max_running, 0);
	cr_assert_eq(c->sched_max_tasks, 0);
	cr_assert_eq(c->sched_max_fuel, 0);
	mpc_cluster_free(c);
	write_file(path,
		   PARTY0 "[queue.fast]\nweight = 3\nmax_running = 2\nmax_priority = 10\n"
			  "[queue.slow]\nmax_running = 1\n[scheduler]\nmax_tasks = 6\n"
			  "max_fuel_in_flight = 100000\n",
		   0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), 0, "%s", err);
	cr_assert_eq(c->n_queues, 2);
	cr_assert_eq(mpc_cluster_queue(c, "default"), NULL, "configured queues replace default");
	cr_assert_eq(mpc_cluster_queue(c, "fast")->weight, 3);
	cr_assert_eq(mpc_cluster_queue(c, "fast")->max_running, 2);
	cr_assert_eq(mpc_cluster_queue(c, "fast")->max_priority, 10);
	cr_assert(mpc_cluster_queue(c, "fast")->has_max_priority);
	cr_assert_eq(mpc_cluster_queue(c, "slow")->weight, 1);
	cr_assert_eq(mpc_cluster_queue(c, "slow")->has_max_priority, 0);
	cr_assert_eq(c->sched_max_tasks, 6);
	cr_assert_eq(c->sched_max_fuel, 100000);
	mpc_cluster_queue_names(c, names, sizeof names);
	cr_assert_str_eq(names, "fast, slow");
	mpc_cluster_free(c);
	/* bad values name the file and line */
	write_file(path, PARTY0 "[queue.q]\nweight = 0\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, ":11: weight of [queue.q] must be 1..1000000") != NULL, "%s", err);
	write_file(path, PARTY0 "[queue.q]\nshare = 2\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, ":11: unknown key 'share' in [queue.q]") != NULL, "%s", err);
	write_file(path, PARTY0 "[scheduler]\nmax_tasks = 0\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, ":11: max_tasks must be 1..4096") != NULL, "%s", err);
	write_file(path, PARTY0 "[scheduler]\nmax_fuel_in_flight = -5\n", 0644);
	cr_assert_eq(mpc_cluster_load(path, &c, err), MPC_ECONFIG);
	cr_assert(strstr(err, "max_fuel_in_flight must be") != NULL, "%s", err);
	unlink(path);
}
