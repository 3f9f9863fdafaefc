/* Engine micro-benchmarks: prss triples, local Beaver arithmetic, truncation, AEAD frames; prints JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/frame.h"
#include "engine/beaver.h"
#include "engine/fixed.h"
#include "engine/fuel_prss.h"
#include "engine/ring.h"

#define PARTIES 3
#define BENCH_N 1000000
#define BENCH_MIN_SECONDS 0.5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "bench_engine: out of memory\n");
		exit(1);
	}
	return p;
}

static struct engine_prss *prss[PARTIES];

static void make_prss(void)
{
	uint8_t keys[PARTIES][ENGINE_PRSS_KEY_BYTES];

	for (int j = 0; j < PARTIES; j++)
		memset(keys[j], 0x11 * (j + 1), sizeof keys[j]);
	for (int i = 0; i < PARTIES; i++) {
		if (engine_prss_new(&prss[i], i, keys[i],
				    keys[(i + 1) % PARTIES]) != 0) {
			fprintf(stderr, "bench_engine: engine_prss_new failed\n");
			exit(1);
		}
	}
}

/* One party's triple generation (what each party does, on its own core). */
static void bench_prss(void)
{
	size_t n = BENCH_N, done = 0;
	uint64_t *a = xcalloc(n, 8), *b = xcalloc(n, 8), *c = xcalloc(n, 8);
	double t0 = now(), dt;

	do {
		if (engine_prss_triples(prss[0], done, n, a, b, c) != 0)
			exit(1);
		done += n;
	} while ((dt = now() - t0) < BENCH_MIN_SECONDS);
	printf("{\"bench\":\"engine.prss_triples\",\"n\":%zu,\"seconds\":%.3f,"
	       "\"triples_per_s\":%.0f,\"note\":\"one party, one core\"}\n",
	       done, dt, (double)done / dt);
	free(a);
	free(b);
	free(c);
}

/* Local Beaver steps of all 3 parties in one thread; opening = summing. */
static void bench_beaver(void)
{
	size_t n = BENCH_N, done = 0;
	uint64_t *x[PARTIES], *y[PARTIES], *a[PARTIES], *b[PARTIES],
		*c[PARTIES], *de[PARTIES], *z[PARTIES];
	uint64_t *open = xcalloc(2 * n, 8);
	double t0, dt;

	for (int p = 0; p < PARTIES; p++) {
		x[p] = xcalloc(n, 8);
		y[p] = xcalloc(n, 8);
		a[p] = xcalloc(n, 8);
		b[p] = xcalloc(n, 8);
		c[p] = xcalloc(n, 8);
		de[p] = xcalloc(2 * n, 8);
		z[p] = xcalloc(n, 8);
		for (size_t k = 0; k < n; k++) {
			x[p][k] = k * 7 + (uint64_t)p;
			y[p][k] = k * 13 - (uint64_t)p;
		}
		engine_prss_triples(prss[p], 0, n, a[p], b[p], c[p]);
	}
	t0 = now();
	do {
		for (int p = 0; p < PARTIES; p++)
			engine_beaver_mul_open_shares(de[p], x[p], y[p], a[p],
						      b[p], n);
		engine_ring_add(open, de[0], de[1], 2 * n);
		engine_ring_add(open, open, de[2], 2 * n);
		for (int p = 0; p < PARTIES; p++)
			engine_beaver_mul_finish(z[p], open, a[p], b[p], c[p],
						 p, n);
		done += n;
	} while ((dt = now() - t0) < BENCH_MIN_SECONDS);
	printf("{\"bench\":\"engine.beaver_local\",\"n\":%zu,\"seconds\":%.3f,"
	       "\"mul_per_s\":%.0f,\"note\":\"3 parties' local steps + summing"
	       " open, one thread, no fuel, no network\"}\n",
	       done, dt, (double)done / dt);
	for (int p = 0; p < PARTIES; p++) {
		free(x[p]);
		free(y[p]);
		free(a[p]);
		free(b[p]);
		free(c[p]);
		free(de[p]);
		free(z[p]);
	}
	free(open);
}

/* Truncation: material generation + local steps of all 3 parties. */
static void bench_trunc(void)
{
	size_t n = BENCH_N, done = 0;
	const int r = 1;
	const unsigned f = ENGINE_FIXED_DEFAULT_FRAC_BITS;
	uint64_t *x[PARTIES], *mask[PARTIES], *base[PARTIES], *msg[PARTIES],
		*z[PARTIES];
	uint64_t *u = xcalloc(n, 8);
	double t0, dt, t_local = 0;

	for (int p = 0; p < PARTIES; p++) {
		x[p] = xcalloc(n, 8);
		mask[p] = xcalloc(n, 8);
		base[p] = xcalloc(n, 8);
		msg[p] = xcalloc(n, 8);
		z[p] = xcalloc(n, 8);
	}
	t0 = now();
	do {
		double tl;

		for (int p = 0; p < PARTIES; p++)
			engine_prss_trunc(prss[p], r, f, done, n, mask[p],
					  base[p]);
		tl = now();
		for (int p = 0; p < PARTIES; p++)
			engine_fixed_trunc_send(msg[p], x[p], mask[p], n);
		engine_ring_add(u, msg[0], msg[1], n);
		engine_ring_add(u, u, msg[2], n);
		for (int p = 0; p < PARTIES; p++)
			engine_fixed_trunc_finish(z[p], p == r ? u : NULL,
						  base[p], f, n);
		t_local += now() - tl;
		done += n;
	} while ((dt = now() - t0) < BENCH_MIN_SECONDS);
	printf("{\"bench\":\"engine.truncate\",\"n\":%zu,\"seconds\":%.3f,"
	       "\"per_s\":%.0f,\"local_only_per_s\":%.0f,\"note\":\"3 parties"
	       " in one thread: prss material + local steps\"}\n",
	       done, dt, (double)done / dt, (double)done / t_local);
	for (int p = 0; p < PARTIES; p++) {
		free(x[p]);
		free(mask[p]);
		free(base[p]);
		free(msg[p]);
		free(z[p]);
	}
	free(u);
}

static void bench_frame(void)
{
	const size_t len = (size_t)16 << 20; /* 2M shares per frame */
	uint8_t key[MPC_FRAME_KEY_BYTES];
	struct mpc_frame_tx tx;
	struct mpc_frame_rx rx;
	struct mpc_frame_hdr hdr = {.type = 1, .round = 0, .session = 7};
	uint8_t *payload = xcalloc(len, 1);
	uint8_t *frame = xcalloc(mpc_frame_size(len), 1);
	size_t bytes = 0, flen;
	double t0, dt, t_open = 0;

	memset(key, 0x5a, sizeof key);
	if (mpc_frame_tx_init(&tx, key, 0) != 0 || mpc_frame_rx_init(&rx, key, 0) != 0)
		exit(1);
	t0 = now();
	do {
		double to;

		if (mpc_frame_seal(&tx, &hdr, payload, len, frame, mpc_frame_size(len), &flen) != 0)
			exit(1);
		to = now();
		if (mpc_frame_unseal(&rx, frame, flen, &hdr, payload, len) != 0)
			exit(1);
		t_open += now() - to;
		bytes += len;
	} while ((dt = now() - t0) < BENCH_MIN_SECONDS);
	printf("{\"bench\":\"engine.frame_aead\",\"bytes\":%zu,"
	       "\"frame_bytes\":%zu,\"gb_per_s\":%.3f,\"seal_gb_per_s\":%.3f,"
	       "\"unseal_gb_per_s\":%.3f,\"note\":\"AES-256-GCM seal+unseal,"
	       " one core\"}\n",
	       bytes, len, (double)bytes / dt / 1e9,
	       (double)bytes / (dt - t_open) / 1e9, (double)bytes / t_open / 1e9);
	mpc_frame_tx_clear(&tx);
	mpc_frame_rx_clear(&rx);
	free(payload);
	free(frame);
}

int main(void)
{
	make_prss();
	bench_prss();
	bench_beaver();
	bench_trunc();
	bench_frame();
	for (int i = 0; i < PARTIES; i++)
		engine_prss_free(prss[i]);
	return 0;
}
