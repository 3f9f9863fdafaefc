/* Checker of the job language: infers secret/public, int/fixed(f), scalar/vector for every name, reports semantic errors, and lowers statements into the IR builder. */
#include "scheduler/lang_int.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

enum fn_id {
	FN_SUM,
	FN_COUNT,
	FN_MEAN,
	FN_VAR,
	FN_PVAR,
	FN_STDDEV,
	FN_COV,
	FN_CORR,
	FN_DOT,
	FN_ARG,
};

static const struct {
	const char *name;
	enum fn_id id;
	size_t arity;
} functions[] = {
	{"sum", FN_SUM, 1},	  {"count", FN_COUNT, 1}, {"mean", FN_MEAN, 1},
	{"var", FN_VAR, 1},	  {"pvar", FN_PVAR, 1},	  {"stddev", FN_STDDEV, 1},
	{"cov", FN_COV, 2},	  {"corr", FN_CORR, 2},	  {"dot", FN_DOT, 2},
	{"arg", FN_ARG, 1},
};
#define N_FUNCTIONS (sizeof(functions) / sizeof(functions[0]))

/* A typed value: registers of the IR plus what the checker knows statically. */
struct value {
	int ok; /* 0: an error was reported already; uses stay silent */
	struct sched_ir_type t;
	int reg;
	int reg2, reg3; /* CORR: var(x), var(y) */
	int has_const;  /* a public value known now (literal, arg) */
	int64_t cval;
};

struct binding {
	const char *name;
	struct value v;
	unsigned line, col;
};

struct store_seen {
	const char *table, *column;
	enum sched_ir_shape shape;
	int src_table; /* vectors: the table whose rows are stored */
	unsigned line;
};

struct reveal_seen {
	const char *name, *recipient;
	unsigned line;
};

struct checker {
	const struct sched_lang_options *opt;
	struct sched_lang_diag *diag;
	struct sched_lang_ir_builder *b;
	struct binding *names;
	size_t n_names, cap_names;
	struct store_seen *stores;
	size_t n_stores, cap_stores;
	struct reveal_seen *reveals;
	size_t n_reveals, cap_reveals;
	int fatal; /* a schema lookup failed or memory ran out: the code */
};

static const struct value bad = {0};


static int find_function(const char *name)
{
	for (size_t i = 0; i < N_FUNCTIONS; i++)
		if (strcmp(functions[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct binding *find_name(struct checker *c, const char *name)
{
	for (size_t i = 0; i < c->n_names; i++)
		if (strcmp(c->names[i].name, name) == 0)
			return &c->names[i];
	return NULL;
}

static struct sched_ir_type mk_type(enum sched_ir_secrecy s, unsigned frac,
				    enum sched_ir_shape shape, int table)
{
	struct sched_ir_type t = {
		.secrecy = s,
		.num = frac > 0 ? SCHED_IR_FIXED : SCHED_IR_INT,
		.frac_bits = frac,
		.shape = shape,
		.table = shape == SCHED_IR_SCALAR ? -1 : table,
		.post = SCHED_IR_POST_VALUE,
	};
	return t;
}

static void type_text(struct checker *c, const struct sched_ir_type *t,
		      char *buf, size_t cap)
{
	sched_ir_type_format(c->b->ir, t, buf, cap);
}

static struct value emit(struct checker *c, enum sched_ir_opcode code,
			 struct sched_ir_type t, int a, int bb, int64_t imm,
			 unsigned line, unsigned col)
{
	struct value v = {.ok = 1, .t = t, .reg2 = -1, .reg3 = -1};
	v.reg = sched_lang_ir_emit(c->b, code, &t, a, bb, imm, line, col);
	if (v.reg < 0) {
		c->fatal = MPC_ENOMEM;
		return bad;
	}
	return v;
}

static const char *table_name(struct checker *c, int table)
{
	return table >= 0 && (size_t)table < c->b->ir->n_tables
		       ? c->b->ir->tables[table].name
		       : "?";
}

/*
 * Parses an unsigned decimal literal (or, for args, a signed one) into its
 * encoding: an int64 for digits only, round(v * 2^16) (halves away from
 * zero) with a point. Exact: no doubles. Returns 0, -1 (syntax), -2 (range).
 */
static int parse_number(const char *s, size_t len, int allow_sign,
			int64_t *out, int *is_fixed)
{
	size_t i = 0;
	int neg = 0;
	if (allow_sign && i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	unsigned __int128 mant = 0, scale = 1;
	size_t digits = 0, frac_digits = 0;
	int point = 0;
	for (; i < len; i++) {
		if (s[i] == '.' && !point) {
			point = 1;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (mant == 0 && s[i] == '0' && !point)
			continue; /* leading zeros */
		if (++digits > 30)
			return -2;
		mant = mant * 10 + (unsigned)(s[i] - '0');
		if (point) {
			frac_digits++;
			scale *= 10;
		}
	}
	if (i == 0 || (point && len == 1) || (allow_sign && len == 1 && neg))
		return -1;
	unsigned __int128 limit = (unsigned __int128)INT64_MAX + (neg ? 1 : 0);
	unsigned __int128 v;
	if (!point) {
		v = mant;
	} else {
		v = (mant * ((unsigned __int128)1 << SCHED_LANG_FRAC_BITS) + scale / 2) /
		    scale;
	}
	if (v > limit)
		return -2;
	*is_fixed = point;
	*out = neg ? (int64_t)(0 - (uint64_t)v) : (int64_t)v;
	(void)frac_digits;
	return 0;
}

static struct value const_value(struct checker *c, int64_t v, int is_fixed,
				unsigned line, unsigned col)
{
	struct value r = emit(c, SCHED_IR_CONST,
			      mk_type(SCHED_IR_PUBLIC,
				      is_fixed ? SCHED_LANG_FRAC_BITS : 0,
				      SCHED_IR_SCALAR, -1),
			      -1, -1, v, line, col);
	r.has_const = r.ok;
	r.cval = v;
	return r;
}

/* ---- arithmetic with fixed-point bookkeeping ---- */

static struct value rescale(struct checker *c, struct value v, unsigned f,
			    unsigned line, unsigned col)
{
	if (!v.ok || v.t.frac_bits >= f)
		return v;
	struct sched_ir_type t = v.t;
	t.num = SCHED_IR_FIXED;
	t.frac_bits = f;
	return emit(c, SCHED_IR_RESCALE, t, v.reg, -1, f - v.t.frac_bits, line, col);
}

static struct value truncate_to(struct checker *c, struct value v, unsigned f,
				unsigned line, unsigned col)
{
	if (!v.ok || v.t.frac_bits <= f)
		return v;
	struct sched_ir_type t = v.t;
	t.frac_bits = f;
	t.num = f > 0 ? SCHED_IR_FIXED : SCHED_IR_INT;
	return emit(c, SCHED_IR_TRUNC, t, v.reg, -1, v.t.frac_bits - f, line, col);
}

/* Shape of an element-wise result; reports vectors of two tables. */
static int combine_shape(struct checker *c, const struct value *x,
			 const struct value *y, unsigned line, unsigned col,
			 struct sched_ir_type *t)
{
	int xv = x->t.shape == SCHED_IR_VECTOR, yv = y->t.shape == SCHED_IR_VECTOR;
	if (xv && yv && x->t.table != y->t.table) {
		sched_lang_error(c->diag, line, col,
				 "vector length mismatch: a vector of table %s and one of table %s "
				 "(element-wise operations and dot need columns of one table)",
				 table_name(c, x->t.table), table_name(c, y->t.table));
		return -1;
	}
	t->secrecy = x->t.secrecy == SCHED_IR_SECRET || y->t.secrecy == SCHED_IR_SECRET
			     ? SCHED_IR_SECRET
			     : SCHED_IR_PUBLIC;
	t->shape = xv || yv ? SCHED_IR_VECTOR : SCHED_IR_SCALAR;
	t->table = xv ? x->t.table : yv ? y->t.table : -1;
	t->post = SCHED_IR_POST_VALUE;
	return 0;
}

static struct value op_addsub(struct checker *c, enum sched_ir_opcode code,
			      struct value x, struct value y, unsigned line,
			      unsigned col)
{
	struct sched_ir_type t;
	if (combine_shape(c, &x, &y, line, col, &t) != 0)
		return bad;
	unsigned f = x.t.frac_bits > y.t.frac_bits ? x.t.frac_bits : y.t.frac_bits;
	x = rescale(c, x, f, line, col);
	y = rescale(c, y, f, line, col);
	if (!x.ok || !y.ok)
		return bad;
	t.frac_bits = f;
	t.num = f > 0 ? SCHED_IR_FIXED : SCHED_IR_INT;
	return emit(c, code, t, x.reg, y.reg, 0, line, col);
}

/* x * y: the ring product has fx + fy fractional bits; when both are
 * fixed-point it is truncated back to max(fx, fy) (engine/fixed.h). */
static struct value op_mul(struct checker *c, struct value x, struct value y,
			   unsigned line, unsigned col)
{
	struct sched_ir_type t;
	if (combine_shape(c, &x, &y, line, col, &t) != 0)
		return bad;
	unsigned fx = x.t.frac_bits, fy = y.t.frac_bits;
	if (fx + fy > SCHED_LANG_MAX_FRAC_BITS) {
		sched_lang_error(c->diag, line, col,
				 "product of fixed(%u) and fixed(%u) needs %u fractional bits (at most %d)",
				 fx, fy, fx + fy, SCHED_LANG_MAX_FRAC_BITS);
		return bad;
	}
	t.frac_bits = fx + fy;
	t.num = t.frac_bits > 0 ? SCHED_IR_FIXED : SCHED_IR_INT;
	struct value r = emit(c, SCHED_IR_MUL, t, x.reg, y.reg, 0, line, col);
	if (fx > 0 && fy > 0)
		r = truncate_to(c, r, fx > fy ? fx : fy, line, col);
	return r;
}

/* x / y, y a public scalar (checked by the caller). The result is
 * fixed-point with fo = max(fx, 16) bits: x * 2^(fo - fx + fy) / enc(y). */
static struct value op_div(struct checker *c, struct value x, struct value y,
			   unsigned line, unsigned col)
{
	unsigned fx = x.t.frac_bits, fy = y.t.frac_bits;
	unsigned fo = fx > SCHED_LANG_FRAC_BITS ? fx : SCHED_LANG_FRAC_BITS;
	unsigned k = fo - fx + fy;
	if (k > SCHED_LANG_MAX_FRAC_BITS) {
		sched_lang_error(c->diag, line, col,
				 "division needs a scale of 2^%u (at most 2^%d)", k,
				 SCHED_LANG_MAX_FRAC_BITS);
		return bad;
	}
	struct sched_ir_type t = x.t;
	t.num = SCHED_IR_FIXED;
	t.frac_bits = fo;
	t.post = SCHED_IR_POST_VALUE;
	return emit(c, SCHED_IR_DIV, t, x.reg, y.reg, k, line, col);
}

/* ---- aggregates: MAP computes per-segment partials, COMBINE adds them ---- */

static struct value agg_sum(struct checker *c, struct value x, unsigned line,
			    unsigned col)
{
	struct sched_ir_type pt = mk_type(SCHED_IR_SECRET, x.t.frac_bits,
					  SCHED_IR_PARTIAL, x.t.table);
	struct value p = emit(c, SCHED_IR_SUM, pt, x.reg, -1, 0, line, col);
	if (!p.ok)
		return bad;
	return emit(c, SCHED_IR_GATHER,
		    mk_type(SCHED_IR_SECRET, x.t.frac_bits, SCHED_IR_SCALAR, -1),
		    p.reg, -1, 0, line, col);
}

/* Σ x[k]*y[k]: one Beaver dot per segment (one triple per row); fixed
 * products are truncated once per segment, after summing (engine doc). */
static struct value agg_dot(struct checker *c, struct value x, struct value y,
			    unsigned line, unsigned col)
{
	unsigned fx = x.t.frac_bits, fy = y.t.frac_bits;
	if (fx + fy > SCHED_LANG_MAX_FRAC_BITS) {
		sched_lang_error(c->diag, line, col,
				 "product of fixed(%u) and fixed(%u) needs %u fractional bits (at most %d)",
				 fx, fy, fx + fy, SCHED_LANG_MAX_FRAC_BITS);
		return bad;
	}
	struct value p = emit(c, SCHED_IR_DOT,
			      mk_type(SCHED_IR_SECRET, fx + fy, SCHED_IR_PARTIAL, x.t.table),
			      x.reg, y.reg, 0, line, col);
	if (fx > 0 && fy > 0)
		p = truncate_to(c, p, fx > fy ? fx : fy, line, col);
	if (!p.ok)
		return bad;
	return emit(c, SCHED_IR_GATHER,
		    mk_type(SCHED_IR_SECRET, p.t.frac_bits, SCHED_IR_SCALAR, -1),
		    p.reg, -1, 0, line, col);
}

static struct value agg_count(struct checker *c, struct value x, unsigned line,
			      unsigned col)
{
	/* imm carries the table so that common-subexpression reuse keeps
	 * counts of different tables apart. */
	struct value n = emit(c, SCHED_IR_COUNT,
			      mk_type(SCHED_IR_PUBLIC, 0, SCHED_IR_SCALAR, -1), -1,
			      -1, x.t.table, line, col);
	if (n.ok)
		sched_lang_ir_op_of(c->b, n.reg)->table = x.t.table;
	return n;
}

/*
 * Sample (n - 1) or population covariance of x and y (x == y: variance),
 * centered in two stages so that no value grows with the magnitude of the
 * data (docs/job-language.md, "Numeric range"):
 *   stage 1 (MAP Σx, Σy; COMBINE): a = Σx / n, b = Σy / n, secret, each with
 *     its column's fractional bits (an int64 column gets an integer mean);
 *   stage 2 (MAP over the rows again, a and b broadcast):
 *     dx = x - a, dy = y - b (exact), S = Σ dx·dy (one Beaver dot, exact,
 *     fx + fy bits, not truncated), ex = Σ dx, ey = Σ dy;
 *   COMBINE: V = S - ex·ey / n, which is Σ (x - mean x)(y - mean y) exactly
 *     for any a, b (the rounding of the means is corrected by ex·ey / n,
 *     small because a and b are close to the means); the result is
 *     V / (n - 1) (or / n) with max(fx, fy, 16) bits, and a reveal opens V
 *     and divides in the clear.
 */
static struct value stat_cov(struct checker *c, struct value x, struct value y,
			     int sample, unsigned line, unsigned col)
{
	int same = x.reg == y.reg;
	unsigned fx = x.t.frac_bits, fy = y.t.frac_bits, F = fx + fy;
	if (F > SCHED_LANG_MAX_FRAC_BITS) {
		sched_lang_error(c->diag, line, col,
				 "product of fixed(%u) and fixed(%u) needs %u fractional bits (at most %d)",
				 fx, fy, F, SCHED_LANG_MAX_FRAC_BITS);
		return bad;
	}
	struct value n = agg_count(c, x, line, col);
	struct value sx = agg_sum(c, x, line, col);
	struct value sy = same ? sx : agg_sum(c, y, line, col);
	if (!n.ok || !sx.ok || !sy.ok)
		return bad;
	struct value mx = emit(c, SCHED_IR_DIV, mk_type(SCHED_IR_SECRET, fx, SCHED_IR_SCALAR, -1),
			       sx.reg, n.reg, 0, line, col);
	struct value my = same ? mx
			       : emit(c, SCHED_IR_DIV,
				      mk_type(SCHED_IR_SECRET, fy, SCHED_IR_SCALAR, -1), sy.reg,
				      n.reg, 0, line, col);
	if (!mx.ok || !my.ok)
		return bad;
	struct value dx = emit(c, SCHED_IR_SUB, mk_type(SCHED_IR_SECRET, fx, SCHED_IR_VECTOR, x.t.table),
			       x.reg, mx.reg, 0, line, col);
	struct value dy = same ? dx
			       : emit(c, SCHED_IR_SUB,
				      mk_type(SCHED_IR_SECRET, fy, SCHED_IR_VECTOR, y.t.table),
				      y.reg, my.reg, 0, line, col);
	if (!dx.ok || !dy.ok)
		return bad;
	struct value s = emit(c, SCHED_IR_DOT, mk_type(SCHED_IR_SECRET, F, SCHED_IR_PARTIAL, x.t.table),
			      dx.reg, dy.reg, 0, line, col);
	if (!s.ok)
		return bad;
	s = emit(c, SCHED_IR_GATHER, mk_type(SCHED_IR_SECRET, F, SCHED_IR_SCALAR, -1), s.reg, -1,
		 0, line, col);
	struct value ex = agg_sum(c, dx, line, col);
	struct value ey = same ? ex : agg_sum(c, dy, line, col);
	if (!s.ok || !ex.ok || !ey.ok)
		return bad;
	struct sched_ir_type ft = mk_type(SCHED_IR_SECRET, F, SCHED_IR_SCALAR, -1);
	struct value t = emit(c, SCHED_IR_MUL, ft, ex.reg, ey.reg, 0, line, col);
	if (!t.ok)
		return bad;
	t = emit(c, SCHED_IR_DIV, ft, t.reg, n.reg, 0, line, col);
	if (!t.ok)
		return bad;
	struct value v = emit(c, SCHED_IR_SUB, ft, s.reg, t.reg, 0, line, col);
	if (!v.ok)
		return bad;
	struct value den = n;
	if (sample) {
		struct value one = const_value(c, 1, 0, line, col);
		den = op_addsub(c, SCHED_IR_SUB, n, one, line, col);
		if (!den.ok)
			return bad;
	}
	/* V / den with max(fx, fy, 16) bits (the documented result type):
	 * imm = fo - F, negative when both are fixed (sched_plan.c) */
	unsigned fo = fx > fy ? fx : fy;
	if (fo < SCHED_LANG_FRAC_BITS)
		fo = SCHED_LANG_FRAC_BITS;
	return emit(c, SCHED_IR_DIV, mk_type(SCHED_IR_SECRET, fo, SCHED_IR_SCALAR, -1), v.reg,
		    den.reg, (int64_t)fo - (int64_t)F, line, col);
}

/* ---- expressions ---- */

static struct value check_expr(struct checker *c, const struct sched_lang_expr *e);

/* An operand of arithmetic or a function: reveal-only values are refused. */
static int usable(struct checker *c, const struct value *v,
		  const struct sched_lang_expr *e)
{
	if (!v->ok)
		return 0;
	if (v->t.post != SCHED_IR_POST_VALUE) {
		sched_lang_error(c->diag, e->line, e->col,
				 "%s is only computed when it is revealed (its square root is taken "
				 "by the recipients): assign it to a name and reveal it, do not "
				 "use it in arithmetic",
				 v->t.post == SCHED_IR_POST_SQRT ? "stddev(...)" : "corr(...)");
		return 0;
	}
	return 1;
}

static struct value apply_binary(struct checker *c, const struct sched_lang_expr *e,
				 struct value x, struct value y)
{
	switch (e->op) {
	case '+':
		return op_addsub(c, SCHED_IR_ADD, x, y, e->line, e->col);
	case '-':
		return op_addsub(c, SCHED_IR_SUB, x, y, e->line, e->col);
	case '*':
		return op_mul(c, x, y, e->line, e->col);
	default:
		break;
	}
	/* '/': the divisor must be a public scalar. */
	if (y.t.secrecy != SCHED_IR_PUBLIC) {
		sched_lang_error(c->diag, e->rhs->line, e->rhs->col,
				 "division by a secret %s: the divisor must be public "
				 "(a number, count(...), arg(...) or arithmetic on them)",
				 y.t.shape == SCHED_IR_VECTOR ? "vector" : "value");
		return bad;
	}
	if (y.has_const && y.cval == 0) {
		sched_lang_error(c->diag, e->rhs->line, e->rhs->col, "division by zero");
		return bad;
	}
	return op_div(c, x, y, e->line, e->col);
}

static struct value check_binary(struct checker *c, const struct sched_lang_expr *e)
{
	struct value x = check_expr(c, e->lhs);
	struct value y = check_expr(c, e->rhs);
	if (!usable(c, &x, e->lhs) || !usable(c, &y, e->rhs))
		return bad;
	return apply_binary(c, e, x, y);
}

static struct value check_load(struct checker *c, const struct sched_lang_expr *e)
{
	struct sched_lang_column col = {0};
	int rc = c->opt->schema->lookup(c->opt->schema->ctx, e->text, e->column, &col);
	if (rc == MPC_ENOENT) {
		if (!col.table_exists)
			sched_lang_error(c->diag, e->table_line, e->table_col,
					 "unknown table '%s'", e->text);
		else
			sched_lang_error(c->diag, e->column_line, e->column_col,
					 "unknown column '%s' in table '%s'", e->column, e->text);
		return bad;
	}
	if (rc != 0) {
		sched_lang_error(c->diag, e->table_line, e->table_col,
				 "schema lookup of %s.%s failed: %s", e->text, e->column,
				 mpc_strerror(rc));
		c->fatal = rc;
		return bad;
	}
	unsigned f = col.num == SCHED_IR_FIXED ? col.frac_bits : 0;
	if (f > SCHED_LANG_MAX_FRAC_BITS || (col.num == SCHED_IR_FIXED && f == 0)) {
		sched_lang_error(c->diag, e->column_line, e->column_col,
				 "column %s.%s has an unsupported type (fixed with %u fractional bits)",
				 e->text, e->column, col.frac_bits);
		return bad;
	}
	int table = sched_lang_ir_table(c->b, e->text);
	int column = table < 0 ? -1 : sched_lang_ir_column(c->b, table, e->column, col.num, f, 0);
	if (column < 0) {
		c->fatal = MPC_ENOMEM;
		return bad;
	}
	struct sched_ir_type t = mk_type(SCHED_IR_SECRET, f, SCHED_IR_VECTOR, table);
	/* imm carries the column: one LOAD per column and stage (lang_ir.c). */
	return emit(c, SCHED_IR_LOAD, t, -1, -1, column, e->line, e->col);
}

static struct value check_arg(struct checker *c, const struct sched_lang_expr *e)
{
	const struct sched_lang_expr *a = e->args[0];
	if (a->kind != SCHED_EXPR_STRING) {
		sched_lang_error(c->diag, a->line, a->col,
				 "arg expects a string: arg(\"KEY\")");
		return bad;
	}
	for (size_t i = 0; i < c->opt->n_args; i++) {
		const struct sched_lang_arg *kv = &c->opt->args[i];
		if (kv->key == NULL || strcmp(kv->key, a->text) != 0)
			continue;
		const char *s = kv->value != NULL ? kv->value : "";
		int64_t v;
		int is_fixed;
		int rc = parse_number(s, strlen(s), 1, &v, &is_fixed);
		if (rc != 0) {
			sched_lang_error(c->diag, a->line, a->col,
					 rc == -2 ? "argument \"%s\" = \"%.64s\" is out of range"
						  : "argument \"%s\" = \"%.64s\" is not a number",
					 a->text, s);
			return bad;
		}
		return const_value(c, v, is_fixed, e->line, e->col);
	}
	sched_lang_error(c->diag, a->line, a->col,
			 "missing argument \"%s\" (pass it with mpcsub --arg %s=VALUE)",
			 a->text, a->text);
	return bad;
}

/* Evaluates argument i and requires a secret vector. */
static struct value vector_arg(struct checker *c, const struct sched_lang_expr *call,
			       size_t i)
{
	const struct sched_lang_expr *a = call->args[i];
	struct value v = check_expr(c, a);
	if (!usable(c, &v, a))
		return bad;
	if (v.t.shape != SCHED_IR_VECTOR) {
		char tt[96];
		type_text(c, &v.t, tt, sizeof(tt));
		sched_lang_error(c->diag, a->line, a->col,
				 "%s: argument %zu is a %s; expected a vector (a column or an "
				 "element-wise expression of columns)",
				 call->text, i + 1, tt);
		return bad;
	}
	return v;
}

/* sum(EXPR), with sum(a * b) of two secret vectors as one Beaver dot. */
static struct value sum_of(struct checker *c, const struct sched_lang_expr *call)
{
	const struct sched_lang_expr *a = call->args[0];
	if (a->kind == SCHED_EXPR_BINARY && a->op == '*') {
		struct value x = check_expr(c, a->lhs);
		struct value y = check_expr(c, a->rhs);
		if (!usable(c, &x, a->lhs) || !usable(c, &y, a->rhs))
			return bad;
		if (x.t.shape == SCHED_IR_VECTOR && y.t.shape == SCHED_IR_VECTOR) {
			if (x.t.table != y.t.table) {
				struct sched_ir_type t;
				combine_shape(c, &x, &y, a->line, a->col, &t);
				return bad;
			}
			return agg_dot(c, x, y, call->line, call->col);
		}
		struct value v = apply_binary(c, a, x, y);
		if (!v.ok)
			return bad;
		if (v.t.shape != SCHED_IR_VECTOR) {
			sched_lang_error(c->diag, a->line, a->col,
					 "sum: argument 1 is a scalar; expected a vector");
			return bad;
		}
		return agg_sum(c, v, call->line, call->col);
	}
	struct value x = vector_arg(c, call, 0);
	if (!x.ok)
		return bad;
	return agg_sum(c, x, call->line, call->col);
}

static struct value check_call(struct checker *c, const struct sched_lang_expr *e)
{
	int fi = find_function(e->text);
	if (fi < 0) {
		if (find_name(c, e->text) != NULL)
			sched_lang_error(c->diag, e->line, e->col,
					 "%s is a name, not a function", e->text);
		else
			sched_lang_error(c->diag, e->line, e->col,
					 "unknown function '%s' (functions: sum count mean var pvar "
					 "stddev cov corr dot arg)",
					 e->text);
		return bad;
	}
	if (e->n_args != functions[fi].arity) {
		sched_lang_error(c->diag, e->line, e->col,
				 "%s expects %zu argument%s, got %zu", e->text,
				 functions[fi].arity, functions[fi].arity == 1 ? "" : "s",
				 e->n_args);
		return bad;
	}
	enum fn_id id = functions[fi].id;
	for (const char *const *rf = c->opt->refused; rf != NULL && *rf != NULL; rf++)
		if (strcmp(*rf, e->text) == 0) {
			sched_lang_error(c->diag, e->line, e->col, "%s() %s", e->text,
					 c->opt->refused_reason ? c->opt->refused_reason
								: "is not available here");
			return bad;
		}
	if (id != FN_ARG)
		for (size_t i = 0; i < e->n_args; i++)
			if (e->args[i]->kind == SCHED_EXPR_STRING) {
				sched_lang_error(c->diag, e->args[i]->line, e->args[i]->col,
						 "a string is only allowed as the argument of arg(\"KEY\")");
				return bad;
			}
	struct value x, y, r;
	switch (id) {
	case FN_ARG:
		return check_arg(c, e);
	case FN_SUM:
		return sum_of(c, e);
	case FN_COUNT:
		x = vector_arg(c, e, 0);
		return x.ok ? agg_count(c, x, e->line, e->col) : bad;
	case FN_MEAN: {
		struct value s = sum_of(c, e);
		if (!s.ok)
			return bad;
		/* sum_of checked the argument; recover its table for the count. */
		struct sched_ir_op *gather = sched_lang_ir_op_of(c->b, s.reg);
		struct value n = {.ok = 1,
				  .t = c->b->ir->regs[gather->a].type};
		n = agg_count(c, n, e->line, e->col);
		return n.ok ? op_div(c, s, n, e->line, e->col) : bad;
	}
	case FN_VAR:
	case FN_PVAR:
	case FN_STDDEV:
		x = vector_arg(c, e, 0);
		if (!x.ok)
			return bad;
		r = stat_cov(c, x, x, id != FN_PVAR, e->line, e->col);
		if (r.ok && id == FN_STDDEV)
			r.t.post = SCHED_IR_POST_SQRT;
		return r;
	case FN_COV:
	case FN_CORR:
	case FN_DOT:
		x = vector_arg(c, e, 0);
		y = vector_arg(c, e, 1);
		if (!x.ok || !y.ok)
			return bad;
		if (x.t.table != y.t.table) {
			struct sched_ir_type t;
			combine_shape(c, &x, &y, e->line, e->col, &t);
			return bad;
		}
		if (id == FN_DOT)
			return agg_dot(c, x, y, e->line, e->col);
		r = stat_cov(c, x, y, 1, e->line, e->col);
		if (!r.ok || id == FN_COV)
			return r;
		{
			struct value vx = stat_cov(c, x, x, 1, e->line, e->col);
			struct value vy = stat_cov(c, y, y, 1, e->line, e->col);
			if (!vx.ok || !vy.ok)
				return bad;
			r.reg2 = vx.reg;
			r.reg3 = vy.reg;
			r.t.post = SCHED_IR_POST_CORR;
		}
		return r;
	}
	return bad;
}

static struct value check_expr(struct checker *c, const struct sched_lang_expr *e)
{
	if (c->fatal)
		return bad;
	switch (e->kind) {
	case SCHED_EXPR_NUMBER: {
		int64_t v;
		int is_fixed;
		int rc = parse_number(e->text, strlen(e->text), 0, &v, &is_fixed);
		if (rc != 0) {
			sched_lang_error(c->diag, e->line, e->col,
					 rc == -2 ? "number %.40s is out of range" : "malformed number %.40s",
					 e->text);
			return bad;
		}
		return const_value(c, v, is_fixed, e->line, e->col);
	}
	case SCHED_EXPR_STRING:
		sched_lang_error(c->diag, e->line, e->col,
				 "a string is only allowed as the argument of arg(\"KEY\")");
		return bad;
	case SCHED_EXPR_NAME: {
		struct binding *bd = find_name(c, e->text);
		if (bd != NULL)
			return bd->v;
		if (find_function(e->text) >= 0)
			sched_lang_error(c->diag, e->line, e->col,
					 "%s is a function: call it as %s(...)", e->text, e->text);
		else
			sched_lang_error(c->diag, e->line, e->col, "undefined name '%s'", e->text);
		return bad;
	}
	case SCHED_EXPR_LOAD:
		return check_load(c, e);
	case SCHED_EXPR_CALL:
		return check_call(c, e);
	case SCHED_EXPR_BINARY:
		return check_binary(c, e);
	case SCHED_EXPR_NEG: {
		struct value x = check_expr(c, e->lhs);
		if (!usable(c, &x, e->lhs))
			return bad;
		if (x.has_const && x.cval != INT64_MIN) {
			struct value r = const_value(c, -x.cval, x.t.frac_bits > 0,
						     e->line, e->col);
			return r;
		}
		struct sched_ir_type t = x.t;
		return emit(c, SCHED_IR_NEG, t, x.reg, -1, 0, e->line, e->col);
	}
	}
	return bad;
}

/* ---- statements ---- */

static void check_assign(struct checker *c, const struct sched_lang_stmt *s)
{
	struct binding *prev = find_name(c, s->name);
	if (prev != NULL) {
		sched_lang_error(c->diag, s->name_line, s->name_col,
				 "'%s' is already defined at line %u (a name is assigned once)",
				 s->name, prev->line);
		return;
	}
	if (find_function(s->name) >= 0 || strcmp(s->name, "public") == 0) {
		sched_lang_error(c->diag, s->name_line, s->name_col,
				 "'%s' is reserved (%s) and cannot be assigned", s->name,
				 strcmp(s->name, "public") == 0 ? "reveal ... to public" : "a function");
		return;
	}
	struct value v = check_expr(c, s->value);
	if (sched_lang_grow((void **)&c->names, &c->cap_names, c->n_names, sizeof(*c->names)) != 0) {
		c->fatal = MPC_ENOMEM;
		return;
	}
	/* Bound even when its expression failed, so uses stay silent. */
	struct binding *bd = &c->names[c->n_names++];
	bd->name = s->name;
	bd->v = v;
	bd->v.has_const = v.has_const;
	bd->line = s->name_line;
	bd->col = s->name_col;
	if (v.ok && sched_lang_ir_name(c->b, s->name, &v.t, v.reg, s->name_line,
				       s->name_col) < 0)
		c->fatal = MPC_ENOMEM;
}

static void check_reveal(struct checker *c, const struct sched_lang_stmt *s)
{
	for (size_t i = 0; i < s->n_names && !c->fatal; i++) {
		const char *name = s->names[i];
		struct binding *bd = find_name(c, name);
		if (bd == NULL) {
			sched_lang_error(c->diag, s->name_lines[i], s->name_cols[i],
					 "reveal of undefined name '%s'", name);
			continue;
		}
		if (!bd->v.ok)
			continue;
		int dup = 0;
		for (size_t k = 0; k < c->n_reveals; k++)
			if (strcmp(c->reveals[k].name, name) == 0 &&
			    ((c->reveals[k].recipient == NULL && s->recipient == NULL) ||
			     (c->reveals[k].recipient != NULL && s->recipient != NULL &&
			      strcmp(c->reveals[k].recipient, s->recipient) == 0))) {
				sched_lang_error(c->diag, s->name_lines[i], s->name_cols[i],
						 "'%s' is already revealed to %s at line %u", name,
						 s->recipient ? s->recipient : "public",
						 c->reveals[k].line);
				dup = 1;
				break;
			}
		if (dup)
			continue;
		if (sched_lang_grow((void **)&c->reveals, &c->cap_reveals, c->n_reveals,
			 sizeof(*c->reveals)) != 0) {
			c->fatal = MPC_ENOMEM;
			return;
		}
		c->reveals[c->n_reveals++] = (struct reveal_seen){name, s->recipient,
								   s->name_lines[i]};
		const struct value *v = &bd->v;
		int ri = sched_lang_ir_reveal(c->b, name, s->recipient, v->t.post, &v->t);
		int op = ri < 0 ? -1
				: sched_lang_ir_emit_sink(c->b, SCHED_IR_REVEAL, v->reg,
							  v->reg2, v->reg3, s->name_lines[i],
							  s->name_cols[i]);
		if (op < 0) {
			c->fatal = MPC_ENOMEM;
			return;
		}
		c->b->ir->ops[op].reveal = ri;
	}
}

static void check_store(struct checker *c, const struct sched_lang_stmt *s)
{
	struct value v = check_expr(c, s->value);
	if (!v.ok)
		return;
	const struct sched_lang_expr *e = s->value;
	if (v.t.post != SCHED_IR_POST_VALUE) {
		sched_lang_error(c->diag, e->line, e->col,
				 "%s cannot be stored: it is only computed when revealed (the square "
				 "root is taken by the recipients); store the variance instead",
				 v.t.post == SCHED_IR_POST_SQRT ? "stddev(...)" : "corr(...)");
		return;
	}
	if (v.t.secrecy != SCHED_IR_SECRET) {
		sched_lang_error(c->diag, e->line, e->col,
				 "store keeps secret shares but this value is public; use reveal "
				 "for public results");
		return;
	}
	for (size_t i = 0; i < c->n_stores; i++) {
		const struct store_seen *p = &c->stores[i];
		if (strcmp(p->table, s->name) != 0)
			continue;
		if (strcmp(p->column, s->column) == 0) {
			sched_lang_error(c->diag, s->name_line, s->name_col,
					 "%s.%s is already stored at line %u", s->name, s->column,
					 p->line);
			return;
		}
		if (p->shape != v.t.shape || (p->shape == SCHED_IR_VECTOR &&
					      p->src_table != v.t.table)) {
			sched_lang_error(c->diag, e->line, e->col,
					 "stores into table %s must all be scalars (one row) or all "
					 "vectors of one table (one row per row); line %u stores a %s",
					 s->name, p->line,
					 p->shape == SCHED_IR_VECTOR ? "vector" : "scalar");
			return;
		}
	}
	struct sched_lang_column col = {0};
	int rc = c->opt->schema->lookup(c->opt->schema->ctx, s->name, s->column, &col);
	unsigned f = v.t.frac_bits;
	enum sched_ir_num num = v.t.num;
	if (rc == 0) {
		unsigned cf = col.num == SCHED_IR_FIXED ? col.frac_bits : 0;
		if (cf > SCHED_LANG_MAX_FRAC_BITS || (col.num == SCHED_IR_FIXED && cf == 0)) {
			sched_lang_error(c->diag, s->column_line, s->column_col,
					 "column %s.%s has an unsupported type", s->name, s->column);
			return;
		}
		if (cf == 0 && f > 0) {
			char tt[96];
			type_text(c, &v.t, tt, sizeof(tt));
			sched_lang_error(c->diag, e->line, e->col,
					 "%s.%s is an int64 column but the value is %s (its fraction "
					 "would be lost)",
					 s->name, s->column, tt);
			return;
		}
		v = cf > f ? rescale(c, v, cf, e->line, e->col)
			   : truncate_to(c, v, cf, e->line, e->col);
		if (!v.ok)
			return;
		f = cf;
		num = col.num;
	} else if (rc != MPC_ENOENT) {
		sched_lang_error(c->diag, s->name_line, s->name_col,
				 "schema lookup of %s.%s failed: %s", s->name, s->column,
				 mpc_strerror(rc));
		c->fatal = rc;
		return;
	}
	int table = sched_lang_ir_table(c->b, s->name);
	int column = table < 0 ? -1 : sched_lang_ir_column(c->b, table, s->column, num, f, 1);
	if (column < 0 ||
	    sched_lang_grow((void **)&c->stores, &c->cap_stores, c->n_stores, sizeof(*c->stores)) != 0) {
		c->fatal = MPC_ENOMEM;
		return;
	}
	c->stores[c->n_stores++] = (struct store_seen){s->name, s->column, v.t.shape,
							 v.t.table, s->line};
	int op = sched_lang_ir_emit_sink(c->b, SCHED_IR_STORE, v.reg, -1, -1, s->line,
					 s->col);
	if (op < 0) {
		c->fatal = MPC_ENOMEM;
		return;
	}
	c->b->ir->ops[op].column = column;
}

int sched_lang_check(const struct sched_lang_program *prog,
		     const struct sched_lang_options *opt,
		     struct sched_lang_diag *diag,
		     struct sched_lang_ir_builder *b)
{
	struct checker c = {.opt = opt, .diag = diag, .b = b};
	unsigned before = diag->n_errors;
	for (const struct sched_lang_stmt *s = prog->first; s != NULL; s = s->next) {
		if (c.fatal || b->oom || sched_lang_diag_full(diag))
			break;
		switch (s->kind) {
		case SCHED_STMT_ASSIGN:
			check_assign(&c, s);
			break;
		case SCHED_STMT_REVEAL:
			check_reveal(&c, s);
			break;
		case SCHED_STMT_STORE:
			check_store(&c, s);
			break;
		}
	}
	free(c.names);
	free(c.stores);
	free(c.reveals);
	if (b->oom)
		return MPC_ENOMEM;
	if (c.fatal)
		return c.fatal;
	return diag->n_errors > before ? MPC_EINVAL : 0;
}
