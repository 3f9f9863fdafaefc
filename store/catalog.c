/* Catalog reads over the meta column family: tables (at a revision), segments, txns, digest. */
#include "store/catalog.h"
#include "common/err.h"
#include "store/shares.h"
#include "store/staging.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t store_catalog_applied(struct store_db *db)
{
	char *val = NULL;
	uint64_t v = 0;
	if (store_db_get(db, STORE_CF_META, "local/applied", 13, &val, NULL, NULL) == 0) {
		v = strtoull(val, NULL, 10);
		free(val);
	}
	return v;
}

struct seg_ctx {
	uint64_t revision;
	json_t *list; /* may be NULL */
	json_int_t rows;
	json_int_t count;
};

static int seg_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct seg_ctx *ctx = vctx;
	json_t *seg = json_loadb(val, vlen, 0, NULL);
	if (seg == NULL)
		return 0;
	if (ctx->revision == 0 ||
	    (uint64_t)json_integer_value(json_object_get(seg, "revision")) <= ctx->revision) {
		ctx->rows += json_integer_value(json_object_get(seg, "rows"));
		ctx->count++;
		if (ctx->list != NULL) {
			json_array_append(ctx->list, seg);
		}
	}
	json_decref(seg);
	return 0;
}

int store_catalog_table(struct store_db *db, const char *name, uint64_t revision, int segments,
			json_t **out)
{
	char key[128], *val = NULL;
	size_t vlen = 0;
	struct seg_ctx ctx = {revision, NULL, 0, 0};
	json_t *tbl;
	int rv;

	snprintf(key, sizeof key, "tbl/%s", name);
	rv = store_db_get(db, STORE_CF_META, key, strlen(key), &val, &vlen, NULL);
	if (rv != 0)
		return rv;
	tbl = json_loadb(val, vlen, 0, NULL);
	free(val);
	if (tbl == NULL)
		return MPC_ECORRUPT;
	if (revision != 0 &&
	    (uint64_t)json_integer_value(json_object_get(tbl, "created_revision")) > revision) {
		json_decref(tbl);
		return MPC_ENOENT;
	}
	if (segments || revision != 0) {
		if (segments)
			ctx.list = json_array();
		snprintf(key, sizeof key, "seg/%s/", name);
		store_db_scan(db, STORE_CF_META, NULL, key, strlen(key), seg_one, &ctx);
		if (revision != 0) {
			json_object_set_new(tbl, "rows", json_integer(ctx.rows));
			json_object_set_new(tbl, "version", json_integer(ctx.count));
			json_object_set_new(tbl, "segments", json_integer(ctx.count));
			json_object_set_new(tbl, "at_revision", json_integer((json_int_t)revision));
		}
		if (segments)
			json_object_set_new(tbl, "segment_list", ctx.list);
	}
	*out = tbl;
	return 0;
}

struct tables_ctx {
	struct store_db *db;
	uint64_t revision;
	json_t *arr;
};

static int table_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct tables_ctx *ctx = vctx;
	char name[128];
	json_t *tbl;
	if (klen - 4 >= sizeof name)
		return 0;
	memcpy(name, key + 4, klen - 4);
	name[klen - 4] = '\0';
	if (store_catalog_table(ctx->db, name, ctx->revision, 0, &tbl) == 0)
		json_array_append_new(ctx->arr, tbl);
	return 0;
}

int store_catalog_tables(struct store_db *db, uint64_t revision, json_t **out)
{
	struct tables_ctx ctx = {db, revision, json_array()};
	store_db_scan(db, STORE_CF_META, NULL, "tbl/", 4, table_one, &ctx);
	*out = ctx.arr;
	return 0;
}

int store_catalog_txn(struct store_db *db, const char *txn, json_t **out)
{
	char key[128], *val = NULL;
	size_t vlen = 0;
	int rv;
	snprintf(key, sizeof key, "txn/%s", txn);
	rv = store_db_get(db, STORE_CF_META, key, strlen(key), &val, &vlen, NULL);
	if (rv != 0)
		return rv;
	*out = json_loadb(val, vlen, 0, NULL);
	free(val);
	return *out ? 0 : MPC_ECORRUPT;
}

struct txns_ctx {
	struct store_db *db;
	json_t *arr;
};

static int open_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct txns_ctx *ctx = vctx;
	char id[128];
	json_t *txn;
	if (klen - 5 >= sizeof id)
		return 0;
	memcpy(id, key + 5, klen - 5);
	id[klen - 5] = '\0';
	if (store_catalog_txn(ctx->db, id, &txn) == 0)
		json_array_append_new(ctx->arr, txn);
	return 0;
}

static int txn_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct txns_ctx *ctx = vctx;
	json_t *txn = json_loadb(val, vlen, 0, NULL);
	if (txn != NULL)
		json_array_append_new(ctx->arr, txn);
	return 0;
}

int store_catalog_txns(struct store_db *db, int only_open, json_t **out)
{
	struct txns_ctx ctx = {db, json_array()};
	if (only_open)
		store_db_scan(db, STORE_CF_META, NULL, "open/", 5, open_one, &ctx);
	else
		store_db_scan(db, STORE_CF_META, NULL, "txn/", 4, txn_one, &ctx);
	*out = ctx.arr;
	return 0;
}

struct digest_ctx {
	crypto_generichash_state h;
	uint64_t applied;
};

static int digest_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct digest_ctx *ctx = vctx;
	uint32_t k = (uint32_t)klen, v = (uint32_t)vlen;
	if (klen >= 6 && memcmp(key, "local/", 6) == 0) {
		if (klen == 13 && memcmp(key, "local/applied", 13) == 0) {
			char text[32];
			size_t n = vlen < sizeof text - 1 ? vlen : sizeof text - 1;
			memcpy(text, val, n);
			text[n] = '\0';
			ctx->applied = strtoull(text, NULL, 10);
		}
		return 0;
	}
	crypto_generichash_update(&ctx->h, (const uint8_t *)&k, 4);
	crypto_generichash_update(&ctx->h, (const uint8_t *)key, klen);
	crypto_generichash_update(&ctx->h, (const uint8_t *)&v, 4);
	crypto_generichash_update(&ctx->h, (const uint8_t *)val, vlen);
	return 0;
}

int store_catalog_digest(struct store_db *db, uint64_t *applied, char *hex)
{
	struct digest_ctx ctx;
	uint8_t d[32];
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(db->db);

	memset(&ctx, 0, sizeof ctx);
	crypto_generichash_init(&ctx.h, NULL, 0, sizeof d);
	store_db_scan(db, STORE_CF_META, snap, "", 0, digest_one, &ctx);
	rocksdb_release_snapshot(db->db, snap);
	crypto_generichash_final(&ctx.h, d, sizeof d);
	sodium_bin2hex(hex, 65, d, sizeof d);
	*applied = ctx.applied;
	return 0;
}

struct column_ctx {
	size_t ncols, col;
	uint64_t *out, n, cap;
	int oom;
};

static int column_chunk(void *vctx, uint64_t offset, const uint8_t *val, size_t vlen)
{
	struct column_ctx *c = vctx;
	size_t rows = vlen / (c->ncols * 8);
	(void)offset;
	if (c->n + rows > c->cap) {
		uint64_t cap = c->cap ? c->cap * 2 : 4096;
		uint64_t *o;
		while (cap < c->n + rows)
			cap *= 2;
		o = realloc(c->out, cap * sizeof *o);
		if (o == NULL) {
			c->oom = 1;
			return 1;
		}
		c->out = o;
		c->cap = cap;
	}
	if (c->ncols == 1) {
		memcpy(c->out + c->n, val, rows * 8);
	} else { /* rows are stored row-major: one word per column */
		uint64_t *dst = c->out + c->n;
		const uint8_t *src = val + c->col * 8;
		for (size_t r = 0; r < rows; r++)
			memcpy(&dst[r], src + r * c->ncols * 8, 8);
	}
	c->n += rows;
	return 0;
}

/* Shares of table.column in the segments of t (all, or only the one with id segment >= 0). */
static int read_column(struct store_db *db, const char *table, const char *column,
		       uint64_t revision, int64_t segment, uint64_t **out, uint64_t *rows,
		       char *errmsg)
{
	struct column_ctx c = {0};
	json_t *t = NULL, *cols, *seg;
	size_t i;
	int rv = store_catalog_table(db, table, revision, 1, &t), found = segment < 0;

	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "unknown table '%s'", table);
		return rv;
	}
	cols = json_object_get(t, "columns");
	c.ncols = json_array_size(cols);
	for (c.col = 0; c.col < c.ncols; c.col++)
		if (strcmp(json_string_value(json_object_get(json_array_get(cols, c.col), "name")),
			   column) == 0)
			break;
	if (c.col == c.ncols) {
		mpc_errmsg_printf(errmsg, "table '%s' has no column '%s'", table, column);
		json_decref(t);
		return MPC_ENOENT;
	}
	/* the rows are known: one allocation, no copies while growing */
	json_array_foreach(json_object_get(t, "segment_list"), i, seg)
		if (segment < 0 || json_integer_value(json_object_get(seg, "id")) == segment)
			c.cap += (uint64_t)json_integer_value(json_object_get(seg, "rows"));
	if (c.cap > 0 && (c.out = malloc(c.cap * sizeof *c.out)) == NULL) {
		json_decref(t);
		return MPC_ENOMEM;
	}
	/* a segment's data is the upload of the txn that committed it */
	json_array_foreach(json_object_get(t, "segment_list"), i, seg)
	{
		if (segment >= 0 && json_integer_value(json_object_get(seg, "id")) != segment)
			continue;
		found = 1;
		/* raw chunks and seed records alike (store/shares.h) */
		rv = store_shares_scan(db, NULL, json_string_value(json_object_get(seg, "txn")),
				       column_chunk, &c, errmsg);
		if (c.oom || rv != 0)
			break;
	}
	json_decref(t);
	if (c.oom || rv != 0) {
		if (c.out != NULL)
			sodium_memzero(c.out, c.n * sizeof *c.out);
		free(c.out);
		if (c.oom)
			mpc_errmsg_printf(errmsg, "table '%s' column '%s': out of memory", table,
					  column);
		return c.oom ? MPC_ENOMEM : rv;
	}
	if (!found) {
		mpc_errmsg_printf(errmsg, "table '%s' has no segment %lld", table, (long long)segment);
		return MPC_ENOENT;
	}
	*out = c.out;
	*rows = c.n;
	return 0;
}

int store_catalog_read_column(struct store_db *db, const char *table, const char *column,
			      uint64_t revision, uint64_t **out, uint64_t *rows, char *errmsg)
{
	return read_column(db, table, column, revision, -1, out, rows, errmsg);
}

int store_catalog_read_segment(struct store_db *db, const char *table, const char *column,
			       uint64_t segment, uint64_t **out, uint64_t *rows, char *errmsg)
{
	return read_column(db, table, column, 0, (int64_t)segment, out, rows, errmsg);
}

int store_catalog_read_segment_at(struct store_db *db, const char *table, const char *column,
				  uint64_t revision, uint64_t segment, uint64_t **out,
				  uint64_t *rows, char *errmsg)
{
	return read_column(db, table, column, revision, (int64_t)segment, out, rows, errmsg);
}
