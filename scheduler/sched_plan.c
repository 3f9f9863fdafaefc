/* Translation of a compiled job into one engine session, and the decoding of the opened values into results. */
#include "scheduler/sched_plan.h"

#include "common/err.h"
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
};

struct out_reveal {
	const char *name;
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
};

struct sched_plan {
	const struct sched_ir *ir;
	json_t *ops;
	json_t *inputs; /* [{name, table, column, n}] */
	uint64_t fuel;
	struct out_reveal *reveals;
	size_t n_reveals;
	int tmp;
};

static void errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t cap, const char *fmt, ...)
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
	json_array_append_new(p->ops, o);
	p->fuel += n_fuel;
}

static void emit_const(struct sched_plan *p, const char *op, const char *dst, const char *a,
		       int64_t k)
{
	char num[32];
	snprintf(num, sizeof num, "%" PRId64, k);
	json_array_append_new(p->ops, json_pack("[s, s, s, s]", op, dst, a, num));
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
	json_array_append_new(p->ops, json_pack("[s, s, s, i]", "trunc", dst, a, (int)bits));
	p->fuel += n;
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
static void peel(const struct sched_ir *ir, const struct reg_state *rs, int reg,
		 struct out_value *v)
{
	struct step rev[MAX_STEPS];
	int n = 0;
	for (;;) {
		const struct sched_ir_op *op = &ir->ops[ir->regs[reg].op];
		int a = op->a, b = op->b, next = -1;
		if (n == MAX_STEPS || !rs[reg].secret)
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
		case SCHED_IR_GATHER:
			next = a;
			break;
		default:
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

static void plan_open(struct sched_plan *p, struct reg_state *rs, char *opened, int reg)
{
	char name[24];
	if (opened[reg])
		return;
	opened[reg] = 1;
	snprintf(name, sizeof name, "o%d", reg);
	emit(p, "open", name, rs[reg].ename, NULL, 0);
}

int sched_plan_build(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
		     const char *file, struct sched_plan **out, char *err, size_t cap)
{
	struct sched_plan *p = calloc(1, sizeof *p);
	struct reg_state *rs = calloc(ir->n_regs + 1, sizeof *rs);
	char *opened = calloc(ir->n_regs + 1, 1);
	int rv = MPC_EINVAL;

	*out = NULL;
	if (p == NULL || rs == NULL || opened == NULL) {
		rv = MPC_ENOMEM;
		goto fail;
	}
	p->ir = ir;
	p->ops = json_array();
	p->inputs = json_array();
	p->reveals = calloc(ir->n_reveals + 1, sizeof *p->reveals);
	p->n_reveals = ir->n_reveals;
	for (size_t i = 0; i < ir->n_regs; i++) {
		rs[i].secret = ir->regs[i].type.secrecy == SCHED_IR_SECRET;
		rs[i].frac = ir->regs[i].type.frac_bits;
		snprintf(rs[i].ename, sizeof rs[i].ename, "r%zu", i);
	}
	for (size_t i = 0; i < ir->n_ops; i++) {
		const struct sched_ir_op *op = &ir->ops[i];
		struct reg_state *d = op->dst >= 0 ? &rs[op->dst] : NULL;
		struct reg_state *A = op->a >= 0 ? &rs[op->a] : NULL;
		struct reg_state *B = op->b >= 0 ? &rs[op->b] : NULL;
		char t[24];
		switch (op->code) {
		case SCHED_IR_CONST:
			d->enc = op->imm;
			break;
		case SCHED_IR_COUNT: {
			int64_t rows;
			if ((rv = column_rows(db, ir->tables[op->table].name, revision, &rows)) != 0) {
				errf(err, cap, "table %s: %s", ir->tables[op->table].name,
				     mpc_strerror(rv));
				goto fail;
			}
			d->enc = rows;
			break;
		}
		case SCHED_IR_LOAD: {
			const struct sched_ir_column *c = &ir->columns[op->column];
			int64_t rows;
			if ((rv = column_rows(db, ir->tables[c->table].name, revision, &rows)) != 0) {
				errf(err, cap, "table %s: %s", ir->tables[c->table].name,
				     mpc_strerror(rv));
				goto fail;
			}
			if (rows <= 0) {
				errf(err, cap, "table %s is empty", ir->tables[c->table].name);
				rv = MPC_EINVAL;
				goto fail;
			}
			snprintf(d->ename, sizeof d->ename, "c%d", op->column);
			d->len = (size_t)rows;
			{
				int dup = 0;
				for (size_t k = 0; k < json_array_size(p->inputs); k++)
					if (strcmp(json_string_value(json_object_get(
							   json_array_get(p->inputs, k), "name")),
						   d->ename) == 0)
						dup = 1;
				if (!dup)
					json_array_append_new(
						p->inputs,
						json_pack("{s:s, s:s, s:s, s:I}", "name", d->ename,
							  "table", ir->tables[c->table].name,
							  "column", c->name, "n", (json_int_t)rows));
			}
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
				errf(err, cap, "%u:%u: division by a secret value", op->line, op->col);
				goto fail;
			}
			if (B->enc == 0) {
				errf(err, cap, "%u:%u: division by zero (the divisor is 0 at run time)",
				     op->line, op->col);
				goto fail;
			}
			if (!A->secret) {
				d->enc = op->imm >= 0
						 ? round_div((__int128)A->enc << op->imm, B->enc)
						 : round_div(A->enc, (__int128)B->enc << -op->imm);
			} else {
				if (emit_div(p, d->ename, A->ename, A->len, (int)op->imm,
					     B->enc) != 0) {
					errf(err, cap, "%u:%u: division: the scaled divisor is out of "
						       "range", op->line, op->col);
					rv = MPC_ERANGE;
					goto fail;
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
			emit(p, "sum", d->ename, A->ename, NULL, 0);
			d->len = 1;
			break;
		case SCHED_IR_DOT:
			emit(p, "dot", d->ename, A->ename, B->ename, A->len);
			d->len = 1;
			break;
		case SCHED_IR_GATHER:
			/* one task covers every segment: the partial is already the total */
			snprintf(d->ename, sizeof d->ename, "%s", A->ename);
			d->len = A->len;
			d->enc = A->enc;
			break;
		case SCHED_IR_REVEAL: {
			const struct sched_ir_reveal *rv_ = &ir->reveals[op->reveal];
			struct out_reveal *o = &p->reveals[op->reveal];
			int regs[3] = {op->a, op->b, op->c};
			if (rv_->recipient != NULL) {
				errf(err, cap, "%u:%u: reveal to a client (%s) is not supported by the "
					       "scheduler yet; reveal to public", op->line, op->col,
				     rv_->recipient);
				goto fail;
			}
			o->name = rv_->name;
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
				peel(ir, rs, regs[k], &o->v[k]);
				if (rs[o->v[k].base].len > 1)
					o->vector = 1;
				plan_open(p, rs, opened, o->v[k].base);
			}
			break;
		}
		case SCHED_IR_STORE:
			errf(err, cap, "%u:%u: store is not supported by the scheduler yet", op->line,
			     op->col);
			goto fail;
		}
	}
	free(rs);
	free(opened);
	*out = p;
	return 0;
fail:
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

void sched_plan_free(struct sched_plan *p)
{
	if (p == NULL)
		return;
	json_decref(p->ops);
	json_decref(p->inputs);
	free(p->reveals);
	free(p);
}

uint64_t sched_plan_fuel(const struct sched_plan *p)
{
	return p->fuel;
}

json_t *sched_plan_ops(const struct sched_plan *p)
{
	return p->ops;
}

int sched_plan_inputs(const struct sched_plan *p, struct store_db *db, uint64_t revision,
		      const uint8_t *box_pk, json_t **out, char *err, size_t cap)
{
	json_t *arr = json_array();
	for (size_t k = 0; k < json_array_size(p->inputs); k++) {
		json_t *in = json_array_get(p->inputs, k);
		const char *table = json_string_value(json_object_get(in, "table"));
		const char *column = json_string_value(json_object_get(in, "column"));
		uint64_t *shares = NULL, rows = 0;
		char msg[MPC_ERRMSG_SIZE] = "";
		int rv = store_catalog_read_column(db, table, column, revision, &shares, &rows, msg);
		if (rv != 0) {
			errf(err, cap, "read %s.%s at revision %" PRIu64 ": %s", table, column,
			     revision, msg[0] ? msg : mpc_strerror(rv));
			json_decref(arr);
			return rv;
		}
		if ((json_int_t)rows != json_integer_value(json_object_get(in, "n"))) {
			errf(err, cap, "read %s.%s: %" PRIu64 " rows, the catalog says %" PRId64,
			     table, column, rows,
			     (int64_t)json_integer_value(json_object_get(in, "n")));
			sodium_memzero(shares, rows * 8);
			free(shares);
			json_decref(arr);
			return MPC_ECORRUPT;
		}
		size_t slen = rows * 8 + crypto_box_SEALBYTES;
		size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
		uint8_t *sealed = malloc(slen);
		char *b64 = malloc(blen);
		if (sealed == NULL || b64 == NULL) {
			free(sealed);
			free(b64);
			sodium_memzero(shares, rows * 8);
			free(shares);
			json_decref(arr);
			return MPC_ENOMEM;
		}
		crypto_box_seal(sealed, (const uint8_t *)shares, rows * 8, box_pk);
		sodium_bin2base64(b64, blen, sealed, slen, sodium_base64_VARIANT_ORIGINAL);
		json_array_append_new(arr, json_pack("{s:O, s:I, s:s}", "name",
						     json_object_get(in, "name"), "n",
						     (json_int_t)rows, "sealed", b64));
		sodium_memzero(shares, rows * 8);
		free(shares);
		free(sealed);
		free(b64);
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

int sched_plan_results(const struct sched_plan *p, json_t *outputs, json_t **out, char *err,
		       size_t cap)
{
	json_t *res = json_object();
	for (size_t i = 0; i < p->n_reveals; i++) {
		const struct out_reveal *o = &p->reveals[i];
		size_t n = 1, m;
		json_t *arr = o->vector ? json_array() : NULL, *val = NULL;
		for (size_t k = 0; k < n; k++) {
			double x[3];
			int64_t ex[3];
			for (int j = 0; j < o->n_v; j++) {
				if (value_at(&o->v[j], outputs, o->vector ? k : 0, &x[j], &ex[j], &m) != 0) {
					errf(err, cap, "reveal %s: the session has no value %zu", o->name,
					     k);
					json_decref(arr);
					json_decref(res);
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
	*out = res;
	return 0;
}
