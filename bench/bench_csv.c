/* Benchmark of the client's CSV parser on ~100 MB of generated numeric CSV held in memory; prints JSON lines. */
#include "client/csv.h"
#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_BYTES (100u * 1000 * 1000)
#define BENCH_PIECE (64 * 1024) /* like read(2) of a file */
#define BENCH_RUNS 3

static uint64_t rng_state = 42;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Rows "id,age,amount,score,delta": int, int, 2-digit decimal, 4-digit
 * decimal, signed int; with ints_only, amount and score are integers too.
 */
static char *make_csv(size_t target, int ints_only, size_t *len, uint64_t *rows)
{
	char *buf = malloc(target + 256);
	size_t n = 0;
	uint64_t r = 0;

	if (buf == NULL)
		return NULL;
	n += (size_t)sprintf(buf, "id,age,amount,score,delta\n");
	while (n < target) {
		uint64_t a = rng_next(), b = rng_next();
		n += (size_t)sprintf(buf + n,
				     ints_only ? "%" PRIu64 ",%u,%u%02u,%s%u%04u,%" PRId64 "\n"
					       : "%" PRIu64 ",%u,%u.%02u,%s%u.%04u,%" PRId64 "\n",
				     r,
				     (unsigned)(a % 100), (unsigned)(a >> 40) % 100000,
				     (unsigned)(a >> 20) % 100, (b & 1) ? "-" : "",
				     (unsigned)(b >> 8) % 1000, (unsigned)(b >> 24) % 10000,
				     (int64_t)(b >> 33) - ((int64_t)1 << 30));
		r++;
	}
	*len = n;
	*rows = r;
	return buf;
}

static int sum_rows(void *ud, const struct csv_batch *b)
{
	uint64_t *sum = ud;

	for (size_t k = 0; k < b->rows * b->ncols; k++)
		*sum += b->values[k];
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One timed parse; 0 and *secs on success. */
static int run(const char *csv, size_t len, int strict, int ints_only, double *secs,
	       uint64_t *rows)
{
	enum csv_type dec = ints_only ? CSV_INT64 : CSV_FIXED;
	const struct csv_column schema[5] = {
		{"id", CSV_INT64, 0, 0}, {"age", CSV_INT64, 0, 0}, {"amount", dec, 16, 0},
		{"score", dec, 16, 0},	 {"delta", CSV_INT64, 0, 0},
	};
	char err[MPC_ERRMSG_SIZE];
	uint64_t sum = 0;
	struct csv_options o = {.file = "bench.csv", .on_rows = sum_rows, .ud = &sum};
	struct csv_parser *p;
	double t0;
	int rv;

	if (csv_parser_new(&o, &p, err) < 0)
		return -1;
	if (strict && csv_set_schema(p, schema, 5) < 0)
		goto fail;
	t0 = now_s();
	for (size_t off = 0; off < len; off += BENCH_PIECE) {
		rv = csv_feed(p, csv + off, len - off < BENCH_PIECE ? len - off : BENCH_PIECE);
		if (rv < 0)
			goto fail;
	}
	if (csv_finish(p) < 0)
		goto fail;
	*secs = now_s() - t0;
	*rows = csv_rows(p);
	csv_parser_free(p);
	return sum == 42 ? 1 : 0; /* keeps the sum alive */
fail:
	fprintf(stderr, "bench_csv: %s\n", csv_errmsg(p));
	csv_parser_free(p);
	return -1;
}

/* Best of BENCH_RUNS; prints one JSON line. */
static int bench(const char *csv, size_t len, uint64_t rows, int strict, int ints_only)
{
	double best = 1e9, secs;
	uint64_t parsed = 0;

	for (int k = 0; k < BENCH_RUNS; k++) {
		if (run(csv, len, strict, ints_only, &secs, &parsed) < 0 || parsed != rows)
			return -1;
		if (secs < best)
			best = secs;
	}
	printf("{\"bench\":\"client.csv_parse\",\"mode\":\"%s\",\"columns\":\"%s\","
	       "\"bytes\":%zu,\"rows\":%" PRIu64 ",\"mb_per_s\":%.1f,\"rows_per_s\":%.0f}\n",
	       strict ? "strict" : "infer", ints_only ? "int64x5" : "int64x3,fixed16x2", len, rows,
	       (double)len / best / 1e6, (double)rows / best);
	fflush(stdout);
	return 0;
}

int main(void)
{
	for (int ints_only = 0; ints_only <= 1; ints_only++) {
		size_t len;
		uint64_t rows;
		char *csv = make_csv(BENCH_BYTES, ints_only, &len, &rows);

		if (csv == NULL)
			return 1;
		if (bench(csv, len, rows, 1, ints_only) < 0 ||
		    (!ints_only && bench(csv, len, rows, 0, ints_only) < 0)) {
			free(csv);
			return 1;
		}
		free(csv);
	}
	return 0;
}
