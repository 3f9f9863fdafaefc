/* Engine programs: parsing, fuel accounting per operation, chunked execution of each operation over the mesh. */
#include "engine/exec.h"

#include "common/err.h"
#include "engine/beaver.h"
#include "engine/fixed.h"
#include "engine/ring.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_DATA 1
/* chunks in flight per operation (pipeline depth) */
#define EXEC_SLOTS 4

static const struct {
	const char *name;
	enum engine_op_kind kind;
	int nsrc; /* register sources */
	int konst;
} op_table[] = {
	{"add", ENGINE_OP_ADD, 2, 0},	    {"sub", ENGINE_OP_SUB, 2, 0},
	{"neg", ENGINE_OP_NEG, 1, 0},	    {"mulc", ENGINE_OP_MULC, 1, 1},
	{"addc", ENGINE_OP_ADDC, 1, 1},	    {"mul", ENGINE_OP_MUL, 2, 0},
	{"fmul", ENGINE_OP_FMUL, 2, 0},	    {"square", ENGINE_OP_SQUARE, 1, 0},
	{"dot", ENGINE_OP_DOT, 2, 0},	    {"sum", ENGINE_OP_SUM, 1, 0},
	{"trunc", ENGINE_OP_TRUNC, 1, 0},   {"open", ENGINE_OP_OPEN, 1, 0},
	{"reveal", ENGINE_OP_REVEAL, 1, 0}, {"bcast", ENGINE_OP_BCAST, 1, 1},
	{"keep", ENGINE_OP_KEEP, 1, 0},	    {"sumsq", ENGINE_OP_SUMSQ, 1, 0},
};

/* Longest vector a bcast may make (as long as a session input, 2^30 elements). */
#define BCAST_MAX ((uint64_t)1 << 30)

static int reg_find(const struct engine_prog *p, const char *name)
{
	for (int i = 0; i < p->n_regs; i++)
		if (strcmp(p->names[i], name) == 0)
			return i;
	return -1;
}

static int parse_const(json_t *j, uint64_t *out)
{
	const char *s;
	char *end;
	if (json_is_integer(j)) {
		*out = (uint64_t)json_integer_value(j);
		return 0;
	}
	s = json_string_value(j);
	if (s == NULL || *s == '\0')
		return -1;
	if (*s == '-')
		*out = (uint64_t)strtoll(s, &end, 10);
	else
		*out = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

int engine_prog_parse(json_t *ops, const char (*input_names)[ENGINE_REG_NAME_MAX],
		      const size_t *input_len, int n_inputs, const struct mpc_cluster *c,
		      struct engine_prog *p, char *errmsg)
{
	size_t n_ops = json_array_size(ops), i;
	int cap;

	memset(p, 0, sizeof *p);
	if (!json_is_array(ops) || n_ops == 0 || n_ops > 100000) {
		mpc_errmsg_printf(errmsg, "program: ops must be a non-empty array (at most 100000)");
		return MPC_EINVAL;
	}
	cap = n_inputs + (int)n_ops;
	p->ops = calloc(n_ops, sizeof *p->ops);
	p->names = calloc((size_t)cap, sizeof *p->names);
	p->len = calloc((size_t)cap, sizeof *p->len);
	if (p->ops == NULL || p->names == NULL || p->len == NULL) {
		engine_prog_free(p);
		return MPC_ENOMEM;
	}
	for (int k = 0; k < n_inputs; k++) {
		memcpy(p->names[k], input_names[k], ENGINE_REG_NAME_MAX);
		p->len[k] = input_len[k];
	}
	p->n_regs = p->n_inputs = n_inputs;
	for (i = 0; i < n_ops; i++) {
		json_t *o = json_array_get(ops, i);
		const char *name = json_string_value(json_array_get(o, 0));
		const char *dst = json_string_value(json_array_get(o, 1));
		struct engine_op *op = &p->ops[i];
		size_t t, n;

		for (t = 0; name != NULL && t < sizeof op_table / sizeof op_table[0]; t++)
			if (strcmp(op_table[t].name, name) == 0)
				break;
		if (name == NULL || t == sizeof op_table / sizeof op_table[0]) {
			mpc_errmsg_printf(errmsg, "program op %zu: unknown operation", i);
			goto err;
		}
		op->kind = op_table[t].kind;
		op->a = op->b = -1;
		/* trunc takes an optional bit count: ["trunc", dst, a, bits] */
		int opt = (op_table[t].kind == ENGINE_OP_TRUNC ||
			   op_table[t].kind == ENGINE_OP_SUMSQ) &&
			  json_array_size(o) == 4;
		if (json_array_size(o) != (size_t)(2 + op_table[t].nsrc + op_table[t].konst +
						   (op_table[t].kind == ENGINE_OP_REVEAL) + opt) ||
		    dst == NULL || strlen(dst) == 0 || strlen(dst) >= ENGINE_REG_NAME_MAX) {
			mpc_errmsg_printf(errmsg, "program op %zu (%s): wrong arguments", i, name);
			goto err;
		}
		for (int s = 0; s < op_table[t].nsrc; s++) {
			const char *src = json_string_value(json_array_get(o, 2 + s));
			int r = src ? reg_find(p, src) : -1;
			if (r < 0) {
				mpc_errmsg_printf(errmsg, "program op %zu (%s): unknown register %s",
						  i, name, src ? src : "?");
				goto err;
			}
			if (s == 0)
				op->a = r;
			else
				op->b = r;
		}
		/* sumsq takes an optional center: ["sumsq", dst, a, s], Σ (a_k - s)^2
		 * for a 1-element s (var's centered pass without a vector a - s) */
		if (op->kind == ENGINE_OP_SUMSQ && json_array_size(o) == 4) {
			const char *src = json_string_value(json_array_get(o, 3));
			int r = src ? reg_find(p, src) : -1;
			if (r < 0 || p->len[r] != 1) {
				mpc_errmsg_printf(errmsg, "program op %zu (sumsq): the center %s must "
						  "be a register of 1 element", i, src ? src : "?");
				goto err;
			}
			op->b = r;
		} else if (op->b >= 0 && p->len[op->a] != p->len[op->b]) {
			mpc_errmsg_printf(errmsg, "program op %zu (%s): lengths %zu and %zu differ", i,
					  name, p->len[op->a], p->len[op->b]);
			goto err;
		}
		if (op_table[t].konst && parse_const(json_array_get(o, 3), &op->k) != 0) {
			mpc_errmsg_printf(errmsg, "program op %zu (%s): bad constant", i, name);
			goto err;
		}
		if (opt && op->kind == ENGINE_OP_TRUNC) {
			json_t *bj = json_array_get(o, 3);
			if (!json_is_integer(bj) || json_integer_value(bj) < 1 ||
			    json_integer_value(bj) > 62) {
				mpc_errmsg_printf(errmsg, "program op %zu (trunc): bits must be an "
						  "integer 1..62", i);
				goto err;
			}
			op->bits = (unsigned)json_integer_value(bj);
		}
		if (op->kind == ENGINE_OP_BCAST &&
		    (p->len[op->a] != 1 || op->k < 1 || op->k > BCAST_MAX)) {
			mpc_errmsg_printf(errmsg, "program op %zu (bcast): the source must have 1 "
					  "element (has %zu) and the length be 1..2^30", i,
					  p->len[op->a]);
			goto err;
		}
		op->client = -1;
		if (op->kind == ENGINE_OP_REVEAL) {
			const char *cn = json_string_value(json_array_get(o, 3));
			for (int k = 0; cn != NULL && k < c->n_clients; k++)
				if (strcmp(c->clients[k].name, cn) == 0)
					op->client = k;
			if (op->client < 0) {
				mpc_errmsg_printf(errmsg, "program op %zu: unknown client", i);
				goto err;
			}
		}
		if (reg_find(p, dst) >= 0) {
			mpc_errmsg_printf(errmsg, "program op %zu: register %s written twice", i, dst);
			goto err;
		}
		op->dst = p->n_regs++;
		snprintf(p->names[op->dst], ENGINE_REG_NAME_MAX, "%s", dst);
		n = p->len[op->a];
		p->len[op->dst] = op->kind == ENGINE_OP_DOT || op->kind == ENGINE_OP_SUM ||
						  op->kind == ENGINE_OP_SUMSQ
					  ? 1
				  : op->kind == ENGINE_OP_BCAST				? (size_t)op->k
											: n;
		switch (op->kind) {
		case ENGINE_OP_MUL:
		case ENGINE_OP_SQUARE:
		case ENGINE_OP_SUMSQ:
		case ENGINE_OP_DOT:
		case ENGINE_OP_TRUNC:
		case ENGINE_OP_REVEAL: p->fuel_need += n; break;
		case ENGINE_OP_FMUL: p->fuel_need += 2 * (uint64_t)n; break;
		default: break;
		}
		/* operands must be shares, not outputs */
		for (int s = 0; s < 2; s++) {
			int r = s == 0 ? op->a : op->b;
			for (size_t q = 0; r >= 0 && q < i; q++)
				if (p->ops[q].dst == r && (p->ops[q].kind == ENGINE_OP_OPEN ||
							   p->ops[q].kind == ENGINE_OP_REVEAL ||
							   p->ops[q].kind == ENGINE_OP_KEEP)) {
					mpc_errmsg_printf(errmsg,
							  "program op %zu: %s is an output, not shares",
							  i, p->names[r]);
					goto err;
				}
		}
	}
	p->n_ops = (int)n_ops;
	return 0;
err:
	engine_prog_free(p);
	return MPC_EINVAL;
}

void engine_prog_free(struct engine_prog *p)
{
	free(p->ops);
	free(p->names);
	free(p->len);
	memset(p, 0, sizeof *p);
}

void engine_reg_clear(struct engine_reg *r)
{
	if (r->v != NULL) {
		sodium_memzero(r->v, r->n * sizeof *r->v);
		free(r->v);
	}
	free(r->sealed);
	memset(r, 0, sizeof *r);
}

/* ---- network steps ---- */

/*
 * Scratch: EXEC_SLOTS pipeline slots of (5 + 2 (np - 1)) chunk words each:
 * a b c (derived fuel) | de (2 chunk: what this party contributes to an
 * opening) | one 2-chunk receive buffer per peer.
 */
static size_t slot_words(const struct engine_exec *x)
{
	return (5 + 2 * (size_t)(x->n_parties - 1)) * x->scratch_chunk;
}

static uint64_t *slot_base(struct engine_exec *x, int slot)
{
	return x->scratch + (size_t)slot * slot_words(x);
}

static uint64_t *slot_rx(struct engine_exec *x, int slot, int k)
{
	return slot_base(x, slot) + (5 + 2 * (size_t)k) * x->scratch_chunk;
}

static void xchg_fill(struct engine_exec *x, uint32_t round, struct engine_mesh_send *s, int ns,
		      struct engine_mesh_recv *r, int nr)
{
	for (int k = 0; k < nr; k++) {
		r[k].session = x->wire_session;
		r[k].round = round;
		r[k].type = MSG_DATA;
	}
	for (int k = 0; k < ns; k++) {
		s[k].session = x->wire_session;
		s[k].round = round;
		s[k].type = MSG_DATA;
	}
}

static int xchg_run(struct engine_exec *x, struct engine_mesh_send *s, int ns,
		    struct engine_mesh_recv *r, int nr)
{
	struct engine_mesh_send *sp[MPC_MAX_PARTIES];
	struct engine_mesh_recv *rp[MPC_MAX_PARTIES];
	int rv = 0;

	xchg_fill(x, x->xchg, s, ns, r, nr);
	for (int k = 0; k < nr; k++) {
		rp[k] = &r[k];
		if (rv == 0)
			rv = engine_mesh_post(x->mesh, &r[k]);
	}
	for (int k = 0; k < ns; k++) {
		sp[k] = &s[k];
		if (rv == 0)
			rv = engine_mesh_send(x->mesh, &s[k]);
		else
			s[k].done = 1;
	}
	if (rv == 0)
		rv = engine_mesh_wait(x->mesh, sp, ns, rp, nr, x->watch, x->timeout_ms);
	if (rv != 0)
		engine_mesh_cancel(x->mesh, sp, ns, rp, nr);
	return rv;
}

/* Opens n elements (n <= 2 chunk) through party xchg mod np, one round, nothing overlapped.
 * out and share may be the same array. */
static int open_king(struct engine_exec *x, uint64_t *out, const uint64_t *share, size_t n)
{
	struct engine_mesh_send s[MPC_MAX_PARTIES];
	struct engine_mesh_recv r[MPC_MAX_PARTIES];
	int np = x->n_parties, king = (int)(x->xchg % (uint32_t)np), nr = 0, rv;

	memset(s, 0, sizeof s);
	memset(r, 0, sizeof r);
	if (x->party == king) {
		for (int p = 0; p < np; p++)
			if (p != king) {
				r[nr].peer = p;
				r[nr].buf = slot_rx(x, 0, nr);
				r[nr].len = n * 8;
				nr++;
			}
		rv = xchg_run(x, NULL, 0, r, nr);
		if (rv != 0)
			return rv;
		engine_ring_add(out, share, slot_rx(x, 0, 0), n);
		for (int k = 1; k < nr; k++)
			engine_ring_add(out, out, slot_rx(x, 0, k), n);
		for (int k = 0; k < nr; k++) {
			s[k].peer = r[k].peer;
			s[k].buf = out;
			s[k].len = n * 8;
		}
		rv = xchg_run(x, s, nr, NULL, 0);
	} else {
		s[0].peer = king;
		s[0].buf = share;
		s[0].len = n * 8;
		r[0].peer = king;
		r[0].buf = out;
		r[0].len = n * 8;
		rv = xchg_run(x, s, 1, r, 1);
	}
	x->xchg++;
	return rv;
}

static int open_to_cb(void *ctx, int receiver, uint64_t *out, const uint64_t *share, size_t n)
{
	struct engine_exec *x = ctx;
	struct engine_mesh_send s[1];
	struct engine_mesh_recv r[MPC_MAX_PARTIES];
	int np = x->n_parties, nr = 0, rv;

	memset(s, 0, sizeof s);
	memset(r, 0, sizeof r);
	if (x->party == receiver) {
		for (int p = 0; p < np; p++) {
			if (p == receiver)
				continue;
			r[nr].peer = p;
			r[nr].buf = slot_rx(x, 0, nr);
			r[nr].len = n * 8;
			nr++;
		}
		rv = xchg_run(x, NULL, 0, r, nr);
		if (rv == 0) {
			if (out != share)
				memcpy(out, share, n * 8);
			for (int k = 0; k < nr; k++)
				engine_ring_add(out, out, slot_rx(x, 0, k), n);
		}
	} else {
		s[0].peer = receiver;
		s[0].buf = share;
		s[0].len = n * 8;
		rv = xchg_run(x, s, 1, NULL, 0);
	}
	x->xchg++;
	return rv;
}

static int open_cb(void *ctx, uint64_t *out, const uint64_t *share, size_t n)
{
	return open_king(ctx, out, share, n);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fuel_count(struct engine_exec *x, size_t n, uint64_t t)
{
	uint64_t dt = now_ns() - t;
	x->fuel_ns += dt;
	if (x->ledger != NULL)
		engine_ledger_produced(x->ledger, n, dt);
}

/* Triples t .. t+c-1: pre-generated, or derived now into buf (3 chunk words). */
static int fuel_triples(struct engine_exec *x, uint64_t t, size_t c, uint64_t *buf,
			const uint64_t **a, const uint64_t **b, const uint64_t **cc)
{
	uint64_t t0 = now_ns();
	int rv;

	if (x->pre_a != NULL && t >= x->pre_t0 && t + c <= x->pre_t0 + x->pre_n) {
		*a = x->pre_a + (t - x->pre_t0);
		*b = x->pre_b + (t - x->pre_t0);
		*cc = x->pre_c + (t - x->pre_t0);
		return 0;
	}
	*a = buf;
	*b = buf + x->scratch_chunk;
	*cc = buf + 2 * x->scratch_chunk;
	rv = engine_fuel_triples(x->fuel, t, c, buf, buf + x->scratch_chunk,
				 buf + 2 * x->scratch_chunk);
	fuel_count(x, c, t0);
	return rv;
}

static int scratch_ensure(struct engine_exec *x)
{
	if (x->scratch != NULL)
		return 0;
	x->scratch_chunk = x->chunk;
	x->scratch = malloc(EXEC_SLOTS * slot_words(x) * 8);
	return x->scratch != NULL ? 0 : MPC_ENOMEM;
}

static int reg_alloc(struct engine_reg *r, size_t n, enum engine_reg_kind kind)
{
	if (r->v != NULL && r->n == n) {
		r->kind = kind;
		return 0;
	}
	engine_reg_clear(r);
	r->v = calloc(n > 0 ? n : 1, 8);
	if (r->v == NULL)
		return MPC_ENOMEM;
	r->n = n;
	r->kind = kind;
	return 0;
}

static int do_trunc_chunk(struct engine_exec *x, struct engine_opener *op, uint64_t *z,
			  const uint64_t *in, size_t c, unsigned bits)
{
	uint64_t *mask = slot_base(x, 0) + 3 * x->scratch_chunk;
	uint64_t *base = slot_base(x, 0) + 4 * x->scratch_chunk;
	int receiver = (int)(x->xchg % 3), rv;
	uint64_t t0 = now_ns();

	if (bits == 0)
		bits = x->f;
	rv = engine_fuel_trunc(x->fuel, receiver, bits, x->cursor, c, mask, base);
	fuel_count(x, c, t0);
	x->cursor += c;
	if (rv == 0)
		rv = engine_fixed_trunc(op, receiver, bits, z, in, mask, base, c);
	return rv;
}

/* ---- pipelined openings (mul, fmul, dot, square, sumsq, open) ---- */

/*
 * One chunk in flight. Chunk j of an operation is exchange round
 * xchg0 + j and is opened through party (xchg0 + j) mod np, the chunk's
 * "king": the others send it their shares of the masked values, it adds
 * them up and returns the sums (64 wire bytes per multiplication). Kings
 * rotate so every party does the same cipher work. Up to EXEC_SLOTS
 * chunks are in flight: chunk j + EXEC_SLOTS - 1 is derived (fuel, masks)
 * and sent while chunk j is still being opened, so network, cipher
 * threads and arithmetic overlap. Everything a chunk uses (round, king,
 * fuel indices) is a function of the operation's starting (xchg, cursor)
 * and j alone, so a replay from a checkpoint sends the same messages with
 * the same triples.
 */
struct pipe_slot {
	const uint64_t *a, *b, *c; /* this chunk's triples (b unused for squares) */
	const uint64_t *in;	   /* this party's share of the values to open */
	uint64_t *pub;		   /* where the opened values land */
	size_t o, n, words;	   /* element offset and count; words opened */
	int king, ns, nr;	   /* ns, nr: operations not waited for yet */
	struct engine_mesh_send s[MPC_MAX_PARTIES];
	struct engine_mesh_recv r[MPC_MAX_PARTIES];
	struct engine_mesh_send *sp[MPC_MAX_PARTIES];
	struct engine_mesh_recv *rp[MPC_MAX_PARTIES];
};

struct pipe {
	struct engine_exec *x;
	const struct engine_op *op;
	const struct engine_reg *A, *B;
	struct engine_reg *Z;
	uint32_t round0;
	uint64_t cursor0;
	uint64_t acc; /* dot */
	struct pipe_slot slot[EXEC_SLOTS];
};

static int pipe_wait(struct pipe *pp, struct pipe_slot *sl)
{
	struct engine_exec *x = pp->x;
	int rv;

	if (sl->ns + sl->nr == 0)
		return 0;
	rv = engine_mesh_wait(x->mesh, sl->sp, sl->ns, sl->rp, sl->nr, x->watch, x->timeout_ms);
	if (rv == 0)
		sl->ns = sl->nr = 0;
	return rv;
}

/* Derives chunk j's masked shares and starts its exchange. */
static int pipe_issue(struct pipe *pp, size_t j)
{
	struct engine_exec *x = pp->x;
	int si = (int)(j % EXEC_SLOTS), np = x->n_parties, rv;
	struct pipe_slot *sl = &pp->slot[si];
	uint64_t *base = slot_base(x, si), *de = base + 3 * x->scratch_chunk;
	size_t o = j * x->chunk, c = pp->A->n - o < x->chunk ? pp->A->n - o : x->chunk;
	uint32_t round = pp->round0 + (uint32_t)j;

	/* the slot's previous chunk may still be sending from its buffers */
	if ((rv = pipe_wait(pp, sl)) != 0)
		return rv;
	sl->o = o;
	sl->n = c;
	sl->king = (int)(round % (uint32_t)np);
	switch (pp->op->kind) {
	case ENGINE_OP_MUL:
	case ENGINE_OP_FMUL:
	case ENGINE_OP_DOT:
		rv = fuel_triples(x, pp->cursor0 + o, c, base, &sl->a, &sl->b, &sl->c);
		if (rv != 0)
			return rv;
		engine_beaver_mul_open_shares(de, pp->A->v + o, pp->B->v + o, sl->a, sl->b, c);
		sl->in = de;
		sl->words = 2 * c;
		break;
	case ENGINE_OP_SQUARE:
	case ENGINE_OP_SUMSQ: {
		uint64_t t0 = now_ns();
		rv = engine_fuel_squares(x->fuel, pp->cursor0 + o, c, base,
					 base + x->scratch_chunk);
		fuel_count(x, c, t0);
		if (rv != 0)
			return rv;
		sl->a = base;
		sl->c = base + x->scratch_chunk;
		if (pp->B != NULL) /* sumsq with a center */
			engine_beaver_square_open_shares_centered(de, pp->A->v + o, pp->B->v[0],
								  sl->a, c);
		else
			engine_beaver_square_open_shares(de, pp->A->v + o, sl->a, c);
		sl->in = de;
		sl->words = c;
		break;
	}
	default: /* ENGINE_OP_OPEN */
		sl->in = pp->A->v + o;
		sl->words = c;
		break;
	}
	if (pp->op->kind == ENGINE_OP_OPEN)
		sl->pub = pp->Z->v + o;
	else
		sl->pub = x->party == sl->king ? de : slot_rx(x, si, 0);
	memset(sl->s, 0, sizeof sl->s);
	memset(sl->r, 0, sizeof sl->r);
	if (x->party == sl->king) {
		int nr = 0;
		for (int p = 0; p < np; p++)
			if (p != x->party) {
				sl->r[nr].peer = p;
				sl->r[nr].buf = slot_rx(x, si, nr);
				sl->r[nr].len = sl->words * 8;
				nr++;
			}
		sl->nr = nr;
		sl->ns = 0;
	} else {
		sl->s[0].peer = sl->king;
		sl->s[0].buf = sl->in;
		sl->s[0].len = sl->words * 8;
		sl->r[0].peer = sl->king;
		sl->r[0].buf = sl->pub;
		sl->r[0].len = sl->words * 8;
		sl->ns = sl->nr = 1;
	}
	xchg_fill(x, round, sl->s, sl->ns, sl->r, sl->nr);
	for (int k = 0; k < sl->nr; k++) {
		sl->rp[k] = &sl->r[k];
		if ((rv = engine_mesh_post(x->mesh, &sl->r[k])) != 0) {
			sl->nr = k;
			sl->ns = 0;
			return rv;
		}
	}
	for (int k = 0; k < sl->ns; k++) {
		sl->sp[k] = &sl->s[k];
		if ((rv = engine_mesh_send(x->mesh, &sl->s[k])) != 0) {
			sl->ns = k;
			return rv;
		}
	}
	return 0;
}

/* Waits for chunk j's opening (the king adds and returns it) and finishes the chunk. */
static int pipe_complete(struct pipe *pp, size_t j)
{
	struct engine_exec *x = pp->x;
	int si = (int)(j % EXEC_SLOTS), rv;
	struct pipe_slot *sl = &pp->slot[si];
	size_t o = sl->o, c = sl->n;

	if ((rv = pipe_wait(pp, sl)) != 0)
		return rv;
	if (x->party == sl->king) {
		int nr = x->n_parties - 1;
		engine_ring_add(sl->pub, sl->in, slot_rx(x, si, 0), sl->words);
		for (int k = 1; k < nr; k++)
			engine_ring_add(sl->pub, sl->pub, slot_rx(x, si, k), sl->words);
		memset(sl->s, 0, sizeof sl->s);
		for (int k = 0; k < nr; k++) {
			sl->s[k].peer = sl->r[k].peer;
			sl->s[k].buf = sl->pub;
			sl->s[k].len = sl->words * 8;
		}
		xchg_fill(x, pp->round0 + (uint32_t)j, sl->s, nr, NULL, 0);
		for (int k = 0; k < nr; k++) {
			sl->sp[k] = &sl->s[k];
			if ((rv = engine_mesh_send(x->mesh, &sl->s[k])) != 0)
				return rv;
			sl->ns = k + 1;
		}
	}
	switch (pp->op->kind) {
	case ENGINE_OP_MUL:
	case ENGINE_OP_FMUL:
		engine_beaver_mul_finish(pp->Z->v + o, sl->pub, sl->a, sl->b, sl->c, x->party, c);
		x->mults += c;
		break;
	case ENGINE_OP_DOT:
		pp->acc += engine_beaver_dot_finish(sl->pub, sl->a, sl->b, sl->c, x->party, c);
		x->mults += c;
		break;
	case ENGINE_OP_SQUARE:
		engine_beaver_square_finish(pp->Z->v + o, sl->pub, sl->a, sl->c, x->party, c);
		x->mults += c;
		break;
	case ENGINE_OP_SUMSQ:
		pp->acc += engine_beaver_sumsq_finish(sl->pub, sl->a, sl->c, x->party, c);
		x->mults += c;
		break;
	default: break;
	}
	return 0;
}

/* Runs op (mul, fmul's product, dot, square, sumsq, open) over all chunks with up to EXEC_SLOTS in flight. */
static int pipe_run(struct engine_exec *x, const struct engine_op *op, const struct engine_reg *A,
		    const struct engine_reg *B, struct engine_reg *Z, uint64_t *acc)
{
	struct pipe pp;
	size_t nchunks = (A->n + x->chunk - 1) / x->chunk, issued = 0, done = 0;
	int rv = 0;

	memset(&pp, 0, sizeof pp);
	pp.x = x;
	pp.op = op;
	pp.A = A;
	pp.B = B;
	pp.Z = Z;
	pp.round0 = x->xchg;
	pp.cursor0 = x->cursor;
	while (done < nchunks) {
		while (issued < nchunks && issued < done + EXEC_SLOTS)
			if ((rv = pipe_issue(&pp, issued++)) != 0)
				goto fail;
		if ((rv = pipe_complete(&pp, done++)) != 0)
			goto fail;
	}
	for (int k = 0; k < EXEC_SLOTS; k++)
		if ((rv = pipe_wait(&pp, &pp.slot[k])) != 0)
			goto fail;
	x->xchg = pp.round0 + (uint32_t)nchunks;
	if (op->kind != ENGINE_OP_OPEN)
		x->cursor = pp.cursor0 + A->n;
	*acc = pp.acc;
	return 0;
fail:
	for (int k = 0; k < EXEC_SLOTS; k++)
		engine_mesh_cancel(x->mesh, pp.slot[k].sp, pp.slot[k].ns, pp.slot[k].rp,
				   pp.slot[k].nr);
	return rv;
}

int engine_exec_op(struct engine_exec *x, const struct engine_op *op, struct engine_reg *regs)
{
	struct engine_reg *A = &regs[op->a], *B = op->b >= 0 ? &regs[op->b] : NULL;
	struct engine_reg *Z = &regs[op->dst];
	struct engine_opener opener = {x->party, x->n_parties, x, open_cb, open_to_cb};
	uint64_t acc = 0;
	size_t n = A->n, outn = n;
	int rv;

	if (A->v == NULL || (B != NULL && B->v == NULL))
		return MPC_ESTATE;
	if (op->kind == ENGINE_OP_DOT || op->kind == ENGINE_OP_SUM || op->kind == ENGINE_OP_SUMSQ)
		outn = 1;
	if (op->kind == ENGINE_OP_BCAST)
		outn = (size_t)op->k;
	/* Z may be A or B only for in-place ops; programs write each register once. */
	rv = reg_alloc(Z, outn, op->kind == ENGINE_OP_OPEN ? ENGINE_REG_PUBLIC : ENGINE_REG_SHARE);
	if (rv != 0)
		return rv;
	switch (op->kind) {
	case ENGINE_OP_ADD: engine_ring_add(Z->v, A->v, B->v, n); return 0;
	case ENGINE_OP_SUB: engine_ring_sub(Z->v, A->v, B->v, n); return 0;
	case ENGINE_OP_NEG: engine_ring_neg(Z->v, A->v, n); return 0;
	case ENGINE_OP_MULC: engine_ring_mul_const(Z->v, A->v, op->k, n); return 0;
	case ENGINE_OP_ADDC: engine_ring_add_const(Z->v, A->v, op->k, x->party, n); return 0;
	case ENGINE_OP_SUM: Z->v[0] = engine_ring_sum(A->v, n); return 0;
	case ENGINE_OP_BCAST:
		for (size_t k = 0; k < outn; k++)
			Z->v[k] = A->v[0];
		return 0;
	case ENGINE_OP_KEEP: {
		const uint8_t *pk = x->cluster->parties[x->party].box_pk;
		size_t len = n * 8 + crypto_box_SEALBYTES;
		Z->sealed = malloc(len);
		if (Z->sealed == NULL)
			return MPC_ENOMEM;
		if (crypto_box_seal(Z->sealed, (const uint8_t *)A->v, n * 8, pk) != 0)
			return MPC_ECRYPTO;
		Z->sealed_len = len;
		sodium_memzero(Z->v, n * 8);
		Z->kind = ENGINE_REG_SEALED;
		return 0;
	}
	default: break;
	}
	/* the scratch (36 chunks: 18 MiB at 2^16) only for operations that
	 * exchange or derive fuel: a MAP that only sums its column neither
	 * faults it in nor wipes it */
	if ((rv = scratch_ensure(x)) != 0)
		return rv;
	switch (op->kind) {
	case ENGINE_OP_MUL:
	case ENGINE_OP_SQUARE:
	case ENGINE_OP_OPEN: return pipe_run(x, op, A, B, Z, &acc);
	case ENGINE_OP_DOT:
	case ENGINE_OP_SUMSQ:
		if ((rv = pipe_run(x, op, A, B, Z, &acc)) == 0)
			Z->v[0] = acc;
		return rv;
	case ENGINE_OP_FMUL:
		/* all products first (pipelined), then truncation chunk by chunk:
		 * fuel [cursor, +n) for the triples, [+n, +2n) for truncation */
		if ((rv = pipe_run(x, op, A, B, Z, &acc)) != 0)
			return rv;
		for (size_t o = 0; o < n; o += x->chunk) {
			size_t c = n - o < x->chunk ? n - o : x->chunk;
			if ((rv = do_trunc_chunk(x, &opener, Z->v + o, Z->v + o, c, 0)) != 0)
				return rv;
		}
		return 0;
	default: break;
	}
	for (size_t o = 0; o < n; o += x->chunk) {
		size_t c = n - o < x->chunk ? n - o : x->chunk;

		switch (op->kind) {
		case ENGINE_OP_TRUNC:
			if ((rv = do_trunc_chunk(x, &opener, Z->v + o, A->v + o, c, op->bits)) != 0)
				return rv;
			break;
		case ENGINE_OP_REVEAL: {
			uint64_t t0 = now_ns();
			rv = engine_fuel_zeros(x->fuel, x->cursor, c, x->scratch);
			fuel_count(x, c, t0);
			x->cursor += c;
			if (rv != 0)
				return rv;
			engine_ring_add(Z->v + o, A->v + o, x->scratch, c);
			break;
		}
		default: return MPC_EINVAL;
		}
	}
	if (op->kind == ENGINE_OP_REVEAL) {
		const uint8_t *pk = x->cluster->clients[op->client].box_pk;
		size_t len = n * 8 + crypto_box_SEALBYTES;
		Z->sealed = malloc(len);
		if (Z->sealed == NULL)
			return MPC_ENOMEM;
		if (crypto_box_seal(Z->sealed, (const uint8_t *)Z->v, n * 8, pk) != 0)
			return MPC_ECRYPTO;
		Z->sealed_len = len;
		sodium_memzero(Z->v, n * 8);
		Z->kind = ENGINE_REG_SEALED;
	}
	return 0;
}

int engine_exec_pregen(struct engine_exec *x, uint64_t t0, uint64_t n)
{
	uint64_t start = now_ns();
	int rv;
	x->pre_a = malloc(n * 8 + 8);
	x->pre_b = malloc(n * 8 + 8);
	x->pre_c = malloc(n * 8 + 8);
	if (x->pre_a == NULL || x->pre_b == NULL || x->pre_c == NULL)
		return MPC_ENOMEM;
	x->pre_t0 = t0;
	x->pre_n = n;
	rv = engine_fuel_triples(x->fuel, t0, n, x->pre_a, x->pre_b, x->pre_c);
	if (x->ledger != NULL)
		engine_ledger_produced(x->ledger, n, now_ns() - start);
	return rv;
}

void engine_exec_clear(struct engine_exec *x)
{
	if (x->pre_a != NULL) {
		sodium_memzero(x->pre_a, x->pre_n * 8);
		sodium_memzero(x->pre_b, x->pre_n * 8);
		sodium_memzero(x->pre_c, x->pre_n * 8);
	}
	free(x->pre_a);
	free(x->pre_b);
	free(x->pre_c);
	x->pre_a = x->pre_b = x->pre_c = NULL;
	if (x->scratch != NULL) {
		sodium_memzero(x->scratch, EXEC_SLOTS * slot_words(x) * 8);
		free(x->scratch);
	}
	x->scratch = NULL;
}
