/* Deterministic test data for the unit tests: xorshift64* (Vigna), the same
 * sequence from the same *state on every run. Not for secrets. */
#ifndef MPC_TESTS_UNIT_TEST_RNG_H
#define MPC_TESTS_UNIT_TEST_RNG_H

#include <stdint.h>

#define TEST_RNG_SEED 0x9e3779b97f4a7c15ULL

static inline uint64_t test_rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
