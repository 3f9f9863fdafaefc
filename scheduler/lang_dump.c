/* Text dump of the job IR (tables, tasks with fuel, ops, names) for tests and debugging. */
#include "scheduler/lang_int.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>

static const char *op_name(enum sched_ir_opcode code)
{
	switch (code) {
	case SCHED_IR_CONST: return "const";
	case SCHED_IR_COUNT: return "count";
	case SCHED_IR_LOAD: return "load";
	case SCHED_IR_ADD: return "add";
	case SCHED_IR_SUB: return "sub";
	case SCHED_IR_NEG: return "neg";
	case SCHED_IR_MUL: return "mul";
	case SCHED_IR_DIV: return "div";
	case SCHED_IR_RESCALE: return "rescale";
	case SCHED_IR_TRUNC: return "trunc";
	case SCHED_IR_SUM: return "sum";
	case SCHED_IR_DOT: return "dot";
	case SCHED_IR_GATHER: return "gather";
	case SCHED_IR_REVEAL: return "reveal";
	case SCHED_IR_STORE: return "store";
	}
	return "?";
}

static const char *post_name(enum sched_ir_post post)
{
	return post == SCHED_IR_POST_SQRT ? " sqrt" : post == SCHED_IR_POST_CORR ? " corr" : "";
}

static void dump_op(FILE *f, const struct sched_ir *ir, const struct sched_ir_op *o)
{
	char tt[128];
	fputs("  ", f);
	if (o->dst >= 0)
		fprintf(f, "r%d = ", o->dst);
	fputs(op_name(o->code), f);
	switch (o->code) {
	case SCHED_IR_CONST:
		fprintf(f, " %lld", (long long)o->imm);
		break;
	case SCHED_IR_COUNT:
		fprintf(f, " %s", ir->tables[o->table].name);
		break;
	case SCHED_IR_LOAD:
	case SCHED_IR_STORE: {
		const struct sched_ir_column *c = &ir->columns[o->column];
		if (o->code == SCHED_IR_STORE)
			fprintf(f, " r%d ->", o->a);
		fprintf(f, " %s.%s", ir->tables[c->table].name, c->name);
		break;
	}
	case SCHED_IR_REVEAL: {
		const struct sched_ir_reveal *r = &ir->reveals[o->reveal];
		fprintf(f, "%s %s to %s = r%d", post_name(r->post), r->name,
			r->recipient ? r->recipient : "public", o->a);
		if (o->b >= 0)
			fprintf(f, " r%d r%d", o->b, o->c);
		break;
	}
	default:
		if (o->a >= 0)
			fprintf(f, " r%d", o->a);
		if (o->b >= 0)
			fprintf(f, " r%d", o->b);
		if (o->code == SCHED_IR_DIV || o->code == SCHED_IR_RESCALE ||
		    o->code == SCHED_IR_TRUNC)
			fprintf(f, " %s%lld", o->code == SCHED_IR_TRUNC ? ">>" : "<<",
				(long long)o->imm);
		break;
	}
	if (o->dst >= 0) {
		sched_ir_type_format(ir, &ir->regs[o->dst].type, tt, sizeof(tt));
		fprintf(f, "  ; %s", tt);
	}
	fprintf(f, "  @%u:%u\n", o->line, o->col);
}

static void dump_list(FILE *f, const char *label, const char *prefix, const int *v, size_t n)
{
	fprintf(f, "  %s:", label);
	if (n == 0)
		fputs(" -", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %s%d", prefix, v[i]);
	fputc('\n', f);
}

int sched_lang_dump_ir(const struct sched_ir *ir, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	*text = NULL;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return MPC_ENOMEM;
	for (size_t i = 0; i < ir->n_columns; i++) {
		const struct sched_ir_column *c = &ir->columns[i];
		if (c->num == SCHED_IR_INT)
			fprintf(f, "column %zu %s.%s int%s\n", i, ir->tables[c->table].name,
				c->name, c->is_store ? " store" : "");
		else
			fprintf(f, "column %zu %s.%s fixed(%u)%s\n", i,
				ir->tables[c->table].name, c->name, c->frac_bits,
				c->is_store ? " store" : "");
	}
	fputs("public:\n", f);
	for (size_t i = 0; i < ir->n_ops; i++)
		if (ir->ops[i].task < 0)
			dump_op(f, ir, &ir->ops[i]);
	for (size_t t = 0; t < ir->n_tasks; t++) {
		const struct sched_ir_task *task = &ir->tasks[t];
		if (task->kind == SCHED_IR_MAP)
			fprintf(f, "task %zu map stage %u table %s", t, task->stage,
				ir->tables[task->table].name);
		else
			fprintf(f, "task %zu combine stage %u", t, task->stage);
		fprintf(f, " triples %llu/row+%llu truncs %llu/row+%llu\n",
			(unsigned long long)task->triples_per_row,
			(unsigned long long)task->triples_fixed,
			(unsigned long long)task->truncs_per_row,
			(unsigned long long)task->truncs_fixed);
		dump_list(f, "columns", "c", task->columns, task->n_columns);
		dump_list(f, "inputs", "r", task->inputs, task->n_inputs);
		dump_list(f, "deps", "t", task->deps, task->n_deps);
		for (size_t i = 0; i < task->n_ops; i++)
			dump_op(f, ir, &ir->ops[task->ops[i]]);
	}
	for (size_t i = 0; i < ir->n_names; i++) {
		char tt[128];
		sched_ir_type_format(ir, &ir->names[i].type, tt, sizeof(tt));
		fprintf(f, "name %s: %s r%d\n", ir->names[i].name, tt, ir->names[i].reg);
	}
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return MPC_ENOMEM;
	}
	*text = buf;
	return 0;
}
