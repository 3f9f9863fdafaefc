/* Fixed-point numbers in Z_2^64: encoding to/from text, double and int64, and 3-party probabilistic truncation. */
#ifndef MPC_ENGINE_FIXED_H
#define MPC_ENGINE_FIXED_H

#include <stddef.h>
#include <stdint.h>

#include "engine/beaver.h"

/*
 * Encoding. A real v is the ring element x = round(v * 2^f) in two's
 * complement (x as int64_t), f fractional bits (default 16, at most 62).
 * Rounding is to nearest, halves away from zero. Representable: v in
 * [-2^(63-f), 2^(63-f) - 2^-f]; anything else gives MPC_ERANGE.
 *
 * Truncation after a product (DESIGN §4). A product of two encodings has
 * 2f fractional bits and must be divided by 2^f. Dividing each party's
 * share locally is wrong for 3 additive shares: the shares wrap around
 * 2^64 a random 0..2 times, so the result is off by a random multiple of
 * 2^(64-f). We reduce to the two-party case where local truncation works
 * (SecureML, Mohassel-Zhang 2017, Thm 1; the 3-party reduction is ABY3
 * Pi_trunc1, Mohassel-Rindal 2018 §5.1.1, adapted to additive shares):
 *
 *   Receiver r; the other two parties share the prss key K_{r+2} that r
 *   lacks and derive rho, sigma (uniform in Z_2^64) from it
 *   (engine_prss_trunc()).
 *   1. Party r+1 sends x_{r+1} + sigma, party r+2 sends x_{r+2} + rho - sigma
 *      to r (engine_opener.open_to); r learns u = x + rho, uniformly random
 *      to it. Now x = u + v with v = -rho known to r+1: a 2-party sharing
 *      whose second share is uniform.
 *   2. r takes u >> f, r+1 takes -(rho >> f) (logical shifts), and every
 *      party adds a fresh prss zero sharing so the output shares are
 *      re-randomised (no party can link them to u or rho).
 *
 * Correctness (x signed, |x| < 2^63, as an integer with 2f fractional bits
 * after a product): the result z satisfies
 *     z = floor(x / 2^f)  or  z = floor(x / 2^f) + 1,
 * i.e. |z - x/2^f| < 1 unit in the last place, unless rho falls in a window
 * of |x| values next to 0 or 2^64 where u wraps. That happens with
 * probability exactly |x| / 2^64 per element, independently per element,
 * and then z is off by 2^(64-f) (a gross error). Hence:
 *
 *     |x| < 2^(64-k)  =>  failure probability < 2^-k   (per element)
 *
 * (slightly better than SecureML's stated 2^(l_x+1-l)). For a product of
 * two reals whose product is P, x = P * 2^(2f), so the failure probability
 * is |P| * 2^(2f-64): with f = 16, |P| * 2^-32 (|P| <= 1: < 2.4e-10;
 * |P| < 2^12: < 2^-20; |P| < 2^22: < 2^-10). The Beaver product itself is
 * exact only while |P| < 2^(63-2f) (2^31 for f = 16). docs/engine-fixed-
 * point.md has the table and advice on choosing f.
 *
 * Privacy: r sees x + rho and x_{r+1} + sigma with rho, sigma uniform and
 * unknown to it; r+1 and r+2 receive nothing. Perfect against one passive
 * party, whatever x is.
 */

#define ENGINE_FIXED_DEFAULT_FRAC_BITS 16
#define ENGINE_FIXED_MAX_FRAC_BITS 62
/* Buffer size that holds any engine_fixed_format() output and its NUL. */
#define ENGINE_FIXED_TEXT_MAX 88
/* Longest decimal text engine_fixed_parse() accepts. */
#define ENGINE_FIXED_PARSE_MAX 512

/*
 * *out = v * 2^f. Returns 0, MPC_EINVAL (f > 62), or MPC_ERANGE (v * 2^f
 * outside int64).
 */
int engine_fixed_from_int64(int64_t v, unsigned f, uint64_t *out);

/*
 * *out = round(v * 2^f), halves away from zero. Returns 0, MPC_EINVAL
 * (f > 62), or MPC_ERANGE (v not finite, or the result outside int64).
 */
int engine_fixed_from_double(double v, unsigned f, uint64_t *out);

/* x / 2^f as a double (rounded to 53 bits when |x| >= 2^53). */
double engine_fixed_to_double(uint64_t x, unsigned f);

/*
 * Vector forms: out[k] = encoding of in[k]. On MPC_ERANGE, *bad (if not
 * NULL) is the first failing index and out is partly written.
 */
int engine_fixed_from_double_vec(uint64_t *out, const double *in, size_t n,
				 unsigned f, size_t *bad);
void engine_fixed_to_double_vec(double *out, const uint64_t *in, size_t n,
				unsigned f);

/*
 * Parses decimal text of exactly len bytes, [+-]digits[.digits][(e|E)
 * [+-]digits] (at least one digit before or after the point), into the
 * correctly rounded encoding (exact decimal arithmetic, no doubles).
 * Returns 0, MPC_EINVAL (syntax, f > 62, len > ENGINE_FIXED_PARSE_MAX),
 * or MPC_ERANGE (magnitude not representable).
 */
int engine_fixed_parse(const char *text, size_t len, unsigned f,
		       uint64_t *out);

/*
 * Writes the shortest decimal text that engine_fixed_parse() maps back to
 * x (e.g. "0.1" for round(0.1 * 2^16)), NUL-terminated, into buf of cap
 * bytes (ENGINE_FIXED_TEXT_MAX always suffices). Returns 0 or MPC_EINVAL
 * (f > 62, cap too small).
 */
int engine_fixed_format(uint64_t x, unsigned f, char *buf, size_t cap);

/* Step 1 of truncation: msg[k] = x[k] + send_mask[k] (msg may equal x). */
void engine_fixed_trunc_send(uint64_t *msg, const uint64_t *x,
			     const uint64_t *send_mask, size_t n);

/*
 * Step 2 of truncation: on the receiver (u = opened sum, not NULL)
 * z[k] = (u[k] >> f) + share_base[k]; elsewhere (u NULL) z[k] =
 * share_base[k]. z may equal u or share_base.
 */
void engine_fixed_trunc_finish(uint64_t *z, const uint64_t *u,
			       const uint64_t *share_base, unsigned f,
			       size_t n);

/*
 * Shares of z = x / 2^f (as above) for 3 parties, using op->open_to and
 * truncation material (send_mask, share_base) made by engine_prss_trunc()
 * for the same receiver and f. z may equal x. Returns 0, MPC_EINVAL (not
 * 3 parties, no open_to, bad receiver or f), MPC_ENOMEM, or the opener's
 * error.
 */
int engine_fixed_trunc(const struct engine_opener *op, int receiver,
		       unsigned f, uint64_t *z, const uint64_t *x,
		       const uint64_t *send_mask, const uint64_t *share_base,
		       size_t n);

/*
 * Fixed-point product: Beaver multiplication with triples (a, b, c), then
 * engine_fixed_trunc(). Two rounds. Errors as the two calls.
 */
int engine_fixed_mul(const struct engine_opener *op, int receiver,
		     unsigned f, uint64_t *z, const uint64_t *x,
		     const uint64_t *y, const uint64_t *a, const uint64_t *b,
		     const uint64_t *c, const uint64_t *send_mask,
		     const uint64_t *share_base, size_t n);

#endif
