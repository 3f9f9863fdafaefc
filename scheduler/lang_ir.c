/* IR builder of the job language: emits ops with stage placement and common-subexpression reuse, then splits them into MAP/COMBINE tasks with inputs, dependencies and fuel estimates. */
#include "scheduler/lang_int.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* How far back emit looks for an identical op to reuse (bounds the cost on huge inputs). */
#define IR_CSE_WINDOW 4096


static int is_secret_scalar(const struct sched_ir_type *t)
{
	return t->secrecy == SCHED_IR_SECRET && t->shape == SCHED_IR_SCALAR;
}

static int is_map_shape(const struct sched_ir_type *t)
{
	return t->shape == SCHED_IR_VECTOR || t->shape == SCHED_IR_PARTIAL;
}

static int same_type(const struct sched_ir_type *x, const struct sched_ir_type *y)
{
	return x->secrecy == y->secrecy && x->num == y->num &&
	       x->frac_bits == y->frac_bits && x->shape == y->shape &&
	       x->table == y->table && x->post == y->post;
}

/* Stage a value of register r contributes to an op producing a MAP-shaped
 * (vector or partial) result: secret scalars come from a COMBINE, so a MAP
 * using them runs one stage later. */
static unsigned stage_for_map(struct sched_lang_ir_builder *b, int r)
{
	const struct sched_ir_type *t = &b->ir->regs[r].type;
	if (is_map_shape(t))
		return b->reg_stage[r];
	if (is_secret_scalar(t))
		return b->reg_stage[r] + 1;
	return 0;
}

static int new_op(struct sched_lang_ir_builder *b)
{
	struct sched_ir *ir = b->ir;
	if (sched_lang_grow((void **)&ir->ops, &b->cap_ops, ir->n_ops, sizeof(*ir->ops)) != 0) {
		b->oom = 1;
		return -1;
	}
	struct sched_ir_op *op = &ir->ops[ir->n_ops];
	memset(op, 0, sizeof(*op));
	op->dst = op->a = op->b = op->c = -1;
	op->table = op->column = op->reveal = op->task = -1;
	return (int)ir->n_ops++;
}

static int new_reg(struct sched_lang_ir_builder *b, const struct sched_ir_type *t,
		   int op, unsigned stage)
{
	struct sched_ir *ir = b->ir;
	size_t cap = b->cap_regs;
	if (sched_lang_grow((void **)&ir->regs, &b->cap_regs, ir->n_regs, sizeof(*ir->regs)) != 0) {
		b->oom = 1;
		return -1;
	}
	if (cap != b->cap_regs) {
		unsigned *s = realloc(b->reg_stage, b->cap_regs * sizeof(*s));
		if (s == NULL) {
			b->oom = 1;
			return -1;
		}
		b->reg_stage = s;
	}
	ir->regs[ir->n_regs].type = *t;
	ir->regs[ir->n_regs].op = op;
	b->reg_stage[ir->n_regs] = stage;
	return (int)ir->n_regs++;
}

struct sched_ir_op *sched_lang_ir_op_of(struct sched_lang_ir_builder *b, int reg)
{
	return &b->ir->ops[b->ir->regs[reg].op];
}

/* Appends op `code` writing a new register in `stage`, or returns an
 * identical earlier one (common subexpressions: mean(x) and var(x) share
 * sum(x) and count(x)). LOAD carries its column in imm. */
static int emit_at(struct sched_lang_ir_builder *b, enum sched_ir_opcode code,
		   const struct sched_ir_type *t, int a, int bb, int64_t imm,
		   unsigned line, unsigned col, unsigned stage)
{
	struct sched_ir *ir = b->ir;
	size_t from = ir->n_ops > IR_CSE_WINDOW ? ir->n_ops - IR_CSE_WINDOW : 0;
	for (size_t i = from; i < ir->n_ops; i++) {
		const struct sched_ir_op *o = &ir->ops[i];
		if (o->code == code && o->a == a && o->b == bb && o->imm == imm &&
		    o->dst >= 0 && same_type(&ir->regs[o->dst].type, t) &&
		    b->reg_stage[o->dst] == stage)
			return o->dst;
	}
	int op = new_op(b);
	if (op < 0)
		return -1;
	int r = new_reg(b, t, op, stage);
	if (r < 0)
		return -1;
	struct sched_ir_op *o = &ir->ops[op];
	o->code = code;
	o->dst = r;
	o->a = a;
	o->b = bb;
	o->imm = imm;
	o->line = line;
	o->col = col;
	if (code == SCHED_IR_LOAD)
		o->column = (int)imm;
	return r;
}

/* Ops on vectors that need no communication and no fuel. */
static int is_local_vector_op(struct sched_lang_ir_builder *b, const struct sched_ir_op *o)
{
	const struct sched_ir *ir = b->ir;
	switch (o->code) {
	case SCHED_IR_LOAD:
	case SCHED_IR_ADD:
	case SCHED_IR_SUB:
	case SCHED_IR_NEG:
	case SCHED_IR_RESCALE:
		return 1;
	case SCHED_IR_MUL:
		return ir->regs[o->a].type.secrecy == SCHED_IR_PUBLIC ||
		       ir->regs[o->b].type.secrecy == SCHED_IR_PUBLIC;
	default:
		return 0;
	}
}

/*
 * A vector computed by an earlier MAP stage, needed in `stage`: re-computed
 * there when it is local arithmetic on columns (re-reading a column is
 * cheaper than keeping a vector per segment between stages); otherwise
 * (products, truncations: they spent fuel) the earlier value is an input.
 */
static int vector_at_stage(struct sched_lang_ir_builder *b, int reg, unsigned stage,
			   unsigned depth)
{
	struct sched_ir *ir = b->ir;
	if (reg < 0 || ir->regs[reg].type.shape != SCHED_IR_VECTOR ||
	    b->reg_stage[reg] >= stage || depth > 64)
		return reg;
	struct sched_ir_op o = *sched_lang_ir_op_of(b, reg);
	if (!is_local_vector_op(b, &o))
		return reg;
	int a = vector_at_stage(b, o.a, stage, depth + 1);
	int bb = vector_at_stage(b, o.b, stage, depth + 1);
	if (b->oom)
		return -1;
	struct sched_ir_type t = ir->regs[reg].type;
	return emit_at(b, o.code, &t, a, bb, o.imm, o.line, o.col, stage);
}

int sched_lang_ir_emit(struct sched_lang_ir_builder *b, enum sched_ir_opcode code,
		       const struct sched_ir_type *t, int a, int bb, int64_t imm,
		       unsigned line, unsigned col)
{
	struct sched_ir *ir = b->ir;
	if (b->oom)
		return -1;
	unsigned stage = 0;
	if (t->secrecy == SCHED_IR_PUBLIC) {
		stage = 0;
	} else if (code == SCHED_IR_GATHER) {
		stage = b->reg_stage[a];
	} else if (is_map_shape(t)) {
		if (a >= 0 && stage_for_map(b, a) > stage)
			stage = stage_for_map(b, a);
		if (bb >= 0 && stage_for_map(b, bb) > stage)
			stage = stage_for_map(b, bb);
		a = vector_at_stage(b, a, stage, 0);
		bb = vector_at_stage(b, bb, stage, 0);
		if (b->oom)
			return -1;
	} else {
		if (a >= 0 && is_secret_scalar(&ir->regs[a].type) && b->reg_stage[a] > stage)
			stage = b->reg_stage[a];
		if (bb >= 0 && is_secret_scalar(&ir->regs[bb].type) && b->reg_stage[bb] > stage)
			stage = b->reg_stage[bb];
	}
	return emit_at(b, code, t, a, bb, imm, line, col, stage);
}

int sched_lang_ir_emit_sink(struct sched_lang_ir_builder *b,
			    enum sched_ir_opcode code, int a, int bb, int c,
			    unsigned line, unsigned col)
{
	if (b->oom)
		return -1;
	int op = new_op(b);
	if (op < 0)
		return -1;
	struct sched_ir_op *o = &b->ir->ops[op];
	o->code = code;
	o->a = a;
	o->b = bb;
	o->c = c;
	o->line = line;
	o->col = col;
	return op;
}

static char *dup_str(struct sched_lang_ir_builder *b, const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		b->oom = 1;
	return p;
}

int sched_lang_ir_table(struct sched_lang_ir_builder *b, const char *name)
{
	struct sched_ir *ir = b->ir;
	for (size_t i = 0; i < ir->n_tables; i++)
		if (strcmp(ir->tables[i].name, name) == 0)
			return (int)i;
	if (sched_lang_grow((void **)&ir->tables, &b->cap_tables, ir->n_tables,
		 sizeof(*ir->tables)) != 0) {
		b->oom = 1;
		return -1;
	}
	char *s = dup_str(b, name);
	if (s == NULL)
		return -1;
	ir->tables[ir->n_tables].name = s;
	return (int)ir->n_tables++;
}

int sched_lang_ir_column(struct sched_lang_ir_builder *b, int table,
			 const char *name, enum sched_ir_num num,
			 unsigned frac_bits, int is_store)
{
	struct sched_ir *ir = b->ir;
	for (size_t i = 0; i < ir->n_columns; i++)
		if (ir->columns[i].table == table &&
		    strcmp(ir->columns[i].name, name) == 0 &&
		    ir->columns[i].is_store == is_store)
			return (int)i;
	if (sched_lang_grow((void **)&ir->columns, &b->cap_columns, ir->n_columns,
		 sizeof(*ir->columns)) != 0) {
		b->oom = 1;
		return -1;
	}
	char *s = dup_str(b, name);
	if (s == NULL)
		return -1;
	struct sched_ir_column *c = &ir->columns[ir->n_columns];
	c->table = table;
	c->name = s;
	c->num = num;
	c->frac_bits = frac_bits;
	c->is_store = is_store;
	return (int)ir->n_columns++;
}

int sched_lang_ir_reveal(struct sched_lang_ir_builder *b, const char *name,
			 const char *recipient, enum sched_ir_post post,
			 const struct sched_ir_type *t)
{
	struct sched_ir *ir = b->ir;
	if (sched_lang_grow((void **)&ir->reveals, &b->cap_reveals, ir->n_reveals,
		 sizeof(*ir->reveals)) != 0) {
		b->oom = 1;
		return -1;
	}
	struct sched_ir_reveal *r = &ir->reveals[ir->n_reveals];
	memset(r, 0, sizeof(*r));
	r->name = dup_str(b, name);
	if (recipient != NULL)
		r->recipient = dup_str(b, recipient);
	r->post = post;
	r->type = *t;
	ir->n_reveals++; /* counted even on OOM so sched_ir_free() frees it */
	return b->oom ? -1 : (int)ir->n_reveals - 1;
}

int sched_lang_ir_name(struct sched_lang_ir_builder *b, const char *name,
		       const struct sched_ir_type *t, int reg, unsigned line,
		       unsigned col)
{
	struct sched_ir *ir = b->ir;
	if (sched_lang_grow((void **)&ir->names, &b->cap_names, ir->n_names,
		 sizeof(*ir->names)) != 0) {
		b->oom = 1;
		return -1;
	}
	struct sched_ir_name *n = &ir->names[ir->n_names];
	n->name = dup_str(b, name);
	if (n->name == NULL)
		return -1;
	n->type = *t;
	n->reg = reg;
	n->line = line;
	n->col = col;
	return (int)ir->n_names++;
}

/* ---- finishing: dead code, tasks, fuel ---- */

struct task_key {
	int kind; /* -1 prologue, SCHED_IR_MAP, SCHED_IR_COMBINE */
	unsigned stage;
	int table;
};

static struct task_key key_of(struct sched_lang_ir_builder *b, const struct sched_ir_op *o)
{
	struct task_key k = {-1, 0, -1};
	int r = o->dst >= 0 ? o->dst : o->a;
	const struct sched_ir_type *t = &b->ir->regs[r].type;
	if (t->secrecy == SCHED_IR_PUBLIC)
		return k;
	k.stage = b->reg_stage[r];
	if (is_map_shape(t)) {
		k.kind = SCHED_IR_MAP;
		k.table = t->table;
	} else {
		k.kind = SCHED_IR_COMBINE;
	}
	return k;
}

static int key_cmp(const struct task_key *x, const struct task_key *y)
{
	if (x->stage != y->stage)
		return x->stage < y->stage ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	return 0;
}

/* Appends v to a set kept as a plain array (small; linear search). */
static int set_add(int **arr, size_t *n, int v)
{
	for (size_t i = 0; i < *n; i++)
		if ((*arr)[i] == v)
			return 0;
	int *p = realloc(*arr, (*n + 1) * sizeof(int));
	if (p == NULL)
		return -1;
	p[(*n)++] = v;
	*arr = p;
	return 0;
}

static int remove_dead(struct sched_lang_ir_builder *b)
{
	struct sched_ir *ir = b->ir;
	if (ir->n_ops == 0)
		return 0;
	char *live = calloc(ir->n_ops, 1);
	int *renum = malloc(ir->n_ops * sizeof(int));
	if (live == NULL || renum == NULL) {
		free(live);
		free(renum);
		return MPC_ENOMEM;
	}
	for (size_t i = ir->n_ops; i-- > 0;) {
		struct sched_ir_op *o = &ir->ops[i];
		if (o->code == SCHED_IR_REVEAL || o->code == SCHED_IR_STORE)
			live[i] = 1;
		if (!live[i])
			continue;
		int operands[3] = {o->a, o->b, o->c};
		for (int k = 0; k < 3; k++)
			if (operands[k] >= 0)
				live[ir->regs[operands[k]].op] = 1;
	}
	size_t n = 0;
	for (size_t i = 0; i < ir->n_ops; i++) {
		renum[i] = live[i] ? (int)n : -1;
		if (live[i])
			ir->ops[n++] = ir->ops[i];
	}
	for (size_t r = 0; r < ir->n_regs; r++)
		ir->regs[r].op = ir->regs[r].op >= 0 ? renum[ir->regs[r].op] : -1;
	ir->n_ops = n;
	free(live);
	free(renum);
	return 0;
}

int sched_lang_ir_finish(struct sched_lang_ir_builder *b)
{
	struct sched_ir *ir = b->ir;
	if (b->oom || remove_dead(b) != 0)
		return MPC_ENOMEM;
	/* Distinct task keys, sorted: stage, MAP before COMBINE, table. */
	struct task_key *keys = malloc((ir->n_ops ? ir->n_ops : 1) * sizeof(*keys));
	if (keys == NULL)
		return MPC_ENOMEM;
	size_t n_keys = 0;
	for (size_t i = 0; i < ir->n_ops; i++) {
		struct task_key k = key_of(b, &ir->ops[i]);
		if (k.kind < 0)
			continue;
		size_t pos = 0;
		while (pos < n_keys && key_cmp(&keys[pos], &k) < 0)
			pos++;
		if (pos < n_keys && key_cmp(&keys[pos], &k) == 0)
			continue;
		memmove(&keys[pos + 1], &keys[pos], (n_keys - pos) * sizeof(*keys));
		keys[pos] = k;
		n_keys++;
	}
	ir->tasks = calloc(n_keys ? n_keys : 1, sizeof(*ir->tasks));
	if (ir->tasks == NULL) {
		free(keys);
		return MPC_ENOMEM;
	}
	ir->n_tasks = n_keys;
	for (size_t t = 0; t < n_keys; t++) {
		ir->tasks[t].kind = (enum sched_ir_task_kind)keys[t].kind;
		ir->tasks[t].stage = keys[t].stage;
		ir->tasks[t].table = keys[t].table;
		if (keys[t].stage + 1 > ir->n_stages)
			ir->n_stages = keys[t].stage + 1;
	}
	int rc = 0;
	for (size_t i = 0; i < ir->n_ops && rc == 0; i++) {
		struct sched_ir_op *o = &ir->ops[i];
		struct task_key k = key_of(b, o);
		if (k.kind < 0)
			continue;
		size_t t = 0;
		while (key_cmp(&keys[t], &k) != 0)
			t++;
		o->task = (int)t;
		struct sched_ir_task *task = &ir->tasks[t];
		if (set_add(&task->ops, &task->n_ops, (int)i) != 0)
			rc = MPC_ENOMEM;
		if (rc == 0 && o->code == SCHED_IR_LOAD &&
		    set_add(&task->columns, &task->n_columns, o->column) != 0)
			rc = MPC_ENOMEM;
		int operands[3] = {o->a, o->b, o->c};
		for (int j = 0; j < 3 && rc == 0; j++) {
			if (operands[j] < 0)
				continue;
			int src = ir->ops[ir->regs[operands[j]].op].task;
			if (src == (int)t)
				continue;
			if (set_add(&task->inputs, &task->n_inputs, operands[j]) != 0 ||
			    (src >= 0 && set_add(&task->deps, &task->n_deps, src) != 0))
				rc = MPC_ENOMEM;
		}
		/* Fuel: a Beaver multiplication per element of a product of
		 * two secrets (Beaver 1991); a probabilistic truncation per
		 * element truncated or divided (engine/fixed.h). */
		const struct sched_ir_type *dt = o->dst >= 0 ? &ir->regs[o->dst].type : NULL;
		int per_row = dt != NULL && dt->shape == SCHED_IR_VECTOR;
		if (o->code == SCHED_IR_DOT ||
		    (o->code == SCHED_IR_MUL &&
		     ir->regs[o->a].type.secrecy == SCHED_IR_SECRET &&
		     ir->regs[o->b].type.secrecy == SCHED_IR_SECRET)) {
			if (per_row || o->code == SCHED_IR_DOT)
				task->triples_per_row++;
			else
				task->triples_fixed++;
		}
		if ((o->code == SCHED_IR_TRUNC || o->code == SCHED_IR_DIV) &&
		    dt->secrecy == SCHED_IR_SECRET) {
			if (per_row)
				task->truncs_per_row++;
			else
				task->truncs_fixed++;
		}
	}
	/* A MAP of a later stage needs the previous COMBINE even when it
	 * reads nothing from it (e.g. only its row order): keep stages ordered. */
	for (size_t t = 0; t < n_keys && rc == 0; t++) {
		struct sched_ir_task *task = &ir->tasks[t];
		for (size_t u = 0; u < n_keys && rc == 0; u++) {
			const struct sched_ir_task *dep = &ir->tasks[u];
			int need = (task->kind == SCHED_IR_COMBINE &&
				    dep->kind == SCHED_IR_MAP && dep->stage == task->stage) ||
				   (dep->kind == SCHED_IR_COMBINE && dep->stage + 1 == task->stage);
			if (need && set_add(&task->deps, &task->n_deps, (int)u) != 0)
				rc = MPC_ENOMEM;
		}
	}
	free(keys);
	return rc;
}
