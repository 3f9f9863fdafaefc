/* Compact binary Raft entries: frame and commit record, encoded and decoded without a JSON parser. */
#include "store/entry_bin.h"
#include "common/conf.h"
#include "common/err.h"
#include "store/fsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_CLIENT 1
#define FLAG_AUTH   2

/* The vote's fields in mask bit order: integers first, then strings. */
static const char *const vote_ints[] = {"party", "rows", "bytes", "keep_until_ms"};
static const char *const vote_strs[] = {"digest", "sig", "begin"};
#define VOTE_N_INTS   4
#define VOTE_N_STRS   3
#define VOTE_MACS_BIT 7

/* The signed begin's fields (store_signed_req_pack), in layout order. */
static const char *const auth_strs[] = {"client", "method", "path"};
static const char *const auth_strs2[] = {"nonce", "sig"};

int store_entry_is_frame(const void *buf, size_t len)
{
	return len > 0 && ((const uint8_t *)buf)[0] == STORE_ENTRY_FRAME_MAGIC;
}

int store_entry_is_commit_bin(const void *buf, size_t len)
{
	return len > 0 && ((const uint8_t *)buf)[0] == STORE_ENTRY_COMMIT_MAGIC;
}

/* ---- encoder: two passes, the first (p == NULL) only counts ---- */

struct wr {
	uint8_t *p;
	size_t n;
};

static void put(struct wr *w, const void *src, size_t n)
{
	if (w->p != NULL)
		memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void put_u8(struct wr *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(w, &b, 1);
}

static void put_le(struct wr *w, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, (size_t)bytes);
}

/* A string field of at most max bytes without NUL (the decoder refuses
 * NUL: a JSON entry cannot carry one either). 0, or -1: not encodable. */
static int put_str(struct wr *w, json_t *s, int len_bytes, uint64_t max)
{
	size_t n = json_string_length(s);
	if (!json_is_string(s) || n > max || memchr(json_string_value(s), '\0', n) != NULL)
		return -1;
	put_le(w, n, len_bytes);
	put(w, json_string_value(s), n);
	return 0;
}

static int put_vote(struct wr *w, json_t *v)
{
	json_t *macs = json_object_get(v, "macs");
	unsigned mask = 0, known = 0;
	size_t i;

	if (!json_is_object(v))
		return -1;
	for (i = 0; i < VOTE_N_INTS; i++)
		if (json_object_get(v, vote_ints[i]) != NULL)
			mask |= 1u << i;
	for (i = 0; i < VOTE_N_STRS; i++)
		if (json_object_get(v, vote_strs[i]) != NULL)
			mask |= 1u << (VOTE_N_INTS + i);
	if (macs != NULL)
		mask |= 1u << VOTE_MACS_BIT;
	for (i = 0; i < 8; i++)
		known += (mask >> i) & 1;
	if (json_object_size(v) != known) /* a field the layout does not carry */
		return -1;
	put_u8(w, mask);
	for (i = 0; i < VOTE_N_INTS; i++) {
		json_t *x = json_object_get(v, vote_ints[i]);
		if (x == NULL)
			continue;
		if (!json_is_integer(x))
			return -1;
		put_le(w, (uint64_t)json_integer_value(x), 8);
	}
	for (i = 0; i < VOTE_N_STRS; i++) {
		json_t *x = json_object_get(v, vote_strs[i]);
		if (x != NULL && put_str(w, x, 1, 255) != 0)
			return -1;
	}
	if (macs != NULL) {
		if (!json_is_array(macs) || json_array_size(macs) > MPC_MAX_PARTIES)
			return -1;
		put_u8(w, (unsigned)json_array_size(macs));
		for (i = 0; i < json_array_size(macs); i++)
			if (put_str(w, json_array_get(macs, i), 1, 255) != 0)
				return -1;
	}
	return 0;
}

static int put_commit(struct wr *w, json_t *e)
{
	json_t *client = json_object_get(e, "client"), *auth = json_object_get(e, "auth");
	json_t *votes = json_object_get(e, "votes"), *t;
	size_t i, fields = 3;
	unsigned flags = 0;

	if (!json_is_object(e) || !json_is_string(json_object_get(e, "op")) ||
	    strcmp(json_string_value(json_object_get(e, "op")), "commit") != 0 ||
	    !json_is_array(votes) || json_array_size(votes) > MPC_MAX_PARTIES)
		return -1;
	if (client != NULL) {
		flags |= FLAG_CLIENT;
		fields++;
	}
	if (auth != NULL) {
		flags |= FLAG_AUTH;
		fields++;
	}
	if (json_object_size(e) != fields)
		return -1;
	put_u8(w, STORE_ENTRY_COMMIT_MAGIC);
	put_u8(w, STORE_ENTRY_BIN_VERSION);
	put_u8(w, flags);
	if (put_str(w, json_object_get(e, "txn"), 1, 255) != 0)
		return -1;
	if (client != NULL && put_str(w, client, 1, 255) != 0)
		return -1;
	if (auth != NULL) {
		if (!json_is_object(auth) || json_object_size(auth) != 7)
			return -1;
		for (i = 0; i < 3; i++)
			if (put_str(w, json_object_get(auth, auth_strs[i]), 1, 255) != 0)
				return -1;
		t = json_object_get(auth, "time_ms");
		if (!json_is_integer(t))
			return -1;
		put_le(w, (uint64_t)json_integer_value(t), 8);
		for (i = 0; i < 2; i++)
			if (put_str(w, json_object_get(auth, auth_strs2[i]), 1, 255) != 0)
				return -1;
		if (put_str(w, json_object_get(auth, "body"), 4, UINT32_MAX) != 0)
			return -1;
	}
	put_u8(w, (unsigned)json_array_size(votes));
	for (i = 0; i < json_array_size(votes); i++)
		if (put_vote(w, json_array_get(votes, i)) != 0)
			return -1;
	return 0;
}

int store_entry_commit_encode(json_t *e, char **out, size_t *len)
{
	struct wr w = {NULL, 0};

	*out = NULL;
	*len = 0;
	if (put_commit(&w, e) != 0)
		return MPC_EINVAL;
	w.p = malloc(w.n);
	if (w.p == NULL)
		return MPC_ENOMEM;
	w.n = 0;
	put_commit(&w, e); /* the same walk as the count: cannot fail now */
	*out = (char *)w.p;
	*len = w.n;
	return 0;
}

/* ---- decoder: every read is bounds-checked against the record ---- */

struct rd {
	const uint8_t *p;
	size_t n, off;
	char *why;
	size_t size;
	int failed;
	int vote, mac; /* where the reader is, for the reason (-1: not in one) */
};

/* The reason names the byte and, inside a vote, the vote (and its tag):
 * formatted only on failure, the common path formats nothing. */
static void fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (r->failed++)
		return;
	if (r->vote < 0)
		n = snprintf(r->why, r->size, "commit record byte %zu: ", r->off);
	else if (r->mac < 0)
		n = snprintf(r->why, r->size, "commit record byte %zu: vote %d ", r->off, r->vote);
	else
		n = snprintf(r->why, r->size, "commit record byte %zu: vote %d mac %d ", r->off,
			     r->vote, r->mac);
	if (n < 0 || (size_t)n >= r->size)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why + n, r->size - (size_t)n, fmt, ap);
	va_end(ap);
}

static uint64_t get_le(struct rd *r, int bytes, const char *what)
{
	uint64_t v = 0;
	if (r->failed)
		return 0;
	if (r->n - r->off < (size_t)bytes) {
		fail(r, "truncated in %s (%zu bytes left, %d needed)", what, r->n - r->off, bytes);
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
	r->off += (size_t)bytes;
	return v;
}

/* A string field as a JSON string (new reference) or NULL with r failed. */
static json_t *get_str(struct rd *r, int len_bytes, const char *what)
{
	uint64_t n = get_le(r, len_bytes, what);
	json_t *s;
	if (r->failed)
		return NULL;
	if (n > r->n - r->off) {
		fail(r, "%s of %llu bytes runs past the record's end (%zu bytes left)", what,
		     (unsigned long long)n, r->n - r->off);
		return NULL;
	}
	if (memchr(r->p + r->off, '\0', (size_t)n) != NULL) {
		fail(r, "%s holds a NUL byte", what);
		return NULL;
	}
	s = json_stringn((const char *)r->p + r->off, (size_t)n); /* checks UTF-8 */
	if (s == NULL) {
		fail(r, "%s is not UTF-8", what);
		return NULL;
	}
	r->off += (size_t)n;
	return s;
}

static void set_new(struct rd *r, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL) {
		if (!r->failed)
			fail(r, "out of memory");
		return;
	}
	if (json_object_set_new_nocheck(obj, key, v) != 0)
		fail(r, "out of memory");
}

static json_t *get_vote(struct rd *r, size_t k)
{
	json_t *v = json_object(), *macs;
	unsigned mask;
	size_t i, n;

	r->vote = (int)k;
	mask = (unsigned)get_le(r, 1, "mask");
	if (v == NULL) {
		fail(r, "out of memory");
		return NULL;
	}
	for (i = 0; i < VOTE_N_INTS && !r->failed; i++)
		if (mask & (1u << i)) {
			uint64_t x = get_le(r, 8, vote_ints[i]);
			if (!r->failed)
				set_new(r, v, vote_ints[i], json_integer((json_int_t)x));
		}
	for (i = 0; i < VOTE_N_STRS && !r->failed; i++)
		if (mask & (1u << (VOTE_N_INTS + i)))
			set_new(r, v, vote_strs[i], get_str(r, 1, vote_strs[i]));
	if (!r->failed && (mask & (1u << VOTE_MACS_BIT))) {
		n = (size_t)get_le(r, 1, "macs count");
		if (!r->failed && n > MPC_MAX_PARTIES)
			fail(r, "has %zu macs (at most %d)", n, MPC_MAX_PARTIES);
		macs = json_array();
		set_new(r, v, "macs", macs);
		for (i = 0; i < n && !r->failed; i++) {
			r->mac = (int)i;
			json_t *tag = get_str(r, 1, "tag");
			if (tag != NULL && json_array_append_new(macs, tag) != 0)
				fail(r, "out of memory");
		}
		r->mac = -1;
	}
	if (r->failed) {
		json_decref(v);
		return NULL;
	}
	r->vote = -1;
	return v;
}

static json_t *commit_decode(const uint8_t *p, size_t len, char *why, size_t size)
{
	struct rd r = {p, len, 0, why, size, 0, -1, -1};
	json_t *e = json_object(), *auth, *votes;
	unsigned version, flags;
	size_t i, n;

	if (e == NULL) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	get_le(&r, 1, "magic");
	version = (unsigned)get_le(&r, 1, "version");
	flags = (unsigned)get_le(&r, 1, "flags");
	if (!r.failed && version != STORE_ENTRY_BIN_VERSION)
		fail(&r, "version %u, this party reads %d", version, STORE_ENTRY_BIN_VERSION);
	if (!r.failed && (flags & ~(unsigned)(FLAG_CLIENT | FLAG_AUTH)) != 0)
		fail(&r, "unknown flags 0x%02x", flags);
	set_new(&r, e, "op", json_string("commit"));
	if (!r.failed)
		set_new(&r, e, "txn", get_str(&r, 1, "txn"));
	if (!r.failed && (flags & FLAG_CLIENT))
		set_new(&r, e, "client", get_str(&r, 1, "client"));
	if (!r.failed && (flags & FLAG_AUTH)) {
		auth = json_object();
		set_new(&r, e, "auth", auth);
		for (i = 0; i < 3 && !r.failed; i++)
			set_new(&r, auth, auth_strs[i], get_str(&r, 1, auth_strs[i]));
		if (!r.failed) {
			uint64_t t = get_le(&r, 8, "time_ms");
			if (!r.failed)
				set_new(&r, auth, "time_ms", json_integer((json_int_t)t));
		}
		for (i = 0; i < 2 && !r.failed; i++)
			set_new(&r, auth, auth_strs2[i], get_str(&r, 1, auth_strs2[i]));
		if (!r.failed)
			set_new(&r, auth, "body", get_str(&r, 4, "begin body"));
	}
	n = (size_t)get_le(&r, 1, "vote count");
	if (!r.failed && n > MPC_MAX_PARTIES)
		fail(&r, "%zu votes (at most %d)", n, MPC_MAX_PARTIES);
	if (!r.failed) {
		votes = json_array();
		set_new(&r, e, "votes", votes);
		for (i = 0; i < n && !r.failed; i++) {
			json_t *v = get_vote(&r, i);
			if (v != NULL && json_array_append_new(votes, v) != 0)
				fail(&r, "out of memory");
		}
	}
	if (!r.failed && r.off != r.n)
		fail(&r, "%zu bytes after the last vote", r.n - r.off);
	if (r.failed) {
		json_decref(e);
		return NULL;
	}
	return e;
}

json_t *store_entry_sub_decode(const void *buf, size_t len, char *why, size_t size)
{
	json_error_t jerr;
	json_t *e;

	if (store_entry_is_commit_bin(buf, len))
		return commit_decode(buf, len, why, size);
	e = json_loadb(buf, len, 0, &jerr);
	if (e == NULL)
		snprintf(why, size, "not a commit record and not JSON: %s (byte %d)", jerr.text,
			 jerr.position);
	return e;
}

/* ---- frame ---- */

static uint64_t le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int store_entry_frame_open(const void *buf, size_t len, struct store_entry_frame *f, char *why,
			   size_t size)
{
	const uint8_t *p = buf;
	size_t off = STORE_ENTRY_FRAME_HEADER;

	memset(f, 0, sizeof *f);
	if (len < STORE_ENTRY_FRAME_HEADER || p[0] != STORE_ENTRY_FRAME_MAGIC) {
		snprintf(why, size, "frame of %zu bytes: shorter than its %d-byte header", len,
			 STORE_ENTRY_FRAME_HEADER);
		return MPC_EINVAL;
	}
	if (p[1] != STORE_ENTRY_BIN_VERSION) {
		snprintf(why, size, "frame version %u, this party reads %d", p[1],
			 STORE_ENTRY_BIN_VERSION);
		return MPC_EINVAL;
	}
	f->kind = p[2];
	f->count = (uint32_t)le(p + 4, 4);
	f->ts = le(p + 8, 8);
	if ((f->kind != STORE_ENTRY_FRAME_ONE && f->kind != STORE_ENTRY_FRAME_BATCH) || p[3] != 0) {
		snprintf(why, size, "frame kind %u/%u unknown", p[2], p[3]);
		return MPC_EINVAL;
	}
	if (f->count == 0 || f->count > STORE_FSM_BATCH_MAX ||
	    (f->kind == STORE_ENTRY_FRAME_ONE && f->count != 1)) {
		snprintf(why, size, "frame of kind %d with %u entries", f->kind, f->count);
		return MPC_EINVAL;
	}
	for (uint32_t i = 0; i < f->count; i++) {
		uint64_t n;
		if (len - off < 4) {
			snprintf(why, size,
				 "frame truncated at entry %u's length (byte %zu of %zu)", i, off,
				 len);
			return MPC_EINVAL;
		}
		n = le(p + off, 4);
		off += 4;
		if (n > len - off) {
			snprintf(why, size,
				 "frame entry %u of %llu bytes runs past the end (byte %zu of %zu)",
				 i, (unsigned long long)n, off, len);
			return MPC_EINVAL;
		}
		off += (size_t)n;
	}
	if (len - off >= 8) {
		snprintf(why, size, "frame has %zu bytes after its %u entries", len - off,
			 f->count);
		return MPC_EINVAL;
	}
	for (size_t i = off; i < len; i++)
		if (p[i] != 0) {
			snprintf(why, size, "frame padding byte %zu is not zero", i);
			return MPC_EINVAL;
		}
	f->next = p + STORE_ENTRY_FRAME_HEADER;
	f->left = f->count;
	return 0;
}

int store_entry_frame_next(struct store_entry_frame *f, const void **sub, size_t *sub_len)
{
	if (f->left == 0)
		return 0;
	*sub_len = (size_t)le(f->next, 4);
	*sub = f->next + 4;
	f->next += 4 + *sub_len;
	f->left--;
	return 1;
}

size_t store_entry_frame_size(size_t n, const size_t *lens)
{
	size_t len = STORE_ENTRY_FRAME_HEADER;
	for (size_t i = 0; i < n; i++)
		len += 4 + lens[i];
	return (len + 7) & ~(size_t)7;
}

void store_entry_frame_write(void *out, int kind, uint64_t ts, size_t n, const char *const *subs,
			     const size_t *lens)
{
	struct wr w = {out, 0};
	size_t total = store_entry_frame_size(n, lens);

	put_u8(&w, STORE_ENTRY_FRAME_MAGIC);
	put_u8(&w, STORE_ENTRY_BIN_VERSION);
	put_u8(&w, (unsigned)kind);
	put_u8(&w, 0);
	put_le(&w, n, 4);
	put_le(&w, ts, 8);
	for (size_t i = 0; i < n; i++) {
		put_le(&w, lens[i], 4);
		put(&w, subs[i], lens[i]);
	}
	memset(w.p + w.n, 0, total - w.n);
}
