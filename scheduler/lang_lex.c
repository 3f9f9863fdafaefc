/* Lexer of the job language: names, numbers, strings, keywords, operators, newlines; '#' comments. */
#include "scheduler/lang_int.h"

#include <string.h>

void sched_lang_lex_init(struct sched_lang_lexer *lx, const char *text,
			 size_t len, struct sched_lang_diag *diag)
{
	lx->text = text;
	lx->len = len;
	lx->pos = 0;
	lx->line = 1;
	lx->col = 1;
	lx->diag = diag;
}

const char *sched_lang_tok_name(enum sched_lang_tok_kind kind)
{
	switch (kind) {
	case SCHED_TOK_EOF: return "end of input";
	case SCHED_TOK_NEWLINE: return "end of line";
	case SCHED_TOK_NAME: return "a name";
	case SCHED_TOK_NUMBER: return "a number";
	case SCHED_TOK_STRING: return "a string";
	case SCHED_TOK_LOAD: return "'load'";
	case SCHED_TOK_REVEAL: return "'reveal'";
	case SCHED_TOK_STORE: return "'store'";
	case SCHED_TOK_TO: return "'to'";
	case SCHED_TOK_ASSIGN: return "'='";
	case SCHED_TOK_PLUS: return "'+'";
	case SCHED_TOK_MINUS: return "'-'";
	case SCHED_TOK_STAR: return "'*'";
	case SCHED_TOK_SLASH: return "'/'";
	case SCHED_TOK_LPAREN: return "'('";
	case SCHED_TOK_RPAREN: return "')'";
	case SCHED_TOK_COMMA: return "','";
	case SCHED_TOK_DOT: return "'.'";
	case SCHED_TOK_ERROR: return "an invalid token";
	}
	return "?";
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_name_char(char c) { return is_name_start(c) || is_digit(c); }

static char peek(const struct sched_lang_lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? lx->text[lx->pos + ahead] : '\0';
}

/* Advances over n bytes of one line (never a newline). */
static void advance(struct sched_lang_lexer *lx, size_t n)
{
	lx->pos += n;
	lx->col += (unsigned)n;
}

static const struct {
	const char *word;
	enum sched_lang_tok_kind kind;
} keywords[] = {
	{"load", SCHED_TOK_LOAD},
	{"reveal", SCHED_TOK_REVEAL},
	{"store", SCHED_TOK_STORE},
	{"to", SCHED_TOK_TO},
};

struct sched_lang_token sched_lang_lex_next(struct sched_lang_lexer *lx)
{
	struct sched_lang_token tok = {0};
	for (;;) {
		char c = peek(lx, 0);
		if (lx->pos < lx->len && (c == ' ' || c == '\t' || c == '\r')) {
			advance(lx, 1);
		} else if (lx->pos < lx->len && c == '#') {
			while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
				advance(lx, 1);
		} else {
			break;
		}
	}
	tok.start = lx->text + lx->pos;
	tok.line = lx->line;
	tok.col = lx->col;
	if (lx->pos >= lx->len) {
		tok.kind = SCHED_TOK_EOF;
		return tok;
	}
	char c = lx->text[lx->pos];
	if (c == '\n') {
		tok.kind = SCHED_TOK_NEWLINE;
		tok.len = 1;
		lx->pos++;
		lx->line++;
		lx->col = 1;
		return tok;
	}
	if (is_name_start(c)) {
		size_t n = 1;
		while (is_name_char(peek(lx, n)) && lx->pos + n < lx->len)
			n++;
		advance(lx, n);
		tok.kind = SCHED_TOK_NAME;
		tok.len = n;
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (strlen(keywords[i].word) == n &&
			    memcmp(keywords[i].word, tok.start, n) == 0)
				tok.kind = keywords[i].kind;
		return tok;
	}
	if (is_digit(c) || (c == '.' && is_digit(peek(lx, 1)))) {
		size_t n = 0;
		while (lx->pos + n < lx->len && is_digit(peek(lx, n)))
			n++;
		if (peek(lx, n) == '.' && lx->pos + n < lx->len) {
			n++;
			if (!is_digit(peek(lx, n)) || lx->pos + n >= lx->len) {
				advance(lx, n);
				sched_lang_error(lx->diag, tok.line, tok.col,
						 "malformed number: expected a digit after '.'");
				tok.kind = SCHED_TOK_ERROR;
				return tok;
			}
			while (lx->pos + n < lx->len && is_digit(peek(lx, n)))
				n++;
		}
		if (lx->pos + n < lx->len &&
		    (is_name_start(peek(lx, n)) || peek(lx, n) == '.')) {
			advance(lx, n);
			sched_lang_error(lx->diag, lx->line, lx->col,
					 "malformed number: unexpected '%c' after digits",
					 peek(lx, 0));
			tok.kind = SCHED_TOK_ERROR;
			return tok;
		}
		advance(lx, n);
		tok.kind = SCHED_TOK_NUMBER;
		tok.len = n;
		return tok;
	}
	if (c == '"') {
		size_t n = 1;
		while (lx->pos + n < lx->len && peek(lx, n) != '"' &&
		       peek(lx, n) != '\n')
			n++;
		if (lx->pos + n >= lx->len || peek(lx, n) != '"') {
			advance(lx, n);
			sched_lang_error(lx->diag, tok.line, tok.col,
					 "unterminated string: expected '\"' before the end of the line");
			tok.kind = SCHED_TOK_ERROR;
			return tok;
		}
		tok.kind = SCHED_TOK_STRING;
		tok.start = lx->text + lx->pos + 1; /* contents only */
		tok.len = n - 1;
		advance(lx, n + 1);
		return tok;
	}
	enum sched_lang_tok_kind kind;
	switch (c) {
	case '=': kind = SCHED_TOK_ASSIGN; break;
	case '+': kind = SCHED_TOK_PLUS; break;
	case '-': kind = SCHED_TOK_MINUS; break;
	case '*': kind = SCHED_TOK_STAR; break;
	case '/': kind = SCHED_TOK_SLASH; break;
	case '(': kind = SCHED_TOK_LPAREN; break;
	case ')': kind = SCHED_TOK_RPAREN; break;
	case ',': kind = SCHED_TOK_COMMA; break;
	case '.': kind = SCHED_TOK_DOT; break;
	default:
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			sched_lang_error(lx->diag, tok.line, tok.col,
					 "unexpected character '%c'", c);
		else
			sched_lang_error(lx->diag, tok.line, tok.col,
					 "unexpected byte 0x%02x",
					 (unsigned char)c);
		advance(lx, 1);
		tok.kind = SCHED_TOK_ERROR;
		tok.len = 1;
		return tok;
	}
	advance(lx, 1);
	tok.kind = kind;
	tok.len = 1;
	return tok;
}
