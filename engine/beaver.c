/* Beaver 1991 multiplication, squaring and inner product: local steps and open-driven drivers. */
#include "engine/beaver.h"

#include "common/err.h"
#include "engine/ring.h"

#include <stdlib.h>

void engine_beaver_mul_open_shares(uint64_t *de, const uint64_t *x,
				   const uint64_t *y, const uint64_t *a,
				   const uint64_t *b, size_t n)
{
	engine_ring_sub(de, x, a, n);
	engine_ring_sub(de + n, y, b, n);
}

void engine_beaver_mul_finish(uint64_t *z, const uint64_t *de_pub,
			      const uint64_t *a, const uint64_t *b,
			      const uint64_t *c, int party, size_t n)
{
	const uint64_t *d = de_pub, *e = de_pub + n;

	/* Two loops rather than a branch inside one, so both vectorise. */
	if (party == 0) {
		for (size_t k = 0; k < n; k++)
			z[k] = c[k] + d[k] * b[k] + e[k] * a[k] + d[k] * e[k];
	} else {
		for (size_t k = 0; k < n; k++)
			z[k] = c[k] + d[k] * b[k] + e[k] * a[k];
	}
}

/* The opening round of a multiplication (and of a dot product): *de gets the masked
 * values of engine_beaver_mul_open_shares (2n), opened; the caller frees *de (NULL if it could
 * not be allocated), also when the open fails. */
static int open_masked(const struct engine_opener *op, uint64_t **de, const uint64_t *x,
		       const uint64_t *y, const uint64_t *a, const uint64_t *b, size_t n)
{
	*de = NULL;
	if (n > SIZE_MAX / (2 * sizeof **de))
		return MPC_ENOMEM;
	*de = malloc(2 * n * sizeof **de);
	if (*de == NULL)
		return MPC_ENOMEM;
	engine_beaver_mul_open_shares(*de, x, y, a, b, n);
	return op->open(op->ctx, *de, *de, 2 * n);
}

int engine_beaver_mul(const struct engine_opener *op, uint64_t *z,
		      const uint64_t *x, const uint64_t *y, const uint64_t *a,
		      const uint64_t *b, const uint64_t *c, size_t n)
{
	uint64_t *de;
	int rv;

	if (n == 0)
		return 0;
	rv = open_masked(op, &de, x, y, a, b, n);
	if (rv == 0)
		engine_beaver_mul_finish(z, de, a, b, c, op->party, n);
	free(de); /* held only masked values, public once opened */
	return rv;
}

void engine_beaver_square_open_shares(uint64_t *d, const uint64_t *x,
				      const uint64_t *a, size_t n)
{
	engine_ring_sub(d, x, a, n);
}

void engine_beaver_square_finish(uint64_t *z, const uint64_t *d_pub,
				 const uint64_t *a, const uint64_t *c,
				 int party, size_t n)
{
	/* x^2 = (D + a)^2 = a^2 + 2Da + D^2. */
	if (party == 0) {
		for (size_t k = 0; k < n; k++)
			z[k] = c[k] + 2 * d_pub[k] * a[k] + d_pub[k] * d_pub[k];
	} else {
		for (size_t k = 0; k < n; k++)
			z[k] = c[k] + 2 * d_pub[k] * a[k];
	}
}

/* Opens d = x - a for n > 0 elements into a fresh *d (caller frees; it
 * holds only masked values, public once opened). */
static int square_open(const struct engine_opener *op, uint64_t **d, const uint64_t *x,
		       const uint64_t *a, size_t n)
{
	int rv;

	if (n > SIZE_MAX / sizeof **d)
		return MPC_ENOMEM;
	if ((*d = malloc(n * sizeof **d)) == NULL)
		return MPC_ENOMEM;
	engine_beaver_square_open_shares(*d, x, a, n);
	rv = op->open(op->ctx, *d, *d, n);
	if (rv != 0) {
		free(*d);
		*d = NULL;
	}
	return rv;
}

int engine_beaver_square(const struct engine_opener *op, uint64_t *z,
			 const uint64_t *x, const uint64_t *a,
			 const uint64_t *c, size_t n)
{
	uint64_t *d = NULL;
	int rv;

	if (n == 0)
		return 0;
	if ((rv = square_open(op, &d, x, a, n)) != 0)
		return rv;
	engine_beaver_square_finish(z, d, a, c, op->party, n);
	free(d);
	return 0;
}

void engine_beaver_square_open_shares_centered(uint64_t *d, const uint64_t *x,
					       uint64_t s, const uint64_t *a, size_t n)
{
	for (size_t k = 0; k < n; k++)
		d[k] = x[k] - s - a[k];
}

uint64_t engine_beaver_sumsq_finish(const uint64_t *d_pub, const uint64_t *a,
				    const uint64_t *c, int party, size_t n)
{
	/* sum (D + a)^2 = sum a^2 + 2 sum D a + sum D^2 */
	uint64_t z = engine_ring_sum(c, n) + 2 * engine_ring_dot(d_pub, a, n);

	if (party == 0)
		z += engine_ring_dot(d_pub, d_pub, n);
	return z;
}

int engine_beaver_sumsq(const struct engine_opener *op, uint64_t *z,
			const uint64_t *x, const uint64_t *a, const uint64_t *c,
			size_t n)
{
	uint64_t *d = NULL;
	int rv;

	if (n == 0) {
		*z = 0;
		return 0;
	}
	if ((rv = square_open(op, &d, x, a, n)) != 0)
		return rv;
	*z = engine_beaver_sumsq_finish(d, a, c, op->party, n);
	free(d);
	return 0;
}

uint64_t engine_beaver_dot_finish(const uint64_t *de_pub, const uint64_t *a,
				  const uint64_t *b, const uint64_t *c,
				  int party, size_t n)
{
	const uint64_t *d = de_pub, *e = de_pub + n;
	uint64_t z = engine_ring_sum(c, n) + engine_ring_dot(d, b, n) +
		     engine_ring_dot(e, a, n);

	if (party == 0)
		z += engine_ring_dot(d, e, n);
	return z;
}

int engine_beaver_dot(const struct engine_opener *op, uint64_t *z,
		      const uint64_t *x, const uint64_t *y, const uint64_t *a,
		      const uint64_t *b, const uint64_t *c, size_t n)
{
	uint64_t *de;
	int rv;

	if (n == 0) {
		*z = 0;
		return 0;
	}
	rv = open_masked(op, &de, x, y, a, b, n);
	if (rv == 0)
		*z = engine_beaver_dot_finish(de, a, b, c, op->party, n);
	free(de);
	return rv;
}
