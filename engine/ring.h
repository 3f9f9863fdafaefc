/* Vector arithmetic on additive shares over the ring Z_2^64 (native uint64_t wrap-around). */
#ifndef MPC_ENGINE_RING_H
#define MPC_ENGINE_RING_H

#include <stddef.h>
#include <stdint.h>

/*
 * A secret x is held as n additive shares x = x_0 + ... + x_{n-1} mod 2^64,
 * party p holding x_p (DESIGN §4). Linear operations are local: every party
 * applies the same function to its own share vector. A public constant is
 * added by party 0 only, so that it is added exactly once to the secret.
 *
 * All functions work element-wise on vectors of n elements and never fail.
 * out may be the same array as any input (in-place use); partial overlap
 * of out with an input is not allowed. The loops are plain so that gcc
 * vectorises them (engine/local.mk builds with -fvect-cost-model=cheap).
 */

/* out[k] = a[k] + b[k] (shares of a + b). */
void engine_ring_add(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n);

/* out[k] = a[k] - b[k] (shares of a - b). */
void engine_ring_sub(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n);

/* out[k] = -a[k] (shares of -a). */
void engine_ring_neg(uint64_t *out, const uint64_t *a, size_t n);

/*
 * out[k] = a[k] * b[k]. Correct on shares only when at most one of a, b is
 * a share vector and the other is public (the product of two share vectors
 * is NOT a sharing of the product: use engine/beaver.h).
 */
void engine_ring_mul(uint64_t *out, const uint64_t *a, const uint64_t *b,
		     size_t n);

/* out[k] = a[k] * k_pub (shares of a times a public constant). */
void engine_ring_mul_const(uint64_t *out, const uint64_t *a, uint64_t k_pub,
			   size_t n);

/*
 * out[k] = a[k] + k_pub on party 0, out[k] = a[k] on every other party
 * (shares of a + k_pub).
 */
void engine_ring_add_const(uint64_t *out, const uint64_t *a, uint64_t k_pub,
			   int party, size_t n);

/*
 * out[k] = a[k] + pub[k] on party 0, a[k] elsewhere (shares of a plus a
 * public vector).
 */
void engine_ring_add_public(uint64_t *out, const uint64_t *a,
			    const uint64_t *pub, int party, size_t n);

/* Returns sum_k a[k] mod 2^64 (a share of the sum of a secret vector). */
uint64_t engine_ring_sum(const uint64_t *a, size_t n);

/*
 * Returns sum_k a[k] * b[k] mod 2^64; a share of the inner product when one
 * of a, b is public.
 */
uint64_t engine_ring_dot(const uint64_t *a, const uint64_t *b, size_t n);

#endif
