/* Compact sorted-key JSON text of jansson trees, byte for byte json_dumps, for the replicated records (store and scheduler). */
#include "store/json_canon.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct textbuf {
	char *data;
	size_t len, cap;
	int oom;
};

static int grow(struct textbuf *b, size_t add)
{
	size_t cap = b->cap ? b->cap : 1024;
	char *d;
	if (b->oom)
		return -1;
	while (cap - b->len < add + 1)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	d = realloc(b->data, cap);
	if (d == NULL) {
		b->oom = 1;
		return -1;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

static void put(struct textbuf *b, const char *p, size_t n)
{
	if (b->cap - b->len < n + 1 && grow(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_char(struct textbuf *b, char ch)
{
	if (b->cap - b->len < 2 && grow(b, 1) != 0)
		return;
	b->data[b->len++] = ch;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it
 * is not one: jansson's utf8_check_first/utf8_check_full (the rules it
 * dumps by: a string it cannot iterate fails json_dumps). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2)
		return 0; /* continuation byte, or an overlong 2-byte sequence */
	if (s[0] < 0xE0) {
		len = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] < 0xF0) {
		len = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] <= 0xF4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000))
		return 0;
	return len;
}

/* A JSON string as jansson writes it without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH: \\ \" \b \f \n \r \t, \u00XX (upper-case hex) for the
 * other control characters, everything else (UTF-8) as is. */
static int put_string(struct textbuf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0, i = 0;
	put_char(b, '"');
	while (i < n) {
		unsigned char ch = s[i];
		char esc[7];
		size_t elen = 2;
		if (ch >= 0x80) {
			size_t l = utf8_len(s + i, n - i);
			if (l == 0)
				return MPC_EINVAL;
			i += l;
			continue;
		}
		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			i++;
			continue;
		}
		put(b, str + run, i - run);
		esc[0] = '\\';
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			elen = 6;
		}
		put(b, esc, elen);
		run = ++i;
	}
	put(b, str + run, n - run);
	put_char(b, '"');
	return 0;
}

static void put_integer(struct textbuf *b, json_int_t v)
{
	char num[24], *p = num + sizeof num;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	put(b, p, (size_t)(num + sizeof num - p));
}

struct member {
	const char *key;
	size_t klen;
	json_t *value;
};

/* jansson's order of JSON_SORT_KEYS: memcmp of the common prefix, then the
 * shorter key first. */
static int member_cmp(const struct member *a, const struct member *b)
{
	int r = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
	return r != 0 ? r : (a->klen > b->klen) - (a->klen < b->klen);
}

static int member_qsort_cmp(const void *a, const void *b)
{
	return member_cmp(a, b);
}

static int put_value(struct textbuf *b, json_t *j, int depth);

/* j as json_dumps writes it (NULL from it: a string that is not UTF-8, a
 * cycle, or no memory). */
static int put_jansson(struct textbuf *b, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (text == NULL)
		return MPC_EINVAL;
	put(b, text, strlen(text));
	free(text);
	return 0;
}

static int put_object(struct textbuf *b, json_t *o, int depth)
{
	struct member local[32], *m = local;
	size_t n = json_object_size(o), i = 0;
	int rv = 0;
	if (n == 0) {
		put(b, "{}", 2);
		return 0;
	}
	if (n > sizeof local / sizeof local[0] && (m = malloc(n * sizeof *m)) == NULL)
		return MPC_ENOMEM;
	for (void *it = json_object_iter(o); it != NULL && i < n; it = json_object_iter_next(o, it))
		m[i++] = (struct member){json_object_iter_key(it), json_object_iter_key_len(it),
					 json_object_iter_value(it)};
	n = i;
	if (n <= sizeof local / sizeof local[0]) {
		for (i = 1; i < n; i++) { /* insertion sort: a record's objects are small */
			struct member x = m[i];
			size_t k = i;
			for (; k > 0 && member_cmp(&m[k - 1], &x) > 0; k--)
				m[k] = m[k - 1];
			m[k] = x;
		}
	} else {
		qsort(m, n, sizeof *m, member_qsort_cmp);
	}
	put_char(b, '{');
	for (i = 0; rv == 0 && i < n; i++) {
		if (i > 0)
			put_char(b, ',');
		rv = put_string(b, m[i].key, m[i].klen);
		put_char(b, ':');
		if (rv == 0)
			rv = put_value(b, m[i].value, depth + 1);
	}
	put_char(b, '}');
	if (m != local)
		free(m);
	return rv;
}

static int put_value(struct textbuf *b, json_t *j, int depth)
{
	if (depth > JSON_PARSER_MAX_DEPTH) /* deeper than any parsed record: jansson's */
		return put_jansson(b, j);
	switch (json_typeof(j)) {
	case JSON_OBJECT: return put_object(b, j, depth);
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		int rv = 0;
		put_char(b, '[');
		for (size_t i = 0; rv == 0 && i < n; i++) {
			if (i > 0)
				put_char(b, ',');
			rv = put_value(b, json_array_get(j, i), depth + 1);
		}
		put_char(b, ']');
		return rv;
	}
	case JSON_STRING: return put_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: put_integer(b, json_integer_value(j)); return 0;
	case JSON_REAL: /* rare in a record (results): jansson's own formatting */
		return put_jansson(b, j);
	case JSON_TRUE: put(b, "true", 4); return 0;
	case JSON_FALSE: put(b, "false", 5); return 0;
	case JSON_NULL: put(b, "null", 4); return 0;
	}
	return MPC_EINVAL;
}

int store_json_canon(json_t *j, char **out, size_t *len)
{
	struct textbuf b = {NULL, 0, 0, 0};
	int rv = j != NULL ? put_value(&b, j, 0) : MPC_EINVAL;
	if (rv == 0 && b.oom)
		rv = MPC_ENOMEM;
	if (rv == 0 && b.data == NULL && grow(&b, 0) != 0)
		rv = MPC_ENOMEM;
	if (rv != 0) {
		free(b.data);
		return rv;
	}
	b.data[b.len] = '\0';
	*out = b.data;
	*len = b.len;
	return 0;
}
