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
	{"reveal", ENGINE_OP_REVEAL, 1, 0},
};

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
		if (json_array_size(o) != (size_t)(2 + op_table[t].nsrc + op_table[t].konst +
						   (op_table[t].kind == ENGINE_OP_REVEAL)) ||
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
		if (op->b >= 0 && p->len[op->a] != p->len[op->b]) {
			mpc_errmsg_printf(errmsg, "program op %zu (%s): lengths %zu and %zu differ", i,
					  name, p->len[op->a], p->len[op->b]);
			goto err;
		}
		if (op_table[t].konst && parse_const(json_array_get(o, 3), &op->k) != 0) {
			mpc_errmsg_printf(errmsg, "program op %zu (%s): bad constant", i, name);
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
		p->len[op->dst] = op->kind == ENGINE_OP_DOT || op->kind == ENGINE_OP_SUM ? 1 : n;
		switch (op->kind) {
		case ENGINE_OP_MUL:
		case ENGINE_OP_SQUARE:
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
							   p->ops[q].kind == ENGINE_OP_REVEAL)) {
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

static int xchg_run(struct engine_exec *x, struct engine_mesh_send *s, int ns,
		    struct engine_mesh_recv *r, int nr)
{
	struct engine_mesh_send *sp[MPC_MAX_PARTIES];
	struct engine_mesh_recv *rp[MPC_MAX_PARTIES];
	int rv = 0;

	for (int k = 0; k < nr; k++) {
		r[k].session = x->wire_session;
		r[k].round = x->xchg;
		r[k].type = MSG_DATA;
		rp[k] = &r[k];
		if (rv == 0)
			rv = engine_mesh_post(x->mesh, &r[k]);
	}
	for (int k = 0; k < ns; k++) {
		s[k].session = x->wire_session;
		s[k].round = x->xchg;
		s[k].type = MSG_DATA;
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

static uint64_t *scratch_king(struct engine_exec *x, int k)
{
	/* layout: a b c (chunk each) | de (2 chunk) | pub (2 chunk) | king (2 chunk per peer) */
	return x->scratch + 7 * x->scratch_chunk + (size_t)k * 2 * x->scratch_chunk;
}

/* Opens n elements (n <= 2 chunk) through party 0. out and share may be the same array. */
static int open_king(struct engine_exec *x, uint64_t *out, const uint64_t *share, size_t n)
{
	struct engine_mesh_send s[MPC_MAX_PARTIES];
	struct engine_mesh_recv r[MPC_MAX_PARTIES];
	int np = x->n_parties, rv;

	memset(s, 0, sizeof s);
	memset(r, 0, sizeof r);
	if (x->party == 0) {
		for (int p = 1; p < np; p++) {
			r[p - 1].peer = p;
			r[p - 1].buf = scratch_king(x, p - 1);
			r[p - 1].len = n * 8;
		}
		rv = xchg_run(x, NULL, 0, r, np - 1);
		if (rv != 0)
			return rv;
		engine_ring_add(out, share, scratch_king(x, 0), n);
		for (int p = 2; p < np; p++)
			engine_ring_add(out, out, scratch_king(x, p - 1), n);
		for (int p = 1; p < np; p++) {
			s[p - 1].peer = p;
			s[p - 1].buf = out;
			s[p - 1].len = n * 8;
		}
		rv = xchg_run(x, s, np - 1, NULL, 0);
	} else {
		s[0].peer = 0;
		s[0].buf = share;
		s[0].len = n * 8;
		r[0].peer = 0;
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
			r[nr].buf = scratch_king(x, nr);
			r[nr].len = n * 8;
			nr++;
		}
		rv = xchg_run(x, NULL, 0, r, nr);
		if (rv == 0) {
			if (out != share)
				memcpy(out, share, n * 8);
			for (int k = 0; k < nr; k++)
				engine_ring_add(out, out, scratch_king(x, k), n);
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

/* Triples for the next c indices: pre-generated or derived now. */
static int fuel_triples(struct engine_exec *x, size_t c, uint64_t **a, uint64_t **b, uint64_t **cc)
{
	uint64_t t = x->cursor, t0 = now_ns();
	int rv;

	x->cursor += c;
	if (x->pre_a != NULL && t >= x->pre_t0 && t + c <= x->pre_t0 + x->pre_n) {
		*a = x->pre_a + (t - x->pre_t0);
		*b = x->pre_b + (t - x->pre_t0);
		*cc = x->pre_c + (t - x->pre_t0);
		return 0;
	}
	*a = x->scratch;
	*b = x->scratch + x->scratch_chunk;
	*cc = x->scratch + 2 * x->scratch_chunk;
	rv = engine_fuel_triples(x->fuel, t, c, *a, *b, *cc);
	fuel_count(x, c, t0);
	return rv;
}

static int scratch_ensure(struct engine_exec *x)
{
	size_t words;
	if (x->scratch != NULL)
		return 0;
	x->scratch_chunk = x->chunk;
	words = (7 + 2 * (size_t)(x->n_parties - 1)) * x->scratch_chunk;
	x->scratch = malloc(words * 8);
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
			  const uint64_t *in, size_t c)
{
	uint64_t *mask = x->scratch + 3 * x->scratch_chunk;
	uint64_t *base = x->scratch + 4 * x->scratch_chunk;
	int receiver = (int)(x->xchg % 3), rv;
	uint64_t t0 = now_ns();

	rv = engine_fuel_trunc(x->fuel, receiver, x->f, x->cursor, c, mask, base);
	fuel_count(x, c, t0);
	x->cursor += c;
	if (rv == 0)
		rv = engine_fixed_trunc(op, receiver, x->f, z, in, mask, base, c);
	return rv;
}

int engine_exec_op(struct engine_exec *x, const struct engine_op *op, struct engine_reg *regs)
{
	struct engine_reg *A = &regs[op->a], *B = op->b >= 0 ? &regs[op->b] : NULL;
	struct engine_reg *Z = &regs[op->dst];
	struct engine_opener opener = {x->party, x->n_parties, x, open_cb, open_to_cb};
	uint64_t *de, *pub, acc = 0;
	size_t n = A->n, outn = n;
	int rv;

	if (A->v == NULL || (B != NULL && B->v == NULL))
		return MPC_ESTATE;
	if ((rv = scratch_ensure(x)) != 0)
		return rv;
	de = x->scratch + 3 * x->scratch_chunk;
	pub = x->scratch + 5 * x->scratch_chunk;
	if (op->kind == ENGINE_OP_DOT || op->kind == ENGINE_OP_SUM)
		outn = 1;
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
	default: break;
	}
	for (size_t o = 0; o < n; o += x->chunk) {
		size_t c = n - o < x->chunk ? n - o : x->chunk;
		uint64_t *a, *b, *cc;

		switch (op->kind) {
		case ENGINE_OP_MUL:
		case ENGINE_OP_FMUL:
		case ENGINE_OP_DOT:
			if ((rv = fuel_triples(x, c, &a, &b, &cc)) != 0)
				return rv;
			engine_beaver_mul_open_shares(de, A->v + o, B->v + o, a, b, c);
			if ((rv = open_king(x, pub, de, 2 * c)) != 0)
				return rv;
			if (op->kind == ENGINE_OP_DOT) {
				acc += engine_beaver_dot_finish(pub, a, b, cc, x->party, c);
			} else {
				engine_beaver_mul_finish(Z->v + o, pub, a, b, cc, x->party, c);
				if (op->kind == ENGINE_OP_FMUL &&
				    (rv = do_trunc_chunk(x, &opener, Z->v + o, Z->v + o, c)) != 0)
					return rv;
			}
			x->mults += c;
			break;
		case ENGINE_OP_SQUARE: {
			uint64_t t0 = now_ns();
			a = x->scratch;
			cc = x->scratch + x->scratch_chunk;
			rv = engine_fuel_squares(x->fuel, x->cursor, c, a, cc);
			fuel_count(x, c, t0);
			x->cursor += c;
			if (rv != 0)
				return rv;
			engine_beaver_square_open_shares(de, A->v + o, a, c);
			if ((rv = open_king(x, pub, de, c)) != 0)
				return rv;
			engine_beaver_square_finish(Z->v + o, pub, a, cc, x->party, c);
			x->mults += c;
			break;
		}
		case ENGINE_OP_TRUNC:
			if ((rv = do_trunc_chunk(x, &opener, Z->v + o, A->v + o, c)) != 0)
				return rv;
			break;
		case ENGINE_OP_OPEN:
			if ((rv = open_king(x, Z->v + o, A->v + o, c)) != 0)
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
	if (op->kind == ENGINE_OP_DOT)
		Z->v[0] = acc;
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
		sodium_memzero(x->scratch,
			       (7 + 2 * (size_t)(x->n_parties - 1)) * x->scratch_chunk * 8);
		free(x->scratch);
	}
	x->scratch = NULL;
}
