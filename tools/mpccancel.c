/* mpccancel: cancel jobs (scancel-like). */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: mpccancel [-c CONF] JOBID...\n"
		   "Cancels jobs: a pending job never runs; a running attempt is abandoned and\n"
		   "commits nothing.\n\n"
		   "  -c, --config FILE   client config (else $MPC_CONFIG, else ~/.config/mpcstore/client.conf)\n"
		   "  -h, --help          this text\n"
		   "  -V, --version       print the version\n\n"
		   "Exit status: 0 every job cancelled; 1 a job is unknown or already finished;\n"
		   "2 usage; 3 the cluster could not be reached.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *conf = NULL;
	char errmsg[MPC_ERRMSG_SIZE] = "";
	struct mpc_client *cl;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpccancel (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (mpc_client_open(conf, &cl, errmsg) != 0) {
		fprintf(stderr, "mpccancel: %s\n", errmsg);
		return 3;
	}
	for (int i = optind; i < argc; i++) {
		char *end;
		uint64_t id = strtoull(argv[i], &end, 10);
		int rv;
		if (*end != '\0' || id == 0) {
			fprintf(stderr, "mpccancel: '%s' is not a job id\n", argv[i]);
			status = status ? status : 2;
			continue;
		}
		rv = mpc_job_cancel(cl, id, errmsg);
		if (rv != 0) {
			fprintf(stderr, "mpccancel: job %" PRIu64 ": %s\n", id, errmsg);
			if (rv == MPC_EUNAVAIL)
				status = 3;
			else if (status == 0)
				status = 1;
		}
	}
	mpc_client_close(cl);
	return status;
}
