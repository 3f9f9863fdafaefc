/* Recursive-descent parser of the job language: one statement per line into an AST in the arena. */
#include "scheduler/lang_int.h"

#include "common/err.h"

#include <string.h>

/* Deeper nesting is refused so that hostile input cannot exhaust the stack. */
#define PARSE_MAX_DEPTH 200
/* Arguments of one call and names of one reveal. */
#define PARSE_MAX_LIST 64
/* Statements of a program: the checker looks names up linearly, so the
 * bound keeps a compile (on every party, at apply) well under a second. */
#define PARSE_MAX_STATEMENTS 4096

struct parser {
	struct sched_lang_lexer lx;
	struct sched_lang_token tok;
	struct sched_lang_arena *arena;
	struct sched_lang_diag *diag;
	unsigned depth;
	int failed;   /* this line had an error (reported already) */
};

static void next(struct parser *p)
{
	p->tok = sched_lang_lex_next(&p->lx);
	if (p->tok.kind == SCHED_TOK_ERROR)
		p->failed = 1; /* the lexer reported it */
}

/* Reports "expected WHAT, got TOKEN" at the current token (once per line). */
static void expected(struct parser *p, const char *what)
{
	if (p->failed)
		return;
	p->failed = 1;
	if (p->tok.kind == SCHED_TOK_NAME || p->tok.kind == SCHED_TOK_NUMBER)
		sched_lang_error(p->diag, p->tok.line, p->tok.col,
				 "expected %s, got '%.*s'", what,
				 (int)(p->tok.len > 40 ? 40 : p->tok.len),
				 p->tok.start);
	else
		sched_lang_error(p->diag, p->tok.line, p->tok.col,
				 "expected %s, got %s", what,
				 sched_lang_tok_name(p->tok.kind));
}

static const char *tok_text(struct parser *p)
{
	return sched_lang_arena_strndup(p->arena, p->tok.start, p->tok.len);
}

static struct sched_lang_expr *new_expr(struct parser *p,
					enum sched_lang_expr_kind kind,
					unsigned line, unsigned col)
{
	struct sched_lang_expr *e = sched_lang_arena_alloc(p->arena, sizeof(*e));
	if (e == NULL) {
		p->failed = 1;
		return NULL;
	}
	e->kind = kind;
	e->line = line;
	e->col = col;
	return e;
}

static struct sched_lang_expr *parse_expr(struct parser *p);

/* TABLE '.' COLUMN after 'load' or 'store'; returns 0 or -1. */
static int parse_column_ref(struct parser *p, const char **table,
			    const char **column, unsigned pos[4])
{
	pos[0] = p->tok.line;
	pos[1] = p->tok.col;
	if (p->tok.kind != SCHED_TOK_NAME) {
		expected(p, "a table name (TABLE.COLUMN)");
		return -1;
	}
	*table = tok_text(p);
	next(p);
	if (p->tok.kind != SCHED_TOK_DOT) {
		expected(p, "'.' and a column name (TABLE.COLUMN)");
		return -1;
	}
	next(p);
	if (p->tok.kind != SCHED_TOK_NAME) {
		expected(p, "a column name (TABLE.COLUMN)");
		return -1;
	}
	pos[2] = p->tok.line;
	pos[3] = p->tok.col;
	*column = tok_text(p);
	next(p);
	return *table != NULL && *column != NULL ? 0 : -1;
}

static struct sched_lang_expr *parse_call(struct parser *p,
					  struct sched_lang_expr *e)
{
	struct sched_lang_expr *args[PARSE_MAX_LIST];
	size_t n = 0;
	next(p); /* '(' */
	if (p->tok.kind != SCHED_TOK_RPAREN) {
		for (;;) {
			struct sched_lang_expr *arg;
			if (p->tok.kind == SCHED_TOK_STRING) {
				arg = new_expr(p, SCHED_EXPR_STRING, p->tok.line,
					       p->tok.col);
				if (arg == NULL)
					return NULL;
				arg->text = tok_text(p);
				next(p);
			} else {
				arg = parse_expr(p);
			}
			if (arg == NULL)
				return NULL;
			if (n == PARSE_MAX_LIST) {
				sched_lang_error(p->diag, arg->line, arg->col,
						 "too many arguments (at most %d)",
						 PARSE_MAX_LIST);
				p->failed = 1;
				return NULL;
			}
			args[n++] = arg;
			if (p->tok.kind == SCHED_TOK_COMMA) {
				next(p);
				continue;
			}
			if (p->tok.kind != SCHED_TOK_RPAREN) {
				expected(p, "',' or ')'");
				return NULL;
			}
			break;
		}
	}
	next(p); /* ')' */
	e->args = sched_lang_arena_alloc(p->arena, (n ? n : 1) * sizeof(*e->args));
	if (e->args == NULL) {
		p->failed = 1;
		return NULL;
	}
	memcpy(e->args, args, n * sizeof(*args));
	e->n_args = n;
	return e;
}

static struct sched_lang_expr *parse_primary(struct parser *p)
{
	struct sched_lang_token t = p->tok;
	struct sched_lang_expr *e;
	switch (t.kind) {
	case SCHED_TOK_NUMBER:
		e = new_expr(p, SCHED_EXPR_NUMBER, t.line, t.col);
		if (e == NULL)
			return NULL;
		e->text = tok_text(p);
		next(p);
		return e;
	case SCHED_TOK_NAME:
		e = new_expr(p, SCHED_EXPR_NAME, t.line, t.col);
		if (e == NULL)
			return NULL;
		e->text = tok_text(p);
		next(p);
		if (p->tok.kind == SCHED_TOK_LPAREN) {
			e->kind = SCHED_EXPR_CALL;
			return parse_call(p, e);
		}
		return e;
	case SCHED_TOK_LOAD:
		e = new_expr(p, SCHED_EXPR_LOAD, t.line, t.col);
		if (e == NULL)
			return NULL;
		next(p);
		unsigned pos[4];
		if (parse_column_ref(p, &e->text, &e->column, pos) != 0)
			return NULL;
		e->table_line = pos[0];
		e->table_col = pos[1];
		e->column_line = pos[2];
		e->column_col = pos[3];
		return e;
	case SCHED_TOK_LPAREN:
		next(p);
		e = parse_expr(p);
		if (e == NULL)
			return NULL;
		if (p->tok.kind != SCHED_TOK_RPAREN) {
			expected(p, "')'");
			return NULL;
		}
		next(p);
		return e;
	case SCHED_TOK_STRING:
		if (!p->failed) {
			p->failed = 1;
			sched_lang_error(p->diag, t.line, t.col,
					 "a string is only allowed as the argument of arg(\"KEY\")");
		}
		return NULL;
	default:
		expected(p, "an expression");
		return NULL;
	}
}

/*
 * Takes one level of the depth budget at token t. Each nesting level and
 * each operator of a chain (`a + b + c ...` is a tree as deep as the chain
 * is long) takes one, since the checker and the IR lowering recurse over
 * the tree. Returns 0, or -1 with the error reported. The caller puts
 * p->depth back when it returns, also on error.
 */
static int enter(struct parser *p, struct sched_lang_token t, int chain)
{
	if (++p->depth <= PARSE_MAX_DEPTH)
		return 0;
	if (!p->failed)
		sched_lang_error(p->diag, t.line, t.col,
				 chain ? "expression too long (more than %d levels; each operator "
					 "of a chain counts as one)"
				       : "expression nested too deeply (more than %d levels)",
				 PARSE_MAX_DEPTH);
	p->failed = 1;
	return -1;
}

static struct sched_lang_expr *parse_unary(struct parser *p)
{
	if (p->tok.kind != SCHED_TOK_MINUS)
		return parse_primary(p);
	struct sched_lang_token t = p->tok;
	unsigned base = p->depth;
	if (enter(p, t, 0) != 0) {
		p->depth = base;
		return NULL;
	}
	next(p);
	struct sched_lang_expr *operand = parse_unary(p);
	p->depth = base;
	if (operand == NULL)
		return NULL;
	struct sched_lang_expr *e = new_expr(p, SCHED_EXPR_NEG, t.line, t.col);
	if (e == NULL)
		return NULL;
	e->lhs = operand;
	return e;
}

static struct sched_lang_expr *binary(struct parser *p, char op,
				      struct sched_lang_token t,
				      struct sched_lang_expr *lhs,
				      struct sched_lang_expr *rhs)
{
	struct sched_lang_expr *e = new_expr(p, SCHED_EXPR_BINARY, t.line, t.col);
	if (e == NULL)
		return NULL;
	e->op = op;
	e->lhs = lhs;
	e->rhs = rhs;
	return e;
}

static struct sched_lang_expr *parse_term(struct parser *p)
{
	unsigned base = p->depth;
	struct sched_lang_expr *e = parse_unary(p);
	while (e != NULL && (p->tok.kind == SCHED_TOK_STAR ||
			     p->tok.kind == SCHED_TOK_SLASH)) {
		struct sched_lang_token t = p->tok;
		if (enter(p, t, 1) != 0) {
			e = NULL;
			break;
		}
		next(p);
		struct sched_lang_expr *rhs = parse_unary(p);
		if (rhs == NULL) {
			e = NULL;
			break;
		}
		e = binary(p, t.kind == SCHED_TOK_STAR ? '*' : '/', t, e, rhs);
	}
	p->depth = base;
	return e;
}

static struct sched_lang_expr *parse_expr(struct parser *p)
{
	unsigned base = p->depth;
	if (enter(p, p->tok, 0) != 0) {
		p->depth = base;
		return NULL;
	}
	struct sched_lang_expr *e = parse_term(p);
	while (e != NULL && (p->tok.kind == SCHED_TOK_PLUS ||
			     p->tok.kind == SCHED_TOK_MINUS)) {
		struct sched_lang_token t = p->tok;
		if (enter(p, t, 1) != 0) {
			e = NULL;
			break;
		}
		next(p);
		struct sched_lang_expr *rhs = parse_term(p);
		if (rhs == NULL) {
			e = NULL;
			break;
		}
		e = binary(p, t.kind == SCHED_TOK_PLUS ? '+' : '-', t, e, rhs);
	}
	p->depth = base;
	return e;
}

static struct sched_lang_stmt *new_stmt(struct parser *p,
					enum sched_lang_stmt_kind kind,
					struct sched_lang_token t)
{
	struct sched_lang_stmt *s = sched_lang_arena_alloc(p->arena, sizeof(*s));
	if (s == NULL) {
		p->failed = 1;
		return NULL;
	}
	s->kind = kind;
	s->line = t.line;
	s->col = t.col;
	return s;
}

static struct sched_lang_stmt *parse_reveal(struct parser *p)
{
	struct sched_lang_stmt *s = new_stmt(p, SCHED_STMT_REVEAL, p->tok);
	if (s == NULL)
		return NULL;
	const char *names[PARSE_MAX_LIST];
	unsigned lines[PARSE_MAX_LIST], cols[PARSE_MAX_LIST];
	size_t n = 0;
	next(p);
	for (;;) {
		if (p->tok.kind != SCHED_TOK_NAME) {
			expected(p, n == 0 ? "a name to reveal" : "a name after ','");
			return NULL;
		}
		if (n == PARSE_MAX_LIST) {
			sched_lang_error(p->diag, p->tok.line, p->tok.col,
					 "too many names in one reveal (at most %d)",
					 PARSE_MAX_LIST);
			p->failed = 1;
			return NULL;
		}
		lines[n] = p->tok.line;
		cols[n] = p->tok.col;
		names[n++] = tok_text(p);
		next(p);
		if (p->tok.kind != SCHED_TOK_COMMA)
			break;
		next(p);
	}
	if (p->tok.kind != SCHED_TOK_TO) {
		expected(p, "',' or 'to'");
		return NULL;
	}
	next(p);
	if (p->tok.kind != SCHED_TOK_NAME) {
		expected(p, "'public' or a client name after 'to'");
		return NULL;
	}
	if (!(p->tok.len == 6 && memcmp(p->tok.start, "public", 6) == 0))
		s->recipient = tok_text(p);
	next(p);
	s->names = sched_lang_arena_alloc(p->arena, n * sizeof(*s->names));
	s->name_lines = sched_lang_arena_alloc(p->arena, n * sizeof(unsigned));
	s->name_cols = sched_lang_arena_alloc(p->arena, n * sizeof(unsigned));
	if (s->names == NULL || s->name_lines == NULL || s->name_cols == NULL) {
		p->failed = 1;
		return NULL;
	}
	memcpy(s->names, names, n * sizeof(*names));
	memcpy(s->name_lines, lines, n * sizeof(unsigned));
	memcpy(s->name_cols, cols, n * sizeof(unsigned));
	s->n_names = n;
	return s;
}

static struct sched_lang_stmt *parse_statement(struct parser *p)
{
	struct sched_lang_token t = p->tok;
	struct sched_lang_stmt *s;
	switch (t.kind) {
	case SCHED_TOK_REVEAL:
		return parse_reveal(p);
	case SCHED_TOK_STORE:
		s = new_stmt(p, SCHED_STMT_STORE, t);
		if (s == NULL)
			return NULL;
		next(p);
		unsigned pos[4];
		if (parse_column_ref(p, &s->name, &s->column, pos) != 0)
			return NULL;
		s->name_line = pos[0];
		s->name_col = pos[1];
		s->column_line = pos[2];
		s->column_col = pos[3];
		if (p->tok.kind != SCHED_TOK_ASSIGN) {
			expected(p, "'=' after store TABLE.COLUMN");
			return NULL;
		}
		next(p);
		s->value = parse_expr(p);
		return s->value != NULL ? s : NULL;
	case SCHED_TOK_NAME:
		s = new_stmt(p, SCHED_STMT_ASSIGN, t);
		if (s == NULL)
			return NULL;
		s->name = tok_text(p);
		s->name_line = t.line;
		s->name_col = t.col;
		next(p);
		if (p->tok.kind != SCHED_TOK_ASSIGN) {
			expected(p, "'=' after a name (NAME = EXPR)");
			return NULL;
		}
		next(p);
		s->value = parse_expr(p);
		return s->value != NULL ? s : NULL;
	default:
		expected(p, "a statement (NAME = EXPR, reveal or store)");
		return NULL;
	}
}

int sched_lang_parse(const char *text, size_t len,
		     struct sched_lang_arena *arena,
		     struct sched_lang_diag *diag,
		     struct sched_lang_program *prog)
{
	struct parser p = {.arena = arena, .diag = diag};
	struct sched_lang_stmt **tail = &prog->first;
	unsigned errors_before = diag->n_errors, n_stmts = 0;
	sched_lang_lex_init(&p.lx, text, len, diag);
	next(&p);
	while (p.tok.kind != SCHED_TOK_EOF && !sched_lang_diag_full(diag) &&
	       !arena->oom) {
		if (p.tok.kind == SCHED_TOK_NEWLINE) {
			p.failed = 0;
			next(&p);
			continue;
		}
		struct sched_lang_stmt *s = NULL;
		if (!p.failed)
			s = parse_statement(&p);
		if (s != NULL && !p.failed && p.tok.kind != SCHED_TOK_NEWLINE &&
		    p.tok.kind != SCHED_TOK_EOF)
			expected(&p, "end of line (one statement per line)");
		if (s != NULL && !p.failed && ++n_stmts > PARSE_MAX_STATEMENTS) {
			sched_lang_error(diag, s->line, s->col,
					 "more than %d statements in one program",
					 PARSE_MAX_STATEMENTS);
			break;
		}
		if (s != NULL && !p.failed) {
			*tail = s;
			tail = &s->next;
		}
		/* Recover: skip the rest of a bad line. */
		while (p.tok.kind != SCHED_TOK_NEWLINE && p.tok.kind != SCHED_TOK_EOF)
			next(&p);
	}
	if (arena->oom)
		return MPC_ENOMEM;
	return diag->n_errors > errors_before ? MPC_EINVAL : 0;
}
