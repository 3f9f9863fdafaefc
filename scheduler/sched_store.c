/* `store TABLE.COLUMN = EXPR`: rights and shape checks at submit, and the commit of the kept shares as a new table segment. */
#include "scheduler/sched_store.h"

#include "common/conf.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_plan.h"
#include "store/catalog.h"
#include "store/shares.h"
#include "store/staging.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define CHUNK_ROWS 65536 /* rows per record in the shares column family */


static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The rights a store into table needs (as an append through /v1/txns:
 * store/fsm.c apply_begin). 0 or MPC_EPERM with the reason in why. */
static int store_rights(const struct mpc_cluster *c, const char *client, const char *table,
			int exists, char *why, size_t size)
{
	const struct mpc_client_info *ci;
	if (c == NULL)
		return 0;
	ci = mpc_cluster_client(c, client);
	if (ci == NULL) {
		snprintf(why, size, "client '%s' is not in the cluster config", client);
		return MPC_EPERM;
	}
	if (!mpc_client_may_append(ci, table)) {
		snprintf(why, size, "client '%s' may not append to table '%s' (needs the append right)",
			 client, table);
		return MPC_EPERM;
	}
	if (!exists && !(ci->rights & (MPC_RIGHT_CREATE | MPC_RIGHT_ADMIN))) {
		snprintf(why, size, "client '%s' may not create table '%s' (needs the create right)",
			 client, table);
		return MPC_EPERM;
	}
	return 0;
}

/* Whether the columns of an existing table are exactly the stored ones
 * (names, types, fractional bits); else the reason in why. */
static int whole_rows(json_t *have, json_t *stored, const char *table, char *why, size_t size)
{
	char missing[512] = "";
	size_t i, j, n = 0;
	json_t *h, *s;
	json_array_foreach(stored, j, s)
	{
		int found = 0;
		json_array_foreach(have, i, h)
			found |= strcmp(str_of(h, "name"), str_of(s, "name")) == 0;
		if (!found) {
			snprintf(why, size,
				 "table '%s' has no column '%s' (a store cannot add columns to an "
				 "existing table)",
				 table, str_of(s, "name"));
			return 0;
		}
	}
	json_array_foreach(have, i, h)
	{
		json_t *match = NULL;
		json_array_foreach(stored, j, s)
			if (strcmp(str_of(h, "name"), str_of(s, "name")) == 0)
				match = s;
		if (match == NULL) {
			n += (size_t)snprintf(missing + n, n < sizeof missing ? sizeof missing - n : 0,
					      "%s%s", n ? ", " : "", str_of(h, "name"));
			continue;
		}
		if (strcmp(str_of(h, "type"), str_of(match, "type")) != 0 ||
		    json_integer_value(json_object_get(h, "frac")) !=
			    json_integer_value(json_object_get(match, "frac"))) {
			char a[128], b[128];
			json_t *one = json_pack("[O]", h), *two = json_pack("[O]", match);
			store_columns_describe(one, a, sizeof a);
			store_columns_describe(two, b, sizeof b);
			json_decref(one);
			json_decref(two);
			snprintf(why, size, "column %s.%s is (%s) now, the job stores (%s)", table,
				 str_of(h, "name"), a, b);
			return 0;
		}
	}
	if (n > 0) {
		snprintf(why, size,
			 "a job appends whole rows: store every column of table '%s' (missing: %s)",
			 table, missing);
		return 0;
	}
	return 1;
}

/* The table record of name as applied so far (new reference) or NULL. */
static json_t *table_now(struct store_db *db, const char *name)
{
	char key[128];
	snprintf(key, sizeof key, "tbl/%s", name);
	return store_db_get_json(db, STORE_CF_META, key);
}

int sched_store_check(const struct sched_ir *ir, struct store_db *db, const struct mpc_cluster *c,
		      const char *client, const char *file, char *err, size_t cap)
{
	char why[768];
	int rv = 0;
	if (file == NULL)
		file = "job.mpc";
	for (size_t t = 0; t < ir->n_tables && rv == 0; t++) {
		const struct sched_ir_op *first = NULL;
		const char *table = ir->tables[t].name;
		json_t *stored = json_array(), *tbl;
		for (size_t i = 0; i < ir->n_ops; i++) {
			const struct sched_ir_op *op = &ir->ops[i];
			const struct sched_ir_column *col;
			if (op->code != SCHED_IR_STORE || ir->columns[op->column].table != (int)t)
				continue;
			col = &ir->columns[op->column];
			if (first == NULL)
				first = op;
			if (!store_name_valid(col->name)) {
				sched_errf(err, cap, "%s:%u:%u: store into table %s: invalid column name '%s' "
					       "(letters, digits, _; at most 63)",
				     file, op->line, op->col, table, col->name);
				rv = MPC_EINVAL;
				break;
			}
			json_array_append_new(stored,
					      json_pack("{s:s, s:s, s:I}", "name", col->name, "type",
							col->num == SCHED_IR_FIXED ? "fixed" : "int64",
							"frac",
							(json_int_t)(col->num == SCHED_IR_FIXED
									     ? col->frac_bits
									     : 0)));
		}
		if (first == NULL || rv != 0) {
			json_decref(stored);
			continue;
		}
		tbl = store_name_valid(table) ? table_now(db, table) : NULL;
		if (!store_name_valid(table)) {
			snprintf(why, sizeof why, "invalid table name (letters, digits, _; at most 63)");
			rv = MPC_EINVAL;
		} else if ((rv = store_rights(c, client, table, tbl != NULL, why, sizeof why)) != 0) {
			;
		} else if (tbl != NULL &&
			   !whole_rows(json_object_get(tbl, "columns"), stored, table, why, sizeof why)) {
			rv = MPC_EINVAL;
		}
		if (rv != 0)
			sched_errf(err, cap, "%s:%u:%u: store into table %s: %s", file, first->line,
			     first->col, table, why);
		json_decref(tbl);
		json_decref(stored);
	}
	return rv;
}

/* Bytes a base64 (original variant, padded) text decodes to. */
static size_t b64_decoded_len(const char *b64)
{
	size_t n = strlen(b64), pad = 0;
	if (n % 4 != 0)
		return 0;
	if (n > 0 && b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	return n / 4 * 3 - pad;
}

/* The piece `key` that party kept in task k of job (borrowed from cache,
 * which holds each task's and party's record once: a record has every
 * column the task keeps, each of them ~11 bytes a row), or NULL. */
static const char *kept_piece(struct store_db *db, json_t *job, json_int_t k, const char *key,
			      int party, json_t *cache)
{
	json_t *task = json_array_get(json_object_get(job, "tasks"), (size_t)k), *kept;
	char ck[48];
	if (task == NULL || strcmp(str_of(task, "state"), "COMMITTED") != 0)
		return NULL;
	snprintf(ck, sizeof ck, "%lld/%d", (long long)k, party);
	kept = json_object_get(cache, ck);
	if (kept == NULL) {
		kept = sched_task_shares(
			db, (uint64_t)json_integer_value(json_object_get(job, "id")), k,
			json_integer_value(json_object_get(task, "committed_attempt")), party);
		if (kept == NULL)
			return NULL;
		json_object_set_new(cache, ck, kept);
	}
	return json_string_value(json_object_get(kept, key));
}

/* Every party kept every piece of the group with its row count: checked on
 * the sealed sizes, which every party sees (replicated). */
static int pieces_complete(struct store_db *db, json_t *job, json_t *g, json_t *cols,
			   int n_parties, json_t *cache, char *why, size_t size)
{
	json_t *part, *col;
	size_t i, j;
	json_array_foreach(json_object_get(g, "parts"), i, part)
	{
		json_int_t n = json_integer_value(json_object_get(part, "n"));
		json_array_foreach(cols, j, col)
		{
			json_t *where = json_object_get(json_object_get(part, "cols"), str_of(col, "name"));
			if (where == NULL) {
				snprintf(why, size, "column %s has no value for part %zu", str_of(col, "name"),
					 i);
				return 0;
			}
			for (int p = 0; p < n_parties; p++) {
				const char *b64 = kept_piece(
					db, job, json_integer_value(json_object_get(where, "task")),
					str_of(where, "key"), p, cache);
				size_t got = b64 ? b64_decoded_len(b64) : 0;
				if (n <= 0 || got != (size_t)n * 8 + crypto_box_SEALBYTES) {
					snprintf(why, size,
						 "party %d kept %s of column %s of task %lld (expected %lld "
						 "rows)",
						 p, b64 ? "a piece of the wrong size" : "no piece",
						 str_of(col, "name"),
						 (long long)json_integer_value(json_object_get(where, "task")),
						 (long long)n);
					return 0;
				}
			}
		}
	}
	return 1;
}

/* This party's OWN piece `key` of task k: from its kept record in the staging
 * column family (written by its runner before it reported task_done), which
 * outlives the job's replicated pieces and so also serves the reconcile
 * after a snapshot restore; only if that record is missing (an attempt
 * reported by an mpcd without it), from the replicated piece, which holds
 * the same sealed bytes. Borrowed from cache, or NULL. */
static const char *own_piece(struct store_db *db, json_t *job, json_int_t k, const char *key,
			     int party, json_t *cache)
{
	json_t *task = json_array_get(json_object_get(job, "tasks"), (size_t)k), *kept;
	char ck[48], msg[MPC_ERRMSG_SIZE];
	if (task == NULL || strcmp(str_of(task, "state"), "COMMITTED") != 0)
		return NULL;
	snprintf(ck, sizeof ck, "staged/%lld", (long long)k);
	kept = json_object_get(cache, ck);
	if (kept == NULL) {
		char *text = NULL;
		size_t len = 0;
		if (store_staging_kept_get(
			    db, (uint64_t)json_integer_value(json_object_get(job, "id")), (int)k,
			    (int)json_integer_value(json_object_get(task, "committed_attempt")), &text,
			    &len, msg) == 0)
			kept = json_loadb(text, len, 0, NULL);
		free(text);
		if (kept == NULL)
			return kept_piece(db, job, k, key, party, cache);
		json_object_set_new(cache, ck, kept);
	}
	return json_string_value(json_object_get(kept, key));
}

/* Opens this party's piece into rows [row0, row0 + n) of column j of the row-major buf. */
static int open_piece(struct store_db *db, json_t *job, json_t *where, const uint8_t *pk,
		      const uint8_t *sk, int party, json_t *cache, uint64_t *buf, size_t ncols,
		      size_t j, uint64_t row0, uint64_t n)
{
	const char *b64 = own_piece(db, job, json_integer_value(json_object_get(where, "task")),
				    str_of(where, "key"), party, cache);
	size_t blen = b64 ? strlen(b64) : 0, got = 0;
	uint8_t *bin = malloc(blen + 1);
	uint64_t *plain = malloc(n * 8 + 8);
	int rv = 0;
	if (b64 == NULL || bin == NULL || plain == NULL) {
		rv = b64 == NULL ? MPC_ENOENT : MPC_ENOMEM;
	} else if (sodium_base642bin(bin, blen, b64, blen, NULL, &got, NULL,
				     sodium_base64_VARIANT_ORIGINAL) != 0 ||
		   got != n * 8 + crypto_box_SEALBYTES ||
		   crypto_box_seal_open((uint8_t *)plain, bin, got, pk, sk) != 0) {
		rv = MPC_ECRYPTO;
	} else {
		for (uint64_t r = 0; r < n; r++)
			buf[(row0 + r) * ncols + j] = plain[r];
	}
	if (plain != NULL)
		sodium_memzero(plain, n * 8);
	free(plain);
	free(bin);
	return rv;
}

/* Adds this party's rows of the new segment to wb: "<segtxn>/<offset>" in
 * the shares column family, row-major as an upload (store/staging.c). */
static void put_local_rows(struct store_db *db, rocksdb_writebatch_t *wb, json_t *job, json_t *g,
			   json_t *cols, const struct sched_store_party *me, json_t *cache,
			   const char *segtxn, uint64_t rows)
{
	size_t ncols = json_array_size(cols), i, j;
	uint64_t *buf, row0 = 0;
	uint8_t pk[crypto_box_PUBLICKEYBYTES];
	json_t *part, *col;
	int rv = 0;
	if (me == NULL || me->box_sk == NULL) {
		LOG_WARN("job %lld: no box key: this party's shares of %s are not written",
			 (long long)json_integer_value(json_object_get(job, "id")), segtxn);
		return;
	}
	buf = calloc(rows * ncols + 1, 8);
	if (buf == NULL) {
		LOG_ERROR("job %lld: out of memory for the %" PRIu64 " rows of %s",
			  (long long)json_integer_value(json_object_get(job, "id")), rows, segtxn);
		return;
	}
	crypto_scalarmult_base(pk, me->box_sk);
	json_array_foreach(json_object_get(g, "parts"), i, part)
	{
		uint64_t n = (uint64_t)json_integer_value(json_object_get(part, "n"));
		json_array_foreach(cols, j, col)
		{
			json_t *where = json_object_get(json_object_get(part, "cols"),
							str_of(col, "name"));
			if (rv == 0)
				rv = open_piece(db, job, where, pk, me->box_sk, me->party, cache, buf,
						ncols, j, row0, n);
		}
		row0 += n;
	}
	if (rv != 0) {
		/* the catalog gets the segment on every party regardless (replicated
		 * state); this party's data dir then lacks its rows, as a lost upload */
		LOG_ERROR("job %lld: cannot open this party's kept shares for %s: %s; its rows "
			  "are missing here",
			  (long long)json_integer_value(json_object_get(job, "id")), segtxn,
			  mpc_strerror(rv));
	} else {
		for (uint64_t r = 0; r < rows; r += CHUNK_ROWS) {
			uint64_t k = rows - r < CHUNK_ROWS ? rows - r : CHUNK_ROWS;
			char key[128];
			size_t klen = store_share_key(key, segtxn, r * ncols * 8);
			rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key, klen,
						  (const char *)(buf + r * ncols), k * ncols * 8);
		}
	}
	sodium_memzero(buf, rows * ncols * 8);
	free(buf);
}

static void meta_put(struct store_db *db, rocksdb_writebatch_t *wb, const char *key, json_t *j)
{
	char *text = json_dumps(j, JSON_FLAGS);
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], key, strlen(key), text, strlen(text));
	free(text);
}

int sched_store_commit(struct store_db *db, rocksdb_writebatch_t *wb, const struct mpc_cluster *c,
		       int n_parties, const struct sched_store_party *me, json_t *job,
		       json_t *stores, uint64_t index, char *err, size_t cap)
{
	const char *client = str_of(job, "client");
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	char why[768];
	json_t *g, **tbls = calloc(json_array_size(stores) + 1, sizeof *tbls);
	json_t *cache = json_object(); /* the kept records read so far */
	json_t *stored = NULL;
	size_t i;
	int rv = 0;

	if (tbls == NULL || cache == NULL) {
		free(tbls);
		json_decref(cache);
		return MPC_ENOMEM;
	}
	/* first decide, from replicated state only; write nothing unless all pass */
	json_array_foreach(stores, i, g)
	{
		const char *table = str_of(g, "table");
		tbls[i] = table_now(db, table);
		if ((rv = store_rights(c, client, table, tbls[i] != NULL, why, sizeof why)) != 0 ||
		    (tbls[i] != NULL && !whole_rows(json_object_get(tbls[i], "columns"),
						   json_object_get(g, "columns"), table, why,
						   sizeof why)) ||
		    !pieces_complete(db, job, g,
				     tbls[i] ? json_object_get(tbls[i], "columns")
					     : json_object_get(g, "columns"),
				     n_parties, cache, why, sizeof why)) {
			sched_errf(err, cap, "%s:%lld:%lld: store into table %s: %s", str_of(job, "file"),
			     (long long)json_integer_value(json_object_get(g, "line")),
			     (long long)json_integer_value(json_object_get(g, "col")), table, why);
			rv = rv ? rv : MPC_ECONFLICT;
			goto out;
		}
	}
	/* decided; nothing written yet (tests: a party killed at a store's commit) */
	if (json_array_size(stores) > 0)
		mpc_fault_point("store_commit");
	stored = json_array();
	json_array_foreach(stores, i, g)
	{
		const char *table = str_of(g, "table");
		json_t *tbl = tbls[i], *cols, *part, *seg;
		uint64_t rows = 0;
		json_int_t segid;
		char segtxn[128], key[160];
		size_t k;
		if (tbl == NULL)
			tbls[i] = tbl = json_pack("{s:s, s:O, s:I, s:I, s:I, s:I}", "name", table,
						  "columns", json_object_get(g, "columns"), "rows",
						  (json_int_t)0, "version", (json_int_t)0, "segments",
						  (json_int_t)0, "created_revision", (json_int_t)index);
		cols = json_object_get(tbl, "columns");
		json_array_foreach(json_object_get(g, "parts"), k, part)
			rows += (uint64_t)json_integer_value(json_object_get(part, "n"));
		segid = json_integer_value(json_object_get(tbl, "segments"));
		/* the segment's data key prefix: no txn id (32 hex) looks like it */
		snprintf(segtxn, sizeof segtxn, "job-%012lld-%s", (long long)id, table);
		put_local_rows(db, wb, job, g, cols, me, cache, segtxn, rows);
		json_object_set_new(tbl, "rows",
				    json_integer(json_integer_value(json_object_get(tbl, "rows")) +
						 (json_int_t)rows));
		json_object_set_new(tbl, "version",
				    json_integer(json_integer_value(json_object_get(tbl, "version")) + 1));
		json_object_set_new(tbl, "segments", json_integer(segid + 1));
		json_object_set_new(tbl, "revision", json_integer((json_int_t)index));
		snprintf(key, sizeof key, "tbl/%s", table);
		meta_put(db, wb, key, tbl);
		seg = json_pack("{s:I, s:I, s:s, s:I, s:I}", "id", segid, "rows", (json_int_t)rows,
				"txn", segtxn, "revision", (json_int_t)index, "job", id);
		snprintf(key, sizeof key, "seg/%s/%08llx", table, (unsigned long long)segid);
		meta_put(db, wb, key, seg);
		json_decref(seg);
		json_array_append_new(stored, json_pack("{s:s, s:I, s:I, s:I}", "table", table,
							"segment", segid, "rows", (json_int_t)rows,
							"revision", (json_int_t)index));
		LOG_INFO("job %lld: stored %" PRIu64 " rows into %s (segment %lld)", (long long)id,
			 rows, table, (long long)segid);
	}
	if (json_array_size(stored) > 0)
		json_object_set(job, "stored", stored);
out:
	json_decref(stored);
	for (i = 0; i < json_array_size(stores); i++)
		json_decref(tbls[i]);
	free(tbls);
	json_decref(cache);
	return rv;
}

/* ---- this party's kept pieces in its staging column family ---- */

int sched_store_stage(struct store_db *db, const struct sched_plan *plan, uint64_t job,
		      json_int_t task, int attempt, json_t *shares, char *err, size_t cap)
{
	json_t *stores, *g, *part, *where, *mine, *rec = NULL, *a;
	const char *col;
	char msg[MPC_ERRMSG_SIZE] = "", *text = NULL;
	size_t i, k;
	int rv = 0;

	if (json_object_size(shares) == 0) /* keeps nothing: no plan lookup per small task */
		return 0;
	stores = sched_plan_stores(plan);
	mine = json_object();
	json_array_foreach(stores, i, g)
		json_array_foreach(json_object_get(g, "parts"), k, part)
			json_object_foreach(json_object_get(part, "cols"), col, where)
				if (json_integer_value(json_object_get(where, "task")) == task &&
				    json_object_get(shares, str_of(where, "key")) != NULL)
					json_object_set(mine, str_of(where, "key"),
							json_object_get(shares, str_of(where, "key")));
	json_decref(stores);
	if (json_object_size(mine) == 0) /* this task keeps no stored value */
		goto out;
	text = json_dumps(mine, JSON_FLAGS);
	if (text == NULL) {
		rv = MPC_ENOMEM;
		goto out;
	}
	/* Under the staging lock, which every apply holds while it writes: an
	 * attempt that is no longer leased (aborted, expired, its job ended) has
	 * had its record dropped already, and must not get one now. */
	store_staging_lock(db);
	rec = sched_job_get(db, job);
	a = rec ? sched_task_attempt(rec, task) : NULL;
	if (a == NULL || json_integer_value(json_object_get(a, "attempt")) != attempt ||
	    strcmp(str_of(a, "state"), "leased") != 0)
		rv = MPC_ESTATE;
	else
		rv = store_staging_kept_put(db, job, (int)task, attempt, text, strlen(text), msg);
	store_staging_unlock(db);
	/* durable before the task_done that tells the others to count on it;
	 * the fsync outside the lock, as a prepare's (store/staging.h) */
	if (rv == 0)
		rv = store_db_sync(db, msg);
	if (rv == 0) /* tests: a crash between the kept record and task_done */
		mpc_fault_point("store_staged");
	if (rv == MPC_ESTATE)
		sched_errf(err, cap, "job %" PRIu64 " task %d attempt %d is no longer leased", job,
		     (int)task, attempt);
	else if (rv != 0)
		sched_errf(err, cap, "staging this party's stored pieces: %s", msg[0] ? msg : mpc_strerror(rv));
out:
	free(text);
	json_decref(rec);
	json_decref(mine);
	return rv;
}

/* The kept records of the staging column family, grouped by job. */
struct kept_rec {
	uint64_t job;
	int task, attempt;
};

struct kept_list {
	struct kept_rec *v;
	size_t n, cap;
	int oom;
};

static int kept_collect(void *ctx, uint64_t job, int task, int attempt)
{
	struct kept_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct kept_rec *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL) {
			l->oom = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct kept_rec){job, task, attempt};
	return 0;
}

/* Whether this party holds rows of the segment txn. */
static int have_rows(struct store_db *db, const char *segtxn)
{
	return store_shares_present(db, segtxn);
}

/* A COMPLETED job stored segments: writes into wb this party's rows of each
 * that it lacks (it learnt of the commit from a snapshot), from its kept
 * records, exactly as the commit would have (put_local_rows). */
static void settle_job(struct sched_fsm *f, rocksdb_writebatch_t *wb, json_t *job)
{
	uint64_t rev = (uint64_t)json_integer_value(json_object_get(job, "input_revision"));
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	struct sched_ir *ir = NULL;
	struct sched_plan *plan = NULL;
	json_t *stores = NULL, *g, *st, *cache = json_object();
	char *err = calloc(1, SCHED_ERR_MAX);
	size_t i, k;
	int rv = err == NULL ? MPC_ENOMEM : 0;

	if (rv == 0)
		rv = sched_compile(f->db, rev, str_of(job, "file"), str_of(job, "program"),
				   json_object_get(job, "args"), &ir, err, SCHED_ERR_MAX);
	if (rv == 0)
		rv = sched_plan_build(ir, f->db, rev, str_of(job, "file"), &plan, err,
				      SCHED_ERR_MAX);
	if (rv != 0) {
		LOG_ERROR("job %lld: cannot settle its stored rows on this party: %s", (long long)id,
			  err && err[0] ? err : mpc_strerror(rv));
		goto out;
	}
	stores = sched_plan_stores(plan);
	json_array_foreach(stores, i, g)
	{
		const char *table = str_of(g, "table");
		json_array_foreach(json_object_get(job, "stored"), k, st)
		{
			char key[160];
			json_t *seg, *tbl;
			if (strcmp(str_of(st, "table"), table) != 0)
				continue;
			snprintf(key, sizeof key, "seg/%s/%08llx", table,
				 (unsigned long long)json_integer_value(json_object_get(st, "segment")));
			seg = store_db_get_json(f->db, STORE_CF_META, key);
			tbl = table_now(f->db, table);
			if (seg != NULL && tbl != NULL && !have_rows(f->db, str_of(seg, "txn"))) {
				uint64_t rows = (uint64_t)json_integer_value(json_object_get(seg, "rows"));
				put_local_rows(f->db, wb, job, g, json_object_get(tbl, "columns"), &f->me,
					       cache, str_of(seg, "txn"), rows);
				LOG_INFO("job %lld: this party's %" PRIu64 " rows of %s (segment %lld) "
					 "settled from its staging: it learnt of the commit from a "
					 "snapshot",
					 (long long)id, rows, table,
					 (long long)json_integer_value(json_object_get(st, "segment")));
			}
			json_decref(seg);
			json_decref(tbl);
		}
	}
out:
	json_decref(stores);
	json_decref(cache);
	sched_plan_free(plan);
	sched_ir_free(ir);
	free(err);
}

/* Whether the kept record of (task, attempt) is still needed by a job that
 * is not final: its attempt is leased, prepared or committed. */
static int still_needed(json_t *job, int task, int attempt)
{
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(job, "attempts"), i, a)
		if (json_integer_value(json_object_get(a, "task")) == task &&
		    json_integer_value(json_object_get(a, "attempt")) == attempt)
			return strcmp(str_of(a, "state"), "aborted") != 0;
	return 0;
}

int sched_store_reconcile(void *data, rocksdb_writebatch_t *wb)
{
	struct sched_fsm *f = data; /* the first member of the service (sched_store_set_key) */
	struct kept_list l = {0};
	size_t i = 0, dropped = 0;

	if (store_staging_kept_list(f->db, kept_collect, &l) != 0 && l.oom) {
		free(l.v);
		return MPC_ENOMEM;
	}
	while (i < l.n) {
		uint64_t id = l.v[i].job;
		json_t *job = sched_job_get(f->db, id);
		int final = job == NULL || sched_job_state_final(sched_job_state_parse(
						   str_of(job, "state")));
		if (job != NULL && final && strcmp(str_of(job, "state"), "COMPLETED") == 0 &&
		    json_array_size(json_object_get(job, "stored")) > 0)
			settle_job(f, wb, job); /* reads the records before the drops below */
		for (; i < l.n && l.v[i].job == id; i++) {
			if (!final && still_needed(job, l.v[i].task, l.v[i].attempt))
				continue;
			store_staging_kept_batch_drop(f->db, wb, id, l.v[i].task, l.v[i].attempt);
			dropped++;
		}
		json_decref(job);
	}
	if (dropped > 0)
		LOG_INFO("sched: dropped %zu kept records of ended jobs and attempts", dropped);
	free(l.v);
	return 0;
}

void sched_store_set_key(struct store_fsm *fsm, const uint8_t *box_sk)
{
	/* ext_data is the service whose first member is the struct sched_fsm
	 * (sched_service.c, sched_fsm_attach) */
	struct sched_fsm *sf = fsm->ext_data;
	int rv;
	if (sf == NULL || fsm->ext_apply != sched_fsm_apply)
		return;
	sf->me.party = fsm->party_id;
	sf->me.box_sk = box_sk;
	/* the key opens this party's kept pieces: from now on every reconcile
	 * (after a snapshot restore) settles them; and once now, at start-up */
	fsm->ext_reconcile = sched_store_reconcile;
	if ((rv = store_fsm_reconcile(fsm)) != 0)
		LOG_ERROR("sched: settling this party's kept pieces at start-up: %s (retried at "
			  "the next start or snapshot)",
			  mpc_strerror(rv));
}
