/* Internals of the job language front end shared by lang_*.c: arena, diagnostics, tokens, AST, IR builder. */
#ifndef MPC_SCHEDULER_LANG_INT_H
#define MPC_SCHEDULER_LANG_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/lang.h"

/*
 * Everything a compile allocates for the AST lives in one arena freed at
 * the end, so an error anywhere (and arbitrary input) cannot leak. The IR,
 * which outlives the compile, is plain malloc'd memory (sched_ir_free()).
 */
struct sched_lang_arena {
	struct sched_lang_arena_block *head;
	int oom; /* an allocation failed: the compile returns MPC_ENOMEM */
};

/* Makes room for element n of a heap array of elem-sized items with *cap
 * allocated (doubling, from 16): 0, or -1 when out of memory (*arr unchanged). */
int sched_lang_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* Returns zeroed memory or NULL (and sets arena->oom). */
void *sched_lang_arena_alloc(struct sched_lang_arena *arena, size_t size);
/* Copies len bytes and a NUL; NULL on failure. */
char *sched_lang_arena_strndup(struct sched_lang_arena *arena, const char *s,
			       size_t len);
void sched_lang_arena_free(struct sched_lang_arena *arena);

/* Diagnostics: collects "FILE:LINE:COL: message" lines into the caller's buffer. */
struct sched_lang_diag {
	const char *file_name;
	char *buf; /* may be NULL */
	size_t cap;
	size_t len;
	unsigned n_errors;
	unsigned max_errors;
};

void sched_lang_error(struct sched_lang_diag *diag, unsigned line,
		      unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* True once max_errors were reported: callers stop. */
int sched_lang_diag_full(const struct sched_lang_diag *diag);

enum sched_lang_tok_kind {
	SCHED_TOK_EOF,
	SCHED_TOK_NEWLINE,
	SCHED_TOK_NAME,
	SCHED_TOK_NUMBER,
	SCHED_TOK_STRING,
	SCHED_TOK_LOAD,
	SCHED_TOK_REVEAL,
	SCHED_TOK_STORE,
	SCHED_TOK_TO,
	SCHED_TOK_ASSIGN, /* = */
	SCHED_TOK_PLUS,
	SCHED_TOK_MINUS,
	SCHED_TOK_STAR,
	SCHED_TOK_SLASH,
	SCHED_TOK_LPAREN,
	SCHED_TOK_RPAREN,
	SCHED_TOK_COMMA,
	SCHED_TOK_DOT,
	SCHED_TOK_ERROR, /* the lexer reported it already */
};

struct sched_lang_token {
	enum sched_lang_tok_kind kind;
	const char *start; /* into the program text */
	size_t len;
	unsigned line, col;
};

struct sched_lang_lexer {
	const char *text;
	size_t len;
	size_t pos;
	unsigned line, col;
	struct sched_lang_diag *diag;
};

void sched_lang_lex_init(struct sched_lang_lexer *lx, const char *text,
			 size_t len, struct sched_lang_diag *diag);
/* Next token; on a bad character or string reports it and returns
 * SCHED_TOK_ERROR (the caller skips to the end of the line). */
struct sched_lang_token sched_lang_lex_next(struct sched_lang_lexer *lx);
/* Human name of a token for "expected X, got Y" messages. */
const char *sched_lang_tok_name(enum sched_lang_tok_kind kind);

enum sched_lang_expr_kind {
	SCHED_EXPR_NUMBER,
	SCHED_EXPR_STRING,
	SCHED_EXPR_NAME,
	SCHED_EXPR_LOAD,
	SCHED_EXPR_CALL,
	SCHED_EXPR_BINARY,
	SCHED_EXPR_NEG,
};

struct sched_lang_expr {
	enum sched_lang_expr_kind kind;
	unsigned line, col;
	const char *text; /* NUMBER: digits; STRING: contents; NAME/CALL: name; LOAD: table */
	const char *column; /* LOAD */
	unsigned table_line, table_col;   /* LOAD: position of TABLE */
	unsigned column_line, column_col; /* LOAD: position of COLUMN */
	char op;            /* BINARY: + - * / */
	struct sched_lang_expr *lhs, *rhs; /* BINARY; NEG uses lhs */
	struct sched_lang_expr **args;     /* CALL */
	size_t n_args;
};

enum sched_lang_stmt_kind {
	SCHED_STMT_ASSIGN,
	SCHED_STMT_REVEAL,
	SCHED_STMT_STORE,
};

struct sched_lang_stmt {
	enum sched_lang_stmt_kind kind;
	unsigned line, col;
	const char *name;   /* ASSIGN: name; STORE: table */
	unsigned name_line, name_col;
	const char *column; /* STORE */
	unsigned column_line, column_col; /* STORE: position of COLUMN */
	struct sched_lang_expr *value; /* ASSIGN, STORE */
	const char **names; /* REVEAL */
	unsigned *name_lines, *name_cols;
	size_t n_names;
	const char *recipient; /* REVEAL; NULL = public */
	struct sched_lang_stmt *next;
};

struct sched_lang_program {
	struct sched_lang_stmt *first;
};

/* Parses the whole text into prog (allocations from arena). Returns 0, or
 * MPC_EINVAL after reporting syntax errors, or MPC_ENOMEM. */
int sched_lang_parse(const char *text, size_t len,
		     struct sched_lang_arena *arena,
		     struct sched_lang_diag *diag,
		     struct sched_lang_program *prog);

/* IR builder (lang_ir.c): appends to an IR under construction. */
struct sched_lang_ir_builder {
	struct sched_ir *ir;
	size_t cap_regs, cap_ops, cap_tables, cap_columns, cap_reveals,
		cap_names;
	unsigned *reg_stage; /* per register: MAP/COMBINE stage */
	int oom;
};

/* New register of type t written by a new op; returns the register or -1
 * (out of memory). The op's operands are given; other fields start at -1. */
int sched_lang_ir_emit(struct sched_lang_ir_builder *b,
		       enum sched_ir_opcode code, const struct sched_ir_type *t,
		       int a, int bb, int64_t imm, unsigned line, unsigned col);
/* The op that writes register reg (for setting table/column/reveal). */
struct sched_ir_op *sched_lang_ir_op_of(struct sched_lang_ir_builder *b,
					int reg);
/* Appends an op without a result (REVEAL, STORE); returns its index or -1. */
int sched_lang_ir_emit_sink(struct sched_lang_ir_builder *b,
			    enum sched_ir_opcode code, int a, int bb, int c,
			    unsigned line, unsigned col);
int sched_lang_ir_table(struct sched_lang_ir_builder *b, const char *name);
int sched_lang_ir_column(struct sched_lang_ir_builder *b, int table,
			 const char *name, enum sched_ir_num num,
			 unsigned frac_bits, int is_store);
int sched_lang_ir_reveal(struct sched_lang_ir_builder *b, const char *name,
			 const char *recipient, enum sched_ir_post post,
			 const struct sched_ir_type *t);
int sched_lang_ir_name(struct sched_lang_ir_builder *b, const char *name,
		       const struct sched_ir_type *t, int reg, unsigned line,
		       unsigned col);
/* Removes dead ops, places ops into MAP/COMBINE tasks by stage, computes
 * inputs, dependencies and fuel. Returns 0 or MPC_ENOMEM. */
int sched_lang_ir_finish(struct sched_lang_ir_builder *b);

/* The checker (lang_check.c): types the program and lowers it into b. */
int sched_lang_check(const struct sched_lang_program *prog,
		     const struct sched_lang_options *opt,
		     struct sched_lang_diag *diag,
		     struct sched_lang_ir_builder *b);

#endif
