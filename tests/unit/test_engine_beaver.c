/* Unit tests for engine/beaver: multiplication, squaring, inner product against plaintext via a 3-party simulator. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "engine/beaver.h"
#include "engine/fuel_prss.h"
#include "tests/unit/engine_sim.h"

/* Plaintext mixing negatives, positives and full-range values. */
static void fill_plain(uint64_t *x, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t r = rng_next();

		x[k] = k % 3 == 0   ? (uint64_t) - (int64_t)(r % 100000)
		       : k % 3 == 1 ? r % 100000
				    : r;
	}
}

/*
 * In-memory opener: the three parties run as threads; each open copies
 * its share into the simulator, waits for the others, and sums. An
 * injected error makes every party's open fail.
 */
struct sim {
	pthread_barrier_t barrier;
	uint64_t *contrib[PARTIES];
	int fail;
	int opens;
};

struct sim_party {
	struct sim *sim;
	struct engine_opener op;
};

static int sim_open(void *ctx, uint64_t *out, const uint64_t *share, size_t n)
{
	struct sim_party *sp = ctx;
	struct sim *s = sp->sim;
	int me = sp->op.party;

	if (s->fail)
		return MPC_EIO;
	s->contrib[me] = malloc(n * sizeof *share + 1);
	memcpy(s->contrib[me], share, n * sizeof *share);
	pthread_barrier_wait(&s->barrier);
	for (size_t k = 0; k < n; k++)
		out[k] = s->contrib[0][k] + s->contrib[1][k] + s->contrib[2][k];
	if (pthread_barrier_wait(&s->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		s->opens++;
	pthread_barrier_wait(&s->barrier);
	free(s->contrib[me]);
	return 0;
}

static void sim_init(struct sim *s, struct sim_party sp[PARTIES])
{
	memset(s, 0, sizeof *s);
	pthread_barrier_init(&s->barrier, NULL, PARTIES);
	for (int p = 0; p < PARTIES; p++) {
		sp[p].sim = s;
		sp[p].op = (struct engine_opener){.party = p,
						  .n_parties = PARTIES,
						  .ctx = &sp[p],
						  .open = sim_open,
						  .open_to = NULL};
	}
}

/* Vectors of one test: plaintext x, y; shares of x, y, triple, output. */
struct job {
	size_t n;
	uint64_t *x, *y;
	uint64_t *xs[PARTIES], *ys[PARTIES], *a[PARTIES], *b[PARTIES],
		*c[PARTIES], *z[PARTIES], zdot[PARTIES];
	int rv[PARTIES];
};

static struct engine_prss *prss[PARTIES];

static void job_make(struct job *j, size_t n, uint64_t seed)
{
	uint8_t keys[PARTIES][ENGINE_PRSS_KEY_BYTES];

	memset(j, 0, sizeof *j);
	rng_state = seed;
	j->n = n;
	j->x = calloc(n + 1, 8);
	j->y = calloc(n + 1, 8);
	fill_plain(j->x, n);
	fill_plain(j->y, n);
	for (int p = 0; p < PARTIES; p++) {
		j->xs[p] = calloc(n + 1, 8);
		j->ys[p] = calloc(n + 1, 8);
		j->a[p] = calloc(n + 1, 8);
		j->b[p] = calloc(n + 1, 8);
		j->c[p] = calloc(n + 1, 8);
		j->z[p] = calloc(n + 1, 8);
	}
	split3(j->xs, j->x, n);
	split3(j->ys, j->y, n);
	for (int k = 0; k < PARTIES; k++)
		for (int i = 0; i < ENGINE_PRSS_KEY_BYTES; i++)
			keys[k][i] = (uint8_t)rng_next();
	for (int p = 0; p < PARTIES; p++) {
		cr_assert_eq(engine_prss_new(&prss[p], p, keys[p],
					     keys[(p + 1) % PARTIES]),
			     0);
		cr_assert_eq(engine_prss_triples(prss[p], seed * 1000, n,
						 j->a[p], j->b[p], j->c[p]),
			     0);
	}
}

static void job_free(struct job *j)
{
	free(j->x);
	free(j->y);
	for (int p = 0; p < PARTIES; p++) {
		free(j->xs[p]);
		free(j->ys[p]);
		free(j->a[p]);
		free(j->b[p]);
		free(j->c[p]);
		free(j->z[p]);
		engine_prss_free(prss[p]);
	}
}

static uint64_t open3(uint64_t *v[PARTIES], size_t k)
{
	return v[0][k] + v[1][k] + v[2][k];
}

/* The masked values of j's multiplication as the open round gives them (2n; caller frees). */
static uint64_t *mul_opened(const struct job *j)
{
	uint64_t *de[PARTIES], *open = calloc(2 * j->n, 8);

	for (int p = 0; p < PARTIES; p++) {
		de[p] = calloc(2 * j->n, 8);
		engine_beaver_mul_open_shares(de[p], j->xs[p], j->ys[p], j->a[p], j->b[p], j->n);
	}
	for (size_t k = 0; k < 2 * j->n; k++)
		open[k] = de[0][k] + de[1][k] + de[2][k];
	for (int p = 0; p < PARTIES; p++)
		free(de[p]);
	return open;
}

Test(engine_beaver, mul_local_steps_match_plaintext_negative)
{
	const size_t n = 2001;
	struct job j;
	uint64_t *open;

	job_make(&j, n, 1);
	open = mul_opened(&j);
	for (int p = 0; p < PARTIES; p++)
		engine_beaver_mul_finish(j.z[p], open, j.a[p], j.b[p], j.c[p],
					 p, n);
	for (size_t k = 0; k < n; k++) {
		cr_assert_eq(open3(j.z, k), j.x[k] * j.y[k], "k=%zu", k);
		if (k % 3 != 2) /* both operands small: signed check */
			cr_assert_eq((int64_t)open3(j.z, k),
				     (int64_t)j.x[k] * (int64_t)j.y[k]);
	}
	free(open);
	job_free(&j);
}

Test(engine_beaver, mul_finish_in_place_over_c)
{
	const size_t n = 100;
	struct job j;
	uint64_t *open;

	job_make(&j, n, 2);
	open = mul_opened(&j);
	for (int p = 0; p < PARTIES; p++)
		engine_beaver_mul_finish(j.c[p], open, j.a[p], j.b[p], j.c[p],
					 p, n);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(open3(j.c, k), j.x[k] * j.y[k]);
	free(open);
	job_free(&j);
}

Test(engine_beaver, mul_finish_without_party0_term_is_wrong)
{
	/* The D*E term must be added exactly once: a finish that thinks
	 * every party is party 1 misses it, and the check sees that. */
	const size_t n = 64;
	struct job j;
	uint64_t *open;
	size_t wrong = 0;

	job_make(&j, n, 3);
	open = mul_opened(&j);
	for (int p = 0; p < PARTIES; p++)
		engine_beaver_mul_finish(j.z[p], open, j.a[p], j.b[p], j.c[p],
					 1, n);
	for (size_t k = 0; k < n; k++)
		wrong += open3(j.z, k) != j.x[k] * j.y[k];
	cr_assert_eq(wrong, n);
	free(open);
	job_free(&j);
}

/* Threaded drivers. */

enum op_kind { OP_MUL, OP_MUL_ALIAS, OP_SQUARE_PAIR, OP_SQUARE_TRIPLE, OP_DOT, OP_SUMSQ };

struct thread_arg {
	struct job *j;
	struct sim_party *sp;
	enum op_kind kind;
};

static void *party_main(void *arg)
{
	struct thread_arg *t = arg;
	struct job *j = t->j;
	const struct engine_opener *op = &t->sp->op;
	int p = op->party;

	switch (t->kind) {
	case OP_MUL:
		j->rv[p] = engine_beaver_mul(op, j->z[p], j->xs[p], j->ys[p],
					     j->a[p], j->b[p], j->c[p], j->n);
		break;
	case OP_MUL_ALIAS: /* x = x * y in place */
		j->rv[p] = engine_beaver_mul(op, j->xs[p], j->xs[p], j->ys[p],
					     j->a[p], j->b[p], j->c[p], j->n);
		break;
	case OP_SQUARE_PAIR:
		j->rv[p] = engine_beaver_square(op, j->z[p], j->xs[p], j->a[p],
						j->c[p], j->n);
		break;
	case OP_SQUARE_TRIPLE:
		j->rv[p] = engine_beaver_mul(op, j->z[p], j->xs[p], j->xs[p],
					     j->a[p], j->b[p], j->c[p], j->n);
		break;
	case OP_SUMSQ:
		j->rv[p] = engine_beaver_sumsq(op, &j->zdot[p], j->xs[p], j->a[p],
					       j->c[p], j->n);
		break;
	case OP_DOT:
		j->rv[p] = engine_beaver_dot(op, &j->zdot[p], j->xs[p],
					     j->ys[p], j->a[p], j->b[p],
					     j->c[p], j->n);
		break;
	}
	return NULL;
}

static int run3(struct job *j, enum op_kind kind, int fail)
{
	struct sim s;
	struct sim_party sp[PARTIES];
	struct thread_arg ta[PARTIES];
	pthread_t th[PARTIES];

	sim_init(&s, sp);
	s.fail = fail;
	for (int p = 0; p < PARTIES; p++) {
		ta[p] = (struct thread_arg){.j = j, .sp = &sp[p], .kind = kind};
		pthread_create(&th[p], NULL, party_main, &ta[p]);
	}
	for (int p = 0; p < PARTIES; p++)
		pthread_join(th[p], NULL);
	pthread_barrier_destroy(&s.barrier);
	return s.opens;
}

Test(engine_beaver, mul_matches_plaintext_negative)
{
	struct job j;

	job_make(&j, 4097, 4);
	cr_assert_eq(run3(&j, OP_MUL, 0), 1, "one round for the whole vector");
	for (size_t k = 0; k < j.n; k++)
		cr_assert_eq(open3(j.z, k), j.x[k] * j.y[k], "k=%zu", k);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(j.rv[p], 0);
	job_free(&j);
}

Test(engine_beaver, mul_output_may_alias_input)
{
	struct job j;

	job_make(&j, 300, 5);
	run3(&j, OP_MUL_ALIAS, 0);
	for (size_t k = 0; k < j.n; k++)
		cr_assert_eq(open3(j.xs, k), j.x[k] * j.y[k]);
	job_free(&j);
}

Test(engine_beaver, mul_open_error_is_returned)
{
	struct job j;

	job_make(&j, 10, 6);
	run3(&j, OP_MUL, 1);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(j.rv[p], MPC_EIO);
	job_free(&j);
}

Test(engine_beaver, mul_empty_vector_is_noop)
{
	struct job j;

	job_make(&j, 0, 7);
	cr_assert_eq(run3(&j, OP_MUL, 0), 0);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(j.rv[p], 0);
	job_free(&j);
}

Test(engine_beaver, square_with_square_pair_matches_plaintext_negative)
{
	struct job j;

	job_make(&j, 2500, 8);
	/* replace the triples by square pairs (a, a^2) */
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_prss_squares(prss[p], 0, j.n, j.a[p],
						 j.c[p]),
			     0);
	run3(&j, OP_SQUARE_PAIR, 0);
	for (size_t k = 0; k < j.n; k++)
		cr_assert_eq(open3(j.z, k), j.x[k] * j.x[k], "k=%zu", k);
	job_free(&j);
}

Test(engine_beaver, square_with_triple_matches_plaintext)
{
	struct job j;

	job_make(&j, 999, 9);
	run3(&j, OP_SQUARE_TRIPLE, 0);
	for (size_t k = 0; k < j.n; k++)
		cr_assert_eq(open3(j.z, k), j.x[k] * j.x[k]);
	job_free(&j);
}

Test(engine_beaver, dot_matches_plaintext_negative)
{
	const size_t lens[] = {1, 2, 7, 1000, 5003};

	for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
		struct job j;
		uint64_t want = 0;

		job_make(&j, lens[li], 10 + li);
		run3(&j, OP_DOT, 0);
		for (size_t k = 0; k < j.n; k++)
			want += j.x[k] * j.y[k];
		cr_assert_eq(j.zdot[0] + j.zdot[1] + j.zdot[2], want,
			     "n=%zu", j.n);
		job_free(&j);
	}
}

Test(engine_beaver, dot_small_signed_values_exact)
{
	struct job j;
	int64_t want = 0;

	job_make(&j, 1000, 30);
	for (size_t k = 0; k < j.n; k++) {
		j.x[k] = (uint64_t)((int64_t)(rng_next() % 2001) - 1000);
		j.y[k] = (uint64_t)((int64_t)(rng_next() % 2001) - 1000);
		want += (int64_t)j.x[k] * (int64_t)j.y[k];
	}
	split3(j.xs, j.x, j.n);
	split3(j.ys, j.y, j.n);
	run3(&j, OP_DOT, 0);
	cr_assert_eq((int64_t)(j.zdot[0] + j.zdot[1] + j.zdot[2]), want);
	job_free(&j);
}

/* Square pairs (a, a^2) in place of the job's triples. */
static void use_square_pairs(struct job *j)
{
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(engine_prss_squares(prss[p], 0, j->n, j->a[p], j->c[p]), 0);
}

Test(engine_beaver, sumsq_with_square_pairs_matches_plaintext_negative)
{
	const size_t lens[] = {1, 2, 7, 1000, 5003};

	for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
		struct job j;
		uint64_t want = 0;

		job_make(&j, lens[li], 40 + li);
		use_square_pairs(&j);
		cr_assert_eq(run3(&j, OP_SUMSQ, 0), 1, "one opening for the whole vector");
		for (size_t k = 0; k < j.n; k++)
			want += j.x[k] * j.x[k];
		for (int p = 0; p < PARTIES; p++)
			cr_assert_eq(j.rv[p], 0);
		cr_assert_eq(j.zdot[0] + j.zdot[1] + j.zdot[2], want, "n=%zu", j.n);
		job_free(&j);
	}
}

Test(engine_beaver, sumsq_of_centered_values_is_exact)
{
	struct job j;
	int64_t want = 0;

	job_make(&j, 3000, 50);
	for (size_t k = 0; k < j.n; k++) {
		j.x[k] = (uint64_t)((int64_t)(rng_next() % 2000001) - 1000000);
		want += (int64_t)j.x[k] * (int64_t)j.x[k];
	}
	split3(j.xs, j.x, j.n);
	use_square_pairs(&j);
	run3(&j, OP_SUMSQ, 0);
	cr_assert_eq((int64_t)(j.zdot[0] + j.zdot[1] + j.zdot[2]), want);
	job_free(&j);
}

Test(engine_beaver, sumsq_opens_n_values_that_hide_x)
{
	/* the opened vector is x - a: with a fresh square pair it is not x,
	 * and it equals x exactly when a is 0 (so a is what hides x) */
	struct job j;
	uint64_t *d[PARTIES], *open;
	size_t same = 0;

	job_make(&j, 500, 51);
	use_square_pairs(&j);
	open = calloc(j.n, 8);
	for (int p = 0; p < PARTIES; p++) {
		d[p] = calloc(j.n, 8);
		engine_beaver_square_open_shares(d[p], j.xs[p], j.a[p], j.n);
	}
	for (size_t k = 0; k < j.n; k++) {
		open[k] = d[0][k] + d[1][k] + d[2][k];
		same += open[k] == j.x[k];
	}
	cr_assert_eq(same, 0);
	/* a square pair with c != a^2 gives a wrong sum: the pair is what makes it right */
	j.c[1][0] += 1;
	{
		uint64_t z = 0, want = 0;
		for (int p = 0; p < PARTIES; p++)
			z += engine_beaver_sumsq_finish(open, j.a[p], j.c[p], p, j.n);
		for (size_t k = 0; k < j.n; k++)
			want += j.x[k] * j.x[k];
		cr_assert_eq(z, want + 1);
	}
	for (int p = 0; p < PARTIES; p++)
		free(d[p]);
	free(open);
	job_free(&j);
}

Test(engine_beaver, sumsq_empty_vector_is_zero)
{
	struct job j;

	job_make(&j, 0, 52);
	cr_assert_eq(run3(&j, OP_SUMSQ, 0), 0);
	for (int p = 0; p < PARTIES; p++) {
		cr_assert_eq(j.rv[p], 0);
		cr_assert_eq(j.zdot[p], 0);
	}
	job_free(&j);
}

Test(engine_beaver, sumsq_open_error_is_returned)
{
	struct job j;

	job_make(&j, 10, 53);
	use_square_pairs(&j);
	run3(&j, OP_SUMSQ, 1);
	for (int p = 0; p < PARTIES; p++)
		cr_assert_eq(j.rv[p], MPC_EIO);
	job_free(&j);
}

Test(engine_beaver, sumsq_centered_on_a_shared_scalar_matches_plaintext)
{
	/* Σ (x_k - m)^2 with m shared as one element: the opening
	 * x - m - a, then the same finish as an uncentered sumsq */
	struct job j;
	uint64_t m = (uint64_t)(int64_t)-123457, ms[PARTIES], *d[PARTIES], *open, z = 0, want = 0;

	job_make(&j, 4099, 54);
	use_square_pairs(&j);
	ms[0] = rng_next();
	ms[1] = rng_next();
	ms[2] = m - ms[0] - ms[1];
	open = calloc(j.n, 8);
	for (int p = 0; p < PARTIES; p++) {
		d[p] = calloc(j.n, 8);
		engine_beaver_square_open_shares_centered(d[p], j.xs[p], ms[p], j.a[p], j.n);
	}
	for (size_t k = 0; k < j.n; k++) {
		open[k] = d[0][k] + d[1][k] + d[2][k];
		want += (j.x[k] - m) * (j.x[k] - m);
	}
	for (int p = 0; p < PARTIES; p++)
		z += engine_beaver_sumsq_finish(open, j.a[p], j.c[p], p, j.n);
	cr_assert_eq(z, want);
	for (int p = 0; p < PARTIES; p++)
		free(d[p]);
	free(open);
	job_free(&j);
}
