/* Element-wise share-vector arithmetic over Z_2^64, written for gcc's auto-vectoriser. */
#include "engine/ring.h"

#include <string.h>

/*
 * The loops are deliberately plain (unit stride, no early exit, no
 * restrict because in-place use is allowed): gcc versions them with a
 * runtime alias check and vectorises the fast path. Reductions use four
 * independent accumulators so they vectorise and pipeline even where the
 * vectoriser declines; unsigned wrap-around makes reassociation exact.
 */

void engine_ring_add(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = a[k] + b[k];
}

void engine_ring_sub(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = a[k] - b[k];
}

void engine_ring_neg(uint64_t *out, const uint64_t *a, size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = -a[k];
}

void engine_ring_mul(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = a[k] * b[k];
}

void engine_ring_mul_const(uint64_t *out, const uint64_t *a, uint64_t k_pub,
			   size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = a[k] * k_pub;
}

void engine_ring_add_const(uint64_t *out, const uint64_t *a, uint64_t k_pub,
			   int party, size_t n)
{
	uint64_t c = party == 0 ? k_pub : 0;

	for (size_t k = 0; k < n; k++)
		out[k] = a[k] + c;
}

void engine_ring_add_public(uint64_t *out, const uint64_t *a,
			    const uint64_t *pub, int party, size_t n)
{
	if (party == 0)
		engine_ring_add(out, a, pub, n);
	else if (out != a && n > 0)
		memcpy(out, a, n * sizeof *a);
}

uint64_t engine_ring_sum(const uint64_t *a, size_t n)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t k = 0;

	for (; k + 4 <= n; k += 4) {
		s0 += a[k];
		s1 += a[k + 1];
		s2 += a[k + 2];
		s3 += a[k + 3];
	}
	for (; k < n; k++)
		s0 += a[k];
	return s0 + s1 + s2 + s3;
}

uint64_t engine_ring_dot(const uint64_t *a, const uint64_t *b, size_t n)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t k = 0;

	for (; k + 4 <= n; k += 4) {
		s0 += a[k] * b[k];
		s1 += a[k + 1] * b[k + 1];
		s2 += a[k + 2] * b[k + 2];
		s3 += a[k + 3] * b[k + 3];
	}
	for (; k < n; k++)
		s0 += a[k] * b[k];
	return s0 + s1 + s2 + s3;
}
