/* Unit tests for engine/fuel_prss: 3-party prss triples, squares, zero shares and truncation masks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "engine/fuel_prss.h"
#include "tests/unit/engine_sim.h"

/* K_j is shared by parties j-1 and j: party i gets prev = K_i, next =
 * K_{i+1}. */
static struct engine_prss *prss[PARTIES];
static uint8_t pair_keys[PARTIES][ENGINE_PRSS_KEY_BYTES];

static void make_parties(uint64_t seed)
{
	rng_state = seed;
	for (int j = 0; j < PARTIES; j++)
		for (int b = 0; b < ENGINE_PRSS_KEY_BYTES; b++)
			pair_keys[j][b] = (uint8_t)rng_next();
	for (int i = 0; i < PARTIES; i++)
		cr_assert_eq(engine_prss_new(&prss[i], i, pair_keys[i],
					     pair_keys[(i + 1) % PARTIES]),
			     0);
}

static void setup(void)
{
	make_parties(1);
}

static void teardown(void)
{
	for (int i = 0; i < PARTIES; i++) {
		engine_prss_free(prss[i]);
		prss[i] = NULL;
	}
}

struct shares {
	size_t n;
	uint64_t *a[PARTIES], *b[PARTIES], *c[PARTIES];
};

static void shares_alloc(struct shares *s, size_t n)
{
	s->n = n;
	for (int p = 0; p < PARTIES; p++) {
		s->a[p] = calloc(n + 1, sizeof(uint64_t));
		s->b[p] = calloc(n + 1, sizeof(uint64_t));
		s->c[p] = calloc(n + 1, sizeof(uint64_t));
	}
}

static void shares_free(struct shares *s)
{
	for (int p = 0; p < PARTIES; p++) {
		free(s->a[p]);
		free(s->b[p]);
		free(s->c[p]);
	}
}

static uint64_t sum3(uint64_t *v[PARTIES], size_t k)
{
	return v[0][k] + v[1][k] + v[2][k];
}

static void triples_all(struct shares *s, uint64_t t0)
{
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_prss_triples(prss[p], t0, s->n, s->a[p],
						 s->b[p], s->c[p]),
			     0);
}

static void assert_triples_valid(struct shares *s, uint64_t t0)
{
	for (size_t k = 0; k < s->n; k++) {
		uint64_t a = sum3(s->a, k), b = sum3(s->b, k);

		cr_assert_eq(sum3(s->c, k), a * b, "t=%llu",
			     (unsigned long long)(t0 + k));
	}
}

TestSuite(engine_prss, .init = setup, .fini = teardown);

Test(engine_prss, triples_satisfy_c_eq_ab_random_ranges)
{
	rng_state = 99;
	for (int round = 0; round < 200; round++) {
		/* starts anywhere in the 64-bit space, odd and even, lengths
		 * across the 1024-word chunk boundary */
		uint64_t t0 = rng_next() >> (rng_next() % 64);
		size_t n = 1 + rng_next() % 3000;
		struct shares s;

		if (t0 > UINT64_MAX - n)
			t0 = UINT64_MAX - n;
		shares_alloc(&s, n);
		triples_all(&s, t0);
		assert_triples_valid(&s, t0);
		shares_free(&s);
	}
}

Test(engine_prss, triples_satisfy_c_eq_ab_at_index_space_end)
{
	struct shares s;

	shares_alloc(&s, 5);
	triples_all(&s, UINT64_MAX - 4); /* last five indices */
	assert_triples_valid(&s, UINT64_MAX - 4);
	shares_free(&s);
}

Test(engine_prss, triples_range_split_anywhere_agrees_with_whole)
{
	const size_t n = 2500;
	const size_t cuts[] = {1, 2, 3, 1023, 1024, 1025, 2047, 2499};
	uint64_t t0 = 1000001; /* odd start */
	struct shares whole, part;

	shares_alloc(&whole, n);
	shares_alloc(&part, n);
	triples_all(&whole, t0);
	for (size_t ci = 0; ci < sizeof cuts / sizeof *cuts; ci++) {
		size_t cut = cuts[ci];

		for (int p = 0; p < PARTIES; p++) {
			cr_assert_eq(engine_prss_triples(prss[p], t0 + cut,
							 n - cut,
							 part.a[p] + cut,
							 part.b[p] + cut,
							 part.c[p] + cut),
				     0);
			cr_assert_eq(engine_prss_triples(prss[p], t0, cut,
							 part.a[p], part.b[p],
							 part.c[p]),
				     0);
			cr_assert_eq(memcmp(part.a[p], whole.a[p], n * 8), 0);
			cr_assert_eq(memcmp(part.b[p], whole.b[p], n * 8), 0);
			cr_assert_eq(memcmp(part.c[p], whole.c[p], n * 8), 0,
				     "party %d cut %zu", p, cut);
		}
	}
	shares_free(&whole);
	shares_free(&part);
}

Test(engine_prss, parties_computing_same_range_independently_agree)
{
	/* Each party's generator is rebuilt from only its own two keys and
	 * run in a different order of sub-ranges; the shares still open to
	 * valid triples, and a rebuilt party reproduces its shares. */
	const size_t n = 777;
	struct shares s, again;
	struct engine_prss *p1;

	shares_alloc(&s, n);
	shares_alloc(&again, n);
	for (size_t k = n; k-- > 0;) /* party 2 goes backwards, one by one */
		cr_assert_eq(engine_prss_triples(prss[2], 5000 + k, 1,
						 s.a[2] + k, s.b[2] + k,
						 s.c[2] + k),
			     0);
	cr_assert_eq(engine_prss_triples(prss[0], 5000, n, s.a[0], s.b[0],
					 s.c[0]),
		     0);
	cr_assert_eq(engine_prss_new(&p1, 1, pair_keys[1], pair_keys[2]), 0);
	cr_assert_eq(engine_prss_triples(p1, 5000, n, s.a[1], s.b[1], s.c[1]),
		     0);
	assert_triples_valid(&s, 5000);
	cr_assert_eq(engine_prss_triples(prss[1], 5000, n, again.a[1],
					 again.b[1], again.c[1]),
		     0);
	cr_assert_eq(memcmp(again.c[1], s.c[1], n * 8), 0);
	engine_prss_free(p1);
	shares_free(&s);
	shares_free(&again);
}

Test(engine_prss, wrong_pair_key_breaks_triples)
{
	const size_t n = 64;
	struct shares s;
	uint8_t other[ENGINE_PRSS_KEY_BYTES];
	struct engine_prss *bad;
	size_t wrong = 0;

	memcpy(other, pair_keys[0], sizeof other);
	other[0] ^= 1;
	cr_assert_eq(engine_prss_new(&bad, 0, other, pair_keys[1]), 0);
	shares_alloc(&s, n);
	triples_all(&s, 0);
	cr_assert_eq(engine_prss_triples(bad, 0, n, s.a[0], s.b[0], s.c[0]),
		     0);
	for (size_t k = 0; k < n; k++)
		wrong += sum3(s.c, k) != sum3(s.a, k) * sum3(s.b, k);
	cr_assert_geq(wrong, n - 1);
	engine_prss_free(bad);
	shares_free(&s);
}

Test(engine_prss, shares_look_random_and_distinct_per_party)
{
	const size_t n = 4096;
	struct shares s;
	size_t same = 0, zero = 0, ones = 0;

	shares_alloc(&s, n);
	triples_all(&s, 42);
	for (size_t k = 0; k < n; k++) {
		same += s.a[0][k] == s.a[1][k];
		same += s.c[1][k] == s.c[2][k];
		zero += s.a[2][k] == 0 || s.c[0][k] == 0;
		ones += (size_t)__builtin_popcountll(s.c[0][k]);
	}
	cr_assert_eq(same, 0);
	cr_assert_eq(zero, 0);
	/* mean popcount 32 per word: 4096 words, sd ~ 0.05 per word mean */
	cr_assert(ones > n * 31 && ones < n * 33, "ones=%zu", ones);
	shares_free(&s);
}

Test(engine_prss, squares_satisfy_c_eq_a_squared)
{
	const size_t n = 3001;
	struct shares s, t;

	shares_alloc(&s, n);
	shares_alloc(&t, n);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_prss_squares(prss[p], 12345, n, s.a[p],
						 s.c[p]),
			     0);
	for (size_t k = 0; k < n; k++) {
		uint64_t a = sum3(s.a, k);

		cr_assert_eq(sum3(s.c, k), a * a);
	}
	/* own index space: square pair t differs from triple t */
	triples_all(&t, 12345);
	cr_assert_neq(memcmp(t.a[0], s.a[0], n * 8), 0);
	shares_free(&s);
	shares_free(&t);
}

Test(engine_prss, zeros_sum_to_zero_and_are_nonzero)
{
	const size_t n = 2049;
	struct shares s;
	size_t zero = 0;

	shares_alloc(&s, n);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_prss_zeros(prss[p], 77, n, s.a[p]), 0);
	for (size_t k = 0; k < n; k++) {
		cr_assert_eq(sum3(s.a, k), 0);
		zero += s.a[0][k] == 0;
	}
	cr_assert_eq(zero, 0);
	shares_free(&s);
}

Test(engine_prss, trunc_material_is_consistent_for_each_receiver)
{
	const size_t n = 1500;
	const unsigned fs[] = {0, 1, 16, 40, 62};
	struct shares s;

	shares_alloc(&s, n);
	for (int r = 0; r < PARTIES; r++) {
		for (size_t fi = 0; fi < sizeof fs / sizeof *fs; fi++) {
			unsigned f = fs[fi];

			for (int p = 0; p < PARTIES; p++)
				cr_assert_eq(engine_prss_trunc(prss[p], r, f,
							       3, n, s.a[p],
							       s.b[p]),
					     0);
			for (size_t k = 0; k < n; k++) {
				/* masks sum to rho; bases to -(rho >> f) */
				uint64_t rho = sum3(s.a, k);

				cr_assert_eq(s.a[r][k], 0);
				cr_assert_eq(sum3(s.b, k), -(rho >> f),
					     "r=%d f=%u k=%zu", r, f, k);
			}
		}
	}
	shares_free(&s);
}

Test(engine_prss, range_past_index_space_is_erange)
{
	uint64_t a[2], b[2], c[2];

	cr_assert_eq(engine_prss_triples(prss[0], UINT64_MAX, 2, a, b, c),
		     MPC_ERANGE);
	cr_assert_eq(engine_prss_zeros(prss[0], UINT64_MAX - 1, 3, a),
		     MPC_ERANGE);
	cr_assert_eq(engine_prss_triples(prss[0], UINT64_MAX, 1, a, b, c), 0);
	cr_assert_eq(engine_prss_triples(prss[0], UINT64_MAX, 0, a, b, c), 0);
}

Test(engine_prss, new_rejects_bad_party)
{
	struct engine_prss *p = (void *)1;

	cr_assert_eq(engine_prss_new(&p, 3, pair_keys[0], pair_keys[1]),
		     MPC_EINVAL);
	cr_assert_null(p);
	cr_assert_eq(engine_prss_new(&p, -1, pair_keys[0], pair_keys[1]),
		     MPC_EINVAL);
	cr_assert_eq(engine_prss_trunc(prss[0], 3, 16, 0, 1, (uint64_t[1]){0},
				       (uint64_t[1]){0}),
		     MPC_EINVAL);
	cr_assert_eq(engine_prss_trunc(prss[0], 0, 63, 0, 1, (uint64_t[1]){0},
				       (uint64_t[1]){0}),
		     MPC_EINVAL);
}

Test(engine_prss, fuel_gen_adapter_produces_valid_triples)
{
	struct engine_fuel_gen gen[PARTIES];
	struct shares s;

	shares_alloc(&s, 100);
	for (int p = 0; p < PARTIES; p++) {
		engine_prss_fuel_gen(&gen[p], prss[p]);
		cr_assert_str_eq(gen[p].ops->name, "prss");
		cr_assert_eq(gen[p].party, p);
		cr_assert_eq(engine_fuel_start(&gen[p]), 0);
		cr_assert_eq(engine_fuel_triples(&gen[p], 1 << 20, 100, s.a[p],
						 s.b[p], s.c[p]),
			     0);
		cr_assert_eq(engine_fuel_triples(&gen[p], UINT64_MAX, 2,
						 s.a[p], s.b[p], s.c[p]),
			     MPC_ERANGE);
		engine_fuel_stop(&gen[p]);
	}
	/* the failed call must not have clobbered the good shares' sum */
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_fuel_triples(&gen[p], 1 << 20, 100, s.a[p],
						 s.b[p], s.c[p]),
			     0);
	assert_triples_valid(&s, 1 << 20);
	shares_free(&s);
}
