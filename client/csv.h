/* Streaming, strict CSV parser of the client library: header + numeric rows -> Z_2^64 ring elements. */
#ifndef MPC_CLIENT_CSV_H
#define MPC_CLIENT_CSV_H

#include <stddef.h>
#include <stdint.h>

/*
 * Input: a header row of column names, then rows of integers and decimals,
 * RFC 4180 style: one delimiter byte (default ','), fields optionally in
 * double quotes ("a,b", "" for a quote inside), CRLF or LF line ends, an
 * optional newline after the last row, a UTF-8 BOM at the start skipped.
 *
 * Strictness: names match [A-Za-z_][A-Za-z0-9_]{0,62} and are distinct;
 * every row has exactly the header's number of fields; a value is
 * [+-]digits[.digits] or [+-].digits (no spaces, thousands separators or
 * exponents); no empty fields, empty lines, bare CRs, stray quotes or NUL
 * bytes; a row (line, or lines of one quoted record) is at most
 * CSV_MAX_LINE bytes without its line end. The first error stops the
 * parser; errmsg then reads "FILE:LINE:COL (NAME): what" (1-based line,
 * 1-based field number and the header's name for it), "FILE:LINE: what"
 * or "FILE: what", and every later call returns the same error.
 *
 * Streaming: csv_feed() takes the input in pieces of any size, split
 * anywhere (inside a field, a quoted field, a CRLF or the BOM). Complete
 * rows are converted on the fly and handed to on_rows() in batches; only
 * the piece of a row that straddles two feeds is copied, so memory is
 * bounded by CSV_MAX_LINE plus one batch, whatever the input size.
 *
 * Two modes, fixed before the first csv_feed():
 *  - strict (csv_set_schema() called): each column is int64 (integers as
 *    two's complement ring elements; a decimal is an error) or fixed with
 *    f fractional bits (decimals and integers encoded by engine/fixed.h:
 *    round to nearest, halves away from zero; outside +-2^(63-f) is an
 *    error). Rows reach on_rows().
 *  - inference (no schema): rows are validated (numbers, int64 range) and
 *    csv_columns() reports per column whether a decimal was seen and the
 *    most fractional digits; on_rows() is not called. Feed a prefix of the
 *    file (a truncated last row is simply not counted; do not call
 *    csv_finish() unless the prefix is the whole file), then build the
 *    schema from csv_columns() for a strict parser over the whole file.
 *
 * A parser is not thread-safe; use one per input.
 */

#define CSV_MAX_LINE (1024 * 1024)
/* Longest column name (bytes, without the NUL). */
#define CSV_NAME_MAX 63
#define CSV_MAX_COLUMNS 16384
/* Rows per batch when csv_options.batch_rows is 0 (fewer for wide rows). */
#define CSV_DEFAULT_BATCH_ROWS 4096

enum csv_type {
	CSV_INT64, /* two's complement integer */
	CSV_FIXED  /* fixed point, frac_bits fractional bits */
};

struct csv_column {
	char name[CSV_NAME_MAX + 1];
	enum csv_type type;
	unsigned frac_bits;   /* CSV_FIXED: f, at most 62 */
	unsigned frac_digits; /* inference: most digits after the point seen */
};

/* A batch of converted rows, valid only during the on_rows() call. */
struct csv_batch {
	const uint64_t *values; /* rows x ncols ring elements, row-major */
	size_t rows;
	size_t ncols;
	uint64_t first_row;  /* 0-based index of the batch's first data row */
	uint64_t first_line; /* input line of that row */
	/* Input bytes (from the very start, BOM included) up to and including
	 * the line end of the batch's last row: where to resume after it. */
	uint64_t end_offset;
};

struct csv_options {
	const char *file;	 /* name used in messages; copied; NULL: "<input>" */
	unsigned char delimiter; /* 0: ','; not a letter, digit, _ . + - " CR LF NUL */
	size_t batch_rows;	 /* 0: automatic (CSV_DEFAULT_BATCH_ROWS, fewer for wide rows) */
	/*
	 * Strict mode: called with each full batch and, from csv_finish(),
	 * the last partial one. A negative return (an MPC_E* code) stops the
	 * parser: csv_feed()/csv_finish() return it, errmsg names the line.
	 */
	int (*on_rows)(void *ud, const struct csv_batch *batch);
	void *ud;
};

struct csv_parser;

/*
 * New parser in inference mode. opts is copied (opts->file too). Caller
 * frees with csv_parser_free(). Returns 0, MPC_ENOMEM, or MPC_EINVAL (bad
 * delimiter; reason in errmsg[MPC_ERRMSG_SIZE]).
 */
int csv_parser_new(const struct csv_options *opts, struct csv_parser **out, char *errmsg);

void csv_parser_free(struct csv_parser *p);

/*
 * Switches to strict mode: column k of the input gets cols[k].type and
 * cols[k].frac_bits (names are not used: see csv_expect_header()). The
 * header must then have exactly ncols columns. cols is copied. Returns 0,
 * MPC_ENOMEM, or MPC_EINVAL (after csv_feed(), ncols 0 or too large,
 * frac_bits > 62; reason in csv_errmsg()).
 */
int csv_set_schema(struct csv_parser *p, const struct csv_column *cols, size_t ncols);

/*
 * The header must be exactly names[0..n-1] (appending to an existing
 * table); the error names the first difference. names are copied. Returns
 * 0, MPC_ENOMEM or MPC_EINVAL (after csv_feed(), n 0 or too large).
 */
int csv_expect_header(struct csv_parser *p, const char *const *names, size_t n);

/*
 * Parses the next len bytes of input (buf is not kept). Returns 0, the
 * first error (MPC_EINVAL bad input, MPC_ERANGE value out of range,
 * MPC_ENOMEM, or on_rows()'s code), see csv_errmsg().
 */
int csv_feed(struct csv_parser *p, const void *buf, size_t len);

/*
 * End of input: parses the last row, hands the last batch to on_rows(),
 * and fails on an empty file or a header without rows. Returns as
 * csv_feed().
 */
int csv_finish(struct csv_parser *p);

/* The error text after a failed call ("" if none). Owned by p. */
const char *csv_errmsg(const struct csv_parser *p);

/*
 * The columns once the header has been read (else NULL, *ncols 0): header
 * names; types as the schema in strict mode; in inference mode, so far:
 * CSV_FIXED with csv_frac_bits_for_digits(frac_digits) if the column had a
 * decimal, else CSV_INT64. Owned by p, valid until the next call on p.
 */
const struct csv_column *csv_columns(const struct csv_parser *p, size_t *ncols);

/* Data rows parsed completely so far (all of them after csv_finish()). */
uint64_t csv_rows(const struct csv_parser *p);

/*
 * Suggested fractional bits for decimals with up to digits digits after
 * the point: the engine default (16) or enough bits that 2^-f is below
 * half of 10^-digits, at most 40 (keeping +-2^23 of range).
 */
unsigned csv_frac_bits_for_digits(unsigned digits);

#endif
