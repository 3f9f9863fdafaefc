/* Streaming strict CSV parser: rows of integers/decimals into ring elements, errors as FILE:LINE:COL. */
#include "client/csv.h"

#include "common/err.h"
#include "engine/fixed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design. parse_rows() works on one contiguous span of bytes and converts
 * every record that ends inside it. It reads the caller's buffer directly;
 * only a record that straddles the end of a csv_feed() piece is copied
 * into `carry`, which later pieces extend until that record ends. The
 * result is a function of the byte sequence alone, not of how it was cut:
 *
 *  - a record is parsed within a window of CSV_WINDOW bytes from its start
 *    (the longest allowed row plus CRLF). Reaching the end of the span
 *    before the record ends means "need more" unless the window is full
 *    (then the row is too long) or the input is final (end = EOF);
 *  - every error depends only on the bytes before the position where it is
 *    detected, and a field is judged only once its terminator is seen, so
 *    parsing again with more bytes finds the same first error.
 *
 * carry holds at most CSV_WINDOW bytes and always starts at a record
 * start. Re-parsing it is deferred until a newline arrived and its size
 * doubled since the last attempt (or it is full), which keeps byte-by-byte
 * feeding of long quoted records from becoming quadratic.
 */

#define CSV_WINDOW (CSV_MAX_LINE + 2)
#define CSV_MORE 1 /* parse_rows/scan_field: the record goes on past the span */
#define CSV_VALUE_SHOWN 40 /* bytes of a bad value quoted in a message */
#define CSV_DUP_SLOTS (2 * CSV_MAX_COLUMNS)
/*
 * Memo of engine_fixed_parse("0.D") for fractions D of 1..CSV_MEMO_DIGITS
 * digits, one table per f. engine_fixed_parse() turns each fraction digit
 * into f bits one doubling at a time (~80 ns for "12.3456" at f = 16), which
 * would cap the parser near 200 MB/s on decimal data. Since I * 2^f is an
 * integer, round((I + 0.D) * 2^f) = I * 2^f + round(0.D * 2^f) exactly (with
 * the sign applied to the magnitude, as halves away from zero does), so the
 * engine's rounding is reused, not re-implemented; values near the range
 * limit still go through engine_fixed_parse() whole.
 */
#define CSV_MEMO_DIGITS 4
#define CSV_MEMO_SIZE (10 + 100 + 1000 + 10000)
#define CSV_MEMO_EMPTY UINT64_MAX
static const unsigned csv_memo_base[CSV_MEMO_DIGITS + 1] = {0, 0, 10, 110, 1110};

static const unsigned char csv_bom[3] = {0xef, 0xbb, 0xbf};

struct csv_parser {
	char file[192];
	unsigned char delim;
	unsigned char special[256]; /* bytes that end an unquoted field */
	int strict;
	int header_done;
	int fed;
	int failed;
	int finished;

	/* strict mode: types by position */
	struct csv_column *schema;
	size_t schema_n;
	/* expected header */
	char (*expect)[CSV_NAME_MAX + 1];
	size_t expect_n;

	/* the header as read (types filled in when done) */
	struct csv_column *cols;
	size_t ncols, cols_cap;
	uint32_t *dup_slots; /* open addressing over header names while reading it */
	/* inference */
	unsigned char *saw_decimal;

	uint64_t line; /* line of the next record */
	uint64_t rows;

	/* batch of converted rows */
	uint64_t *batch;
	size_t batch_rows, batch_n;
	uint64_t batch_first_row, batch_first_line, batch_end_offset;
	int (*on_rows)(void *ud, const struct csv_batch *batch);
	void *ud;

	/* input bytes */
	int bom_done;
	uint64_t in_offset;   /* bytes fed so far */
	uint64_t span_offset; /* input offset of the span parse_rows() works on */
	char *carry;
	size_t carry_len, carry_fail, carry_cap;
	uint64_t carry_offset;

	uint64_t *frac_memo[ENGINE_FIXED_MAX_FRAC_BITS + 1]; /* by f, strict mode */

	char *scratch; /* unescaped quoted field */
	size_t scratch_cap;

	char errmsg[MPC_ERRMSG_SIZE];
	int err;
};

/* One field found by scan_field(). */
struct csv_field {
	const char *text; /* contents (quotes removed), len bytes */
	size_t len;
	int quoted;
	const char *term; /* delimiter, CR or LF after it, or the span end at EOF */
};

/* ---- messages ---- */

/* Writes text as 'text' for a message: at most CSV_VALUE_SHOWN bytes,
 * control and non-ASCII bytes as '?'. */
static void csv_show(char *out, size_t cap, const char *text, size_t len)
{
	size_t n = len > CSV_VALUE_SHOWN ? CSV_VALUE_SHOWN : len, k, o = 0;

	out[o++] = '\'';
	for (k = 0; k < n && o + 6 < cap; k++) {
		unsigned char c = (unsigned char)text[k];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (k < len && o + 6 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static int csv_failv(struct csv_parser *p, int code, uint64_t line, size_t col,
		     const char *fmt, va_list ap)
{
	char what[MPC_ERRMSG_SIZE];

	vsnprintf(what, sizeof(what), fmt, ap);
	if (line == 0)
		mpc_errmsg_printf(p->errmsg, "%s: %s", p->file, what);
	else if (col == 0)
		mpc_errmsg_printf(p->errmsg, "%s:%llu: %s", p->file, (unsigned long long)line, what);
	else if (p->header_done && col <= p->ncols)
		mpc_errmsg_printf(p->errmsg, "%s:%llu:%zu (%s): %s", p->file,
				  (unsigned long long)line, col, p->cols[col - 1].name, what);
	else
		mpc_errmsg_printf(p->errmsg, "%s:%llu:%zu: %s", p->file, (unsigned long long)line,
				  col, what);
	p->failed = 1;
	p->err = code;
	return code;
}

/* Error at line:col (col 1-based; 0: the line; line 0: the file). */
__attribute__((format(printf, 5, 6))) static int
csv_fail(struct csv_parser *p, int code, uint64_t line, size_t col, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = csv_failv(p, code, line, col, fmt, ap);
	va_end(ap);
	return rv;
}

/* A record ends at the '\r' at s (wend: the end of the data at hand, rfinal: no more comes):
 * 1 if a '\n' follows, 0 if the data ends after the '\r' (wait for more), else the error. */
static int crlf_at(struct csv_parser *p, const char *s, const char *wend, int rfinal,
		   uint64_t line)
{
	if (s + 1 == wend && !rfinal)
		return 0;
	if (s + 1 == wend || s[1] != '\n')
		return csv_fail(p, MPC_EINVAL, line, 0, "carriage return without a line feed");
	return 1;
}

/* ---- setup ---- */

int csv_parser_new(const struct csv_options *opts, struct csv_parser **out, char *errmsg)
{
	struct csv_parser *p;
	unsigned char d = opts && opts->delimiter ? opts->delimiter : ',';

	if ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') ||
	    strchr("_.+-\"\r\n", d) != NULL || d == 0) {
		if (errmsg)
			mpc_errmsg_printf(errmsg, "csv: delimiter 0x%02x cannot be used (it can "
					  "occur in a name or a number, or is a quote or line end)",
					  d);
		return MPC_EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		if (errmsg)
			mpc_errmsg_printf(errmsg, "csv: out of memory");
		return MPC_ENOMEM;
	}
	snprintf(p->file, sizeof(p->file), "%s", opts && opts->file ? opts->file : "<input>");
	p->delim = d;
	p->special[d] = 1;
	p->special['\n'] = 1;
	p->special['\r'] = 1;
	p->special['"'] = 1;
	p->special[0] = 1;
	p->batch_rows = opts ? opts->batch_rows : 0;
	p->on_rows = opts ? opts->on_rows : NULL;
	p->ud = opts ? opts->ud : NULL;
	p->line = 1;
	*out = p;
	return 0;
}

void csv_parser_free(struct csv_parser *p)
{
	if (p == NULL)
		return;
	free(p->schema);
	free(p->expect);
	free(p->cols);
	free(p->dup_slots);
	free(p->saw_decimal);
	free(p->batch);
	free(p->carry);
	free(p->scratch);
	for (size_t f = 0; f <= ENGINE_FIXED_MAX_FRAC_BITS; f++)
		free(p->frac_memo[f]);
	free(p);
}

int csv_set_schema(struct csv_parser *p, const struct csv_column *cols, size_t ncols)
{
	if (p->fed || ncols == 0 || ncols > CSV_MAX_COLUMNS)
		return csv_fail(p, MPC_EINVAL, 0, 0, "schema: %s",
				p->fed ? "set after input was fed" : "bad number of columns");
	for (size_t k = 0; k < ncols; k++)
		if (cols[k].type == CSV_FIXED && cols[k].frac_bits > ENGINE_FIXED_MAX_FRAC_BITS)
			return csv_fail(p, MPC_EINVAL, 0, 0,
					"schema: column %zu has %u fractional bits (at most %d)",
					k + 1, cols[k].frac_bits, ENGINE_FIXED_MAX_FRAC_BITS);
	free(p->schema);
	p->schema = malloc(ncols * sizeof(*cols));
	if (p->schema == NULL)
		return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
	memcpy(p->schema, cols, ncols * sizeof(*cols));
	p->schema_n = ncols;
	p->strict = 1;
	return 0;
}

int csv_expect_header(struct csv_parser *p, const char *const *names, size_t n)
{
	if (p->fed || n == 0 || n > CSV_MAX_COLUMNS)
		return csv_fail(p, MPC_EINVAL, 0, 0, "expected header: %s",
				p->fed ? "set after input was fed" : "bad number of columns");
	free(p->expect);
	p->expect = calloc(n, sizeof(*p->expect));
	if (p->expect == NULL)
		return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
	for (size_t k = 0; k < n; k++)
		snprintf(p->expect[k], sizeof(p->expect[k]), "%s", names[k]);
	p->expect_n = n;
	return 0;
}

const char *csv_errmsg(const struct csv_parser *p)
{
	return p->errmsg;
}

uint64_t csv_rows(const struct csv_parser *p)
{
	return p->rows;
}

unsigned csv_frac_bits_for_digits(unsigned digits)
{
	/* smallest f with 2^f >= 2 * 10^digits */
	unsigned __int128 want = 2, pow2 = 1;
	unsigned f = 0;

	if (digits > 12)
		return 40;
	for (unsigned k = 0; k < digits; k++)
		want *= 10;
	while (pow2 < want) {
		pow2 <<= 1;
		f++;
	}
	if (f < ENGINE_FIXED_DEFAULT_FRAC_BITS)
		f = ENGINE_FIXED_DEFAULT_FRAC_BITS;
	return f > 40 ? 40 : f;
}

const struct csv_column *csv_columns(const struct csv_parser *p, size_t *ncols)
{
	struct csv_column *cols = p->cols;

	if (!p->header_done) {
		*ncols = 0;
		return NULL;
	}
	if (!p->strict) {
		for (size_t k = 0; k < p->ncols; k++) {
			cols[k].type = p->saw_decimal[k] ? CSV_FIXED : CSV_INT64;
			cols[k].frac_bits =
				p->saw_decimal[k] ? csv_frac_bits_for_digits(cols[k].frac_digits) : 0;
		}
	}
	*ncols = p->ncols;
	return cols;
}

/* ---- fields ---- */

static int csv_scratch_reserve(struct csv_parser *p, size_t n)
{
	char *s;
	size_t cap;

	if (n <= p->scratch_cap)
		return 0;
	cap = p->scratch_cap ? p->scratch_cap : 256;
	while (cap < n)
		cap *= 2;
	s = realloc(p->scratch, cap);
	if (s == NULL)
		return MPC_ENOMEM;
	p->scratch = s;
	p->scratch_cap = cap;
	return 0;
}

/*
 * Finds the field starting at s (window end wend, final: wend is EOF).
 * *line is the line of s and advances over newlines inside quotes; col is
 * for messages. Returns 0, CSV_MORE, or an error.
 */
static int scan_field(struct csv_parser *p, const char *s, const char *wend, int final,
		      uint64_t *line, size_t col, struct csv_field *f)
{
	const char *q = s;

	if (q < wend && *q != '"') {
		while (q < wend && !p->special[(unsigned char)*q])
			q++;
		if (q < wend && *q == '"')
			return csv_fail(p, MPC_EINVAL, *line, col,
					"quote inside an unquoted field (quote the whole field "
					"and double the quote)");
		if (q < wend && *q == '\0')
			return csv_fail(p, MPC_EINVAL, *line, col, "NUL byte in the input");
		if (q == wend && !final)
			return CSV_MORE;
		f->text = s;
		f->len = (size_t)(q - s);
		f->quoted = 0;
		f->term = q;
		return 0;
	}
	if (q == wend) {
		if (!final)
			return CSV_MORE;
		f->text = s;
		f->len = 0;
		f->quoted = 0;
		f->term = q;
		return 0;
	}

	/* quoted: contents unescaped into scratch */
	{
		uint64_t l = *line;
		size_t n = 0;

		if (csv_scratch_reserve(p, (size_t)(wend - s)) < 0)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
		for (q = s + 1;;) {
			const char *e = memchr(q, '"', (size_t)(wend - q));
			const char *z = e ? e : wend;

			if (memchr(q, '\0', (size_t)(z - q)) != NULL)
				return csv_fail(p, MPC_EINVAL, *line, col, "NUL byte in the input");
			for (const char *t = q; (t = memchr(t, '\n', (size_t)(z - t))) != NULL; t++)
				l++;
			memcpy(p->scratch + n, q, (size_t)(z - q));
			n += (size_t)(z - q);
			if (e == NULL) {
				if (!final)
					return CSV_MORE;
				return csv_fail(p, MPC_EINVAL, *line, col,
						"unterminated quoted field (no closing quote "
						"before the end of the file)");
			}
			if (e + 1 == wend) {
				if (!final)
					return CSV_MORE;
				q = e + 1; /* closing quote at EOF */
				break;
			}
			if (e[1] == '"') {
				p->scratch[n++] = '"';
				q = e + 2;
				continue;
			}
			q = e + 1;
			if (*q != (char)p->delim && *q != '\n' && *q != '\r')
				return csv_fail(p, MPC_EINVAL, l, col,
						"unexpected %s after the closing quote",
						*q == '\0' ? "NUL byte" : "character");
			break;
		}
		f->text = p->scratch;
		f->len = n;
		f->quoted = 1;
		f->term = q;
		*line = l;
		return 0;
	}
}

/* A number's shape: [+-](digits[.digits]|.digits). */
struct csv_number {
	int neg;
	const char *ip; /* integer digits */
	size_t nip;
	size_t nfp; /* digits after the point */
	int point;
};

static int csv_is_number(const char *t, size_t len, struct csv_number *n)
{
	size_t i = 0;

	memset(n, 0, sizeof(*n));
	if (i < len && (t[i] == '+' || t[i] == '-'))
		n->neg = t[i++] == '-';
	n->ip = t + i;
	while (i < len && (unsigned)(t[i] - '0') < 10)
		i++, n->nip++;
	if (i < len && t[i] == '.') {
		n->point = 1;
		i++;
		while (i < len && (unsigned)(t[i] - '0') < 10)
			i++, n->nfp++;
	}
	return i == len && n->nip + n->nfp > 0;
}

/* Integer digits -> int64 as a ring element; 0 or MPC_ERANGE. */
static int csv_int64(const struct csv_number *n, uint64_t *out)
{
	const char *d = n->ip;
	size_t nd = n->nip;
	uint64_t v = 0, limit = n->neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;

	while (nd > 0 && *d == '0')
		d++, nd--;
	if (nd > 19)
		return MPC_ERANGE;
	for (size_t k = 0; k < nd; k++) {
		unsigned c = (unsigned)(d[k] - '0');
		if (v > (UINT64_MAX - c) / 10)
			return MPC_ERANGE;
		v = v * 10 + c;
	}
	if (v > limit)
		return MPC_ERANGE;
	*out = n->neg ? -v : v;
	return 0;
}

/* Converts (strict) or classifies (inference) the text of a field. */
static int convert_field(struct csv_parser *p, size_t col, const char *text, size_t len,
			 uint64_t line, uint64_t *out)
{
	struct csv_number num;
	char shown[CSV_VALUE_SHOWN + 8];
	uint64_t v = 0;
	int rv;

	if (len == 0)
		return csv_fail(p, MPC_EINVAL, line, col + 1, "empty field");
	if (!csv_is_number(text, len, &num)) {
		csv_show(shown, sizeof(shown), text, len);
		return csv_fail(p, MPC_EINVAL, line, col + 1, "%s is not a number", shown);
	}
	if (!p->strict) {
		if (num.point) {
			p->saw_decimal[col] = 1;
			if (num.nfp > p->cols[col].frac_digits)
				p->cols[col].frac_digits = (unsigned)num.nfp;
		} else if (csv_int64(&num, &v) < 0) {
			csv_show(shown, sizeof(shown), text, len);
			return csv_fail(p, MPC_ERANGE, line, col + 1, "%s is out of range for int64",
					shown);
		}
		return 0;
	}
	if (p->cols[col].type == CSV_INT64) {
		if (num.point) {
			csv_show(shown, sizeof(shown), text, len);
			return csv_fail(p, MPC_EINVAL, line, col + 1,
					"%s is a decimal but the column is int64", shown);
		}
		if (csv_int64(&num, out) < 0) {
			csv_show(shown, sizeof(shown), text, len);
			return csv_fail(p, MPC_ERANGE, line, col + 1, "%s is out of range for int64",
					shown);
		}
		return 0;
	}
	if (!num.point) {
		rv = csv_int64(&num, &v);
		if (rv == 0)
			rv = engine_fixed_from_int64((int64_t)v, p->cols[col].frac_bits, out);
	} else if (len > ENGINE_FIXED_PARSE_MAX) {
		csv_show(shown, sizeof(shown), text, len);
		return csv_fail(p, MPC_EINVAL, line, col + 1, "%s has more than %d characters",
				shown, ENGINE_FIXED_PARSE_MAX);
	} else {
		rv = engine_fixed_parse(text, len, p->cols[col].frac_bits, out);
	}
	if (rv < 0) {
		unsigned f = p->cols[col].frac_bits;
		csv_show(shown, sizeof(shown), text, len);
		return csv_fail(p, MPC_ERANGE, line, col + 1,
				"%s is out of range for fixed point with %u fractional bits "
				"(|v| < 2^%u)",
				shown, f, 63 - f);
	}
	return 0;
}

/* ---- header ---- */

static int csv_valid_name(const char *t, size_t len)
{
	if (len == 0 || len > CSV_NAME_MAX)
		return 0;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)t[k];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			 (k > 0 && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

static uint32_t csv_name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Adds a header name (checked); error for an invalid or duplicate name. */
static int header_add(struct csv_parser *p, const struct csv_field *f, uint64_t line)
{
	size_t col = p->ncols + 1;
	char shown[CSV_VALUE_SHOWN + 8];
	uint32_t h;

	if (f->len == 0)
		return csv_fail(p, MPC_EINVAL, line, col, "empty column name");
	if (!csv_valid_name(f->text, f->len)) {
		csv_show(shown, sizeof(shown), f->text, f->len);
		return csv_fail(p, MPC_EINVAL, line, col,
				"invalid column name %s (names are [A-Za-z_][A-Za-z0-9_]{0,62})",
				shown);
	}
	if (p->ncols == CSV_MAX_COLUMNS)
		return csv_fail(p, MPC_EINVAL, line, col, "more than %d columns", CSV_MAX_COLUMNS);
	if (p->ncols == p->cols_cap) {
		size_t cap = p->cols_cap ? 2 * p->cols_cap : 16;
		struct csv_column *c = realloc(p->cols, cap * sizeof(*c));
		if (c == NULL)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
		p->cols = c;
		p->cols_cap = cap;
	}
	memset(&p->cols[p->ncols], 0, sizeof(p->cols[0]));
	memcpy(p->cols[p->ncols].name, f->text, f->len);
	h = csv_name_hash(p->cols[p->ncols].name) % CSV_DUP_SLOTS;
	for (;; h = (h + 1) % CSV_DUP_SLOTS) {
		uint32_t k = p->dup_slots[h];
		if (k == 0)
			break;
		if (strcmp(p->cols[k - 1].name, p->cols[p->ncols].name) == 0)
			return csv_fail(p, MPC_EINVAL, line, col,
					"duplicate column name '%s' (also column %u)",
					p->cols[p->ncols].name, k);
	}
	p->dup_slots[h] = (uint32_t)col;
	p->ncols++;
	return 0;
}

/* The header is complete: check it against expectations, set up the rows. */
static int header_done(struct csv_parser *p)
{
	size_t n = p->ncols, rows;

	if (p->expect) {
		size_t m = n < p->expect_n ? n : p->expect_n;
		for (size_t k = 0; k < m; k++)
			if (strcmp(p->cols[k].name, p->expect[k]) != 0)
				return csv_fail(p, MPC_EINVAL, p->line, k + 1,
						"header differs from the table's: column %zu is "
						"'%s', expected '%s'",
						k + 1, p->cols[k].name, p->expect[k]);
		if (n < p->expect_n)
			return csv_fail(p, MPC_EINVAL, p->line, 0,
					"header differs from the table's: %zu columns, expected "
					"%zu (missing '%s')",
					n, p->expect_n, p->expect[n]);
		if (n > p->expect_n)
			return csv_fail(p, MPC_EINVAL, p->line, 0,
					"header differs from the table's: %zu columns, expected "
					"%zu (extra '%s')",
					n, p->expect_n, p->cols[p->expect_n].name);
	}
	if (p->strict) {
		if (n != p->schema_n)
			return csv_fail(p, MPC_EINVAL, p->line, 0,
					"header has %zu columns, the schema %zu", n, p->schema_n);
		for (size_t k = 0; k < n; k++) {
			p->cols[k].type = p->schema[k].type;
			p->cols[k].frac_bits =
				p->schema[k].type == CSV_FIXED ? p->schema[k].frac_bits : 0;
		}
		rows = p->batch_rows;
		if (rows == 0) {
			rows = (size_t)(1 << 17) / n;
			rows = rows < 1 ? 1 : rows > CSV_DEFAULT_BATCH_ROWS ? CSV_DEFAULT_BATCH_ROWS : rows;
		}
		if (rows > SIZE_MAX / sizeof(uint64_t) / n)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "batch of %zu rows too large", rows);
		p->batch = malloc(rows * n * sizeof(uint64_t));
		if (p->batch == NULL)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
		p->batch_rows = rows;
		for (size_t k = 0; k < n; k++) {
			unsigned f = p->cols[k].frac_bits;

			if (p->cols[k].type != CSV_FIXED || p->frac_memo[f] != NULL)
				continue;
			p->frac_memo[f] = malloc(CSV_MEMO_SIZE * sizeof(uint64_t));
			if (p->frac_memo[f] == NULL)
				return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
			memset(p->frac_memo[f], 0xff, CSV_MEMO_SIZE * sizeof(uint64_t));
		}
	} else {
		p->saw_decimal = calloc(n, 1);
		if (p->saw_decimal == NULL)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
	}
	free(p->dup_slots);
	p->dup_slots = NULL;
	p->header_done = 1;
	return 0;
}

/* Parses the header record at the start of the span (see parse_rows()). */
static int parse_header(struct csv_parser *p, const char *buf, size_t len, int final,
			size_t *consumed)
{
	const char *end = buf + len, *s = buf, *rend;
	const char *wend = len > CSV_WINDOW ? buf + CSV_WINDOW : end;
	int rfinal = final && wend == end, rv;
	uint64_t line = p->line;
	struct csv_field f;

	*consumed = 0;
	p->ncols = 0;
	if (p->dup_slots == NULL) {
		p->dup_slots = calloc(CSV_DUP_SLOTS, sizeof(uint32_t));
		if (p->dup_slots == NULL)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
	} else {
		memset(p->dup_slots, 0, CSV_DUP_SLOTS * sizeof(uint32_t));
	}
	for (;;) {
		uint64_t fline = line;

		rv = scan_field(p, s, wend, rfinal, &line, p->ncols + 1, &f);
		if (rv == CSV_MORE)
			goto more;
		if (rv < 0)
			return rv;
		if (p->ncols == 0 && f.len == 0 && !f.quoted && f.term < wend &&
		    (*f.term == '\n' || *f.term == '\r'))
			return csv_fail(p, MPC_EINVAL, fline, 0, "empty header line");
		rv = header_add(p, &f, fline);
		if (rv < 0)
			return rv;
		s = f.term;
		if (s == wend) {
			rend = s;
			break;
		}
		if (*s == (char)p->delim) {
			s++;
			continue;
		}
		rend = s;
		if (*s == '\r') {
			int crlf = crlf_at(p, s, wend, rfinal, line);
			if (crlf == 0)
				goto more;
			if (crlf < 0)
				return crlf;
			s++;
		}
		s++;
		line++;
		break;
	}
	if (rend - buf > CSV_MAX_LINE)
		return csv_fail(p, MPC_EINVAL, p->line, 0, "line longer than %d bytes",
				CSV_MAX_LINE);
	rv = header_done(p); /* messages name the header's line */
	if (rv < 0)
		return rv;
	p->line = line;
	*consumed = (size_t)(s - buf);
	return 0;
more:
	if (wend - buf >= CSV_WINDOW)
		return csv_fail(p, MPC_EINVAL, p->line, 0, "line longer than %d bytes", CSV_MAX_LINE);
	return 0;
}

/* ---- rows ---- */

static int flush_batch(struct csv_parser *p)
{
	struct csv_batch b;
	int rv;

	if (p->batch_n == 0)
		return 0;
	b.values = p->batch;
	b.rows = p->batch_n;
	b.ncols = p->ncols;
	b.first_row = p->batch_first_row;
	b.first_line = p->batch_first_line;
	b.end_offset = p->batch_end_offset;
	p->batch_n = 0;
	if (p->on_rows == NULL)
		return 0;
	rv = p->on_rows(p->ud, &b);
	if (rv < 0)
		return csv_fail(p, rv, b.first_line, 0, "rows from this line on not taken: %s",
				mpc_strerror(rv));
	return 0;
}

static inline int csv_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/*
 * Converts every record that ends inside buf[0..len) (final: buf ends at
 * EOF). *consumed is how many bytes the complete records took; the rest is
 * the start of a record that needs more input. Returns 0 or an error.
 */
static int parse_rows(struct csv_parser *p, const char *buf, size_t len, int final,
		      size_t *consumed)
{
	const char *s = buf, *const end = buf + len;
	const char delim = (char)p->delim;
	const size_t ncols = p->ncols;
	const int strict = p->strict;
	const char *rs = s, *wend = end;
	int rv;

	*consumed = 0;
	while (s < end) {
		const char *q, *rend;
		rs = s;
		wend = (size_t)(end - rs) > CSV_WINDOW ? rs + CSV_WINDOW : end;
		const int rfinal = final && wend == end;
		uint64_t line = p->line, *row = strict ? p->batch + p->batch_n * ncols : NULL;
		size_t col = 0;

		for (;;) {
			uint64_t fline = line;
			struct csv_field f;
			char c;

			if (strict) {
				/* Fast path: an unquoted integer or plain decimal right
				 * before its terminator; anything else takes the slow
				 * path, which converts the same text the same way. */
				const char *t = s, *ds;
				uint64_t v = 0;
				int neg = t < wend && *t == '-';

				t += neg;
				ds = t;
				while (t < wend && csv_digit(*t))
					v = v * 10 + (uint64_t)(*t++ - '0');
				if ((size_t)(t - ds) - 1 < 18 && t < wend) {
					c = *t;
					if (c == delim || c == '\n' || c == '\r') {
						uint64_t x = neg ? -v : v;

						if (p->cols[col].type == CSV_INT64) {
							row[col] = x;
							q = t;
							goto terminator;
						}
						if (engine_fixed_from_int64((int64_t)x,
									    p->cols[col].frac_bits,
									    &row[col]) == 0) {
							q = t;
							goto terminator;
						}
					} else if (c == '.' && p->cols[col].type == CSV_FIXED) {
						const char *u = t + 1;
						const unsigned f = p->cols[col].frac_bits;
						unsigned d = 0;
						size_t k;

						while (u < wend && csv_digit(*u))
							d = d * 10 + (unsigned)(*u++ - '0');
						k = (size_t)(u - t) - 1;
						if (u < wend && (*u == delim || *u == '\n' || *u == '\r')) {
							if (k - 1 < CSV_MEMO_DIGITS &&
							    v < (uint64_t)1 << (62 - f)) {
								/* |v| * 2^f + frac stays below 2^62 */
								uint64_t *m = &p->frac_memo[f][csv_memo_base[k] + d];
								uint64_t mag;

								if (*m == CSV_MEMO_EMPTY) {
									char frac[2 + CSV_MEMO_DIGITS] = "0.";

									memcpy(frac + 2, t + 1, k);
									if (engine_fixed_parse(frac, 2 + k, f, m) < 0)
										goto slow;
								}
								mag = (v << f) + *m;
								row[col] = neg ? -mag : mag;
								q = u;
								goto terminator;
							}
							if (u - s <= ENGINE_FIXED_PARSE_MAX &&
							    engine_fixed_parse(s, (size_t)(u - s), f,
									       &row[col]) == 0) {
								q = u;
								goto terminator;
							}
						}
					}
				}
			}
		slow:
			rv = scan_field(p, s, wend, rfinal, &line, col + 1, &f);
			if (rv == CSV_MORE)
				goto more;
			if (rv < 0)
				return rv;
			if (col == 0 && f.len == 0 && !f.quoted && f.term < wend &&
			    (*f.term == '\n' || *f.term == '\r'))
				return csv_fail(p, MPC_EINVAL, fline, 0, "empty line");
			rv = convert_field(p, col, f.text, f.len, fline, strict ? &row[col] : NULL);
			if (rv < 0)
				return rv;
			q = f.term;
			if (q == wend) { /* EOF ends the last record */
				rend = q;
				s = q;
				break;
			}
		terminator:
			c = *q;
			if (c == delim) {
				if (col + 1 == ncols)
					return csv_fail(p, MPC_EINVAL, line, col + 2,
							"too many fields (the header has %zu)", ncols);
				col++;
				s = q + 1;
				continue;
			}
			rend = q;
			if (c == '\r') {
				int crlf = crlf_at(p, q, wend, rfinal, line);
				if (crlf == 0)
					goto more;
				if (crlf < 0)
					return crlf;
				q++;
			}
			s = q + 1;
			line++;
			break;
		}
		if (col + 1 < ncols)
			return csv_fail(p, MPC_EINVAL, s == rend ? line : line - 1, col + 2,
					"too few fields (%zu of %zu)", col + 1, ncols);
		if (rend - rs > CSV_MAX_LINE)
			return csv_fail(p, MPC_EINVAL, p->line, 0, "line longer than %d bytes",
					CSV_MAX_LINE);
		if (strict) {
			if (p->batch_n == 0) {
				p->batch_first_row = p->rows;
				p->batch_first_line = p->line;
			}
			p->batch_end_offset = p->span_offset + (uint64_t)(s - buf);
			if (++p->batch_n == p->batch_rows) {
				p->line = line;
				p->rows++;
				*consumed = (size_t)(s - buf);
				rv = flush_batch(p);
				if (rv < 0)
					return rv;
				continue;
			}
		}
		p->line = line;
		p->rows++;
	}
	*consumed = (size_t)(s - buf);
	return 0;
more:
	*consumed = (size_t)(rs - buf);
	if (wend - rs >= CSV_WINDOW)
		return csv_fail(p, MPC_EINVAL, p->line, 0, "line longer than %d bytes", CSV_MAX_LINE);
	return 0;
}

/* ---- input ---- */

/* Parses a span at input offset off: the header first, then rows. */
static int parse_span(struct csv_parser *p, const char *buf, size_t len, int final, uint64_t off,
		      size_t *consumed)
{
	size_t used = 0, n = 0;
	int rv;

	*consumed = 0;
	if (!p->header_done) {
		rv = parse_header(p, buf, len, final, &used);
		if (rv < 0 || !p->header_done)
			return rv;
	}
	p->span_offset = off + used;
	rv = parse_rows(p, buf + used, len - used, final, &n);
	*consumed = used + n;
	return rv;
}

static int carry_append(struct csv_parser *p, const char *b, size_t n)
{
	if (p->carry_len + n > p->carry_cap) {
		size_t cap = p->carry_cap ? p->carry_cap : 4096;
		char *c;

		while (cap < p->carry_len + n)
			cap *= 2;
		if (cap > CSV_WINDOW)
			cap = CSV_WINDOW; /* callers never go past a full window */
		c = realloc(p->carry, cap);
		if (c == NULL)
			return csv_fail(p, MPC_ENOMEM, 0, 0, "out of memory");
		p->carry = c;
		p->carry_cap = cap;
	}
	memcpy(p->carry + p->carry_len, b, n);
	p->carry_len += n;
	return 0;
}

/* Parses what carry holds; keeps the unfinished record. */
static int carry_parse(struct csv_parser *p, int final)
{
	size_t used;
	int rv = parse_span(p, p->carry, p->carry_len, final, p->carry_offset, &used);

	if (rv < 0)
		return rv;
	memmove(p->carry, p->carry + used, p->carry_len - used);
	p->carry_len -= used;
	p->carry_offset += used;
	p->carry_fail = used ? 0 : p->carry_len;
	return 0;
}

int csv_feed(struct csv_parser *p, const void *buf, size_t len)
{
	const char *b = buf;
	int rv;

	if (p->failed)
		return p->err;
	if (p->finished)
		return MPC_ESTATE;
	p->fed = 1;
	while (len > 0) {
		size_t take, used;

		if (!p->bom_done) {
			take = 3 - p->carry_len < len ? 3 - p->carry_len : len;
			if ((rv = carry_append(p, b, take)) < 0)
				return rv;
			b += take;
			len -= take;
			p->in_offset += take;
			if (memcmp(p->carry, csv_bom, p->carry_len) != 0) {
				p->bom_done = 1; /* data: stays in carry */
			} else if (p->carry_len == 3) {
				p->bom_done = 1;
				p->carry_len = 0;
				p->carry_offset = 3;
			}
			p->carry_fail = 0;
			continue;
		}
		if (p->carry_len == 0) {
			/* zero copy: whole records straight from the caller's buffer */
			rv = parse_span(p, b, len, 0, p->in_offset, &used);
			if (rv < 0)
				return rv;
			b += used;
			len -= used;
			p->in_offset += used;
			if (len > 0) { /* an unfinished record, shorter than a window */
				p->carry_offset = p->in_offset;
				if ((rv = carry_append(p, b, len)) < 0)
					return rv;
				p->in_offset += len;
				p->carry_fail = 0;
			}
			return 0;
		}
		/* extend carry up to the next newline (or a full window) */
		{
			size_t room = CSV_WINDOW - p->carry_len;
			const char *nl = memchr(b, '\n', len < room ? len : room);

			take = nl ? (size_t)(nl - b) + 1 : len < room ? len : room;
			if ((rv = carry_append(p, b, take)) < 0)
				return rv;
			b += take;
			len -= take;
			p->in_offset += take;
			if ((nl && p->carry_len >= 2 * p->carry_fail) || p->carry_len == CSV_WINDOW) {
				if ((rv = carry_parse(p, 0)) < 0)
					return rv;
			}
		}
	}
	return 0;
}

int csv_finish(struct csv_parser *p)
{
	int rv;

	if (p->failed)
		return p->err;
	if (p->finished)
		return MPC_ESTATE;
	p->fed = 1;
	p->bom_done = 1; /* a lone BOM prefix at EOF is data */
	if (p->carry_len > 0 && (rv = carry_parse(p, 1)) < 0)
		return rv;
	if (!p->header_done)
		return csv_fail(p, MPC_EINVAL, 0, 0, "empty file");
	if (p->rows == 0)
		return csv_fail(p, MPC_EINVAL, 0, 0, "no data rows, only a header");
	if ((rv = flush_batch(p)) < 0)
		return rv;
	p->finished = 1;
	return 0;
}
