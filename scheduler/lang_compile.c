/* Driver of the job language front end: arena, diagnostics, sched_lang_compile() and freeing the IR. */
#include "scheduler/lang_int.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sched_lang_arena_block {
	struct sched_lang_arena_block *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

#define ARENA_BLOCK_SIZE 8192

int sched_lang_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

void *sched_lang_arena_alloc(struct sched_lang_arena *arena, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	struct sched_lang_arena_block *blk = arena->head;
	if (blk == NULL || blk->size - blk->used < size) {
		size_t bsize = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
		blk = malloc(sizeof(*blk) + bsize);
		if (blk == NULL) {
			arena->oom = 1;
			return NULL;
		}
		blk->size = bsize;
		blk->used = 0;
		blk->next = arena->head;
		arena->head = blk;
	}
	void *p = (char *)blk->data + blk->used;
	blk->used += size;
	memset(p, 0, size);
	return p;
}

char *sched_lang_arena_strndup(struct sched_lang_arena *arena, const char *s,
			       size_t len)
{
	char *p = sched_lang_arena_alloc(arena, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void sched_lang_arena_free(struct sched_lang_arena *arena)
{
	struct sched_lang_arena_block *blk = arena->head;
	while (blk != NULL) {
		struct sched_lang_arena_block *next = blk->next;
		free(blk);
		blk = next;
	}
	arena->head = NULL;
}

int sched_lang_diag_full(const struct sched_lang_diag *diag)
{
	return diag->n_errors >= diag->max_errors;
}

void sched_lang_error(struct sched_lang_diag *diag, unsigned line,
		      unsigned col, const char *fmt, ...)
{
	if (sched_lang_diag_full(diag))
		return;
	diag->n_errors++;
	if (diag->buf == NULL || diag->cap == 0)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (diag->len + 1 >= diag->cap)
		return;
	int n = snprintf(diag->buf + diag->len, diag->cap - diag->len,
			 "%s%s:%u:%u: %s", diag->len > 0 ? "\n" : "",
			 diag->file_name, line, col, msg);
	if (n < 0)
		return;
	diag->len += (size_t)n;
	if (diag->len >= diag->cap)
		diag->len = diag->cap - 1;
}

static void free_task(struct sched_ir_task *t)
{
	free(t->ops);
	free(t->columns);
	free(t->inputs);
	free(t->deps);
}

void sched_ir_free(struct sched_ir *ir)
{
	if (ir == NULL)
		return;
	for (size_t i = 0; i < ir->n_tables; i++)
		free(ir->tables[i].name);
	for (size_t i = 0; i < ir->n_columns; i++)
		free(ir->columns[i].name);
	for (size_t i = 0; i < ir->n_reveals; i++) {
		free(ir->reveals[i].name);
		free(ir->reveals[i].recipient);
	}
	for (size_t i = 0; i < ir->n_names; i++)
		free(ir->names[i].name);
	for (size_t i = 0; i < ir->n_tasks; i++)
		free_task(&ir->tasks[i]);
	free(ir->regs);
	free(ir->ops);
	free(ir->tables);
	free(ir->columns);
	free(ir->reveals);
	free(ir->names);
	free(ir->tasks);
	free(ir);
}

const struct sched_ir_name *sched_ir_find_name(const struct sched_ir *ir,
					       const char *name)
{
	for (size_t i = 0; i < ir->n_names; i++)
		if (strcmp(ir->names[i].name, name) == 0)
			return &ir->names[i];
	return NULL;
}

void sched_ir_type_format(const struct sched_ir *ir,
			  const struct sched_ir_type *t, char *buf, size_t cap)
{
	char num[24];
	if (t->num == SCHED_IR_INT)
		snprintf(num, sizeof(num), "int");
	else
		snprintf(num, sizeof(num), "fixed(%u)", t->frac_bits);
	const char *table = "?";
	if (ir != NULL && t->table >= 0 && (size_t)t->table < ir->n_tables)
		table = ir->tables[t->table].name;
	const char *post = t->post == SCHED_IR_POST_SQRT   ? " sqrt-on-reveal"
			   : t->post == SCHED_IR_POST_CORR ? " corr-on-reveal"
							   : "";
	switch (t->shape) {
	case SCHED_IR_VECTOR:
		snprintf(buf, cap, "%s %s vector[%s]%s",
			 t->secrecy == SCHED_IR_SECRET ? "secret" : "public",
			 num, table, post);
		break;
	case SCHED_IR_PARTIAL:
		snprintf(buf, cap, "%s %s partial[%s]%s",
			 t->secrecy == SCHED_IR_SECRET ? "secret" : "public",
			 num, table, post);
		break;
	default:
		snprintf(buf, cap, "%s %s scalar%s",
			 t->secrecy == SCHED_IR_SECRET ? "secret" : "public",
			 num, post);
		break;
	}
}

int sched_lang_compile(const char *file_name, const char *text, size_t len,
		       const struct sched_lang_options *opt,
		       struct sched_ir **out, char *err, size_t err_cap)
{
	*out = NULL;
	if (err != NULL && err_cap > 0)
		err[0] = '\0';
	struct sched_lang_diag diag = {
		.file_name = file_name != NULL ? file_name : "<input>",
		.buf = err,
		.cap = err_cap,
		.max_errors = opt != NULL && opt->max_errors > 0 ? opt->max_errors : 1,
	};
	if (opt == NULL || opt->schema == NULL || opt->schema->lookup == NULL ||
	    (text == NULL && len > 0) || (opt->n_args > 0 && opt->args == NULL)) {
		sched_lang_error(&diag, 0, 0, "compile: no schema or bad arguments");
		return MPC_EINVAL;
	}
	if (text == NULL)
		text = "";

	struct sched_lang_arena arena = {0};
	struct sched_lang_program prog = {0};
	struct sched_lang_ir_builder b = {0};
	int rc = sched_lang_parse(text, len, &arena, &diag, &prog);
	/* Type checking runs only on a program without syntax errors: a
	 * dropped line would make every later use of its name an error. */
	if (rc == 0) {
		b.ir = calloc(1, sizeof(*b.ir));
		rc = b.ir == NULL ? MPC_ENOMEM
				  : sched_lang_check(&prog, opt, &diag, &b);
	}
	if (rc == 0 && diag.n_errors > 0)
		rc = MPC_EINVAL;
	if (rc == 0 && (b.oom || arena.oom))
		rc = MPC_ENOMEM;
	if (rc == 0)
		rc = sched_lang_ir_finish(&b);
	if (rc == MPC_ENOMEM && diag.n_errors == 0)
		sched_lang_error(&diag, 0, 0, "out of memory");
	sched_lang_arena_free(&arena);
	free(b.reg_stage);
	if (rc != 0) {
		sched_ir_free(b.ir);
		return rc;
	}
	*out = b.ir;
	return 0;
}
