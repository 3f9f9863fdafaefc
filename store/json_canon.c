/* Compact sorted-key JSON text of jansson trees, identical to json_dumps, for the FSM's records. */
#include "store/json_canon.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX     32
#define KEYS_ON_STACK 32

struct cbuf {
	char *p;
	size_t n, cap;
	int err; /* 0, MPC_EINVAL or MPC_ENOMEM */
};

static int reserve(struct cbuf *b, size_t more)
{
	size_t cap;
	char *p;
	if (b->err)
		return -1;
	if (b->n + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->n + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->err = MPC_ENOMEM;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void put(struct cbuf *b, const char *s, size_t n)
{
	if (reserve(b, n) == 0) {
		memcpy(b->p + b->n, s, n);
		b->n += n;
	}
}

static void put_string(struct cbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	if (reserve(b, n + 2) != 0)
		return;
	b->p[b->n++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		put(b, esc, elen);
	}
	put(b, s + run, n - run);
	put(b, "\"", 1);
}

static void put_integer(struct cbuf *b, json_int_t v)
{
	char d[24];
	size_t i = sizeof d;
	/* magnitude as unsigned: LLONG_MIN has no positive json_int_t */
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		d[--i] = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		d[--i] = '-';
	put(b, d + i, sizeof d - i);
}

struct key_ref {
	const char *key;
	json_t *value;
};

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_ref *)a)->key, ((const struct key_ref *)b)->key);
}

static void put_value(struct cbuf *b, json_t *j, int depth);

static void put_object(struct cbuf *b, json_t *j, int depth)
{
	struct key_ref stack[KEYS_ON_STACK], *keys = stack;
	size_t n = json_object_size(j), i = 0, klen;
	const char *k;
	json_t *v;

	if (n > KEYS_ON_STACK && (keys = malloc(n * sizeof *keys)) == NULL) {
		b->err = MPC_ENOMEM;
		return;
	}
	json_object_keylen_foreach(j, k, klen, v)
	{
		if (strlen(k) != klen) /* strcmp would not order it as jansson does */
			b->err = MPC_EINVAL;
		keys[i].key = k;
		keys[i++].value = v;
	}
	if (n > 1)
		qsort(keys, n, sizeof *keys, key_cmp);
	put(b, "{", 1);
	for (i = 0; i < n && !b->err; i++) {
		if (i > 0)
			put(b, ",", 1);
		put_string(b, keys[i].key, strlen(keys[i].key));
		put(b, ":", 1);
		put_value(b, keys[i].value, depth + 1);
	}
	put(b, "}", 1);
	if (keys != stack)
		free(keys);
}

static void put_value(struct cbuf *b, json_t *j, int depth)
{
	if (b->err)
		return;
	if (depth > DEPTH_MAX) {
		b->err = MPC_EINVAL;
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: put_object(b, j, depth); break;
	case JSON_ARRAY:
		put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(j) && !b->err; i++) {
			if (i > 0)
				put(b, ",", 1);
			put_value(b, json_array_get(j, i), depth + 1);
		}
		put(b, "]", 1);
		break;
	case JSON_STRING: put_string(b, json_string_value(j), json_string_length(j)); break;
	case JSON_INTEGER: put_integer(b, json_integer_value(j)); break;
	case JSON_TRUE: put(b, "true", 4); break;
	case JSON_FALSE: put(b, "false", 5); break;
	case JSON_NULL: put(b, "null", 4); break;
	default: b->err = MPC_EINVAL; /* reals: jansson's own format */
	}
}

int store_json_canon(json_t *j, char **out, size_t *len)
{
	struct cbuf b = {NULL, 0, 0, 0};

	*out = NULL;
	*len = 0;
	if (!json_is_object(j) && !json_is_array(j))
		return MPC_EINVAL; /* json_dumps without JSON_ENCODE_ANY refuses them */
	put_value(&b, j, 0);
	put(&b, "", 1); /* the NUL */
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.n - 1;
	return 0;
}
