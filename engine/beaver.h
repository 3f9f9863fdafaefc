/* Local halves of Beaver multiplication on share vectors, and the pluggable "open" step. */
#ifndef MPC_ENGINE_BEAVER_H
#define MPC_ENGINE_BEAVER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Beaver's trick (Beaver 1991, "Efficient multiparty protocols using
 * circuit randomization"; DESIGN §4). Given additive shares of x, y and of
 * a triple (a, b, c = a*b) over Z_2^64:
 *
 *   1. every party opens d = x - a and e = y - b (one round, one vector of
 *      2n elements per peer however long the vector);
 *   2. with the opened D, E every party computes
 *        z_p = c_p + D*b_p + E*a_p   (+ D*E on party 0 only),
 *      and sum_p z_p = c + (x-a)b + (y-b)a + (x-a)(y-b) = x*y.
 *
 * D and E are uniformly random to every party as long as a, b are unknown
 * to it, so opening them reveals nothing; a triple must never be used
 * twice (two openings with the same a would reveal x - x').
 *
 * The local steps below are pure functions. The engine_beaver_mul(),
 * _square() and _dot() drivers call an engine_opener for step 1, so the
 * same code runs against the party mesh or an in-memory simulator.
 */

/*
 * How shares are opened. Implemented by the party mesh (and by test
 * simulators). Both calls are collective: every party calls them with the
 * same n in the same order.
 */
struct engine_opener {
	int party;     /* this party's index, 0 .. n_parties - 1 */
	int n_parties; /* number of parties sharing each secret */
	void *ctx;     /* passed to the callbacks unchanged */
	/*
	 * Opens to everyone: out[k] = sum over parties of their share[k].
	 * out may equal share. Returns 0 or a negative MPC_E* code.
	 */
	int (*open)(void *ctx, uint64_t *out, const uint64_t *share, size_t n);
	/*
	 * Opens to one party: on party `receiver` out[k] = sum over parties of
	 * share[k]; the other parties only send and leave out untouched (out
	 * may be NULL there). Returns 0 or a negative MPC_E* code. May be NULL
	 * for an opener that cannot do it (engine_fixed_trunc then fails with
	 * MPC_EINVAL).
	 */
	int (*open_to)(void *ctx, int receiver, uint64_t *out,
		       const uint64_t *share, size_t n);
};

/*
 * Step 1 of a multiplication: de[k] = x[k] - a[k], de[n + k] = y[k] - b[k].
 * de holds 2n elements and must not overlap the inputs.
 */
void engine_beaver_mul_open_shares(uint64_t *de, const uint64_t *x,
				   const uint64_t *y, const uint64_t *a,
				   const uint64_t *b, size_t n);

/*
 * Step 2 of a multiplication: z[k] = c[k] + D[k]*b[k] + E[k]*a[k] (+ D[k]*E[k]
 * on party 0), where de_pub = (D, E) is the opened 2n-vector. z may be the
 * same array as a, b or c.
 */
void engine_beaver_mul_finish(uint64_t *z, const uint64_t *de_pub,
			      const uint64_t *a, const uint64_t *b,
			      const uint64_t *c, int party, size_t n);

/*
 * Shares of z = x * y element-wise, using triples (a, b, c) (share vectors
 * of n elements each) and one call to op->open with 2n elements. z may be
 * the same array as x or y. Allocates a 2n scratch vector internally.
 * Returns 0, MPC_ENOMEM, or the opener's error (z is then unspecified).
 */
int engine_beaver_mul(const struct engine_opener *op, uint64_t *z,
		      const uint64_t *x, const uint64_t *y, const uint64_t *a,
		      const uint64_t *b, const uint64_t *c, size_t n);

/*
 * Squaring with a square pair (a, c = a^2) opens only d = x - a (n
 * elements): z = c + 2*D*a (+ D^2 on party 0). Squaring with a triple is
 * engine_beaver_mul(op, z, x, x, a, b, c, n).
 */
void engine_beaver_square_open_shares(uint64_t *d, const uint64_t *x,
				      const uint64_t *a, size_t n);
void engine_beaver_square_finish(uint64_t *z, const uint64_t *d_pub,
				 const uint64_t *a, const uint64_t *c,
				 int party, size_t n);

/* Shares of z = x^2 element-wise with square pairs; one open of n elements.
 * Errors as engine_beaver_mul(). */
int engine_beaver_square(const struct engine_opener *op, uint64_t *z,
			 const uint64_t *x, const uint64_t *a,
			 const uint64_t *c, size_t n);

/*
 * Sum of squares with square pairs (a, c = a^2): opens only d = x - a
 * (engine_beaver_square_open_shares, n elements, half of a dot's 2n) and
 * produces one output share,
 *   z = sum_k c[k] + 2*D[k]*a[k]  (+ sum_k D[k]^2 on party 0),
 * the sum of engine_beaver_square_finish()'s outputs without the vector.
 */
/* d = (x - s) - a for a 1-element share s (broadcast): the opening of a
 * square of x centered on s (var's second pass) without a vector x - s. */
void engine_beaver_square_open_shares_centered(uint64_t *d, const uint64_t *x,
					       uint64_t s, const uint64_t *a, size_t n);
uint64_t engine_beaver_sumsq_finish(const uint64_t *d_pub, const uint64_t *a,
				    const uint64_t *c, int party, size_t n);

/* *z = share of sum_k x[k]^2 with square pairs; one open of n elements.
 * Errors as engine_beaver_mul(). */
int engine_beaver_sumsq(const struct engine_opener *op, uint64_t *z,
			const uint64_t *x, const uint64_t *a, const uint64_t *c,
			size_t n);

/*
 * Inner product: opens the same 2n-vector as a multiplication
 * (engine_beaver_mul_open_shares) but produces one output share,
 *   z = sum_k c[k] + D[k]*b[k] + E[k]*a[k]  (+ sum_k D[k]*E[k] on party 0),
 * with n element triples (equivalently one inner-product triple whose c is
 * the sum of the c[k]).
 */
uint64_t engine_beaver_dot_finish(const uint64_t *de_pub, const uint64_t *a,
				  const uint64_t *b, const uint64_t *c,
				  int party, size_t n);

/* *z = share of sum_k x[k]*y[k]; one open of 2n elements. Errors as
 * engine_beaver_mul(). */
int engine_beaver_dot(const struct engine_opener *op, uint64_t *z,
		      const uint64_t *x, const uint64_t *y, const uint64_t *a,
		      const uint64_t *b, const uint64_t *c, size_t n);

#endif
