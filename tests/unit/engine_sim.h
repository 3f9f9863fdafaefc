/* Test data of the 3-party engine tests: a reproducible generator and the additive split. */
#ifndef MPC_TESTS_ENGINE_SIM_H
#define MPC_TESTS_ENGINE_SIM_H

#include <stddef.h>
#include <stdint.h>

#define PARTIES 3

/* splitmix64's state: a test sets it to its seed. */
static uint64_t rng_state;

/* splitmix64: reproducible test data. */
static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Additive 3-way split: sh[p][k] sum to x[k]. */
static inline void split3(uint64_t *sh[PARTIES], const uint64_t *x, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		sh[0][k] = rng_next();
		sh[1][k] = rng_next();
		sh[2][k] = x[k] - sh[0][k] - sh[1][k];
	}
}

#endif
