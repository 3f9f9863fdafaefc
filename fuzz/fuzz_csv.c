/* Fuzz harness of the client's streaming CSV parser (client/csv.c): any bytes, any split, both modes. */
#include "client/csv.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: 4 option bytes, then the CSV text.
 *   byte 0: bits 0-1 mode (0, 3 inference; 1 strict; 2 strict with an
 *           expected header a,b,c,d), bits 2-3 delimiter (, ; TAB |),
 *           bits 4-7 how to split the text into csv_feed() pieces
 *   byte 1: batch_rows (0 = automatic)
 *   byte 2: strict: number of columns - 1 (mod 4)
 *   byte 3: strict: column k is fixed when bit k is set, with
 *           (byte 3 >> 4) * 4 fractional bits (60 at most)
 * The text is parsed twice, in one csv_feed() and in pieces; streaming must
 * not change the outcome: same return codes, error text, row count and
 * values (a digest of every batch), else the harness aborts.
 */

struct outcome {
	int rc;
	uint64_t rows;
	uint64_t digest;
	uint64_t end_offset;
	size_t ncols;
	char errmsg[MPC_ERRMSG_SIZE];
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static int on_rows(void *ud, const struct csv_batch *b)
{
	struct outcome *o = ud;
	if (b->rows == 0 || b->ncols != o->ncols || b->first_row != o->rows ||
	    b->end_offset <= o->end_offset)
		abort(); /* batches arrive in order, non-empty, of the schema's width */
	for (size_t i = 0; i < b->rows * b->ncols; i++)
		o->digest = mix(o->digest, b->values[i]);
	o->digest = mix(o->digest, b->first_line);
	o->rows += b->rows;
	o->end_offset = b->end_offset;
	return 0;
}

static const size_t piece_sizes[16] = {1, 2, 3, 5, 7, 13, 64, 1000, 1, 2, 1, 3, 4, 17, 255, 4096};

static void parse(const uint8_t *opt, const uint8_t *text, size_t len, int split,
		  struct outcome *o)
{
	static const char *const names[4] = {"a", "b", "c", "d"};
	static const unsigned char delims[4] = {',', ';', '\t', '|'};
	struct csv_options co = {.file = "fuzz.csv", .delimiter = delims[(opt[0] >> 2) & 3],
				 .batch_rows = opt[1], .on_rows = on_rows, .ud = o};
	struct csv_column cols[4];
	struct csv_parser *p = NULL;
	int mode = opt[0] & 3, rc;

	memset(o, 0, sizeof *o);
	rc = csv_parser_new(&co, &p, o->errmsg);
	if (rc != 0) {
		o->rc = rc;
		return;
	}
	if (mode == 1 || mode == 2) {
		o->ncols = 1 + opt[2] % 4;
		memset(cols, 0, sizeof cols);
		for (size_t k = 0; k < o->ncols; k++) {
			cols[k].type = (opt[3] >> k) & 1 ? CSV_FIXED : CSV_INT64;
			cols[k].frac_bits = cols[k].type == CSV_FIXED ? (opt[3] >> 4) * 4u : 0;
		}
		rc = csv_set_schema(p, cols, o->ncols);
		if (rc == 0 && mode == 2)
			rc = csv_expect_header(p, names, o->ncols);
		if (rc != 0)
			abort(); /* a valid schema is accepted */
	}
	if (!split) {
		rc = csv_feed(p, text, len);
	} else {
		size_t off = 0, k = 0;
		rc = 0;
		while (off < len && rc == 0) {
			size_t n = piece_sizes[((opt[0] >> 4) + k++) % 16];
			if (n > len - off)
				n = len - off;
			rc = csv_feed(p, text + off, n);
			off += n;
		}
	}
	if (rc == 0)
		rc = csv_finish(p);
	o->rc = rc;
	snprintf(o->errmsg, sizeof o->errmsg, "%s", csv_errmsg(p));
	if (rc == 0 && csv_rows(p) != o->rows && o->ncols != 0)
		abort(); /* strict mode hands every row to on_rows */
	if (mode == 0 || mode == 3) {
		size_t n;
		const struct csv_column *c = csv_columns(p, &n);
		for (size_t k = 0; c != NULL && k < n; k++)
			o->digest = mix(o->digest, c[k].type * 64 + c[k].frac_bits);
		o->rows = csv_rows(p);
	}
	csv_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, pieces;
	if (size < 4)
		return 0;
	parse(data, data + 4, size - 4, 0, &whole);
	parse(data, data + 4, size - 4, 1, &pieces);
	if (whole.rc != pieces.rc || whole.rows != pieces.rows || whole.digest != pieces.digest ||
	    strcmp(whole.errmsg, pieces.errmsg) != 0) {
		fprintf(stderr, "csv: split changes the outcome:\n whole:  %d rows %llu %s\n pieces: %d rows %llu %s\n",
			whole.rc, (unsigned long long)whole.rows, whole.errmsg, pieces.rc,
			(unsigned long long)pieces.rows, pieces.errmsg);
		abort();
	}
	return 0;
}
