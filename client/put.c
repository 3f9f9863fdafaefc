/* CSV uploads of the client library: one CSV input -> the table's (or an inferred) schema -> one
 * streaming append transaction; shared by mpcput and mpcfs. */
#include "client/csv.h"
#include "client/mpcclient.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_SIZE (1u << 20)
/* Type inference looks at the rows in this prefix of the input (at least one row). */
#define INFER_BYTES        (64u << 10)
#define INFER_ROWS         1000
#define INFER_MAX          (2u * CSV_MAX_LINE + INFER_BYTES)
#define DEFAULT_TIMEOUT_MS (3600u * 1000u)

/* The state of one upload, shared with the parser's on_rows callback. */
struct put {
	const struct mpc_put_opts *o;
	const char *name; /* the input's name in messages */
	struct mpc_append_stream *stream;
	int fd;
	uint8_t *prefix; /* input read for type inference, fed again to the strict parser */
	size_t prefix_len;
	int eof;
	uint64_t bytes;
	int upload_rv; /* the stream's error stopped the parser */
};

int mpc_table_name_valid(const char *name)
{
	size_t n = 0;
	if (name == NULL || !(name[0] == '_' || (name[0] >= 'A' && name[0] <= 'Z') ||
			      (name[0] >= 'a' && name[0] <= 'z')))
		return 0;
	for (n = 1; name[n] != '\0'; n++) {
		char c = name[n];
		if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9')))
			return 0;
	}
	return n <= 63;
}

static void progress(struct put *u, int final)
{
	if (u->o->progress != NULL)
		u->o->progress(u->o->progress_ctx,
			       u->stream ? mpc_append_stream_row_count(u->stream) : 0, u->bytes,
			       final);
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
	struct csv_options co = {.file = u->name, .delimiter = u->o->delimiter};
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
			mpc_errmsg_printf(errmsg, "%s: read: %s", u->name, strerror(errno));
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
				  u->name, u->prefix_len);
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
			mpc_errmsg_printf(errmsg, "%s: read: %s", u->name, strerror(errno));
			free(buf);
			return MPC_EIO;
		}
		rv = csv_feed(p, buf, (size_t)n);
		progress(u, 0);
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

int mpc_client_put_csv(struct mpc_client *cl, const char *table, int fd,
		       const struct mpc_put_opts *opts, struct mpc_put_result *res, char *errmsg)
{
	static const struct mpc_put_opts defaults;
	struct mpc_put_result scratch;
	struct put u = {.o = opts ? opts : &defaults, .fd = fd};
	struct mpc_append_stream_opts so = {0};
	struct mpc_append_result ar = {0};
	struct csv_options co = {.on_rows = on_rows, .ud = &u};
	struct csv_column *schema = NULL;
	const char **names = NULL;
	struct csv_parser *p = NULL;
	json_t *tbl = NULL, *cols = NULL;
	char path[256];
	size_t ncols = 0;
	int rv, create = 0;

	if (res == NULL)
		res = &scratch;
	memset(res, 0, sizeof *res);
	snprintf(res->state, sizeof res->state, "failed");
	u.name = u.o->display_name ? u.o->display_name : "<input>";
	co.file = u.name;
	co.delimiter = u.o->delimiter;
	so.timeout_ms = u.o->timeout_ms ? u.o->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (!mpc_table_name_valid(table)) {
		mpc_errmsg_printf(errmsg,
				  "'%s' is not a valid table name ([A-Za-z_][A-Za-z0-9_]{0,62})",
				  table ? table : "");
		return MPC_EINVAL;
	}
	/* An existing table gives the schema; the header must name its columns. */
	snprintf(path, sizeof path, "/v1/tables/%s", table);
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &tbl, errmsg);
	if (rv == 0) {
		cols = json_incref(json_object_get(tbl, "columns"));
	} else if (rv == MPC_ENOENT && u.o->no_create) {
		mpc_errmsg_printf(errmsg, "table '%s' does not exist (and --no-create)", table);
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
	rv = mpc_append_stream_begin(cl, table, create ? cols : NULL, create, &so, &u.stream,
				     errmsg);
	if (rv != 0) {
		mpc_errmsg_wrapf(errmsg, "append to '%s'", table);
		snprintf(res->state, sizeof res->state, "refused");
		goto out;
	}
	snprintf(res->txn, sizeof res->txn, "%s", mpc_append_stream_txn(u.stream));
	rv = parse_all(&u, p, errmsg);
	if (rv != 0) {
		/* Not aborted (no party answered): the cluster aborts it at its timeout. */
		snprintf(res->state, sizeof res->state, "%s",
			 mpc_append_stream_abort(u.stream, errmsg) == 0 ? "aborted" : "pending");
		u.stream = NULL;
		goto out;
	}
	progress(&u, 1);
	res->rows = mpc_append_stream_row_count(u.stream);
	rv = mpc_append_stream_commit(u.stream, &ar, errmsg);
	u.stream = NULL;
	snprintf(res->state, sizeof res->state, "%s", ar.state[0] ? ar.state : "failed");
	if (rv != 0) {
		res->rows = 0;
		mpc_errmsg_wrapf(errmsg, "append to '%s'", table);
	} else {
		res->created = create;
	}
out:
	res->bytes = u.bytes;
	csv_parser_free(p);
	free(schema);
	free(names);
	json_decref(cols);
	json_decref(tbl);
	free(u.prefix);
	return rv;
}
