/* Translation of a compiled job into tasks (one engine program each: per-segment MAPs, COMBINEs), and the decoding of the opened values into results. */
#include "scheduler/sched_plan.h"

#include "common/conf.h"
#include "common/err.h"
#include "scheduler/sched_fsm.h"
#include "store/catalog.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 32

enum step_kind { STEP_DIV, STEP_MUL, STEP_ADD, STEP_SUB_FROM_PUB, STEP_SUB_PUB, STEP_NEG };

struct step {
	enum step_kind kind;
	double p; /* the public operand as a real */
};

/* One value a reveal sends: a public constant, or an opened secret plus a public tail. */
struct out_value {
	int is_public;
	double pub;	     /* is_public */
	int base;	     /* register opened (engine output "o<base>") */
	unsigned frac;	     /* of base */
	struct step steps[MAX_STEPS]; /* applied in order after decoding base */
	int n_steps;
	char sealed[24]; /* revealed to a client: the engine output of base */
};

struct out_reveal {
	const char *name;
	const char *to; /* recipient client; NULL: public */
	enum sched_ir_post post;
	int is_int; /* the revealed type is an integer: print integers */
	int vector;
	struct out_value v[3];
	int n_v;
};

struct reg_state {
	int secret;
	int64_t enc;   /* public value (encoding with frac bits) */
	char ename[24]; /* secret: engine register */
	size_t len;    /* secret: elements */
	unsigned frac;
	int cvec, cscal; /* >= 0: this vector is register cvec - scalar cscal (centered) */
};

/* One task of the job: a MAP over one segment of its table, or a COMBINE. */
struct plan_task {
	int ir_task;
	int map_ir_task;     /* a fused task: the MAP template run before ir_task; else -1 */
	int segment;	     /* MAP: index in the table's segment list; else -1 */
	uint64_t row0, rows; /* MAP: the segment's rows within the column */
	int64_t seg_id;	     /* MAP: the segment's id (segment_list[].id) */
	json_t *ops;	     /* engine ops */
	json_t *inputs;	     /* [{name, table, column, segment, n}] or [{name, n, task, key}] */
	json_t *deps;	     /* job task indices that must commit first */
	json_t *op_fuel;     /* triples of each op, while emitting */
	json_t *stores;	     /* [{column, key, n}]: values this task keeps for a store */
	uint64_t fuel;
};

struct sched_plan {
	const struct sched_ir *ir;
	struct plan_task *tasks;
	size_t n_tasks;
	struct plan_task *cur; /* the task being emitted */
	int cur_ir_task;
	uint64_t fuel; /* of all tasks */
	struct out_reveal *reveals;
	size_t n_reveals;
	int tmp;
};

void sched_errf(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static double pub_real(const struct reg_state *r)
{
	return ldexp((double)r->enc, -(int)r->frac);
}

static int64_t round_div(__int128 a, __int128 b)
{
	__int128 q;
	if (b < 0) {
		a = -a;
		b = -b;
	}
	q = a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
	return (int64_t)q;
}

static void emit(struct sched_plan *p, const char *op, const char *dst, const char *a,
		 const char *b, size_t n_fuel)
{
	json_t *o = json_pack("[s, s, s]", op, dst, a);
	if (b != NULL)
		json_array_append_new(o, json_string(b));
	json_array_append_new(p->cur->ops, o);
	json_array_append_new(p->cur->op_fuel, json_integer((json_int_t)n_fuel));
}

static void emit_const(struct sched_plan *p, const char *op, const char *dst, const char *a,
		       int64_t k)
{
	char num[32];
	snprintf(num, sizeof num, "%" PRId64, k);
	json_array_append_new(p->cur->ops, json_pack("[s, s, s, s]", op, dst, a, num));
	json_array_append_new(p->cur->op_fuel, json_integer(0));
}

static void tmp_name(struct sched_plan *p, char *out)
{
	snprintf(out, 24, "t%d", p->tmp++);
}

/* dst = a / 2^bits: one probabilistic truncation (engine/fixed.h), fuel n. */
static void emit_trunc(struct sched_plan *p, const char *dst, const char *a, size_t n,
		       unsigned bits)
{
	if (bits == 0) {
		emit_const(p, "mulc", dst, a, 1);
		return;
	}
	json_array_append_new(p->cur->ops, json_pack("[s, s, s, i]", "trunc", dst, a, (int)bits));
	json_array_append_new(p->cur->op_fuel, json_integer((json_int_t)n));
}

/*
 * dst = a * 2^imm / b for a secret a and a public non-zero b (encodings;
 * imm may be negative).
 * With L = floor(log2 |b|) and s = max(0, L - imm): v = trunc(a, s) (the
 * value truncated is a itself), then dst = trunc(v * c, q) with
 * c = round(2^(imm + s + q) / b) and q = 20 (fewer if c would not fit),
 * so the second truncation handles about |dst| * 2^q. Error: at most
 * 1 + |c| / 2^q <= 3 units plus a relative 2^-q from rounding c; failure
 * probability (|a| + 2^(q+1) |dst|) / 2^64 (docs/job-language.md).
 */
static int emit_div(struct sched_plan *p, const char *dst, const char *a, size_t n, int imm,
		    int64_t b)
{
	uint64_t mag = b < 0 ? -(uint64_t)b : (uint64_t)b;
	int L = 63 - __builtin_clzll(mag);
	int s = L > imm ? L - imm : 0, q = 20;
	char v[24], t[24];
	__int128 c;
	for (;;) {
		if (imm + s + q >= 0 && imm + s + q <= 125) {
			__int128 num = (__int128)1 << (imm + s + q), den = mag;
			c = (num + den / 2) / den;
			if (b < 0)
				c = -c;
			if (c < ((__int128)1 << 62) && c > -((__int128)1 << 62))
				break;
		}
		if (q == 0)
			return MPC_ERANGE;
		q--;
	}
	snprintf(v, sizeof v, "%s", a);
	if (s > 62)
		return MPC_ERANGE;
	if (s > 0) {
		tmp_name(p, v);
		emit_trunc(p, v, a, n, (unsigned)s);
	}
	tmp_name(p, t);
	emit_const(p, "mulc", t, v, (int64_t)c);
	emit_trunc(p, dst, t, n, (unsigned)q);
	return 0;
}

/* A secret operand of length 1 next to a vector of length n: bcast it (local). */
static const char *widen(struct sched_plan *p, const struct reg_state *r, size_t n, char *buf)
{
	if (r->len == n)
		return r->ename;
	tmp_name(p, buf);
	emit_const(p, "bcast", buf, r->ename, (int64_t)n);
	return buf;
}

static int column_rows(struct store_db *db, const char *table, uint64_t revision, int64_t *rows)
{
	json_t *t;
	int rv = store_catalog_table(db, table, revision, 0, &t);
	if (rv != 0)
		return rv;
	*rows = json_integer_value(json_object_get(t, "rows"));
	json_decref(t);
	return 0;
}

/* Walks down from reg through injective public steps; fills v (steps base-first). */
static void peel(const struct sched_ir *ir, const struct reg_state *rs, int reg, int task,
		 struct out_value *v)
{
	struct step rev[MAX_STEPS];
	int n = 0;
	for (;;) {
		const struct sched_ir_op *op = &ir->ops[ir->regs[reg].op];
		int a = op->a, b = op->b, next = -1;
		/* only within the task that opens it (a task input is a share) */
		if (n == MAX_STEPS || !rs[reg].secret || op->task != task)
			break;
		switch (op->code) {
		case SCHED_IR_DIV:
			if (rs[a].secret && !rs[b].secret && rs[b].enc != 0) {
				rev[n++] = (struct step){STEP_DIV, pub_real(&rs[b])};
				next = a;
			}
			break;
		case SCHED_IR_RESCALE:
			next = a;
			break;
		case SCHED_IR_NEG:
			rev[n++] = (struct step){STEP_NEG, 0};
			next = a;
			break;
		case SCHED_IR_MUL:
			if (rs[a].secret && !rs[b].secret && rs[b].enc != 0) {
				rev[n++] = (struct step){STEP_MUL, pub_real(&rs[b])};
				next = a;
			} else if (!rs[a].secret && rs[b].secret && rs[a].enc != 0) {
				rev[n++] = (struct step){STEP_MUL, pub_real(&rs[a])};
				next = b;
			}
			break;
		case SCHED_IR_ADD:
			if (rs[a].secret && !rs[b].secret) {
				rev[n++] = (struct step){STEP_ADD, pub_real(&rs[b])};
				next = a;
			} else if (!rs[a].secret && rs[b].secret) {
				rev[n++] = (struct step){STEP_ADD, pub_real(&rs[a])};
				next = b;
			}
			break;
		case SCHED_IR_SUB:
			if (rs[a].secret && !rs[b].secret) {
				rev[n++] = (struct step){STEP_SUB_PUB, pub_real(&rs[b])};
				next = a;
			} else if (!rs[a].secret && rs[b].secret) {
				rev[n++] = (struct step){STEP_SUB_FROM_PUB, pub_real(&rs[a])};
				next = b;
			}
			break;
		default: /* GATHER: the partials are summed in this task; open the sum */
			break;
		}
		if (next < 0)
			break;
		reg = next;
	}
	v->is_public = 0;
	v->base = reg;
	v->frac = rs[reg].frac;
	v->n_steps = n;
	for (int i = 0; i < n; i++)
		v->steps[i] = rev[n - 1 - i];
}

static int has_op_dst(json_t *ops, const char *dst)
{
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o)
	{
		if (strcmp(json_string_value(json_array_get(o, 1)), dst) == 0)
			return 1;
	}
	return 0;
}

/* Drops ops whose result nothing uses (e.g. the division after a value a
 * reveal opens before it) and sums the fuel of the rest. */
static void prune(struct plan_task *pt)
{
	size_t n = json_array_size(pt->ops);
	char *live = calloc(n + 1, 1);
	json_t *kept = json_array();
	if (live == NULL || kept == NULL) { /* keep everything */
		free(live);
		json_decref(kept);
		pt->fuel = 0;
		for (size_t i = 0; i < n; i++)
			pt->fuel += (uint64_t)json_integer_value(json_array_get(pt->op_fuel, i));
		return;
	}
	for (size_t i = n; i-- > 0;) {
		json_t *o = json_array_get(pt->ops, i);
		const char *kind = json_string_value(json_array_get(o, 0));
		const char *dst = json_string_value(json_array_get(o, 1));
		live[i] = strcmp(kind, "open") == 0 || strcmp(kind, "keep") == 0 ||
			  strcmp(kind, "reveal") == 0;
		for (size_t j = i + 1; !live[i] && j < n; j++) {
			json_t *u = json_array_get(pt->ops, j);
			for (size_t k = 2; live[j] && k < json_array_size(u) && k < 4; k++)
				if (json_is_string(json_array_get(u, k)) &&
				    strcmp(json_string_value(json_array_get(u, k)), dst) == 0 &&
				    !(k == 3 && (strcmp(json_string_value(json_array_get(u, 0)),
							"mulc") == 0 ||
						 strcmp(json_string_value(json_array_get(u, 0)),
							"addc") == 0 ||
						 strcmp(json_string_value(json_array_get(u, 0)),
							"reveal") == 0 ||
						 strcmp(json_string_value(json_array_get(u, 0)),
							"bcast") == 0)))
					live[i] = 1;
		}
	}
	pt->fuel = 0;
	for (size_t i = 0; i < n; i++)
		if (live[i]) {
			json_array_append(kept, json_array_get(pt->ops, i));
			pt->fuel += (uint64_t)json_integer_value(json_array_get(pt->op_fuel, i));
		}
	free(live);
	json_decref(pt->ops);
	pt->ops = kept;
}

static void plan_open(struct sched_plan *p, struct reg_state *rs, char *opened, int reg)
{
	char name[24];
	if (opened[reg])
		return;
	opened[reg] = 1;
	snprintf(name, sizeof name, "o%d", reg);
	emit(p, "open", name, rs[reg].ename, NULL, 0);
}

/* Emits one IR op into the current task (public ops are evaluated here). */
static int emit_op(struct sched_plan *p, struct reg_state *rs, char *opened, struct store_db *db,
		   uint64_t revision, const struct sched_ir_op *op, char *err, size_t cap)
{
	const struct sched_ir *ir = p->ir;
	struct reg_state *d = op->dst >= 0 ? &rs[op->dst] : NULL;
	struct reg_state *A = op->a >= 0 ? &rs[op->a] : NULL;
	struct reg_state *B = op->b >= 0 ? &rs[op->b] : NULL;
	char t[24];
	int rv = MPC_EINVAL;
	switch (op->code) {
	case SCHED_IR_CONST:
		d->enc = op->imm;
		break;
	case SCHED_IR_COUNT: {
		int64_t rows;
		if ((rv = column_rows(db, ir->tables[op->table].name, revision, &rows)) != 0) {
			sched_errf(err, cap, "table %s: %s", ir->tables[op->table].name,
			     mpc_strerror(rv));
			return rv;
		}
		d->enc = rows;
		break;
	}
	case SCHED_IR_LOAD: {
		const struct sched_ir_column *c = &ir->columns[op->column];
		snprintf(d->ename, sizeof d->ename, "c%d", op->column);
		d->len = (size_t)p->cur->rows;
		for (size_t k = 0; k < json_array_size(p->cur->inputs); k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(p->cur->inputs, k),
								     "name")),
				   d->ename) == 0)
				return 0;
		json_array_append_new(p->cur->inputs,
				      json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", d->ename, "table",
						ir->tables[c->table].name, "column", c->name, "segment",
						(json_int_t)p->cur->seg_id, "n",
						(json_int_t)p->cur->rows));
		break;
	}
	case SCHED_IR_ADD:
	case SCHED_IR_SUB:
		if (!A->secret && !B->secret) {
			d->enc = op->code == SCHED_IR_ADD ? A->enc + B->enc : A->enc - B->enc;
		} else if (A->secret && B->secret) {
			/* a secret scalar with a vector: broadcast (a second stage) */
			char wa[24], wb[24];
			size_t len = A->len > B->len ? A->len : B->len;
			emit(p, op->code == SCHED_IR_ADD ? "add" : "sub", d->ename,
			     widen(p, A, len, wa), widen(p, B, len, wb), 0);
			d->len = len;
			/* x - mean(x): sum and sumsq below read x and the mean
			 * instead, and prune() drops the bcast and the vector */
			if (op->code == SCHED_IR_SUB && A->len == len && len > 1 && B->len == 1) {
				d->cvec = op->a;
				d->cscal = op->b;
			}
		} else if (A->secret) {
			emit_const(p, "addc", d->ename, A->ename,
				   op->code == SCHED_IR_ADD ? B->enc : -B->enc);
			d->len = A->len;
		} else if (op->code == SCHED_IR_ADD) {
			emit_const(p, "addc", d->ename, B->ename, A->enc);
			d->len = B->len;
		} else {
			tmp_name(p, t);
			emit(p, "neg", t, B->ename, NULL, 0);
			emit_const(p, "addc", d->ename, t, A->enc);
			d->len = B->len;
		}
		break;
	case SCHED_IR_NEG:
		if (!A->secret)
			d->enc = -A->enc;
		else {
			emit(p, "neg", d->ename, A->ename, NULL, 0);
			d->len = A->len;
		}
		break;
	case SCHED_IR_MUL:
		if (!A->secret && !B->secret) {
			d->enc = A->enc * B->enc;
		} else if (A->secret && B->secret) {
			char wa[24], wb[24];
			size_t len = A->len > B->len ? A->len : B->len;
			emit(p, "mul", d->ename, widen(p, A, len, wa), widen(p, B, len, wb),
			     len);
			d->len = len;
		} else {
			struct reg_state *S = A->secret ? A : B, *P = A->secret ? B : A;
			emit_const(p, "mulc", d->ename, S->ename, P->enc);
			d->len = S->len;
		}
		break;
	case SCHED_IR_DIV:
		if (B->secret) {
			sched_errf(err, cap, "%u:%u: division by a secret value", op->line, op->col);
			return rv;
		}
		if (B->enc == 0) {
			sched_errf(err, cap, "%u:%u: division by zero (the divisor is 0 at run time)",
			     op->line, op->col);
			return rv;
		}
		if (!A->secret) {
			d->enc = op->imm >= 0
					 ? round_div((__int128)A->enc << op->imm, B->enc)
					 : round_div(A->enc, (__int128)B->enc << -op->imm);
		} else {
			if (emit_div(p, d->ename, A->ename, A->len, (int)op->imm,
				     B->enc) != 0) {
				sched_errf(err, cap, "%u:%u: division: the scaled divisor is out of "
					       "range", op->line, op->col);
				rv = MPC_ERANGE;
				return rv;
			}
			d->len = A->len;
		}
		break;
	case SCHED_IR_RESCALE:
		if (!A->secret)
			d->enc = (int64_t)((uint64_t)A->enc << op->imm);
		else {
			emit_const(p, "mulc", d->ename, A->ename, (int64_t)1 << op->imm);
			d->len = A->len;
		}
		break;
	case SCHED_IR_TRUNC:
		if (!A->secret)
			d->enc = round_div(A->enc, (__int128)1 << op->imm);
		else {
			emit_trunc(p, d->ename, A->ename, A->len, (unsigned)op->imm);
			d->len = A->len;
		}
		break;
	case SCHED_IR_SUM:
		if (A->cvec >= 0) { /* Σ(x - m) = Σx - n·m, exact in the ring */
			char u[24];
			tmp_name(p, t);
			tmp_name(p, u);
			emit(p, "sum", t, rs[A->cvec].ename, NULL, 0);
			emit_const(p, "mulc", u, rs[A->cscal].ename, (int64_t)A->len);
			emit(p, "sub", d->ename, t, u, 0);
		} else {
			emit(p, "sum", d->ename, A->ename, NULL, 0);
		}
		d->len = 1;
		break;
	case SCHED_IR_DOT:
		/* Σx·x (var's centered pass): square pairs open n values, not 2n;
		 * Σ(x - m)² centered in the engine, without the vector x - m */
		if (op->a == op->b && A->cvec >= 0)
			emit(p, "sumsq", d->ename, rs[A->cvec].ename, rs[A->cscal].ename, A->len);
		else if (op->a == op->b)
			emit(p, "sumsq", d->ename, A->ename, NULL, A->len);
		else
			emit(p, "dot", d->ename, A->ename, B->ename, A->len);
		d->len = 1;
		break;
	case SCHED_IR_GATHER:
		/* the task's inputs summed the segments' partials (plan_inputs) */
		snprintf(d->ename, sizeof d->ename, "%s", A->ename);
		d->len = A->len;
		d->enc = A->enc;
		break;
	case SCHED_IR_REVEAL: {
		const struct sched_ir_reveal *rv_ = &ir->reveals[op->reveal];
		struct out_reveal *o = &p->reveals[op->reveal];
		int regs[3] = {op->a, op->b, op->c};
		o->name = rv_->name;
		o->to = rv_->recipient;
		o->post = rv_->post;
		o->is_int = rv_->type.num == SCHED_IR_INT && rv_->post == SCHED_IR_POST_VALUE;
		o->n_v = rv_->post == SCHED_IR_POST_CORR ? 3 : 1;
		for (int k = 0; k < o->n_v; k++) {
			struct reg_state *R = &rs[regs[k]];
			if (!R->secret) {
				o->v[k].is_public = 1;
				o->v[k].pub = pub_real(R);
				o->v[k].frac = R->frac;
				o->v[k].base = regs[k];
				continue;
			}
			peel(ir, rs, regs[k], p->cur_ir_task, &o->v[k]);
			if (rs[o->v[k].base].len > 1)
				o->vector = 1;
			if (o->to == NULL) {
				plan_open(p, rs, opened, o->v[k].base);
				continue;
			}
			/* re-randomised and sealed per party to the recipient: only
			 * it can add the shares up (docs/engine.md, reveal) */
			snprintf(o->v[k].sealed, sizeof o->v[k].sealed, "s%d_%d", op->reveal, k);
			emit(p, "reveal", o->v[k].sealed, rs[o->v[k].base].ename, o->to,
			     rs[o->v[k].base].len);
		}
		break;
	}
	case SCHED_IR_STORE:
		/* each party keeps its shares sealed to itself; the job's last
		 * task_commit moves them into the table (sched_store.c) */
		snprintf(t, sizeof t, "st%d", op->column);
		emit(p, "keep", t, A->ename, NULL, 0);
		json_array_append_new(p->cur->stores,
				      json_pack("{s:i, s:s, s:I, s:i}", "column", op->column, "key",
						t, "n", (json_int_t)A->len, "segment",
						ir->tasks[p->cur_ir_task].kind == SCHED_IR_MAP
						    ? p->cur->segment
						    : -1));
		break;
	}
	return 0;
}

/* The MAP template to run inside COMBINE template c, or -1. A stage whose
 * one MAP covers a single segment needs no separate MAP task: the fused
 * task computes the partials and combines them in one session, without
 * keeping them (one lease, one round of task_done, one commit less). Only
 * when that MAP is c's only MAP and nothing but c reads it. */
static int fusable_map(const struct sched_ir *ir, size_t c, const int *count)
{
	int m = -1;
	if (ir->tasks[c].kind != SCHED_IR_COMBINE)
		return -1;
	for (size_t k = 0; k < ir->tasks[c].n_deps; k++) {
		int d = ir->tasks[c].deps[k];
		if (ir->tasks[d].kind != SCHED_IR_MAP || ir->tasks[d].stage != ir->tasks[c].stage)
			continue;
		if (m >= 0 || count[d] != 1)
			return -1;
		m = d;
	}
	for (size_t u = 0; m >= 0 && u < ir->n_tasks; u++)
		for (size_t k = 0; u != c && k < ir->tasks[u].n_deps; k++)
			if (ir->tasks[u].deps[k] == m)
				return -1;
	return m;
}

/* Appends the plan tasks of template t's dependencies to pt->deps, but
 * not those of template skip (fused into the same task) nor twice. */
static void add_deps(struct plan_task *pt, const struct sched_ir *ir, int t, int skip,
		     const int *first, const int *count)
{
	for (size_t k = 0; k < ir->tasks[t].n_deps; k++) {
		int d = ir->tasks[t].deps[k];
		if (d == skip)
			continue;
		for (int j = 0; j < count[d]; j++) {
			json_int_t dep = first[d] + j;
			size_t i;
			json_t *o;
			int dup = 0;
			json_array_foreach(pt->deps, i, o) dup |= json_integer_value(o) == dep;
			if (!dup)
				json_array_append_new(pt->deps, json_integer(dep));
		}
	}
}

/* Emits template t into p->cur: its secret inputs (shares kept by the tasks
 * that computed them, except registers of template local, which runs in
 * the same task before it), then its ops. */
static int emit_template(struct sched_plan *p, struct reg_state *rs, char *opened,
			 struct store_db *db, uint64_t revision, int t, int local, const int *first,
			 const int *count, char *err, size_t cap)
{
	const struct sched_ir *ir = p->ir;
	const struct sched_ir_task *it = &ir->tasks[t];
	struct plan_task *pt = p->cur;
	int rv;
	p->cur_ir_task = t;
	for (size_t k = 0; k < it->n_inputs; k++) {
		int r = it->inputs[k], src = ir->ops[ir->regs[r].op].task;
		char name[24], acc[24], key[24];
		if (!rs[r].secret || src < 0 || src == local)
			continue;
		snprintf(key, sizeof key, "k%d", r);
		for (int j = 0; j < count[src]; j++) {
			snprintf(name, sizeof name, "p%d_%d", r, j);
			json_array_append_new(pt->inputs,
					      json_pack("{s:s, s:i, s:i, s:s}", "name", name, "n",
							1, "task", first[src] + j, "key", key));
			/* a MAP's partials of all segments are summed */
			if (j == 0) {
				snprintf(acc, sizeof acc, "%s", name);
			} else {
				char sum[24];
				snprintf(sum, sizeof sum, "g%d_%d", r, j);
				emit(p, "add", sum, acc, name, 0);
				snprintf(acc, sizeof acc, "%s", sum);
			}
		}
		snprintf(rs[r].ename, sizeof rs[r].ename, "%s", acc);
		rs[r].len = 1;
		rs[r].cvec = rs[r].cscal = -1;
	}
	for (size_t k = 0; k < it->n_ops; k++)
		if ((rv = emit_op(p, rs, opened, db, revision, &ir->ops[it->ops[k]], err, cap)) !=
		    0)
			return rv;
	return 0;
}

static int plan_build(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
		      const char *file, int fuse, struct sched_plan **out, char *err, size_t cap)
{
	struct sched_plan *p = calloc(1, sizeof *p);
	struct reg_state *rs = calloc(ir->n_regs + 1, sizeof *rs);
	char *opened = calloc(ir->n_regs + 1, 1);
	int *first = NULL, *count = NULL, *into = NULL, rv = MPC_EINVAL;
	json_t **segs = NULL;

	*out = NULL;
	if (p == NULL || rs == NULL || opened == NULL) {
		rv = MPC_ENOMEM;
		goto fail;
	}
	p->ir = ir;
	p->reveals = calloc(ir->n_reveals + 1, sizeof *p->reveals);
	p->n_reveals = ir->n_reveals;
	for (size_t i = 0; i < ir->n_regs; i++) {
		rs[i].secret = ir->regs[i].type.secrecy == SCHED_IR_SECRET;
		rs[i].frac = ir->regs[i].type.frac_bits;
		rs[i].cvec = rs[i].cscal = -1;
		snprintf(rs[i].ename, sizeof rs[i].ename, "r%zu", i);
	}
	/* the public prologue */
	for (size_t i = 0; i < ir->n_ops; i++)
		if (ir->ops[i].task < 0 &&
		    (rv = emit_op(p, rs, opened, db, revision, &ir->ops[i], err, cap)) != 0)
			goto fail;
	/* job tasks: one per segment of a MAP's table, one per COMBINE */
	first = calloc(ir->n_tasks + 1, sizeof *first);
	count = calloc(ir->n_tasks + 1, sizeof *count);
	into = calloc(ir->n_tasks + 1, sizeof *into);
	segs = calloc(ir->n_tasks + 1, sizeof *segs);
	if (first == NULL || count == NULL || into == NULL || segs == NULL) {
		rv = MPC_ENOMEM;
		goto fail;
	}
	for (size_t t = 0; t < ir->n_tasks; t++) {
		count[t] = 1;
		into[t] = -1;
		if (ir->tasks[t].kind == SCHED_IR_MAP) {
			const char *tn = ir->tables[ir->tasks[t].table].name;
			json_t *tbl;
			if ((rv = store_catalog_table(db, tn, revision, 1, &tbl)) != 0) {
				sched_errf(err, cap, "table %s: %s", tn, mpc_strerror(rv));
				goto fail;
			}
			segs[t] = json_incref(json_object_get(tbl, "segment_list"));
			json_decref(tbl);
			count[t] = (int)json_array_size(segs[t]);
			if (count[t] == 0) {
				sched_errf(err, cap, "table %s is empty", tn);
				rv = MPC_EINVAL;
				goto fail;
			}
		}
	}
	/* a MAP over one segment runs inside its stage's COMBINE (fused) */
	for (size_t t = 0; fuse && t < ir->n_tasks; t++) {
		int m = fusable_map(ir, t, count);
		if (m >= 0) {
			into[m] = (int)t;
			count[m] = 0;
		}
	}
	for (size_t t = 0; t < ir->n_tasks; t++) {
		first[t] = (int)p->n_tasks;
		p->n_tasks += (size_t)count[t];
	}
	for (size_t t = 0; t < ir->n_tasks; t++)
		if (into[t] >= 0)
			first[t] = first[into[t]];
	p->tasks = calloc(p->n_tasks + 1, sizeof *p->tasks);
	if (p->tasks == NULL) {
		rv = MPC_ENOMEM;
		goto fail;
	}
	for (size_t t = 0; t < ir->n_tasks; t++) {
		int m = -1; /* the MAP fused into this COMBINE */
		uint64_t row0 = 0;
		for (size_t u = 0; u < ir->n_tasks; u++)
			if (into[u] == (int)t)
				m = (int)u;
		for (int i = 0; i < count[t]; i++) {
			struct plan_task *pt = &p->tasks[first[t] + i];
			int seg_of = m >= 0 ? m : (int)t; /* the template whose segment it reads */
			pt->ir_task = (int)t;
			pt->map_ir_task = m;
			pt->segment = ir->tasks[seg_of].kind == SCHED_IR_MAP ? i : -1;
			if (ir->tasks[seg_of].kind == SCHED_IR_MAP) {
				pt->row0 = row0;
				json_t *seg = json_array_get(segs[seg_of], (size_t)i);
				pt->rows = (uint64_t)json_integer_value(json_object_get(seg, "rows"));
				pt->seg_id = json_integer_value(json_object_get(seg, "id"));
				row0 += pt->rows;
			}
			pt->ops = json_array();
			pt->op_fuel = json_array();
			pt->inputs = json_array();
			pt->deps = json_array();
			pt->stores = json_array();
			p->cur = pt;
			memset(opened, 0, ir->n_regs + 1);
			if (m >= 0)
				add_deps(pt, ir, m, (int)t, first, count);
			add_deps(pt, ir, (int)t, m, first, count);
			if (m >= 0 && (rv = emit_template(p, rs, opened, db, revision, m, (int)t,
							  first, count, err, cap)) != 0)
				goto fail;
			if ((rv = emit_template(p, rs, opened, db, revision, (int)t, m, first,
						count, err, cap)) != 0)
				goto fail;
			/* outputs: this party's shares of what later tasks read */
			for (size_t u = 0; u < ir->n_tasks; u++)
				for (size_t k = 0;
				     u != t && (int)u != m && k < ir->tasks[u].n_inputs; k++) {
					int r = ir->tasks[u].inputs[k];
					int src = ir->ops[ir->regs[r].op].task;
					char key[32];
					if (!rs[r].secret || (src != (int)t && src != m))
						continue;
					snprintf(key, sizeof key, "k%d", r);
					if (!has_op_dst(pt->ops, key))
						emit(p, "keep", key, rs[r].ename, NULL, 0);
				}
			prune(pt);
			if (json_array_size(pt->ops) == 0)
				emit(p, "sum", "unused", json_string_value(json_object_get(
								 json_array_get(pt->inputs, 0), "name")),
				     NULL, 0);
			p->fuel += pt->fuel;
			json_decref(pt->op_fuel);
			pt->op_fuel = NULL;
		}
	}
	p->cur = NULL;
	for (size_t t = 0; t < ir->n_tasks; t++)
		json_decref(segs[t]);
	free(segs);
	free(first);
	free(count);
	free(into);
	free(rs);
	free(opened);
	*out = p;
	return 0;
fail:
	for (size_t t = 0; segs != NULL && t < ir->n_tasks; t++)
		json_decref(segs[t]);
	free(segs);
	free(first);
	free(count);
	free(into);
	free(rs);
	free(opened);
	sched_plan_free(p);
	/* messages located as "LINE:COL: ..." get the file in front, as the compiler's */
	if (file != NULL && cap > 0 && err[0] >= '0' && err[0] <= '9') {
		size_t fl = strlen(file), el = strnlen(err, cap - 1);
		if (fl + 1 + el < cap) {
			memmove(err + fl + 1, err, el + 1);
			memcpy(err, file, fl);
			err[fl] = ':';
		}
	}
	return rv == 0 ? MPC_EINVAL : rv;
}

int sched_plan_build(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
		     const char *file, struct sched_plan **out, char *err, size_t cap)
{
	return plan_build(ir, db, revision, file, 1, out, err, cap);
}

int sched_plan_build_job(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
			 const char *file, size_t n_tasks, struct sched_plan **out, char *err,
			 size_t cap)
{
	int rv = plan_build(ir, db, revision, file, 1, out, err, cap);
	if (rv == 0 && sched_plan_n_tasks(*out) != n_tasks) { /* submitted before the fusion */
		sched_plan_free(*out);
		rv = plan_build(ir, db, revision, file, 0, out, err, cap);
	}
	return rv;
}

void sched_plan_free(struct sched_plan *p)
{
	if (p == NULL)
		return;
	for (size_t k = 0; p->tasks != NULL && k < p->n_tasks; k++) {
		json_decref(p->tasks[k].ops);
		json_decref(p->tasks[k].inputs);
		json_decref(p->tasks[k].deps);
		json_decref(p->tasks[k].op_fuel);
		json_decref(p->tasks[k].stores);
	}
	free(p->tasks);
	free(p->reveals);
	free(p);
}

uint64_t sched_plan_fuel(const struct sched_plan *p)
{
	return p->fuel;
}

size_t sched_plan_n_tasks(const struct sched_plan *p)
{
	return p->n_tasks;
}

json_t *sched_plan_task_ops(const struct sched_plan *p, size_t k)
{
	return k < p->n_tasks ? p->tasks[k].ops : NULL;
}

json_t *sched_plan_tasks_json(const struct sched_plan *p)
{
	json_t *arr = json_array();
	for (size_t k = 0; k < p->n_tasks; k++) {
		const struct plan_task *t = &p->tasks[k];
		const struct sched_ir_task *it =
		    &p->ir->tasks[t->map_ir_task >= 0 ? t->map_ir_task : t->ir_task];
		/* deps copied: the plan may be cached (sched_plancache.h) and
		 * shared by threads, the record is changed by apply */
		json_t *o = json_pack(
		    "{s:I, s:s, s:i, s:o, s:I, s:s, s:i, s:i}", "task", (json_int_t)k, "kind",
		    it->kind == SCHED_IR_MAP ? "map" : "combine", "stage", (int)it->stage, "deps",
		    json_deep_copy(t->deps), "fuel", (json_int_t)t->fuel, "state", "PENDING",
		    "attempts", 0, "ir_task", t->ir_task);
		if (it->kind == SCHED_IR_MAP) {
			json_object_set_new(o, "table", json_string(p->ir->tables[it->table].name));
			json_object_set_new(o, "segment", json_integer(t->segment));
			json_object_set_new(o, "rows", json_integer((json_int_t)t->rows));
		}
		if (t->map_ir_task >= 0)
			json_object_set_new(o, "fused", json_true());
		json_array_append_new(arr, o);
	}
	return arr;
}

int sched_plan_task_inputs(const struct sched_plan *p, size_t k, struct store_db *db,
			   uint64_t revision, const uint8_t *box_pk, json_t *job, int party,
			   json_t **out, char *err, size_t cap)
{
	json_t *arr = json_array(), *in;
	size_t i;
	(void)box_pk;
	json_array_foreach(p->tasks[k].inputs, i, in)
	{
		const char *table = json_string_value(json_object_get(in, "table"));
		json_int_t n = json_integer_value(json_object_get(in, "n"));
		if (table != NULL) {
			/* the engine reads this segment's shares from the store
			 * itself (engine/session.c): no copy through the spec */
			json_array_append_new(arr, json_pack("{s:O, s:I, s:s, s:O, s:O, s:I}",
							     "name", json_object_get(in, "name"),
							     "n", n, "table", table, "column",
							     json_object_get(in, "column"), "segment",
							     json_object_get(in, "segment"), "revision",
							     (json_int_t)revision));
			continue;
		}
		/* a share kept by an earlier task, sealed to this party by its engine */
		json_int_t src = json_integer_value(json_object_get(in, "task"));
		const char *key = json_string_value(json_object_get(in, "key"));
		json_t *t = json_array_get(json_object_get(job, "tasks"), (size_t)src);
		json_t *kept = NULL;
		if (t != NULL &&
		    strcmp(json_string_value(json_object_get(t, "state")) ?: "", "COMMITTED") == 0)
			kept = sched_task_shares(
				db, (uint64_t)json_integer_value(json_object_get(job, "id")), src,
				json_integer_value(json_object_get(t, "committed_attempt")), party);
		const char *sealed = json_string_value(json_object_get(kept, key));
		if (sealed == NULL) {
			sched_errf(err, cap, "task %" PRId64 " has no committed share %s for party %d",
			     (int64_t)src, key ? key : "?", party);
			json_decref(kept);
			json_decref(arr);
			return MPC_ESTATE;
		}
		json_array_append_new(arr, json_pack("{s:O, s:I, s:s}", "name",
						     json_object_get(in, "name"), "n", n, "sealed",
						     sealed));
		json_decref(kept);
	}
	*out = arr;
	return 0;
}

static double apply_steps(const struct out_value *v, double x)
{
	for (int i = 0; i < v->n_steps; i++) {
		const struct step *s = &v->steps[i];
		switch (s->kind) {
		case STEP_DIV: x /= s->p; break;
		case STEP_MUL: x *= s->p; break;
		case STEP_ADD: x += s->p; break;
		case STEP_SUB_PUB: x -= s->p; break;
		case STEP_SUB_FROM_PUB: x = s->p - x; break;
		case STEP_NEG: x = -x; break;
		}
	}
	return x;
}

/* Element k of value v as a real (and *exact as int64 when no step applies). */
static int value_at(const struct out_value *v, json_t *outputs, size_t k, double *x, int64_t *exact,
		    size_t *n)
{
	char name[24];
	json_t *vals;
	const char *s;
	if (v->is_public) {
		*x = v->pub;
		*exact = (int64_t)llround(v->pub);
		*n = 1;
		return 0;
	}
	snprintf(name, sizeof name, "o%d", v->base);
	vals = json_object_get(json_object_get(outputs, name), "values");
	*n = json_array_size(vals);
	s = json_string_value(json_array_get(vals, k));
	if (s == NULL)
		return MPC_EPROTO;
	*exact = strtoll(s, NULL, 10);
	*x = apply_steps(v, ldexp((double)*exact, -(int)v->frac));
	return 0;
}

/* The public outputs of all tasks as one object; a value opened by every
 * segment's MAP (a revealed vector) is concatenated in segment order. */
static json_t *merge_outputs(json_t *task_outputs)
{
	json_t *all = json_object(), *o, *v;
	size_t i;
	const char *k;
	json_array_foreach(task_outputs, i, o)
	{
		json_object_foreach(o, k, v)
		{
			json_t *have = json_object_get(all, k);
			if (have == NULL)
				json_object_set_new(all, k, json_pack("{s:O}", "values",
								      json_object_get(v, "values")));
			else
				json_array_extend(json_object_get(have, "values"),
						  json_object_get(v, "values"));
		}
	}
	return all;
}

int sched_plan_check_recipients(const struct sched_ir *ir, const struct mpc_cluster *c,
				const char *file, char *err, size_t cap)
{
	for (size_t i = 0; i < ir->n_ops; i++) {
		const struct sched_ir_op *op = &ir->ops[i];
		const char *to;
		const struct mpc_client_info *ci;
		if (op->code != SCHED_IR_REVEAL || (to = ir->reveals[op->reveal].recipient) == NULL)
			continue;
		ci = mpc_cluster_client(c, to);
		if (ci == NULL || !(ci->rights & MPC_RIGHT_OUTPUT)) {
			sched_errf(err, cap, "%s:%u:%u: reveal %s to %s: %s", file ? file : "job.mpc",
			     op->line, op->col, ir->reveals[op->reveal].name, to,
			     ci == NULL ? "no such client in cluster.conf"
					: "the client lacks the 'output' right");
			return MPC_EINVAL;
		}
	}
	return 0;
}

static const char *const step_names[] = {
    [STEP_DIV] = "div",         [STEP_MUL] = "mul",
    [STEP_ADD] = "add",         [STEP_SUB_FROM_PUB] = "sub_from_pub",
    [STEP_SUB_PUB] = "sub_pub", [STEP_NEG] = "neg"};

/* A value revealed to a client: the public steps and, per task that revealed
 * a part of it (segment order), every party's sealed shares. */
static json_t *sealed_value(const struct out_value *v, json_t *task_sealed)
{
	json_t *steps = json_array(), *parts = json_array(), *ts, *sp, *o;
	size_t i;
	const char *party;
	for (int k = 0; k < v->n_steps; k++)
		json_array_append_new(
		    steps, json_pack("[s, f]", step_names[v->steps[k].kind], v->steps[k].p));
	json_array_foreach(task_sealed, i, ts)
	{
		json_t *part = NULL;
		json_object_foreach(ts, party, sp)
		{
			o = json_object_get(sp, v->sealed);
			if (o == NULL)
				continue;
			if (part == NULL)
				part = json_pack("{s:O, s:{}}", "n", json_object_get(o, "n"),
						 "sealed");
			json_object_set(json_object_get(part, "sealed"), party,
					json_object_get(o, "sealed"));
		}
		if (part != NULL)
			json_array_append_new(parts, part);
	}
	return json_pack("{s:i, s:o, s:o}", "frac", (int)v->frac, "steps", steps, "parts", parts);
}

static json_t *private_result(const struct out_reveal *o, json_t *task_sealed)
{
	static const char *const posts[] = {[SCHED_IR_POST_VALUE] = "value",
					    [SCHED_IR_POST_SQRT] = "sqrt",
					    [SCHED_IR_POST_CORR] = "corr"};
	json_t *vals = json_array();
	for (int j = 0; j < o->n_v; j++)
		json_array_append_new(vals, o->v[j].is_public
						? json_pack("{s:f}", "public", o->v[j].pub)
						: sealed_value(&o->v[j], task_sealed));
	return json_pack("{s:s, s:s, s:b, s:b, s:o}", "to", o->to, "post", posts[o->post], "int",
			 o->is_int, "vector", o->vector, "values", vals);
}

int sched_plan_results(const struct sched_plan *p, json_t *task_outputs, json_t *task_sealed,
		       json_t **out, char *err, size_t cap)
{
	json_t *res = json_object(), *outputs = merge_outputs(task_outputs);
	for (size_t i = 0; i < p->n_reveals; i++) {
		const struct out_reveal *o = &p->reveals[i];
		size_t n = 1, m;
		json_t *arr = o->vector ? json_array() : NULL, *val = NULL;
		if (o->to != NULL) {
			json_decref(arr);
			json_object_set_new(res, o->name, private_result(o, task_sealed));
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			double x[3];
			int64_t ex[3];
			for (int j = 0; j < o->n_v; j++) {
				if (value_at(&o->v[j], outputs, o->vector ? k : 0, &x[j], &ex[j], &m) != 0) {
					sched_errf(err, cap, "reveal %s: the session has no value %zu", o->name,
					     k);
					json_decref(arr);
					json_decref(res);
					json_decref(outputs);
					return MPC_EPROTO;
				}
				if (j == 0)
					n = o->vector ? m : 1;
			}
			if (o->post == SCHED_IR_POST_SQRT)
				val = json_real(sqrt(x[0] > 0 ? x[0] : 0));
			else if (o->post == SCHED_IR_POST_CORR)
				val = json_real(x[1] * x[2] > 0 ? x[0] / sqrt(x[1] * x[2]) : NAN);
			else if (o->is_int && (o->v[0].is_public || o->v[0].n_steps == 0))
				val = json_integer(ex[0]);
			else if (o->is_int)
				val = json_integer((json_int_t)llround(x[0]));
			else
				val = json_real(x[0]);
			if (val == NULL)
				val = json_null(); /* NaN */
			if (arr != NULL)
				json_array_append_new(arr, val);
		}
		json_object_set_new(res, o->name, arr != NULL ? arr : val);
	}
	json_decref(outputs);
	*out = res;
	return 0;
}

/* The group of table t in stores (created in order of first store). Borrowed. */
static json_t *store_group(const struct sched_ir *ir, json_t *stores, int column)
{
	const struct sched_ir_column *c = &ir->columns[column];
	const char *table = ir->tables[c->table].name;
	json_t *g;
	size_t i;
	json_array_foreach(stores, i, g)
	{
		if (strcmp(json_string_value(json_object_get(g, "table")), table) == 0)
			return g;
	}
	g = json_pack("{s:s, s:b, s:[], s:[]}", "table", table, "vector", 0, "columns", "parts");
	json_array_append_new(stores, g);
	return g;
}

json_t *sched_plan_stores(const struct sched_plan *p)
{
	const struct sched_ir *ir = p->ir;
	json_t *stores = json_array();
	/* columns and source positions in program order (the STORE ops' order) */
	for (size_t i = 0; i < ir->n_ops; i++) {
		const struct sched_ir_op *op = &ir->ops[i];
		const struct sched_ir_column *c;
		json_t *g;
		if (op->code != SCHED_IR_STORE)
			continue;
		c = &ir->columns[op->column];
		g = store_group(ir, stores, op->column);
		if (json_object_get(g, "line") == NULL) {
			json_object_set_new(g, "line", json_integer(op->line));
			json_object_set_new(g, "col", json_integer(op->col));
		}
		json_array_append_new(json_object_get(g, "columns"),
				      json_pack("{s:s, s:s, s:I}", "name", c->name, "type",
						c->num == SCHED_IR_FIXED ? "fixed" : "int64", "frac",
						(json_int_t)(c->num == SCHED_IR_FIXED ? c->frac_bits
										      : 0)));
	}
	/* the pieces: a vector's per segment (MAP tasks), a scalar's whole */
	for (size_t k = 0; k < p->n_tasks; k++) {
		const struct plan_task *t = &p->tasks[k];
		json_t *s;
		size_t i;
		json_array_foreach(t->stores, i, s)
		{
			int column = (int)json_integer_value(json_object_get(s, "column"));
			json_t *g = store_group(ir, stores, column), *parts = json_object_get(g, "parts");
			int seg = (int)json_integer_value(json_object_get(s, "segment"));
			size_t at = seg >= 0 ? (size_t)seg : 0;
			json_t *part;
			if (seg >= 0)
				json_object_set_new(g, "vector", json_true());
			while (json_array_size(parts) <= at)
				json_array_append_new(parts, json_pack("{s:O, s:{}}", "n",
								       json_object_get(s, "n"), "cols"));
			part = json_array_get(parts, at);
			json_object_set_new(json_object_get(part, "cols"), ir->columns[column].name,
					    json_pack("{s:I, s:O}", "task", (json_int_t)k, "key",
						      json_object_get(s, "key")));
		}
	}
	return stores;
}
