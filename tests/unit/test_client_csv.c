/* Unit tests of the client's streaming CSV parser: exact error messages, quoting, splits at every position, fixed point, inference, garbage. */
#include "client/csv.h"
#include "common/err.h"
#include "engine/fixed.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

struct rows_seen {
	uint64_t *values;
	size_t n, cap, ncols;
	size_t batches;
	uint64_t last_end_offset;
	int fail_with; /* on_rows returns this when set */
};

static int collect(void *ud, const struct csv_batch *b)
{
	struct rows_seen *r = ud;
	size_t add = b->rows * b->ncols;

	if (r->fail_with)
		return r->fail_with;
	cr_assert_eq(b->first_row * b->ncols, r->n, "batches arrive in order without gaps");
	if (r->n + add > r->cap) {
		r->cap = (r->n + add) * 2;
		r->values = realloc(r->values, r->cap * sizeof(uint64_t));
		cr_assert_not_null(r->values);
	}
	memcpy(r->values + r->n, b->values, add * sizeof(uint64_t));
	r->n += add;
	r->ncols = b->ncols;
	r->batches++;
	r->last_end_offset = b->end_offset;
	return 0;
}

static uint64_t rng_state = 1;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A parse of one input. */
struct run {
	const struct csv_column *schema; /* NULL: inference */
	size_t ncols;
	const char *const *expect; /* expected header or NULL */
	size_t expect_n;
	unsigned char delimiter;
	size_t batch_rows;
	int fail_with;
};

struct outcome {
	int rv;
	char err[MPC_ERRMSG_SIZE];
	struct rows_seen rows;
	uint64_t nrows;
	struct csv_column cols[8];
	size_t ncols;
};

/*
 * Parses text[0..len) cut into pieces: cuts[] (sorted offsets) if given,
 * else pieces of `piece` bytes (0: all at once; SIZE_MAX: random sizes).
 */
static void parse_cut(const struct run *r, const char *text, size_t len, size_t piece,
		      const size_t *cuts, size_t ncuts, struct outcome *o)
{
	struct csv_options opt = {.file = "t.csv", .delimiter = r->delimiter,
				  .batch_rows = r->batch_rows, .on_rows = collect, .ud = &o->rows};
	struct csv_parser *p;
	char err[MPC_ERRMSG_SIZE];
	size_t off = 0, k = 0;
	const struct csv_column *cols;

	memset(o, 0, sizeof(*o));
	o->rows.fail_with = r->fail_with;
	cr_assert_eq(csv_parser_new(&opt, &p, err), 0, "%s", err);
	if (r->schema)
		cr_assert_eq(csv_set_schema(p, r->schema, r->ncols), 0);
	if (r->expect)
		cr_assert_eq(csv_expect_header(p, r->expect, r->expect_n), 0);
	o->rv = 0;
	while (off < len && o->rv == 0) {
		size_t n;

		if (cuts)
			n = (k < ncuts ? cuts[k++] : len) - off;
		else if (piece == 0)
			n = len;
		else if (piece == SIZE_MAX)
			n = 1 + rng_next() % 17;
		else
			n = piece;
		if (n > len - off)
			n = len - off;
		o->rv = csv_feed(p, text + off, n);
		off += n;
	}
	if (o->rv == 0)
		o->rv = csv_finish(p);
	else
		cr_assert_eq(csv_finish(p), o->rv, "errors stick");
	snprintf(o->err, sizeof(o->err), "%s", csv_errmsg(p));
	o->nrows = csv_rows(p);
	cols = csv_columns(p, &o->ncols);
	if (cols && o->ncols <= 8)
		memcpy(o->cols, cols, o->ncols * sizeof(*cols));
	csv_parser_free(p);
}

static void outcome_free(struct outcome *o)
{
	free(o->rows.values);
	o->rows.values = NULL;
}

static void assert_same(const struct outcome *a, const struct outcome *b, const char *what)
{
	cr_assert_eq(a->rv, b->rv, "%s: rv %d vs %d (%s | %s)", what, a->rv, b->rv, a->err, b->err);
	cr_assert_str_eq(a->err, b->err, "%s", what);
	cr_assert_eq(a->rows.n, b->rows.n, "%s", what);
	if (a->rv == 0) {
		cr_assert_eq(a->nrows, b->nrows, "%s", what);
		cr_assert_eq(a->rows.last_end_offset, b->rows.last_end_offset, "%s", what);
		cr_assert_eq(a->ncols, b->ncols, "%s", what);
		for (size_t k = 0; k < a->ncols && k < 8; k++) {
			cr_assert_str_eq(a->cols[k].name, b->cols[k].name, "%s", what);
			cr_assert_eq(a->cols[k].type, b->cols[k].type, "%s", what);
			cr_assert_eq(a->cols[k].frac_digits, b->cols[k].frac_digits, "%s", what);
		}
	}
	if (a->rows.n)
		cr_assert(memcmp(a->rows.values, b->rows.values, a->rows.n * 8) == 0, "%s: values",
			  what);
}

/* Whole, byte by byte, and in random pieces: the same outcome; returns the whole one. */
static void parse_all_ways(const struct run *r, const char *text, size_t len, struct outcome *o)
{
	struct outcome other;

	parse_cut(r, text, len, 0, NULL, 0, o);
	parse_cut(r, text, len, 1, NULL, 0, &other);
	assert_same(o, &other, "byte by byte");
	outcome_free(&other);
	for (int k = 0; k < 5; k++) {
		parse_cut(r, text, len, SIZE_MAX, NULL, 0, &other);
		assert_same(o, &other, "random pieces");
		outcome_free(&other);
	}
}

static const struct csv_column I64 = {"", CSV_INT64, 0, 0};
static const struct csv_column F16 = {"", CSV_FIXED, 16, 0};

/* Parses text (all ways) with every column of type t and expects the message. */
static void expect_error_t(const char *text, size_t len, struct csv_column t, size_t ncols,
			   int code, const char *msg)
{
	struct csv_column schema[8];
	struct run r = {.schema = schema, .ncols = ncols};
	struct outcome o;

	for (size_t k = 0; k < ncols; k++)
		schema[k] = t;
	parse_all_ways(&r, text, len, &o);
	cr_assert_eq(o.rv, code, "rv %d for %s", o.rv, o.err);
	cr_assert_str_eq(o.err, msg);
	outcome_free(&o);
}

#define expect_error(text, ncols, code, msg) \
	expect_error_t(text, sizeof(text) - 1, I64, ncols, code, msg)
#define expect_error_f16(text, code, msg) expect_error_t(text, sizeof(text) - 1, F16, 1, code, msg)

/* Parses with a schema (all ways), expects success, returns the values. */
static void parse_ok(const char *text, size_t len, const struct csv_column *schema, size_t ncols,
		     struct outcome *o)
{
	struct run r = {.schema = schema, .ncols = ncols};

	parse_all_ways(&r, text, len, o);
	cr_assert_eq(o->rv, 0, "%s", o->err);
}

/* ---- bad input: each its own message ---- */

Test(client_csv, not_a_number_names_file_line_column)
{
	expect_error("name_id,day,hours\n1,2,3\n4,5,6\n7,8,six\n", 3, MPC_EINVAL,
		     "t.csv:4:3 (hours): 'six' is not a number");
	expect_error("a,b\n1,2x\n", 2, MPC_EINVAL, "t.csv:2:2 (b): '2x' is not a number");
	expect_error("a,b\n1, 2\n", 2, MPC_EINVAL, "t.csv:2:2 (b): ' 2' is not a number");
	expect_error("a,b\n1,-\n", 2, MPC_EINVAL, "t.csv:2:2 (b): '-' is not a number");
	expect_error("a,b\n1,1e5\n", 2, MPC_EINVAL, "t.csv:2:2 (b): '1e5' is not a number");
	expect_error("a\n1.2.3\n", 1, MPC_EINVAL, "t.csv:2:1 (a): '1.2.3' is not a number");
}

Test(client_csv, ragged_rows)
{
	expect_error("a,b,c\n1,2,3\n1,2\n", 3, MPC_EINVAL, "t.csv:3:3 (c): too few fields (2 of 3)");
	expect_error("a,b,c\n1\n", 3, MPC_EINVAL, "t.csv:2:2 (b): too few fields (1 of 3)");
	expect_error("a,b\n1,2,3\n", 2, MPC_EINVAL, "t.csv:2:3: too many fields (the header has 2)");
	expect_error("a,b\n1,2\n3,4,\n", 2, MPC_EINVAL,
		     "t.csv:3:3: too many fields (the header has 2)");
	/* the last row without a newline is checked too */
	expect_error("a,b,c\n1,2", 3, MPC_EINVAL, "t.csv:2:3 (c): too few fields (2 of 3)");
}

Test(client_csv, empty_field_and_empty_line)
{
	expect_error("a,b\n1,\n", 2, MPC_EINVAL, "t.csv:2:2 (b): empty field");
	expect_error("a,b\n,1\n", 2, MPC_EINVAL, "t.csv:2:1 (a): empty field");
	expect_error("a,b\n1,\"\"\n", 2, MPC_EINVAL, "t.csv:2:2 (b): empty field");
	expect_error("a\n1\n\n2\n", 1, MPC_EINVAL, "t.csv:3: empty line");
	expect_error("a\n1\n\r\n", 1, MPC_EINVAL, "t.csv:3: empty line");
	expect_error("a,b\n1,2\n\n", 2, MPC_EINVAL, "t.csv:3: empty line");
}

Test(client_csv, int64_range)
{
	struct outcome o;
	static const char ok[] = "a\n9223372036854775807\n-9223372036854775808\n-1\n+7\n007\n-0\n";

	expect_error("a\n9223372036854775808\n", 1, MPC_ERANGE,
		     "t.csv:2:1 (a): '9223372036854775808' is out of range for int64");
	expect_error("a\n-9223372036854775809\n", 1, MPC_ERANGE,
		     "t.csv:2:1 (a): '-9223372036854775809' is out of range for int64");
	expect_error("a\n1\n123456789012345678901234567890123456789012345\n", 1, MPC_ERANGE,
		     "t.csv:3:1 (a): '1234567890123456789012345678901234567890...' is out of "
		     "range for int64");
	parse_ok(ok, sizeof(ok) - 1, &I64, 1, &o);
	cr_assert_eq(o.rows.n, 6);
	cr_assert_eq(o.rows.values[0], (uint64_t)INT64_MAX);
	cr_assert_eq(o.rows.values[1], (uint64_t)1 << 63);
	cr_assert_eq(o.rows.values[2], UINT64_MAX);
	cr_assert_eq(o.rows.values[3], 7);
	cr_assert_eq(o.rows.values[4], 7);
	cr_assert_eq(o.rows.values[5], 0);
	outcome_free(&o);
}

Test(client_csv, fixed_range)
{
	/* f = 16: representable is [-2^47, 2^47 - 2^-16] */
	expect_error_f16("x\n140737488355328\n", MPC_ERANGE,
		       "t.csv:2:1 (x): '140737488355328' is out of range for fixed point with 16 "
		       "fractional bits (|v| < 2^47)");
	expect_error_f16("x\n1\n-140737488355328.5\n", MPC_ERANGE,
		       "t.csv:3:1 (x): '-140737488355328.5' is out of range for fixed point with "
		       "16 fractional bits (|v| < 2^47)");
	expect_error_f16("x\n99999999999999999999999\n", MPC_ERANGE,
		       "t.csv:2:1 (x): '99999999999999999999999' is out of range for fixed point "
		       "with 16 fractional bits (|v| < 2^47)");
	/* rounds up to 2^47 */
	expect_error_f16("x\n140737488355327.999999\n", MPC_ERANGE,
		       "t.csv:2:1 (x): '140737488355327.999999' is out of range for fixed point "
		       "with 16 fractional bits (|v| < 2^47)");
	{
		struct outcome o;
		static const char ok[] = "x\n-140737488355328\n140737488355327.99998\n";

		parse_ok(ok, sizeof(ok) - 1, &F16, 1, &o);
		cr_assert_eq(o.rows.values[0], (uint64_t)1 << 63);
		cr_assert_eq(o.rows.values[1], ((uint64_t)1 << 63) - 1);
		outcome_free(&o);
	}
}

Test(client_csv, decimal_in_int64_column)
{
	expect_error("a,b\n1,2\n3,1.5\n", 2, MPC_EINVAL,
		     "t.csv:3:2 (b): '1.5' is a decimal but the column is int64");
	expect_error("a,b\n1,2.0\n", 2, MPC_EINVAL,
		     "t.csv:2:2 (b): '2.0' is a decimal but the column is int64");
}

Test(client_csv, empty_and_header_only_files)
{
	expect_error("", 1, MPC_EINVAL, "t.csv: empty file");
	expect_error("\xef\xbb\xbf", 1, MPC_EINVAL, "t.csv: empty file");
	expect_error("a,b\n", 2, MPC_EINVAL, "t.csv: no data rows, only a header");
	expect_error("a,b", 2, MPC_EINVAL, "t.csv: no data rows, only a header");
	expect_error("a,b\r\n", 2, MPC_EINVAL, "t.csv: no data rows, only a header");
	expect_error("\n1\n", 1, MPC_EINVAL, "t.csv:1: empty header line");
}

/* A row whose text (without the line end) is n bytes: "1" padded with leading zeros. */
static char *long_row_file(size_t n, const char *eol, size_t *len)
{
	size_t el = strlen(eol);
	char *t = malloc(n + 16);

	cr_assert_not_null(t);
	memcpy(t, "a\n", 2);
	memset(t + 2, '0', n - 1);
	t[2 + n - 1] = '1';
	memcpy(t + 2 + n, eol, el);
	*len = 2 + n + el;
	return t;
}

Test(client_csv, line_longer_than_1_mib)
{
	static const char *eols[] = {"\n", "\r\n", ""};

	for (int e = 0; e < 3; e++) {
		size_t len;
		char *t = long_row_file(CSV_MAX_LINE, eols[e], &len);
		struct run r = {.schema = &I64, .ncols = 1};
		struct outcome o;
		size_t pieces[] = {0, 1000, 65536, 1 << 20, SIZE_MAX};

		for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
			if (pieces[k] == SIZE_MAX && e != 0)
				continue; /* slow: once is enough */
			parse_cut(&r, t, len, pieces[k], NULL, 0, &o);
			cr_assert_eq(o.rv, 0, "exactly 1 MiB is fine: %s", o.err);
			cr_assert_eq(o.rows.n, 1);
			cr_assert_eq(o.rows.values[0], 1);
			outcome_free(&o);
		}
		free(t);
		t = long_row_file(CSV_MAX_LINE + 1, eols[e], &len);
		for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
			if (pieces[k] == SIZE_MAX && e != 0)
				continue;
			parse_cut(&r, t, len, pieces[k], NULL, 0, &o);
			cr_assert_eq(o.rv, MPC_EINVAL);
			cr_assert_str_eq(o.err, "t.csv:2: line longer than 1048576 bytes");
			outcome_free(&o);
		}
		free(t);
	}
	/* a quoted field that never ends within the window */
	{
		size_t n = CSV_MAX_LINE + 100;
		char *t = malloc(n);
		struct run r = {.schema = &I64, .ncols = 1};
		struct outcome o;

		memcpy(t, "a\n\"", 3);
		memset(t + 3, '\n', n - 3);
		parse_cut(&r, t, n, 4096, NULL, 0, &o);
		cr_assert_str_eq(o.err, "t.csv:2: line longer than 1048576 bytes");
		outcome_free(&o);
		parse_cut(&r, t, n, 1, NULL, 0, &o);
		cr_assert_str_eq(o.err, "t.csv:2: line longer than 1048576 bytes");
		outcome_free(&o);
		free(t);
	}
}

Test(client_csv, bad_header_names)
{
	expect_error("a,,c\n1,2,3\n", 3, MPC_EINVAL, "t.csv:1:2: empty column name");
	expect_error("a,b,a\n1,2,3\n", 3, MPC_EINVAL,
		     "t.csv:1:3: duplicate column name 'a' (also column 1)");
	expect_error("a,1b\n1,2\n", 2, MPC_EINVAL,
		     "t.csv:1:2: invalid column name '1b' (names are [A-Za-z_][A-Za-z0-9_]{0,62})");
	expect_error("a,b c\n1,2\n", 2, MPC_EINVAL,
		     "t.csv:1:2: invalid column name 'b c' (names are [A-Za-z_][A-Za-z0-9_]{0,62})");
	expect_error("\"a\"\"b\"\n1\n", 1, MPC_EINVAL,
		     "t.csv:1:1: invalid column name 'a\"b' (names are [A-Za-z_][A-Za-z0-9_]{0,62})");
	/* 63 characters are fine, 64 are not */
	expect_error("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk_\n1\n", 1,
		     MPC_EINVAL,
		     "t.csv:1:1: invalid column name 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn...' "
		     "(names are [A-Za-z_][A-Za-z0-9_]{0,62})");
	{
		static const char t[] =
			"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk,_x9\n1,2\n";
		struct outcome o;
		static const struct csv_column s[2] = {{"", CSV_INT64, 0, 0}, {"", CSV_INT64, 0, 0}};

		parse_ok(t, sizeof(t) - 1, s, 2, &o);
		cr_assert_eq(strlen(o.cols[0].name), 63);
		cr_assert_str_eq(o.cols[1].name, "_x9");
		outcome_free(&o);
	}
}

Test(client_csv, unterminated_quote)
{
	expect_error("a,b\n1,\"2\n3,4\n", 2, MPC_EINVAL,
		     "t.csv:2:2 (b): unterminated quoted field (no closing quote before the end of "
		     "the file)");
	expect_error("a,\"b\n", 2, MPC_EINVAL,
		     "t.csv:1:2: unterminated quoted field (no closing quote before the end of the "
		     "file)");
}

Test(client_csv, stray_quotes_and_carriage_returns)
{
	expect_error("a,b\n1,2\"3\"\n", 2, MPC_EINVAL,
		     "t.csv:2:2 (b): quote inside an unquoted field (quote the whole field and "
		     "double the quote)");
	expect_error("a,b\n1,\"2\"3\n", 2, MPC_EINVAL,
		     "t.csv:2:2 (b): unexpected character after the closing quote");
	expect_error("a\r1\n", 1, MPC_EINVAL, "t.csv:1: carriage return without a line feed");
	expect_error("a\n1\r2\n", 1, MPC_EINVAL, "t.csv:2: carriage return without a line feed");
	expect_error("a\n1\r", 1, MPC_EINVAL, "t.csv:2: carriage return without a line feed");
}

Test(client_csv, nul_bytes)
{
	expect_error("a,b\n1,2\0\n", 2, MPC_EINVAL,
		       "t.csv:2:2 (b): NUL byte in the input");
	expect_error("a,b\n1,\"2\0\"\n", 2, MPC_EINVAL,
		       "t.csv:2:2 (b): NUL byte in the input");
	expect_error("a\0,b\n1,2\n", 2, MPC_EINVAL, "t.csv:1:1: NUL byte in the input");
	expect_error("a\n\0\n", 1, MPC_EINVAL, "t.csv:2:1 (a): NUL byte in the input");
}

Test(client_csv, expected_header_names_first_difference)
{
	static const char *const names[3] = {"a", "b", "c"};
	struct run r = {.schema = NULL, .expect = names, .expect_n = 3};
	struct outcome o;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"a,x,c\n1,2,3\n",
		 "t.csv:1:2: header differs from the table's: column 2 is 'x', expected 'b'"},
		{"a,b\n1,2\n",
		 "t.csv:1: header differs from the table's: 2 columns, expected 3 (missing 'c')"},
		{"a,b,c,d\n1,2,3,4\n",
		 "t.csv:1: header differs from the table's: 4 columns, expected 3 (extra 'd')"},
		{"b,a,c\n1,2,3\n",
		 "t.csv:1:1: header differs from the table's: column 1 is 'b', expected 'a'"},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		parse_all_ways(&r, cases[k].text, strlen(cases[k].text), &o);
		cr_assert_eq(o.rv, MPC_EINVAL);
		cr_assert_str_eq(o.err, cases[k].msg);
		outcome_free(&o);
	}
	parse_all_ways(&r, "a,b,c\n1,2,3\n", 12, &o);
	cr_assert_eq(o.rv, 0, "%s", o.err);
	outcome_free(&o);
}

Test(client_csv, schema_column_count_must_match)
{
	expect_error("a,b,c\n1,2,3\n", 2, MPC_EINVAL, "t.csv:1: header has 3 columns, the schema 2");
}

static int fail_io(void *ud, const struct csv_batch *b)
{
	return MPC_EIO;
}

Test(client_csv, callback_error_stops_the_parser)
{
	struct csv_options opt = {.file = "t.csv", .batch_rows = 2, .on_rows = fail_io};
	struct csv_parser *p;
	char err[MPC_ERRMSG_SIZE];

	cr_assert_eq(csv_parser_new(&opt, &p, err), 0);
	cr_assert_eq(csv_set_schema(p, &I64, 1), 0);
	cr_assert_eq(csv_feed(p, "a\n1\n2\n3\n", 8), MPC_EIO);
	cr_assert_str_eq(csv_errmsg(p), "t.csv:2: rows from this line on not taken: I/O error");
	cr_assert_eq(csv_feed(p, "4\n", 2), MPC_EIO);
	cr_assert_eq(csv_finish(p), MPC_EIO);
	csv_parser_free(p);
}

Test(client_csv, bad_delimiter_and_late_schema)
{
	struct csv_options opt = {.file = "t.csv", .delimiter = '-'};
	struct csv_parser *p;
	char err[MPC_ERRMSG_SIZE] = "";

	cr_assert_eq(csv_parser_new(&opt, &p, err), MPC_EINVAL);
	cr_assert(strstr(err, "delimiter 0x2d cannot be used") != NULL, "%s", err);
	opt.delimiter = 'x';
	cr_assert_eq(csv_parser_new(&opt, &p, err), MPC_EINVAL);
	opt.delimiter = 0;
	cr_assert_eq(csv_parser_new(&opt, &p, err), 0);
	cr_assert_eq(csv_feed(p, "a", 1), 0);
	cr_assert_eq(csv_set_schema(p, &I64, 1), MPC_EINVAL);
	csv_parser_free(p);
}

/* ---- good input ---- */

Test(client_csv, quoted_fields_crlf_bom_and_delimiters)
{
	static const char t[] = "\xef\xbb\xbf\"id\",\"pay\"\r\n\"1\",\"-2.5\"\r\n3,\"4\"\r\n\"\"\"5\"\"\",1";
	static const struct csv_column s[2] = {{"", CSV_INT64, 0, 0}, {"", CSV_FIXED, 16, 0}};
	struct outcome o;
	struct run r = {.schema = s, .ncols = 2};

	/* the third row has a quote inside a quoted value: not a number, after two good rows */
	parse_all_ways(&r, t, sizeof(t) - 1, &o);
	cr_assert_eq(o.rv, MPC_EINVAL);
	cr_assert_str_eq(o.err, "t.csv:4:1 (id): '\"5\"' is not a number");
	outcome_free(&o);

	parse_ok(t, 34, s, 2, &o); /* up to the end of "3,\"4\"\r\n" */
	cr_assert_eq(o.ncols, 2);
	cr_assert_str_eq(o.cols[0].name, "id");
	cr_assert_str_eq(o.cols[1].name, "pay");
	cr_assert_eq(o.rows.n, 4);
	cr_assert_eq(o.rows.values[0], 1);
	cr_assert_eq(o.rows.values[1], (uint64_t)-((int64_t)5 << 15));
	cr_assert_eq(o.rows.values[2], 3);
	cr_assert_eq(o.rows.values[3], (uint64_t)4 << 16);
	cr_assert_eq(o.rows.last_end_offset, 34, "the offset counts the BOM");
	outcome_free(&o);

	{
		static const char semi[] = "a;b\n\"1;\";2\n";
		static const char tab[] = "a\tb\n-1\t2.25\n";
		struct run rs = {.schema = s, .ncols = 2, .delimiter = ';'};

		parse_all_ways(&rs, semi, sizeof(semi) - 1, &o);
		cr_assert_str_eq(o.err, "t.csv:2:1 (a): '1;' is not a number");
		outcome_free(&o);
		rs.delimiter = '\t';
		parse_all_ways(&rs, tab, sizeof(tab) - 1, &o);
		cr_assert_eq(o.rv, 0, "%s", o.err);
		cr_assert_eq(o.rows.values[0], UINT64_MAX);
		cr_assert_eq(o.rows.values[1], (uint64_t)9 << 14);
		outcome_free(&o);
	}
	/* a quoted value spanning lines: the error names the line where it starts */
	expect_error("a,b\n1,\"2\n\"\n", 2, MPC_EINVAL, "t.csv:2:2 (b): '2?' is not a number");
	expect_error("a,b\n\"1\",\"2\"\r\n3,x\n", 2, MPC_EINVAL, "t.csv:3:2 (b): 'x' is not a number");
}

/* A small file exercising BOM, quotes, CRLF and decimals. */
static const char small_csv[] = "\xef\xbb\xbf"
				"id,\"amount\",n\r\n"
				"1,2.5,-3\r\n"
				"\"-4\",\"0.000007629394\",5\n"
				"6,-7.125,\"8\"\r\n"
				"9223372036854775807,140737488355327,-9223372036854775808";
static const struct csv_column small_schema[3] = {
	{"", CSV_INT64, 0, 0}, {"", CSV_FIXED, 16, 0}, {"", CSV_INT64, 0, 0}};

Test(client_csv, every_split_position_gives_identical_rows)
{
	size_t len = sizeof(small_csv) - 1;
	struct run r = {.schema = small_schema, .ncols = 3, .batch_rows = 1};
	struct outcome whole, cut;

	parse_cut(&r, small_csv, len, 0, NULL, 0, &whole);
	cr_assert_eq(whole.rv, 0, "%s", whole.err);
	cr_assert_eq(whole.rows.n, 12);
	cr_assert_eq(whole.rows.batches, 4);
	for (size_t i = 0; i <= len; i++)
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = {i, j};

			parse_cut(&r, small_csv, len, 0, cuts, 2, &cut);
			assert_same(&whole, &cut, "two cuts");
			outcome_free(&cut);
		}
	parse_cut(&r, small_csv, len, 1, NULL, 0, &cut);
	assert_same(&whole, &cut, "byte by byte");
	outcome_free(&cut);
	for (int k = 0; k < 200; k++) {
		parse_cut(&r, small_csv, len, SIZE_MAX, NULL, 0, &cut);
		assert_same(&whole, &cut, "random pieces");
		outcome_free(&cut);
	}
	outcome_free(&whole);
}

Test(client_csv, every_split_position_gives_the_same_error)
{
	static const char bad[] = "a,b\r\n1,\"2\"\r\n3,\"x\r\n\"\r\n";
	size_t len = sizeof(bad) - 1;
	struct run r = {.schema = small_schema, .ncols = 2};
	struct outcome whole, cut;

	parse_cut(&r, bad, len, 0, NULL, 0, &whole);
	cr_assert_str_eq(whole.err, "t.csv:3:2 (b): 'x?" "?' is not a number");
	for (size_t i = 0; i <= len; i++) {
		size_t cuts[1] = {i};

		parse_cut(&r, bad, len, 0, cuts, 1, &cut);
		assert_same(&whole, &cut, "one cut");
		outcome_free(&cut);
	}
	outcome_free(&whole);
}

Test(client_csv, batches_carry_row_index_and_resume_offset)
{
	static const char t[] = "a\n1\n2\n3\n4\n5\n6\n7";
	struct run r = {.schema = &I64, .ncols = 1, .batch_rows = 3};
	struct outcome o;

	parse_all_ways(&r, t, sizeof(t) - 1, &o);
	cr_assert_eq(o.rv, 0, "%s", o.err);
	cr_assert_eq(o.rows.batches, 3);
	cr_assert_eq(o.rows.n, 7);
	cr_assert_eq(o.nrows, 7);
	cr_assert_eq(o.rows.last_end_offset, sizeof(t) - 1);
	for (int k = 0; k < 7; k++)
		cr_assert_eq(o.rows.values[k], (uint64_t)k + 1);
	outcome_free(&o);
}

Test(client_csv, fixed_point_negative_values_and_rounding)
{
	static const char t[] = "x\n"
				"1.5\n-1.5\n3\n-3\n"
				"0.00001\n-0.00001\n"
				"0.00000762939453125\n-0.00000762939453125\n" /* exactly half of 2^-16 */
				"0.0000076293945312\n"			      /* just below half */
				"-0.0000076293945313\n"			      /* just above half */
				".5\n-.25\n+2.\n"
				"12345.678901234567890123\n";
	static const int64_t want[] = {
		98304, -98304, 3 << 16, -(3 << 16), 1, -1, 1, -1, 0, -1, 32768, -16384, 131072,
		809086412,
	};
	struct outcome o;

	parse_ok(t, sizeof(t) - 1, &F16, 1, &o);
	cr_assert_eq(o.rows.n, sizeof(want) / sizeof(want[0]));
	for (size_t k = 0; k < o.rows.n; k++)
		cr_assert_eq((int64_t)o.rows.values[k], want[k], "row %zu: %lld", k,
			     (long long)(int64_t)o.rows.values[k]);
	outcome_free(&o);

	/* the same as engine_fixed_parse(), for random decimals and several f */
	for (unsigned f = 0; f <= 62; f += 31) {
		char text[4096];
		size_t n = (size_t)sprintf(text, "x\n");
		struct csv_column s = {"", CSV_FIXED, f, 0};
		const char *line;

		for (int k = 0; k < 100; k++) {
			uint64_t a = rng_next();
			n += (size_t)sprintf(text + n, "%s%u.%0*u\n", (a & 1) ? "-" : "",
					     (unsigned)(a >> 32) % (f > 40 ? 2 : 100000),
					     (int)(1 + (a >> 8) % 7), (unsigned)(a >> 12) % 1000);
		}
		parse_ok(text, n, &s, 1, &o);
		line = strchr(text, '\n') + 1;
		for (size_t k = 0; k < o.rows.n; k++) {
			const char *e = strchr(line, '\n');
			uint64_t x;

			cr_assert_eq(engine_fixed_parse(line, (size_t)(e - line), f, &x), 0);
			cr_assert_eq(o.rows.values[k], x, "f=%u %.*s", f, (int)(e - line), line);
			line = e + 1;
		}
		outcome_free(&o);
	}
}

/* Every fraction of 1..4 digits (the parser memoizes those), several f, signs
 * and integer parts up to the range limit: identical to engine_fixed_parse(). */
Test(client_csv, fixed_point_matches_engine_for_every_short_fraction)
{
	static const unsigned fs[] = {0, 1, 16, 31, 47, 62};
	size_t cap = 40 * 11200, n;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		unsigned f = fs[i];
		struct csv_column s = {"", CSV_FIXED, f, 0};
		struct run r = {.schema = &s, .ncols = 1};
		struct outcome o;
		const char *line;
		uint64_t limit = (uint64_t)1 << (63 - f); /* |v| must stay below */
		int rows = 0;

		n = (size_t)sprintf(text, "x\n");
		for (unsigned k = 1; k <= 4; k++) {
			unsigned top = k == 1 ? 10 : k == 2 ? 100 : k == 3 ? 1000 : 10000;

			for (unsigned d = 0; d < top; d++) {
				uint64_t a = rng_next(), ip;

				switch (a % 4) {
				case 0: ip = 0; break;
				case 1: ip = (a >> 8) % 1000; break;
				case 2: ip = limit / 2 - 1 - (a >> 8) % 3; break; /* near the memo's edge */
				default: ip = limit - 1 - (a >> 8) % 2; break; /* near the range limit */
				}
				if (f == 0 && ip > 1000)
					ip = (a >> 8) % 1000000;
				uint64_t x;
				int len = sprintf(text + n, "%s%llu.%0*u\n", (a >> 4) & 1 ? "-" : "",
						  (unsigned long long)ip, (int)k, d);

				/* rows the engine finds out of range are left out here
				 * (fixed_range tests those) */
				if (engine_fixed_parse(text + n, (size_t)len - 1, f, &x) == 0) {
					n += (size_t)len;
					rows++;
				}
			}
		}
		parse_cut(&r, text, n, 0, NULL, 0, &o);
		cr_assert_eq(o.rv, 0, "f=%u: %s", f, o.err);
		cr_assert_eq(o.rows.n, (size_t)rows);
		line = strchr(text, '\n') + 1;
		for (size_t k = 0; k < o.rows.n; k++) {
			const char *e = strchr(line, '\n');
			uint64_t x;

			cr_assert_eq(engine_fixed_parse(line, (size_t)(e - line), f, &x), 0);
			cr_assert_eq(o.rows.values[k], x, "f=%u %.*s: %llu vs %llu", f, (int)(e - line),
				     line, (unsigned long long)o.rows.values[k], (unsigned long long)x);
			line = e + 1;
		}
		cr_assert_gt(o.rows.n, 100, "f=%u: %s", f, o.err);
		outcome_free(&o);
	}
	free(text);
}

Test(client_csv, type_inference)
{
	static const char t[] = "a,b,c,d\n1,2.5,3,-0.5\n4,5,6.125,7\n-8,9,10,11.1234567\n12,13,14,15";
	struct run r = {.schema = NULL};
	struct outcome o;

	parse_all_ways(&r, t, sizeof(t) - 1, &o);
	cr_assert_eq(o.rv, 0, "%s", o.err);
	cr_assert_eq(o.nrows, 4);
	cr_assert_eq(o.rows.n, 0, "no rows emitted while inferring");
	cr_assert_eq(o.ncols, 4);
	cr_assert_eq(o.cols[0].type, CSV_INT64);
	cr_assert_eq(o.cols[1].type, CSV_FIXED);
	cr_assert_eq(o.cols[1].frac_digits, 1);
	cr_assert_eq(o.cols[1].frac_bits, 16);
	cr_assert_eq(o.cols[2].type, CSV_FIXED);
	cr_assert_eq(o.cols[2].frac_digits, 3);
	cr_assert_eq(o.cols[3].frac_digits, 7);
	cr_assert_eq(o.cols[3].frac_bits, 25);
	outcome_free(&o);

	/* a prefix cut inside a row: complete rows only, no error without finish */
	{
		struct csv_options opt = {.file = "t.csv"};
		struct csv_parser *p;
		char err[MPC_ERRMSG_SIZE];
		const struct csv_column *c;
		size_t n;

		cr_assert_eq(csv_parser_new(&opt, &p, err), 0);
		cr_assert_null(csv_columns(p, &n));
		cr_assert_eq(csv_feed(p, t, 30), 0); /* ends in "6.1" */
		c = csv_columns(p, &n);
		cr_assert_eq(n, 4);
		cr_assert_eq(csv_rows(p), 1);
		cr_assert_eq(c[2].type, CSV_INT64, "6.125 is not complete yet");
		csv_parser_free(p);
	}
	/* inference still rejects what no schema could take */
	{
		struct run ri = {.schema = NULL};

		parse_all_ways(&ri, "a\n1\nx\n", 6, &o);
		cr_assert_str_eq(o.err, "t.csv:3:1 (a): 'x' is not a number");
		outcome_free(&o);
		parse_all_ways(&ri, "a\n99999999999999999999\n", 23, &o);
		cr_assert_str_eq(o.err, "t.csv:2:1 (a): '99999999999999999999' is out of range for int64");
		outcome_free(&o);
	}
	cr_assert_eq(csv_frac_bits_for_digits(0), 16);
	cr_assert_eq(csv_frac_bits_for_digits(4), 16);
	cr_assert_eq(csv_frac_bits_for_digits(5), 18);
	cr_assert_eq(csv_frac_bits_for_digits(6), 21);
	cr_assert_eq(csv_frac_bits_for_digits(30), 40);
}

/* ---- garbage never crashes, and the cut never matters ---- */

Test(client_csv, random_garbage_is_rejected_or_parsed_consistently)
{
	static const char alphabet[] = "0123456789,,,\"\n\n\r.-+ ax\0\xef\xbb\xbf";
	static const struct csv_column s[3] = {
		{"", CSV_INT64, 0, 0}, {"", CSV_FIXED, 16, 0}, {"", CSV_FIXED, 62, 0}};
	char text[256];
	int ok = 0;

	rng_state = 12345;
	for (int k = 0; k < 3000; k++) {
		size_t len = rng_next() % sizeof(text), start = 0;
		struct run r = {.schema = (k & 1) ? s : NULL, .ncols = 3, .batch_rows = 2};
		struct outcome whole, cut;
		size_t cuts[3];

		/* half of the inputs start from a valid header and rows, then garble */
		if (k % 4 < 2) {
			start = (size_t)snprintf(text, sizeof(text), "a,b,c\n1,2.5,-3\n");
			if (len < start)
				len = start;
		}
		for (size_t i = start; i < len; i++)
			text[i] = alphabet[rng_next() % (sizeof(alphabet) - 1)];
		if (k % 8 == 0 && len > start)
			text[start + rng_next() % (len - start)] ^= (char)(rng_next() & 0xff);
		parse_cut(&r, text, len, 0, NULL, 0, &whole);
		ok += whole.rv == 0;
		cr_assert(whole.rv == 0 || whole.err[0] != '\0');
		cr_assert(whole.rv == 0 || strncmp(whole.err, "t.csv", 5) == 0, "%s", whole.err);
		for (int c = 0; c < 3; c++)
			cuts[c] = len ? rng_next() % (len + 1) : 0;
		if (cuts[0] > cuts[1]) {
			size_t x = cuts[0];
			cuts[0] = cuts[1];
			cuts[1] = x;
		}
		if (cuts[1] > cuts[2]) {
			size_t x = cuts[1];
			cuts[1] = cuts[2];
			cuts[2] = x;
		}
		if (cuts[0] > cuts[1]) {
			size_t x = cuts[0];
			cuts[0] = cuts[1];
			cuts[1] = x;
		}
		parse_cut(&r, text, len, 0, cuts, 3, &cut);
		assert_same(&whole, &cut, "garbage, cut");
		outcome_free(&cut);
		parse_cut(&r, text, len, 1, NULL, 0, &cut);
		assert_same(&whole, &cut, "garbage, byte by byte");
		outcome_free(&cut);
		outcome_free(&whole);
	}
	cr_assert_gt(ok, 0, "some inputs parse");
}
