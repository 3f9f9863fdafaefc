/* mpcstat: list jobs as squeue does (JOBID NAME CLIENT QUEUE STATE TIME TASKS REASON), or as JSON / a long report. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void fmt_time(json_t *job, char *out, size_t size)
{
	json_t *s = json_object_get(job, "start_ms"), *e = json_object_get(job, "end_ms");
	int64_t ms = 0, secs;
	if (json_is_integer(s))
		ms = (json_is_integer(e) ? json_integer_value(e) : now_ms()) - json_integer_value(s);
	secs = ms > 0 ? ms / 1000 : 0;
	if (secs >= 3600)
		snprintf(out, size, "%" PRId64 ":%02d:%02d", secs / 3600, (int)(secs / 60 % 60),
			 (int)(secs % 60));
	else
		snprintf(out, size, "%d:%02d", (int)(secs / 60), (int)(secs % 60));
}

static const char *reason_of(json_t *job)
{
	const char *r = json_string_value(json_object_get(job, "reason"));
	return r && *r ? r : "None";
}

static void print_long(json_t *job)
{
	json_t *atts = json_object_get(job, "attempts"), *a;
	const char *k;
	json_t *v;
	size_t i;
	char t[32];
	fmt_time(job, t, sizeof t);
	printf("JobId=%" PRId64 " JobName=%s Client=%s Queue=%s Priority=%d\n",
	       (int64_t)json_integer_value(json_object_get(job, "id")),
	       json_string_value(json_object_get(job, "name")),
	       json_string_value(json_object_get(job, "client")),
	       json_string_value(json_object_get(job, "queue")),
	       (int)json_integer_value(json_object_get(job, "priority")));
	printf("   JobState=%s Reason=%s RunTime=%s InputRevision=%" PRId64 " Fuel=%" PRId64 "\n",
	       json_string_value(json_object_get(job, "state")), reason_of(job), t,
	       (int64_t)json_integer_value(json_object_get(job, "input_revision")),
	       (int64_t)json_integer_value(json_object_get(job, "fuel")));
	if (json_is_string(json_object_get(job, "error")))
		printf("   Error=%s\n", json_string_value(json_object_get(job, "error")));
	printf("   File=%s\n", json_string_value(json_object_get(job, "file")));
	json_array_foreach(json_object_get(job, "tasks"), i, a)
	{
		printf("   Task=%d Kind=%s Stage=%d", (int)json_integer_value(json_object_get(a, "task")),
		       json_string_value(json_object_get(a, "kind")),
		       (int)json_integer_value(json_object_get(a, "stage")));
		if (json_is_string(json_object_get(a, "table")))
			printf(" Table=%s Segment=%d Rows=%" PRId64,
			       json_string_value(json_object_get(a, "table")),
			       (int)json_integer_value(json_object_get(a, "segment")),
			       (int64_t)json_integer_value(json_object_get(a, "rows")));
		printf(" State=%s Attempts=%d\n", json_string_value(json_object_get(a, "state")),
		       (int)json_integer_value(json_object_get(a, "attempts")));
	}
	json_array_foreach(atts, i, a)
	{
		printf("   Task=%d Attempt=%d State=%s Triples=[%s,+%" PRId64 ") Done=",
		       (int)json_integer_value(json_object_get(a, "task")),
		       (int)json_integer_value(json_object_get(a, "attempt")),
		       json_string_value(json_object_get(a, "state")),
		       json_string_value(json_object_get(a, "t0")),
		       (int64_t)json_integer_value(json_object_get(a, "n")));
		int first = 1;
		json_object_foreach(json_object_get(a, "done"), k, v)
		{
			printf("%s%s", first ? "" : ",", k);
			first = 0;
		}
		if (first)
			printf("-");
		if (json_string_length(json_object_get(a, "reason")))
			printf(" Reason=\"%s\"", json_string_value(json_object_get(a, "reason")));
		printf("\n");
	}
	printf("\n");
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
		return rv == MPC_ENOENT ? 1 : 3;
	}
	if (json) {
		json_t *o = json_pack("{s:O}", "jobs", jobs);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
		printf("%s\n", text);
		free(text);
		json_decref(o);
	} else if (lng) {
		json_array_foreach(jobs, i, job) print_long(job);
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
			fmt_time(job, t, sizeof t);
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
