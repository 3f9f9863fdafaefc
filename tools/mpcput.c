/* mpcput: append the rows of a CSV file to a table as secret shares, in one transaction. */
#include "client/csv.h"
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

#define READ_SIZE (1u << 20)
/* Type inference looks at the rows in this prefix of the input (at least one row). */
#define INFER_BYTES       (64u << 10)
#define INFER_ROWS        1000
#define INFER_MAX         (2u * CSV_MAX_LINE + INFER_BYTES)
#define DEFAULT_TIMEOUT_S 3600

struct opts {
	const char *conf;
	const char *table;
	const char *file;
	unsigned char delimiter;
	int create, json, quiet;
	unsigned timeout_s;
};

/* The state of one upload, shared with the parser's on_rows callback. */
struct put {
	struct opts *o;
	struct mpc_append_stream *stream;
	int fd;
	uint8_t *prefix; /* input read for type inference, fed again to the strict parser */
	size_t prefix_len;
	int eof;
	uint64_t bytes;
	double start, last_progress;
	int progress;
	int upload_rv; /* the stream's error stopped the parser */
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

static void show_progress(struct put *u, uint64_t rows, int final)
{
	double now = now_s(), secs = now - u->start;
	if (!u->progress || (!final && now - u->last_progress < 0.25))
		return;
	u->last_progress = now;
	fprintf(stderr, "\rmpcput: %s: %" PRIu64 " rows, %.1f MB, %.1f MB/s   %s", u->o->table,
		rows, (double)u->bytes / 1e6, secs > 0 ? (double)u->bytes / 1e6 / secs : 0.0,
		final ? "\n" : "");
}

/* Reads up to len bytes; 0 at the end of the input, -1 on an error (errno). */
static ssize_t read_some(struct put *u, uint8_t *buf, size_t len)
{
	ssize_t n;
	do
		n = read(u->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		u->eof = 1;
	if (n > 0)
		u->bytes += (uint64_t)n;
	return n;
}

static int on_rows(void *ud, const struct csv_batch *b)
{
	struct put *u = ud;
	int rv = mpc_append_stream_rows(u->stream, b->values, b->rows);
	if (rv != 0)
		u->upload_rv = rv;
	return rv;
}

/*
 * Type inference for a new table: reads a prefix of the input (the rows in
 * the first INFER_BYTES, at most INFER_ROWS, at least one row) into
 * u->prefix and derives the columns. Returns 0 with *cols (new reference).
 */
static int infer_columns(struct put *u, json_t **cols, char *errmsg)
{
	struct csv_options co = {.file = input_name(u->o), .delimiter = u->o->delimiter};
	const struct csv_column *c;
	struct csv_parser *p;
	size_t ncols;
	int rv = csv_parser_new(&co, &p, errmsg);

	if (rv != 0)
		return rv;
	u->prefix = malloc(INFER_MAX);
	if (u->prefix == NULL) {
		csv_parser_free(p);
		return MPC_ENOMEM;
	}
	while (!u->eof && u->prefix_len < INFER_MAX) {
		uint64_t rows = csv_rows(p);
		size_t want = INFER_MAX - u->prefix_len;
		ssize_t n;
		if (rows >= 1 && (rows >= INFER_ROWS || u->prefix_len >= INFER_BYTES))
			break;
		n = read_some(u, u->prefix + u->prefix_len, want < 16384 ? want : 16384);
		if (n < 0) {
			mpc_errmsg_printf(errmsg, "%s: read: %s", input_name(u->o),
					  strerror(errno));
			rv = MPC_EIO;
			break;
		}
		if ((rv = csv_feed(p, u->prefix + u->prefix_len, (size_t)n)) != 0)
			break;
		u->prefix_len += (size_t)n;
	}
	/* At the end of the input the prefix is the whole file: finish checks for an empty file
	 * etc. */
	if (rv == 0 && u->eof)
		rv = csv_finish(p);
	if (rv != 0 && rv != MPC_EIO)
		mpc_errmsg_printf(errmsg, "%s", csv_errmsg(p));
	c = csv_columns(p, &ncols);
	if (rv == 0 && (c == NULL || csv_rows(p) == 0)) {
		mpc_errmsg_printf(errmsg, "%s: no complete data row in the first %zu bytes",
				  input_name(u->o), u->prefix_len);
		rv = MPC_EINVAL;
	}
	if (rv == 0) {
		*cols = json_array();
		for (size_t k = 0; k < ncols; k++)
			json_array_append_new(
			    *cols, json_pack("{s:s, s:s, s:i}", "name", c[k].name, "type",
					     c[k].type == CSV_FIXED ? "fixed" : "int64", "frac",
					     c[k].type == CSV_FIXED ? (int)c[k].frac_bits : 0));
	}
	csv_parser_free(p);
	return rv;
}

/* The schema of the strict parser, from the table's column list. */
static int schema_from_columns(json_t *cols, struct csv_column **schema, const char ***names,
			       size_t *ncols)
{
	size_t n = json_array_size(cols), i;
	json_t *v;

	*schema = calloc(n ? n : 1, sizeof **schema);
	*names = calloc(n ? n : 1, sizeof **names);
	if (*schema == NULL || *names == NULL)
		return MPC_ENOMEM;
	json_array_foreach(cols, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *type = json_string_value(json_object_get(v, "type"));
		(*names)[i] = name ? name : "";
		snprintf((*schema)[i].name, sizeof(*schema)[i].name, "%s", (*names)[i]);
		if (type != NULL && strcmp(type, "fixed") == 0) {
			(*schema)[i].type = CSV_FIXED;
			(*schema)[i].frac_bits =
			    (unsigned)json_integer_value(json_object_get(v, "frac"));
		} else {
			(*schema)[i].type = CSV_INT64;
		}
	}
	*ncols = n;
	return 0;
}

/* Parses the whole input strictly (the inference prefix first) and streams the rows out. */
static int parse_all(struct put *u, struct csv_parser *p, char *errmsg)
{
	uint8_t *buf = malloc(READ_SIZE);
	int rv = 0;

	if (buf == NULL)
		return MPC_ENOMEM;
	if (u->prefix_len > 0)
		rv = csv_feed(p, u->prefix, u->prefix_len);
	while (rv == 0 && !u->eof) {
		ssize_t n = read_some(u, buf, READ_SIZE);
		if (n < 0) {
			mpc_errmsg_printf(errmsg, "%s: read: %s", input_name(u->o),
					  strerror(errno));
			free(buf);
			return MPC_EIO;
		}
		rv = csv_feed(p, buf, (size_t)n);
		show_progress(u, mpc_append_stream_row_count(u->stream), 0);
	}
	if (rv == 0)
		rv = csv_finish(p);
	if (rv != 0)
		mpc_errmsg_printf(errmsg, "%s",
				  u->upload_rv ? mpc_append_stream_errmsg(u->stream)
					       : csv_errmsg(p));
	free(buf);
	return rv;
}

static void print_json(const struct put *u, const char *txn, uint64_t rows, const char *state,
		       const char *error)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:f, s:s}", "table", u->o->table, "txn", txn,
			      "rows", (json_int_t)rows, "bytes", (json_int_t)u->bytes, "seconds",
			      now_s() - u->start, "state", state);
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
	char errmsg[MPC_ERRMSG_SIZE] = "", path[256], txn[33] = "";
	struct put u = {.o = o, .fd = -1};
	struct mpc_client *cl = NULL;
	struct mpc_append_stream_opts so = {.timeout_ms = o->timeout_s * 1000u};
	struct mpc_append_result res = {0};
	struct csv_options co = {
	    .file = input_name(o), .delimiter = o->delimiter, .on_rows = on_rows, .ud = &u};
	struct csv_column *schema = NULL;
	const char **names = NULL;
	struct csv_parser *p = NULL;
	json_t *table = NULL, *cols = NULL;
	const char *state = "failed";
	size_t ncols = 0;
	uint64_t rows = 0;
	int rv, create = 0;

	u.start = u.last_progress = now_s();
	u.progress = !o->quiet && isatty(STDERR_FILENO);
	if ((rv = mpc_client_open(o->conf, &cl, errmsg)) != 0)
		goto out;
	u.fd = strcmp(o->file, "-") == 0 ? STDIN_FILENO : open(o->file, O_RDONLY | O_CLOEXEC);
	if (u.fd < 0) {
		mpc_errmsg_printf(errmsg, "%s: %s", o->file, strerror(errno));
		rv = MPC_EIO;
		goto out;
	}
	/* An existing table gives the schema; the header must name its columns. */
	snprintf(path, sizeof path, "/v1/tables/%s", o->table);
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &table, errmsg);
	if (rv == 0) {
		cols = json_incref(json_object_get(table, "columns"));
	} else if (rv == MPC_ENOENT && !o->create) {
		mpc_errmsg_printf(errmsg, "table '%s' does not exist (and --no-create)", o->table);
		goto out;
	} else if (rv == MPC_ENOENT) {
		if ((rv = infer_columns(&u, &cols, errmsg)) != 0)
			goto out;
		create = 1;
	} else {
		goto out;
	}
	if ((rv = schema_from_columns(cols, &schema, &names, &ncols)) != 0 ||
	    (rv = csv_parser_new(&co, &p, errmsg)) != 0)
		goto out;
	if ((rv = csv_set_schema(p, schema, ncols)) != 0 ||
	    (rv = csv_expect_header(p, names, ncols)) != 0) {
		mpc_errmsg_printf(errmsg, "%s", csv_errmsg(p));
		goto out;
	}
	so.ncols = ncols;
	rv = mpc_append_stream_begin(cl, o->table, create ? cols : NULL, create, &so, &u.stream,
				     errmsg);
	if (rv != 0) {
		mpc_errmsg_wrapf(errmsg, "append to '%s'", o->table);
		state = "refused";
		goto out;
	}
	snprintf(txn, sizeof txn, "%s", mpc_append_stream_txn(u.stream));
	rv = parse_all(&u, p, errmsg);
	rows = mpc_append_stream_row_count(u.stream);
	if (rv != 0) {
		/* Not aborted (no party answered): the cluster aborts it at its timeout. */
		state = mpc_append_stream_abort(u.stream, errmsg) == 0 ? "aborted" : "pending";
		goto out;
	}
	show_progress(&u, rows, 1);
	rv = mpc_append_stream_commit(u.stream, &res, errmsg);
	state = res.state[0] ? res.state : "failed";
	if (rv != 0)
		mpc_errmsg_wrapf(errmsg, "append to '%s'", o->table);
out:
	if (u.progress && rows > 0 && rv != 0)
		fputc('\n', stderr);
	if (rv != 0 && txn[0] != '\0' && strcmp(state, "aborted") == 0)
		fprintf(stderr, "mpcput: %s (txn %s aborted, nothing appended)\n", errmsg, txn);
	else if (rv != 0 && txn[0] != '\0')
		fprintf(stderr, "mpcput: %s (txn %s: %s)\n", errmsg, txn, state);
	else if (rv != 0)
		fprintf(stderr, "mpcput: %s\n", errmsg);
	if (o->json)
		print_json(&u, txn, rv == 0 ? rows : 0, state, rv ? errmsg : NULL);
	else if (rv == 0 && !o->quiet)
		printf("Appended %" PRIu64 " rows to %s (txn %s, %.2f s)\n", rows, o->table, txn,
		       now_s() - u.start);
	csv_parser_free(p);
	free(schema);
	free(names);
	json_decref(cols);
	json_decref(table);
	free(u.prefix);
	if (u.fd > STDIN_FILENO)
		close(u.fd);
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
