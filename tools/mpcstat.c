/* mpcstat: list jobs as squeue does (JOBID NAME CLIENT QUEUE STATE TIME TASKS REASON), or as JSON / a long report. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: mpcstat [-c CONF] [-j JOBID] [-t STATES] [-u CLIENT] [--json] [-l]\n"
		   "Lists jobs: JOBID NAME CLIENT QUEUE STATE TIME TASKS REASON.\n\n"
		   "  -c, --config FILE   client config (else $MPC_CONFIG, else ~/.config/mpcstore/client.conf)\n"
		   "  -j, --job ID        only this job\n"
		   "  -t, --states LIST   comma-separated states (PENDING,RUNNING,COMPLETING,COMPLETED,\n"
		   "                      FAILED,CANCELLED,TIMEOUT; 'all' for every one)\n"
		   "  -u, --user CLIENT   only jobs of this client\n"
		   "      --json          JSON (one object {\"jobs\": [...]})\n"
		   "  -l, --long          key/value report with attempts\n"
		   "  -h, --help          this text\n"
		   "  -V, --version       print the version\n\n"
		   "Exit status: 0 listed; 1 the job given with -j is unknown; 2 usage; 3 the cluster\n"
		   "could not be reached.\n");
}

static const char *reason_of(json_t *job)
{
	const char *r = json_string_value(json_object_get(job, "reason"));
	return r && *r ? r : "None";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"job", required_argument, NULL, 'j'},
		{"states", required_argument, NULL, 't'}, {"user", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'J'},	  {"long", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},	  {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	const char *conf = NULL, *states = NULL, *user = NULL;
	char errmsg[MPC_ERRMSG_SIZE] = "";
	int c, json = 0, lng = 0, rv;
	uint64_t only = 0;
	struct mpc_client *cl;
	json_t *jobs = NULL, *job;
	size_t i;

	while ((c = getopt_long(argc, argv, "c:j:t:u:lhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'j': only = strtoull(optarg, NULL, 10); break;
		case 't': states = strcasecmp(optarg, "all") == 0 ? NULL : optarg; break;
		case 'u': user = optarg; break;
		case 'J': json = 1; break;
		case 'l': lng = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpcstat (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (mpc_client_open(conf, &cl, errmsg) != 0) {
		fprintf(stderr, "mpcstat: %s\n", errmsg);
		return 3;
	}
	if (only) {
		rv = mpc_job_get(cl, only, &job, errmsg);
		if (rv == 0) {
			jobs = json_array();
			json_array_append_new(jobs, job);
		}
	} else
		rv = mpc_job_list(cl, states, user, &jobs, errmsg);
	if (rv != 0) {
		fprintf(stderr, "mpcstat: %s\n", errmsg);
		mpc_client_close(cl);
		return rv == MPC_ENOENT ? 1 : 3;
	}
	if (json) {
		json_t *o = json_pack("{s:O}", "jobs", jobs);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
		printf("%s\n", text);
		free(text);
		json_decref(o);
	} else if (lng) {
		json_array_foreach(jobs, i, job)
		{
			char *text = mpc_job_report(job);
			fputs(text ? text : "", stdout);
			free(text);
		}
	} else {
		printf("%8s %-12s %-10s %-9s %-10s %9s %5s %s\n", "JOBID", "NAME", "CLIENT", "QUEUE",
		       "STATE", "TIME", "TASKS", "REASON");
		json_array_foreach(jobs, i, job)
		{
			char t[32], tasks[24];
			const char *st = json_string_value(json_object_get(job, "state"));
			json_t *tk;
			size_t k, ok = 0;
			json_array_foreach(json_object_get(job, "tasks"), k, tk)
				ok += strcmp(json_string_value(json_object_get(tk, "state")) ?: "",
					     "COMMITTED") == 0;
			snprintf(tasks, sizeof tasks, "%zu/%zu", ok,
				 json_array_size(json_object_get(job, "tasks")));
			mpc_job_runtime(job, t, sizeof t);
			printf("%8" PRId64 " %-12.12s %-10.10s %-9.9s %-10s %9s %5s %s\n",
			       (int64_t)json_integer_value(json_object_get(job, "id")),
			       json_string_value(json_object_get(job, "name")),
			       json_string_value(json_object_get(job, "client")),
			       json_string_value(json_object_get(job, "queue")), st, t,
			       tasks, reason_of(job));
		}
	}
	json_decref(jobs);
	mpc_client_close(cl);
	return 0;
}
