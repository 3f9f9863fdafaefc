/* Pluggable fuel (preprocessing) generators: triples and other correlated randomness by global index. */
#ifndef MPC_ENGINE_FUEL_H
#define MPC_ENGINE_FUEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/*
 * DESIGN §4 "Fuel". Every piece of fuel is named by a global index t. The
 * scheduler puts a range [t0, t0 + n) into each task attempt's lease, so
 * all parties use the same triple for the same multiplication and no index
 * is used by two attempts. Each kind of fuel (triples, square pairs,
 * truncation masks, zero shares) has its own index space: index t of one
 * kind is independent of index t of another, but within a kind an index
 * must be used at most once.
 *
 * A non-interactive generator (prss) computes any range on demand from
 * keys and stores nothing; an interactive one (ot, later) materialises
 * batches ahead of use (start/stop run its background producer, and
 * produce returns MPC_EUNAVAIL for a range not yet made).
 *
 * Outputs are this party's additive shares over Z_2^64; the caller owns
 * the output arrays (n elements each) and should sodium_memzero them when
 * done, since they are secret until consumed.
 */

struct engine_fuel_gen;

struct engine_fuel_gen_ops {
	const char *name; /* "prss", "ot", ... */
	/* Starts background production, if any. Returns 0 or MPC_E*. */
	int (*start)(struct engine_fuel_gen *gen);
	/* Shares of triples t0 .. t0+n-1: c[k] = a[k] * b[k] once opened. */
	int (*triples)(struct engine_fuel_gen *gen, uint64_t t0, size_t n,
		       uint64_t *a, uint64_t *b, uint64_t *c);
	/* Shares of square pairs (a, c = a^2); NULL if not supported. */
	int (*squares)(struct engine_fuel_gen *gen, uint64_t t0, size_t n,
		       uint64_t *a, uint64_t *c);
	/*
	 * Truncation material for engine_fixed_trunc() with the given receiver
	 * and f fractional bits (see engine/fixed.h); NULL if not supported.
	 */
	int (*trunc)(struct engine_fuel_gen *gen, int receiver, unsigned f,
		     uint64_t t0, size_t n, uint64_t *send_mask,
		     uint64_t *share_base);
	/* Shares of zero (re-randomise before revealing); NULL if none. */
	int (*zeros)(struct engine_fuel_gen *gen, uint64_t t0, size_t n,
		     uint64_t *out);
	/* Stops background production; the generator may be started again. */
	void (*stop)(struct engine_fuel_gen *gen);
};

struct engine_fuel_gen {
	const struct engine_fuel_gen_ops *ops;
	void *impl;    /* the generator's state, owned by whoever made it */
	int party;     /* this party's index */
	int n_parties; /* parties the fuel is shared among */
};

/* MPC_ERANGE if [t0, t0 + n) does not fit in the 64-bit index space. */
static inline int engine_fuel_check_range(uint64_t t0, size_t n)
{
	if (n > 0 && (uint64_t)n - 1 > UINT64_MAX - t0)
		return MPC_ERANGE;
	return 0;
}

/* Starts gen. Returns 0 or the generator's MPC_E* code. */
static inline int engine_fuel_start(struct engine_fuel_gen *gen)
{
	return gen->ops->start != NULL ? gen->ops->start(gen) : 0;
}

/*
 * Fills a, b, c (n elements each, caller-owned) with this party's shares of
 * triples [t0, t0 + n). Returns 0, MPC_ERANGE for a range past 2^64, or the
 * generator's MPC_E* code (MPC_EUNAVAIL: not produced yet).
 */
static inline int engine_fuel_triples(struct engine_fuel_gen *gen,
				      uint64_t t0, size_t n, uint64_t *a,
				      uint64_t *b, uint64_t *c)
{
	int rv = engine_fuel_check_range(t0, n);

	return rv != 0 ? rv : gen->ops->triples(gen, t0, n, a, b, c);
}

/* As engine_fuel_triples() for square pairs; MPC_EINVAL if unsupported. */
static inline int engine_fuel_squares(struct engine_fuel_gen *gen,
				      uint64_t t0, size_t n, uint64_t *a,
				      uint64_t *c)
{
	int rv = engine_fuel_check_range(t0, n);

	if (rv != 0)
		return rv;
	return gen->ops->squares != NULL ? gen->ops->squares(gen, t0, n, a, c)
					 : MPC_EINVAL;
}

/* Truncation material (engine/fixed.h); MPC_EINVAL if unsupported. */
static inline int engine_fuel_trunc(struct engine_fuel_gen *gen, int receiver,
				    unsigned f, uint64_t t0, size_t n,
				    uint64_t *send_mask, uint64_t *share_base)
{
	int rv = engine_fuel_check_range(t0, n);

	if (rv != 0)
		return rv;
	if (gen->ops->trunc == NULL)
		return MPC_EINVAL;
	return gen->ops->trunc(gen, receiver, f, t0, n, send_mask, share_base);
}

/* Shares of zero; MPC_EINVAL if unsupported. */
static inline int engine_fuel_zeros(struct engine_fuel_gen *gen, uint64_t t0,
				    size_t n, uint64_t *out)
{
	int rv = engine_fuel_check_range(t0, n);

	if (rv != 0)
		return rv;
	return gen->ops->zeros != NULL ? gen->ops->zeros(gen, t0, n, out)
				       : MPC_EINVAL;
}

/* Stops gen's background production, if any. */
static inline void engine_fuel_stop(struct engine_fuel_gen *gen)
{
	if (gen->ops->stop != NULL)
		gen->ops->stop(gen);
}

#endif
