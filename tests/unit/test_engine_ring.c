/* Unit tests for engine/ring: share-vector arithmetic checked against plaintext through 3 simulated parties. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ring.h"
#include "tests/unit/engine_sim.h"

/* Random values mixing small negatives, small positives and full-range. */
static void fill_plain(uint64_t *x, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t r = rng_next();

		switch (k % 3) {
		case 0:
			x[k] = (uint64_t)-(int64_t)(r % 1000000);
			break;
		case 1:
			x[k] = r % 1000000;
			break;
		default:
			x[k] = r;
		}
	}
}

static uint64_t open3(uint64_t *sh[PARTIES], size_t k)
{
	return sh[0][k] + sh[1][k] + sh[2][k];
}

struct vecs {
	size_t n;
	uint64_t *x, *y, *xs[PARTIES], *ys[PARTIES], *zs[PARTIES];
};

static void vecs_make(struct vecs *v, size_t n, uint64_t seed)
{
	rng_state = seed;
	v->n = n;
	v->x = calloc(n + 1, sizeof *v->x);
	v->y = calloc(n + 1, sizeof *v->y);
	for (int p = 0; p < PARTIES; p++) {
		v->xs[p] = calloc(n + 1, sizeof *v->x);
		v->ys[p] = calloc(n + 1, sizeof *v->x);
		v->zs[p] = calloc(n + 1, sizeof *v->x);
	}
	fill_plain(v->x, n);
	fill_plain(v->y, n);
	split3(v->xs, v->x, n);
	split3(v->ys, v->y, n);
}

static void vecs_free(struct vecs *v)
{
	free(v->x);
	free(v->y);
	for (int p = 0; p < PARTIES; p++) {
		free(v->xs[p]);
		free(v->ys[p]);
		free(v->zs[p]);
	}
}

/* Lengths that hit empty, scalar tails and vector bodies. */
static const size_t lengths[] = {0, 1, 2, 3, 5, 8, 17, 1000, 4099};

Test(engine_ring, add_matches_plaintext_negative)
{
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		struct vecs v;

		vecs_make(&v, lengths[li], 1 + li);
		for (int p = 0; p < PARTIES; p++)
			engine_ring_add(v.zs[p], v.xs[p], v.ys[p], v.n);
		for (size_t k = 0; k < v.n; k++)
			cr_assert_eq(open3(v.zs, k), v.x[k] + v.y[k],
				     "n=%zu k=%zu", v.n, k);
		vecs_free(&v);
	}
}

Test(engine_ring, sub_matches_plaintext_negative)
{
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		struct vecs v;

		vecs_make(&v, lengths[li], 100 + li);
		for (int p = 0; p < PARTIES; p++)
			engine_ring_sub(v.zs[p], v.xs[p], v.ys[p], v.n);
		for (size_t k = 0; k < v.n; k++)
			cr_assert_eq((int64_t)open3(v.zs, k),
				     (int64_t)(v.x[k] - v.y[k]));
		vecs_free(&v);
	}
}

Test(engine_ring, neg_matches_plaintext)
{
	struct vecs v;

	vecs_make(&v, 1001, 7);
	for (int p = 0; p < PARTIES; p++)
		engine_ring_neg(v.zs[p], v.xs[p], v.n);
	for (size_t k = 0; k < v.n; k++)
		cr_assert_eq(open3(v.zs, k), (uint64_t)0 - v.x[k]);
	vecs_free(&v);
}

Test(engine_ring, mul_const_matches_plaintext_negative_constant)
{
	const int64_t ks[] = {0, 1, -1, 3, -12345, INT64_MIN};
	struct vecs v;

	vecs_make(&v, 333, 8);
	for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
		for (int p = 0; p < PARTIES; p++)
			engine_ring_mul_const(v.zs[p], v.xs[p], (uint64_t)ks[i],
					      v.n);
		for (size_t k = 0; k < v.n; k++)
			cr_assert_eq(open3(v.zs, k), v.x[k] * (uint64_t)ks[i]);
	}
	vecs_free(&v);
}

Test(engine_ring, mul_public_vector_matches_plaintext)
{
	struct vecs v;

	vecs_make(&v, 513, 9);
	/* y is public here: each party multiplies its x share by y. */
	for (int p = 0; p < PARTIES; p++)
		engine_ring_mul(v.zs[p], v.xs[p], v.y, v.n);
	for (size_t k = 0; k < v.n; k++)
		cr_assert_eq(open3(v.zs, k), v.x[k] * v.y[k]);
	vecs_free(&v);
}

Test(engine_ring, add_const_applied_by_party0_only)
{
	struct vecs v;
	uint64_t c = (uint64_t)-42;

	vecs_make(&v, 77, 10);
	for (int p = 0; p < PARTIES; p++)
		engine_ring_add_const(v.zs[p], v.xs[p], c, p, v.n);
	for (size_t k = 0; k < v.n; k++) {
		cr_assert_eq(open3(v.zs, k), v.x[k] + c);
		cr_assert_eq(v.zs[1][k], v.xs[1][k]);
		cr_assert_eq(v.zs[2][k], v.xs[2][k]);
	}
	vecs_free(&v);
}

Test(engine_ring, add_public_vector_applied_once_in_place)
{
	struct vecs v;

	vecs_make(&v, 130, 11);
	for (int p = 0; p < PARTIES; p++)
		engine_ring_add_public(v.xs[p], v.xs[p], v.y, p, v.n);
	for (size_t k = 0; k < v.n; k++)
		cr_assert_eq(open3(v.xs, k), v.x[k] + v.y[k]);
	vecs_free(&v);
}

Test(engine_ring, add_in_place_aliasing_both_operands)
{
	struct vecs v;

	vecs_make(&v, 1027, 12);
	for (int p = 0; p < PARTIES; p++) {
		engine_ring_add(v.xs[p], v.xs[p], v.ys[p], v.n); /* x += y */
		engine_ring_add(v.ys[p], v.xs[p], v.ys[p], v.n); /* y = x+2y */
	}
	for (size_t k = 0; k < v.n; k++) {
		cr_assert_eq(open3(v.xs, k), v.x[k] + v.y[k]);
		cr_assert_eq(open3(v.ys, k), v.x[k] + 2 * v.y[k]);
	}
	vecs_free(&v);
}

Test(engine_ring, sum_matches_plaintext_all_lengths)
{
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		struct vecs v;
		uint64_t want = 0, got = 0;

		vecs_make(&v, lengths[li], 20 + li);
		for (size_t k = 0; k < v.n; k++)
			want += v.x[k];
		for (int p = 0; p < PARTIES; p++)
			got += engine_ring_sum(v.xs[p], v.n);
		cr_assert_eq(got, want, "n=%zu", v.n);
		vecs_free(&v);
	}
}

Test(engine_ring, dot_with_public_matches_plaintext)
{
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		struct vecs v;
		uint64_t want = 0, got = 0;

		vecs_make(&v, lengths[li], 40 + li);
		for (size_t k = 0; k < v.n; k++)
			want += v.x[k] * v.y[k];
		for (int p = 0; p < PARTIES; p++)
			got += engine_ring_dot(v.xs[p], v.y, v.n);
		cr_assert_eq(got, want, "n=%zu", v.n);
		vecs_free(&v);
	}
}

Test(engine_ring, wraparound_is_mod_2_64)
{
	uint64_t a[2] = {UINT64_MAX, (uint64_t)INT64_MIN};
	uint64_t b[2] = {2, (uint64_t)INT64_MIN};
	uint64_t z[2];

	engine_ring_add(z, a, b, 2);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(z[1], 0);
	engine_ring_neg(z, b, 2);
	cr_assert_eq(z[1], (uint64_t)INT64_MIN);
}
