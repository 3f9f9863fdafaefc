/* mpcsub: submit a job program to the cluster (sbatch-like), optionally wait for it and print its results. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_JOB 1   /* program error, or the job did not complete */
#define EXIT_USAGE 2
#define EXIT_CLUSTER 3

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpcsub [-c CONF] [--name N] [-q QUEUE] [--priority P] [--time S] [--arg K=V]...\n"
		"              [--parsable] [--wait] FILE\n"
		"Submits the job program FILE (docs/job-language.md) and prints 'Submitted job ID'.\n\n"
		"  -c, --config FILE   client config (else $MPC_CONFIG, else ~/.config/mpcstore/client.conf)\n"
		"  -J, --name N        job name (default: FILE's base name)\n"
		"  -q, --queue Q       queue (default: default)\n"
		"  -p, --priority P    priority, higher first (default 0)\n"
		"  -t, --time SECONDS  time limit: the job ends TIMEOUT when it runs longer\n"
		"  -a, --arg K=V       value of arg(\"K\") in the program (repeatable)\n"
		"      --parsable      print the job id alone\n"
		"  -W, --wait          wait until the job ends and print its results (JSON)\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n\n"
		"Exit status: 0 submitted (with --wait: COMPLETED); 1 program error (FILE:LINE:COL on\n"
		"stderr, nothing queued) or the job FAILED/CANCELLED/TIMEOUT; 2 usage; 3 the cluster\n"
		"could not be reached or refused the request.\n");
}

static void progress(void *ctx, json_t *job)
{
	char *last = ctx;
	const char *st = json_string_value(json_object_get(job, "state"));
	if (st != NULL && strcmp(st, last) != 0) {
		fprintf(stderr, "job %" PRId64 ": %s\n",
			(int64_t)json_integer_value(json_object_get(job, "id")), st);
		snprintf(last, 32, "%s", st);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"name", required_argument, NULL, 'J'},
		{"queue", required_argument, NULL, 'q'},  {"priority", required_argument, NULL, 'p'},
		{"arg", required_argument, NULL, 'a'},	  {"parsable", no_argument, NULL, 'P'},
		{"wait", no_argument, NULL, 'W'},	  {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {"time", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0}};
	const char *conf = NULL, *name = NULL, *queue = NULL, *file;
	int priority = 0, parsable = 0, wait = 0, c, rv, ret = EXIT_USAGE;
	unsigned time_limit = 0;
	json_t *args = json_object(), *job = NULL, *res = NULL;
	char errmsg[MPC_ERRMSG_SIZE] = "", *program = NULL;
	struct mpc_client *cl = NULL;
	uint64_t id;
	FILE *f;
	long size;

	while ((c = getopt_long(argc, argv, "c:J:q:p:a:t:WhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'J': name = optarg; break;
		case 'q': queue = optarg; break;
		case 'p': priority = atoi(optarg); break;
		case 'a': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				fprintf(stderr, "mpcsub: --arg needs KEY=VALUE, got '%s'\n", optarg);
				ret = EXIT_USAGE;
				goto out;
			}
			*eq = '\0';
			json_object_set_new(args, optarg, json_string(eq + 1));
			break;
		}
		case 't': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (end == optarg || *end != '\0' || optarg[0] == '-' || v == 0 ||
			    v > 366ul * 86400) {
				fprintf(stderr, "mpcsub: --time needs SECONDS 1..31622400, got '%s'\n",
					optarg);
				goto out;
			}
			time_limit = (unsigned)v;
			break;
		}
		case 'P': parsable = 1; break;
		case 'W': wait = 1; break;
		case 'h': usage(stdout); ret = 0; goto out;
		case 'V': printf("mpcsub (mpcstore) %s\n", PACKAGE_VERSION); ret = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		ret = EXIT_USAGE;
		goto out;
	}
	file = argv[optind];
	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "mpcsub: %s: cannot open\n", file);
		ret = EXIT_USAGE;
		goto out;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	program = calloc(1, (size_t)(size > 0 ? size : 0) + 1);
	if (program == NULL || (size > 0 && fread(program, 1, (size_t)size, f) != (size_t)size)) {
		fprintf(stderr, "mpcsub: %s: cannot read\n", file);
		fclose(f);
		goto out;
	}
	fclose(f);
	if (name == NULL) {
		const char *b = strrchr(file, '/');
		name = b ? b + 1 : file;
	}
	if ((rv = mpc_client_open(conf, &cl, errmsg)) != 0) {
		fprintf(stderr, "mpcsub: %s\n", errmsg);
		ret = EXIT_CLUSTER;
		goto out;
	}
	rv = mpc_job_submit_limit(cl, file, program, name, queue, priority, time_limit, args, &job,
				  errmsg);
	if (rv == MPC_EINVAL) {
		fprintf(stderr, "%s\n", errmsg);
		ret = EXIT_JOB;
		goto out;
	}
	if (rv != 0) {
		fprintf(stderr, "mpcsub: submit failed: %s\n", errmsg);
		ret = EXIT_CLUSTER;
		goto out;
	}
	id = (uint64_t)json_integer_value(json_object_get(job, "id"));
	if (strcmp(json_string_value(json_object_get(job, "state")), "FAILED") == 0) {
		fprintf(stderr, "%s\n", json_string_value(json_object_get(job, "error")) ?: "job failed");
		ret = EXIT_JOB;
		goto out;
	}
	if (parsable)
		printf("%" PRIu64 "\n", id);
	else
		printf("Submitted job %" PRIu64 "\n", id);
	fflush(stdout);
	json_decref(job);
	job = NULL;
	if (!wait) {
		ret = 0;
		goto out;
	}
	{
		char last[32] = "";
		rv = mpc_job_wait(cl, id, 0, isatty(2) ? progress : NULL, last, &job, errmsg);
	}
	if (rv != 0) {
		fprintf(stderr, "mpcsub: waiting for job %" PRIu64 ": %s\n", id, errmsg);
		ret = EXIT_CLUSTER;
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(job, "state")), "COMPLETED") != 0) {
		fprintf(stderr, "mpcsub: job %" PRIu64 " %s%s%s\n", id,
			json_string_value(json_object_get(job, "state")),
			json_string_length(json_object_get(job, "reason")) ? ": " : "",
			json_string_value(json_object_get(job, "reason")));
		ret = EXIT_JOB;
		goto out;
	}
	rv = mpc_job_result(cl, id, &res, errmsg);
	if (rv == MPC_EPERM) /* every value is revealed to other clients */
		res = json_object();
	else if (rv != 0) {
		fprintf(stderr, "mpcsub: results of job %" PRIu64 ": %s\n", id, errmsg);
		ret = EXIT_CLUSTER;
		goto out;
	}
	{
		char *text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		printf("%s\n", text);
		free(text);
	}
	ret = 0;
out:
	json_decref(res);
	json_decref(job);
	json_decref(args);
	free(program);
	mpc_client_close(cl);
	return ret;
}
