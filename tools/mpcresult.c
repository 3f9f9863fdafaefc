/* mpcresult: print the results of a completed job (public, and those revealed to this client) as CSV (name,value) or one JSON object. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: mpcresult [-c CONF] [--format csv|json] JOBID\n"
		   "Prints the results a job revealed to public and to this client (sealed shares\n"
		   "joined with its box key): CSV rows name,value (a vector as one row per element)\n"
		   "or one JSON object {name: number or array}.\n\n"
		   "  -c, --config FILE   client config (else $MPC_CONFIG, else ~/.config/mpcstore/client.conf)\n"
		   "  -f, --format F      csv (default) or json\n"
		   "  -h, --help          this text\n"
		   "  -V, --version       print the version\n\n"
		   "Exit status: 0 printed; 1 the job is unknown or not COMPLETED; 2 usage; 3 the\n"
		   "cluster could not be reached.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"format", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *conf = NULL, *format = "csv";
	char errmsg[MPC_ERRMSG_SIZE] = "", *end;
	struct mpc_client *cl;
	json_t *res;
	uint64_t id;
	int c, rv;

	while ((c = getopt_long(argc, argv, "c:f:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'f': format = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpcresult (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || (strcmp(format, "csv") && strcmp(format, "json"))) {
		usage(stderr);
		return 2;
	}
	id = strtoull(argv[optind], &end, 10);
	if (*end != '\0' || id == 0) {
		fprintf(stderr, "mpcresult: '%s' is not a job id\n", argv[optind]);
		return 2;
	}
	if (mpc_client_open(conf, &cl, errmsg) != 0) {
		fprintf(stderr, "mpcresult: %s\n", errmsg);
		return 3;
	}
	rv = mpc_job_result(cl, id, &res, errmsg);
	if (rv != 0) {
		fprintf(stderr, "mpcresult: %s\n", errmsg);
		mpc_client_close(cl);
		return rv == MPC_EUNAVAIL ? 3 : 1;
	}
	if (strcmp(format, "json") == 0) {
		char *text = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(17));
		printf("%s\n", text);
		free(text);
	} else {
		char *text = mpc_job_results_csv(res);
		fputs(text ? text : "", stdout);
		free(text);
	}
	json_decref(res);
	mpc_client_close(cl);
	return 0;
}
