/* mpcput: append the rows of a CSV file to a table as secret shares, in one transaction. */
#include "client/mpcclient.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit codes: 0 committed, 1 error (nothing appended), 2 usage. */
enum { EXIT_USAGE = 2 };

#define DEFAULT_TIMEOUT_S 3600

struct opts {
	const char *conf;
	const char *table;
	const char *file;
	unsigned char delimiter;
	int create, json, quiet;
	unsigned timeout_s;
};

/* Progress line state (the library calls progress() after each piece of input). */
struct progress {
	const char *table;
	double start, last;
	int on;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: mpcput [-c CONF] [--delimiter C] [--create|--no-create] [--json] [--quiet]\n"
	    "              TABLE FILE.csv\n\n"
	    "Appends every row of FILE.csv (- for stdin) to TABLE as secret shares, in one\n"
	    "transaction: on any error nothing is appended. The first line names the columns;\n"
	    "for an existing table it must equal the table's columns. A missing table is\n"
	    "created with types inferred from the first rows (integers: int64, decimals: "
	    "fixed).\n\n"
	    "Options:\n"
	    "  -c, --config FILE      client config (default $MPC_CONFIG,\n"
	    "                         ~/.config/mpcstore/client.conf)\n"
	    "  -d, --delimiter C      field delimiter (default ','; 'tab' or '\\t' for a tab)\n"
	    "      --create           create TABLE if it does not exist (default)\n"
	    "      --no-create        fail if TABLE does not exist\n"
	    "      --timeout SEC      abort the transaction if not committed within SEC (default "
	    "%d)\n"
	    "      --json             print {table, txn, rows, bytes, seconds, state} on stdout\n"
	    "  -q, --quiet            no progress and no summary\n"
	    "  -h, --help             this text\n"
	    "  -V, --version          print the version\n\n"
	    "Exit status: 0 committed, 1 error (nothing appended), 2 usage error.\n",
	    DEFAULT_TIMEOUT_S);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *input_name(const struct opts *o)
{
	return strcmp(o->file, "-") == 0 ? "<stdin>" : o->file;
}

static void show_progress(void *ctx, uint64_t rows, uint64_t bytes, int final)
{
	struct progress *pr = ctx;
	double now = now_s(), secs = now - pr->start;
	if (!pr->on || (!final && now - pr->last < 0.25))
		return;
	pr->last = now;
	fprintf(stderr, "\rmpcput: %s: %" PRIu64 " rows, %.1f MB, %.1f MB/s   %s", pr->table, rows,
		(double)bytes / 1e6, secs > 0 ? (double)bytes / 1e6 / secs : 0.0,
		final ? "\n" : "");
}

static void print_json(const struct opts *o, const struct mpc_put_result *res, double start,
		       const char *error)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:f, s:s}", "table", o->table, "txn", res->txn,
			      "rows", (json_int_t)res->rows, "bytes", (json_int_t)res->bytes,
			      "seconds", now_s() - start, "state", res->state);
	char *text;
	if (error != NULL)
		json_object_set_new(j, "error", json_string(error));
	text = json_dumps(j, JSON_COMPACT);
	puts(text);
	free(text);
	json_decref(j);
}

static int run(struct opts *o)
{
	char errmsg[MPC_ERRMSG_SIZE] = "";
	struct progress pr = {.table = o->table};
	struct mpc_put_opts po = {.delimiter = o->delimiter,
				  .no_create = !o->create,
				  .display_name = input_name(o),
				  .timeout_ms = o->timeout_s * 1000u,
				  .progress = show_progress,
				  .progress_ctx = &pr};
	struct mpc_put_result res = {.state = "failed"};
	struct mpc_client *cl = NULL;
	int rv, fd = -1;

	pr.start = pr.last = now_s();
	pr.on = !o->quiet && isatty(STDERR_FILENO);
	if ((rv = mpc_client_open(o->conf, &cl, errmsg)) != 0)
		goto out;
	fd = strcmp(o->file, "-") == 0 ? STDIN_FILENO : open(o->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mpc_errmsg_printf(errmsg, "%s: %s", o->file, strerror(errno));
		rv = MPC_EIO;
		goto out;
	}
	rv = mpc_client_put_csv(cl, o->table, fd, &po, &res, errmsg);
out:
	if (pr.on && res.bytes > 0 && rv != 0)
		fputc('\n', stderr);
	if (rv != 0 && res.txn[0] != '\0' && strcmp(res.state, "aborted") == 0)
		fprintf(stderr, "mpcput: %s (txn %s aborted, nothing appended)\n", errmsg, res.txn);
	else if (rv != 0 && res.txn[0] != '\0')
		fprintf(stderr, "mpcput: %s (txn %s: %s)\n", errmsg, res.txn, res.state);
	else if (rv != 0)
		fprintf(stderr, "mpcput: %s\n", errmsg);
	if (o->json)
		print_json(o, &res, pr.start, rv ? errmsg : NULL);
	else if (rv == 0 && !o->quiet)
		printf("Appended %" PRIu64 " rows to %s (txn %s, %.2f s)\n", res.rows, o->table,
		       res.txn, now_s() - pr.start);
	if (fd > STDIN_FILENO)
		close(fd);
	mpc_client_close(cl);
	return rv == 0 ? 0 : 1;
}

static int parse_delimiter(const char *arg, unsigned char *out)
{
	if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0)
		*out = '\t';
	else if (strlen(arg) == 1)
		*out = (unsigned char)arg[0];
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"config", required_argument, NULL, 'c'},  {"delimiter", required_argument, NULL, 'd'},
	    {"create", no_argument, NULL, 'C'},        {"no-create", no_argument, NULL, 'N'},
	    {"timeout", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
	struct opts o = {.create = 1, .timeout_s = DEFAULT_TIMEOUT_S};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:d:qhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o.conf = optarg; break;
		case 'd':
			if (parse_delimiter(optarg, &o.delimiter) != 0) {
				fprintf(stderr,
					"mpcput: --delimiter takes one character, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'C': o.create = 1; break;
		case 'N': o.create = 0; break;
		case 't': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 86400 * 7) {
				fprintf(stderr, "mpcput: --timeout takes seconds (1..604800)\n");
				return EXIT_USAGE;
			}
			o.timeout_s = (unsigned)v;
			break;
		}
		case 'j': o.json = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mpcput (mpcstore) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	o.table = argv[optind];
	o.file = argv[optind + 1];
	return run(&o);
}
