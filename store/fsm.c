/* Deterministic apply of catalog and transaction entries; one RocksDB WriteBatch per entry. */
#include "store/fsm.h"
#include "store/signed_req.h"
#include "common/deadline.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/sigmemo.h"
#include "store/catalog.h"
#include "store/entry_bin.h"
#include "store/json_canon.h"
#include "store/staging.h"
#include "store/upload.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

int store_name_valid(const char *s)
{
	size_t n = 0;
	if (s == NULL || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return 0;
	return n < STORE_NAME_MAX;
}

size_t store_prepared_message_bound(char *out, const char *cluster_id_hex, const char *txn,
				    int party, uint64_t rows, uint64_t bytes,
				    const char *digest_hex, uint64_t keep_until_ms,
				    const char *begin_hex)
{
	if (keep_until_ms == 0)
		return (size_t)snprintf(out, 512,
					"mpcstore-prepared|%s|%s|%d|%" PRIu64 "|%" PRIu64 "|%s",
					cluster_id_hex, txn, party, rows, bytes, digest_hex);
	if (begin_hex == NULL)
		return (size_t)snprintf(
		    out, 512, "mpcstore-prepared-v2|%s|%s|%d|%" PRIu64 "|%" PRIu64 "|%s|%" PRIu64,
		    cluster_id_hex, txn, party, rows, bytes, digest_hex, keep_until_ms);
	return (size_t)snprintf(
	    out, 512, "mpcstore-prepared-v3|%s|%s|%d|%" PRIu64 "|%" PRIu64 "|%s|%" PRIu64 "|%s",
	    cluster_id_hex, txn, party, rows, bytes, digest_hex, keep_until_ms, begin_hex);
}

size_t store_prepared_message(char *out, const char *cluster_id_hex, const char *txn, int party,
			      uint64_t rows, uint64_t bytes, const char *digest_hex,
			      uint64_t keep_until_ms)
{
	return store_prepared_message_bound(out, cluster_id_hex, txn, party, rows, bytes,
					    digest_hex, keep_until_ms, NULL);
}

/* The replicated clock as persisted (meta "clock"); 0 before any stamp. */
static uint64_t clock_read(struct store_db *db)
{
	char *val = NULL;
	uint64_t v = 0;
	if (store_db_get(db, STORE_CF_META, "clock", 5, &val, NULL, NULL) == 0)
		v = strtoull(val, NULL, 10); /* store_db_get ends the copy with a NUL */
	free(val);
	return v;
}

uint64_t store_fsm_clock(struct store_fsm *fsm)
{
	uint64_t v;
	pthread_mutex_lock(&fsm->lock);
	v = fsm->clock_ms;
	pthread_mutex_unlock(&fsm->lock);
	return v;
}


static int reconcile_staging(struct store_fsm *fsm);

int store_fsm_init(struct store_fsm *fsm, struct store_db *db, const struct mpc_cluster *cluster,
		   int party_id)
{
	memset(fsm, 0, sizeof *fsm);
	fsm->db = db;
	fsm->cluster = cluster;
	fsm->party_id = party_id;
	pthread_mutex_init(&fsm->lock, NULL);
	pthread_cond_init(&fsm->cond, NULL);
	pthread_cond_init(&fsm->final_cond, NULL);
	fsm->applied = store_catalog_applied(db);
	fsm->clock_ms = fsm->clock_saved = clock_read(db);
	fsm->upload_min_ms = UINT64_MAX; /* reconcile_staging notes the uploads kept */
	/* A crash after a snapshot restore but before its staging was settled
	 * leaves uploads of finished txns unsettled: settle them now (idempotent). */
	return db->read_only ? 0 : reconcile_staging(fsm);
}

void store_fsm_close(struct store_fsm *fsm)
{
	pthread_mutex_destroy(&fsm->lock);
	pthread_cond_destroy(&fsm->cond);
	pthread_cond_destroy(&fsm->final_cond);
}

uint64_t store_fsm_applied(struct store_fsm *fsm)
{
	uint64_t v;
	pthread_mutex_lock(&fsm->lock);
	v = fsm->applied;
	pthread_mutex_unlock(&fsm->lock);
	return v;
}


int store_fsm_wait_applied(struct store_fsm *fsm, uint64_t index, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;
	mpc_deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&fsm->lock);
	while (fsm->applied < index && !fsm->shutting_down) {
		if (pthread_cond_timedwait(&fsm->cond, &fsm->lock, &ts) == ETIMEDOUT) {
			rv = fsm->applied >= index ? 0 : MPC_ETIMEDOUT;
			break;
		}
	}
	if (rv == 0 && fsm->applied < index)
		rv = MPC_ESHUTDOWN;
	pthread_mutex_unlock(&fsm->lock);
	return rv;
}

uint64_t store_fsm_finals(struct store_fsm *fsm)
{
	uint64_t v;
	pthread_mutex_lock(&fsm->lock);
	v = fsm->finals;
	pthread_mutex_unlock(&fsm->lock);
	return v;
}

void store_fsm_wait_final(struct store_fsm *fsm, uint64_t seen, int timeout_ms)
{
	struct timespec ts;
	mpc_deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&fsm->lock);
	while (fsm->finals <= seen && !fsm->shutting_down)
		if (pthread_cond_timedwait(&fsm->final_cond, &fsm->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&fsm->lock);
}

void store_fsm_shutdown(struct store_fsm *fsm)
{
	pthread_mutex_lock(&fsm->lock);
	fsm->shutting_down = 1;
	pthread_cond_broadcast(&fsm->cond);
	pthread_cond_broadcast(&fsm->final_cond);
	pthread_mutex_unlock(&fsm->lock);
}

/* ---- helpers over meta records ---- */

static json_t *meta_get_json(struct store_db *db, const char *key)
{
	return store_db_get_json(db, STORE_CF_META, key);
}

static void batch_put_json(struct store_fsm *fsm, rocksdb_writebatch_t *wb, const char *key,
			   json_t *j)
{
	char *text;
	size_t len;
	/* the same bytes as json_dumps(j, JSON_FLAGS), written in ~1/3 of its time */
	int rv = store_json_canon(j, &text, &len);
	if (rv != 0) { /* no memory, or a string that is not UTF-8 (json_dumps: NULL) */
		LOG_ERROR("store: %s: cannot write the record: %s", key, mpc_strerror(rv));
		return;
	}
	rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], key, strlen(key), text, len);
	free(text);
}

static void txn_key(char *out, const char *txn)
{
	snprintf(out, 128, "txn/%s", txn);
}

/* Ends txn in state (committed or aborted) at index: writes its record and,
 * when listed, takes it off the open list, in wb. listed is 0 for a txn that
 * this apply created and that was never written (a commit carrying its begin,
 * a refused begin, an abort of an unknown txn): its open/ key never existed,
 * and a tombstone for it would cost a memtable insert and slow every scan of
 * the open list (the leader's duties) until a compaction. */
static void txn_finish(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *txn,
		       uint64_t index, const char *state, int listed)
{
	const char *id = json_string_value(json_object_get(txn, "id"));
	char key[128];

	json_object_set_new(txn, "state", json_string(state));
	json_object_set_new(txn, "end_revision", json_integer((json_int_t)index));
	txn_key(key, id);
	batch_put_json(fsm, wb, key, txn);
	if (!listed)
		return;
	snprintf(key, sizeof key, "open/%s", id);
	rocksdb_writebatch_delete_cf(wb, fsm->db->cf[STORE_CF_META], key, strlen(key));
}

/* Marks txn aborted with reason in wb and deletes this party's upload of it
 * (listed: see txn_finish). */
static void txn_abort(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *txn, uint64_t index,
		      const char *reason, int listed)
{
	const char *id = json_string_value(json_object_get(txn, "id"));

	json_object_set_new(txn, "reason", json_string(reason));
	txn_finish(fsm, wb, txn, index, "aborted", listed);
	store_staging_batch_drop(fsm->db, wb, id);
	LOG_INFO("txn %s aborted: %s", id, reason);
}

static int valid_txn_id(const char *s)
{
	if (s == NULL || strlen(s) != STORE_TXN_ID_LEN)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return 0;
	return 1;
}

/* The canonical form of a column list, as stored and compared: exactly
 * {name, type, frac} per column (frac 0 when absent), so equal schemas compare
 * equal however a client spelled them. New reference; NULL if cols is NULL. */
static json_t *columns_canonical(json_t *cols)
{
	json_t *out, *c;
	size_t i;
	if (cols == NULL)
		return NULL;
	if (!json_is_array(cols))
		return json_incref(cols); /* rejected by columns_valid() */
	out = json_array();
	json_array_foreach(cols, i, c)
	{
		json_t *name = json_object_get(c, "name"), *type = json_object_get(c, "type");
		json_array_append_new(out, json_pack("{s:O, s:O, s:I}", "name",
						     name ? name : json_null(), "type",
						     type ? type : json_null(), "frac",
						     json_integer_value(json_object_get(c, "frac"))));
	}
	return out;
}

/* Checks a column list; writes a reason on failure. */
static int columns_valid(json_t *cols, char *reason, size_t rsize)
{
	size_t i, n = json_array_size(cols);
	if (!json_is_array(cols) || n == 0 || n > STORE_MAX_COLUMNS) {
		snprintf(reason, rsize, "columns must be a list of 1..%d columns", STORE_MAX_COLUMNS);
		return 0;
	}
	for (i = 0; i < n; i++) {
		json_t *c = json_array_get(cols, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *type = json_string_value(json_object_get(c, "type"));
		json_int_t frac = json_integer_value(json_object_get(c, "frac"));
		if (!store_name_valid(name)) {
			snprintf(reason, rsize, "column %zu: invalid name '%s'", i + 1,
				 name ? name : "");
			return 0;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(name, json_string_value(json_object_get(
						 json_array_get(cols, k), "name"))) == 0) {
				snprintf(reason, rsize, "duplicate column '%s'", name);
				return 0;
			}
		if (type == NULL || (strcmp(type, "int64") != 0 && strcmp(type, "fixed") != 0)) {
			snprintf(reason, rsize, "column '%s': type must be int64 or fixed", name);
			return 0;
		}
		if (strcmp(type, "fixed") == 0 ? (frac < 1 || frac > 62) : frac != 0) {
			snprintf(reason, rsize,
				 "column '%s': fixed needs frac 1..62, int64 frac 0", name);
			return 0;
		}
	}
	return 1;
}

void store_columns_describe(json_t *cols, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(cols) && n < size; i++) {
		json_t *c = json_array_get(cols, i);
		const char *type = json_string_value(json_object_get(c, "type"));
		n += (size_t)snprintf(out + n, size - n, "%s%s %s", i ? ", " : "",
				      json_string_value(json_object_get(c, "name")), type);
		if (n < size && type && strcmp(type, "fixed") == 0)
			n += (size_t)snprintf(out + n, size - n, "(%lld)",
					      (long long)json_integer_value(json_object_get(c, "frac")));
	}
}

/* ---- the four entry types ---- */

/* The begin's parameters come from the client's signed request (DESIGN.md
 * §6): they replace whatever the entry says, so the proposing party cannot
 * change them. 0, or MPC_EPERM with "BadSignature: ..." in reason. */
static int begin_signed(struct store_fsm *fsm, json_t *e, const char *bound_hex,
			const struct mpc_client_info **ci, char *reason, size_t size)
{
	static const char *const params[] = {"table", "create", "columns", "timeout_ms", NULL};
	char why[400];
	json_t *body;
	if (store_signed_req_open_bound(fsm->cluster, e, "POST", "/v1/txns", "txn", bound_hex, ci,
					&body, why, sizeof why) != 0) {
		snprintf(reason, size, "BadSignature: %s", why);
		return MPC_EPERM;
	}
	for (int i = 0; params[i]; i++) {
		json_t *v = json_object_get(body, params[i]);
		if (v != NULL)
			json_object_set(e, params[i], v);
		else
			json_object_del(e, params[i]);
	}
	json_decref(body);
	return 0;
}

int store_fsm_begin_check(struct store_fsm *fsm, json_t *e, const char *id, uint64_t index,
			  json_t **txn_out, int *signed_ok, char *reason, size_t size)
{
	return store_fsm_begin_check_bound(fsm, e, id, index, NULL, txn_out, signed_ok, reason,
					   size);
}

/* As store_fsm_begin_check_bound; tbl_out (may be NULL) gets the table
 * record it read (new reference, NULL if there is none), so that a commit's
 * apply does not read and parse it a second time. */
static int begin_check(struct store_fsm *fsm, json_t *e, const char *id, uint64_t index,
		       const char *bound_hex, json_t **txn_out, int *signed_ok, char *reason,
		       size_t size, json_t **tbl_out)
{
	const char *table, *client;
	json_t *cols;
	int create, signed_rv;
	json_int_t timeout;
	const struct mpc_client_info *ci;
	json_t *txn, *tbl;
	char key[128];
	int outcome = 0;

	reason[0] = '\0';
	signed_rv = begin_signed(fsm, e, bound_hex, &ci, reason, size);
	if (signed_ok != NULL)
		*signed_ok = signed_rv == 0;
	table = json_string_value(json_object_get(e, "table"));
	client = json_string_value(json_object_get(e, "client"));
	cols = columns_canonical(json_object_get(e, "columns"));
	create = json_is_true(json_object_get(e, "create"));
	timeout = json_integer_value(json_object_get(e, "timeout_ms"));
	txn = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:{}}", "id", id, "table",
			table ? table : "", "client", client ? client : "", "create", create,
			"state", "pending", "begin_revision", (json_int_t)index, "timeout_ms",
			timeout > 0 ? timeout : (json_int_t)fsm->cluster->txn_timeout_ms,
			"prepared");
	snprintf(key, sizeof key, "tbl/%s", table ? table : "");
	tbl = store_name_valid(table) ? meta_get_json(fsm->db, key) : NULL;
	if (signed_rv != 0) {
		outcome = signed_rv; /* reason set by begin_signed */
	} else if (!store_name_valid(table)) {
		snprintf(reason, size, "invalid table name '%s' (letters, digits, _; at most 63)",
			 table ? table : "");
		outcome = MPC_EINVAL;
	} else if (ci == NULL) {
		snprintf(reason, size, "client '%s' is not in the cluster config",
			 client ? client : "");
		outcome = MPC_EPERM;
	} else if (!mpc_client_may_append(ci, table)) {
		snprintf(reason, size, "client '%s' may not append to table '%s'", client, table);
		outcome = MPC_EPERM;
	} else if (tbl == NULL && !create) {
		snprintf(reason, size, "unknown table '%s'", table);
		outcome = MPC_ENOENT;
	} else if (tbl == NULL && !(ci->rights & MPC_RIGHT_CREATE)) {
		snprintf(reason, size, "client '%s' may not create table '%s'", client, table);
		outcome = MPC_EPERM;
	} else if (tbl == NULL && !columns_valid(cols, reason, size)) {
		outcome = MPC_EINVAL;
	} else if (tbl != NULL && cols != NULL && !json_equal(cols, json_object_get(tbl, "columns"))) {
		char have[256], want[256];
		store_columns_describe(json_object_get(tbl, "columns"), have, sizeof have);
		store_columns_describe(cols, want, sizeof want);
		snprintf(reason, size, "schema mismatch: table '%s' has (%s), append has (%s)", table,
			 have, want);
		outcome = MPC_ECONFLICT;
	}
	if (tbl != NULL || cols != NULL)
		json_object_set(txn, "columns", tbl ? json_object_get(tbl, "columns") : cols);
	else
		json_object_set_new(txn, "columns", json_array()); /* a begin without columns */
	if (tbl_out != NULL)
		*tbl_out = tbl;
	else
		json_decref(tbl);
	json_decref(cols);
	*txn_out = txn;
	return outcome;
}

int store_fsm_begin_check_bound(struct store_fsm *fsm, json_t *e, const char *id, uint64_t index,
				const char *bound_hex, json_t **txn_out, int *signed_ok,
				char *reason, size_t size)
{
	return begin_check(fsm, e, id, index, bound_hex, txn_out, signed_ok, reason, size, NULL);
}

static int apply_begin(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *e, uint64_t index,
		       char *changed_state)
{
	const char *id = json_string_value(json_object_get(e, "txn"));
	json_t *txn;
	char key[128], reason[512] = "";
	int outcome;

	if (!valid_txn_id(id))
		return MPC_EINVAL; /* not even recordable */
	txn_key(key, id);
	if ((txn = meta_get_json(fsm->db, key)) != NULL) {
		json_decref(txn); /* a retried proposal: already applied */
		return 0;
	}
	outcome = store_fsm_begin_check(fsm, e, id, index, &txn, NULL, reason, sizeof reason);
	if (outcome != 0) {
		txn_abort(fsm, wb, txn, index, reason, 0); /* open/ is written only on success */
		strcpy(changed_state, "aborted");
	} else {
		txn_key(key, id);
		batch_put_json(fsm, wb, key, txn);
		snprintf(key, sizeof key, "open/%s", id);
		rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], key, strlen(key), "", 0);
		strcpy(changed_state, "pending");
	}
	json_decref(txn);
	return outcome;
}

/* A Prepared vote's fields (from a prepared entry or one of a commit's
 * votes), checked: 0, MPC_EINVAL (malformed) or MPC_ECRYPTO (neither its tag
 * for this party nor its signature is the voting party's). Every party checks
 * every vote: one party cannot vote for another, and a client or the leader
 * cannot forge a vote. The check is the vote's pairwise tag for this party
 * ("macs"[party_id], BLAKE2b under K_{voter,self}, ~1 us) when it matches,
 * else the Ed25519 signature (~55 us), which every vote carries for audit:
 * for an honest voter both are valid, so every party decides alike
 * (docs/architecture.md, departures). */
struct vote {
	json_int_t party, rows, bytes;
	uint64_t keep_until_ms; /* 0: a vote of an older version, without the promise */
	const char *digest;
	const char *begin; /* hex SHA-256 of the begin the voter received; NULL in older votes */
};

static int vote_check(struct store_fsm *fsm, const char *id, json_t *v, struct vote *out)
{
	const char *sig64 = json_string_value(json_object_get(v, "sig"));
	const char *tag =
	    json_string_value(json_array_get(json_object_get(v, "macs"), (size_t)fsm->party_id));
	uint8_t sig[crypto_sign_BYTES];
	char msg[512];
	size_t mlen;

	out->digest = json_string_value(json_object_get(v, "digest"));
	out->begin = json_string_value(json_object_get(v, "begin"));
	out->party = json_integer_value(json_object_get(v, "party"));
	out->rows = json_integer_value(json_object_get(v, "rows"));
	out->bytes = json_integer_value(json_object_get(v, "bytes"));
	out->keep_until_ms = json_integer_value(json_object_get(v, "keep_until_ms")) > 0
				     ? (uint64_t)json_integer_value(json_object_get(v, "keep_until_ms"))
				     : 0;
	if (!valid_txn_id(id) || out->digest == NULL || sig64 == NULL ||
	    !json_is_integer(json_object_get(v, "party")) || out->party < 0 ||
	    out->party >= fsm->cluster->n_parties || out->rows < 0 || out->bytes < 0 ||
	    strlen(out->digest) > 2 * STORE_DIGEST_BYTES ||
	    (out->begin != NULL &&
	     (out->keep_until_ms == 0 || strlen(out->begin) != 2 * STORE_BEGIN_HASH_BYTES)))
		return MPC_EINVAL;
	mlen = store_prepared_message_bound(msg, fsm->cluster->id_hex, id, (int)out->party,
					    (uint64_t)out->rows, (uint64_t)out->bytes, out->digest,
					    out->keep_until_ms, out->begin);
	if (tag != NULL && mpc_pairkeys_check(fsm->pairkeys, (int)out->party, msg, mlen, tag) == 0)
		return 0;
	if (mpc_key_decode(sig64, sig, sizeof sig) != 0 ||
	    mpc_sigmemo_verify(sig, (const uint8_t *)msg, mlen,
			       fsm->cluster->parties[out->party].sign_pk) != 0) {
		LOG_WARN("txn %s: Prepared vote of party %lld has a bad signature%s; ignored", id,
			 (long long)out->party, tag != NULL ? " and no valid tag" : "");
		return MPC_ECRYPTO;
	}
	if (tag != NULL && fsm->pairkeys != NULL)
		LOG_WARN(
		    "txn %s: Prepared vote of party %lld has a bad tag for party %d but a good "
		    "signature; accepted",
		    id, (long long)out->party, fsm->party_id);
	return 0;
}

/* Records a checked vote in txn (in memory; pending or prepared) at index.
 * 0: recorded, or the same vote again (*dup set); else an outcome with
 * reason set, and the txn must be aborted. */
static int vote_record(struct store_fsm *fsm, json_t *txn, const struct vote *v, uint64_t index,
		       int *dup, char *reason, size_t rsize)
{
	json_t *prepared = json_object_get(txn, "prepared"), *mine, *it_val;
	size_t ncols = json_array_size(json_object_get(txn, "columns"));
	const char *it_key;
	char pkey[16];

	*dup = 0;
	snprintf(pkey, sizeof pkey, "%lld", (long long)v->party);
	mine = json_object_get(prepared, pkey);
	if (mine != NULL) {
		if (json_integer_value(json_object_get(mine, "rows")) == v->rows &&
		    json_integer_value(json_object_get(mine, "bytes")) == v->bytes &&
		    strcmp(json_string_value(json_object_get(mine, "digest")), v->digest) == 0) {
			*dup = 1; /* the same vote again: a retried proposal */
			return 0;
		}
		snprintf(reason, rsize, "second Prepared from party %lld with different content",
			 (long long)v->party);
		return MPC_ECONFLICT;
	}
	if (ncols == 0 || (uint64_t)v->bytes != (uint64_t)v->rows * ncols * 8) {
		snprintf(reason, rsize, "party %lld staged %lld bytes, not %lld rows x %zu columns x 8",
			 (long long)v->party, (long long)v->bytes, (long long)v->rows, ncols);
		return MPC_EINVAL;
	}
	if (v->rows == 0) {
		snprintf(reason, rsize, "party %lld staged no rows", (long long)v->party);
		return MPC_EINVAL;
	}
	json_object_foreach(prepared, it_key, it_val)
	{
		json_int_t other = json_integer_value(json_object_get(it_val, "rows"));
		if (other != v->rows) {
			snprintf(reason, rsize,
				 "row count mismatch: party %s has %lld rows, party %lld has %lld",
				 it_key, (long long)other, (long long)v->party, (long long)v->rows);
			return MPC_ECONFLICT;
		}
	}
	json_object_set_new(prepared, pkey,
			    json_pack("{s:I, s:I, s:s, s:I}", "rows", v->rows, "bytes", v->bytes,
				      "digest", v->digest, "revision", (json_int_t)index));
	json_object_set_new(txn, "rows", json_integer(v->rows));
	if ((int)json_object_size(prepared) == fsm->cluster->n_parties)
		json_object_set_new(txn, "state", json_string("prepared"));
	return 0;
}

static int apply_prepared(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *e,
			  uint64_t index, char *changed_state)
{
	const char *id = json_string_value(json_object_get(e, "txn"));
	char key[128], reason[512];
	struct vote v;
	json_t *txn;
	const char *state;
	int outcome, dup;

	if ((outcome = vote_check(fsm, id, e, &v)) != 0)
		return outcome;
	txn_key(key, id);
	txn = meta_get_json(fsm->db, key);
	if (txn == NULL)
		return MPC_ENOENT;
	state = json_string_value(json_object_get(txn, "state"));
	if (strcmp(state, "pending") != 0 && strcmp(state, "prepared") != 0) {
		json_decref(txn);
		return MPC_ESTATE;
	}
	outcome = vote_record(fsm, txn, &v, index, &dup, reason, sizeof reason);
	if (outcome != 0) {
		txn_abort(fsm, wb, txn, index, reason, 1);
		strcpy(changed_state, "aborted");
	} else if (!dup) {
		if (strcmp(json_string_value(json_object_get(txn, "state")), "prepared") == 0)
			strcpy(changed_state, "prepared");
		batch_put_json(fsm, wb, key, txn);
	}
	json_decref(txn);
	return outcome;
}

/* The votes a client collected from the parties' prepare answers, carried by
 * its commit entry (docs/architecture.md §5): all are checked before any is
 * recorded, so a bad one changes nothing. 0 with the txn prepared in memory
 * (commit goes on); MPC_ESTATE with the votes recorded in wb when some party
 * has not voted yet; MPC_EINVAL/MPC_ECRYPTO, nothing changed; or an outcome
 * with the txn aborted in wb. */
static int commit_votes(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *txn,
			json_t *votes, const char *id, uint64_t index, char *changed_state)
{
	struct vote v[MPC_MAX_PARTIES];
	size_t i, n = json_array_size(votes);
	char key[128], reason[512];
	int rv, dup;

	if (!json_is_array(votes) || n > (size_t)fsm->cluster->n_parties)
		return MPC_EINVAL;
	for (i = 0; i < n; i++)
		if ((rv = vote_check(fsm, id, json_array_get(votes, i), &v[i])) != 0)
			return rv;
	for (i = 0; i < n; i++) {
		rv = vote_record(fsm, txn, &v[i], index, &dup, reason, sizeof reason);
		if (rv != 0) {
			txn_abort(fsm, wb, txn, index, reason, 1);
			strcpy(changed_state, "aborted");
			return rv;
		}
	}
	if (strcmp(json_string_value(json_object_get(txn, "state")), "prepared") == 0)
		return 0;
	txn_key(key, id);
	batch_put_json(fsm, wb, key, txn); /* the votes count; the leader commits once all are in */
	return MPC_ESTATE;
}

/* A commit that carries its begin (docs/architecture.md §5): until now the
 * txn existed only as uploads on the parties. Checks the begin as apply_begin
 * would, and the votes of all n parties, each with its promise to keep its
 * upload until keep_until_ms: applied at a clock past the earliest of these,
 * the commit is void (a party may have dropped its upload), on every party
 * alike. 0 with *txn_out prepared in memory (the commit goes on); an outcome
 * with nothing written (bad client signature, a malformed or forged vote,
 * votes missing: the txn stays unknown, so a correct commit may still come);
 * or an outcome with the txn recorded aborted in wb. */
static int commit_upload(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *e,
			 const char *id, uint64_t index, char *changed_state, json_t **txn_out,
			 json_t **tbl_out)
{
	json_t *votes = json_object_get(e, "votes"), *txn = NULL;
	struct vote v[MPC_MAX_PARTIES];
	size_t i, n = json_array_size(votes), first = 0, mismatch = 0;
	char reason[512], hash[2 * STORE_BEGIN_HASH_BYTES + 1];
	int rv, dup, signed_ok = 0, have_hash, bound = 1;

	*txn_out = NULL;
	*tbl_out = NULL;
	if (!json_is_array(votes) || n != (size_t)fsm->cluster->n_parties)
		return MPC_EINVAL;
	for (i = 0; i < n; i++) {
		if ((rv = vote_check(fsm, id, json_array_get(votes, i), &v[i])) != 0)
			return rv;
		if (v[i].keep_until_ms == 0)
			return MPC_EINVAL; /* no promise to keep the upload */
		if (v[i].keep_until_ms < v[first].keep_until_ms)
			first = i;
	}
	/* Votes of version 3 bind the hash of the begin their party received
	 * from the client over a signed request. All n binding this entry's
	 * begin: every party got it from its client, so its own signature need
	 * not be verified; a vote binding another begin: the client sent
	 * different begins under one txn id, refused on every party. */
	have_hash = store_signed_req_hash(fsm->cluster, json_object_get(e, "auth"), hash) == 0;
	for (i = 0; i < n; i++) {
		if (v[i].begin == NULL)
			bound = 0;
		else if (!have_hash || strcmp(v[i].begin, hash) != 0)
			mismatch = i + 1;
	}
	rv = begin_check(fsm, e, id, index, bound && !mismatch ? hash : NULL, &txn, &signed_ok,
			 reason, sizeof reason, tbl_out);
	if (!signed_ok) {
		LOG_WARN("txn %s: commit refused: %s", id, reason);
		json_decref(txn);
		json_decref(*tbl_out);
		*tbl_out = NULL;
		return rv;
	}
	if (rv == 0 && mismatch) {
		snprintf(reason, sizeof reason,
			 "party %lld voted for another begin than the commit's (client sent "
			 "different begins under txn id %s)",
			 (long long)v[mismatch - 1].party, id);
		rv = MPC_ECONFLICT;
	}
	if (rv == 0 && fsm->clock_ms > v[first].keep_until_ms) {
		snprintf(reason, sizeof reason,
			 "commit applied at %" PRIu64 " ms, past %" PRIu64
			 " ms, until which party %lld promised to keep its upload",
			 fsm->clock_ms, v[first].keep_until_ms, (long long)v[first].party);
		rv = MPC_ETIMEDOUT;
	}
	for (i = 0; rv == 0 && i < n; i++)
		rv = vote_record(fsm, txn, &v[i], index, &dup, reason, sizeof reason);
	if (rv == 0 && strcmp(json_string_value(json_object_get(txn, "state")), "prepared") != 0) {
		snprintf(reason, sizeof reason, "commit carries votes of only %zu of %d parties",
			 json_object_size(json_object_get(txn, "prepared")),
			 fsm->cluster->n_parties);
		rv = MPC_EINVAL;
	}
	if (rv != 0) {
		txn_abort(fsm, wb, txn, index, reason, 0);
		strcpy(changed_state, "aborted");
		json_decref(txn);
		json_decref(*tbl_out);
		*tbl_out = NULL;
		return rv;
	}
	*txn_out = txn;
	return 0;
}

static int apply_commit(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *e, uint64_t index,
			char *changed_state)
{
	const char *id = json_string_value(json_object_get(e, "txn"));
	const char *state, *table;
	char key[128], reason[512];
	json_t *txn, *tbl = NULL, *cols, *seg;
	json_int_t rows, segid;
	uint64_t moved = 0;
	int rv, have_tbl = 0;

	if (!valid_txn_id(id))
		return MPC_EINVAL;
	txn_key(key, id);
	txn = meta_get_json(fsm->db, key);
	if (txn == NULL && json_object_get(e, "auth") == NULL)
		return MPC_ENOENT;
	if (txn == NULL) {
		/* the begin check read the table record: the same as below reads
		 * (nothing is written before this apply's batch) */
		rv = commit_upload(fsm, wb, e, id, index, changed_state, &txn, &tbl);
		if (rv != 0)
			return rv;
		have_tbl = 1;
		state = "prepared";
	} else {
		state = json_string_value(json_object_get(txn, "state"));
	}
	if (strcmp(state, "pending") == 0 && json_object_get(e, "votes") != NULL) {
		rv = commit_votes(fsm, wb, txn, json_object_get(e, "votes"), id, index,
				  changed_state);
		if (rv != 0) {
			json_decref(txn);
			return rv;
		}
		state = "prepared";
	}
	if (strcmp(state, "prepared") != 0) {
		/* committed or aborted: a replay (or a retried proposal) changes
		 * nothing; pending: not every party voted */
		rv = MPC_ESTATE;
		json_decref(txn);
		return rv;
	}
	table = json_string_value(json_object_get(txn, "table"));
	cols = json_object_get(txn, "columns");
	rows = json_integer_value(json_object_get(txn, "rows"));
	snprintf(key, sizeof key, "tbl/%s", table);
	if (!have_tbl)
		tbl = meta_get_json(fsm->db, key);
	if (tbl != NULL && !json_equal(json_object_get(tbl, "columns"), cols)) {
		/* Two creating appends raced and the other committed first. */
		snprintf(reason, sizeof reason,
			 "schema mismatch at commit: table '%s' was created meanwhile with other columns",
			 table);
		txn_abort(fsm, wb, txn, index, reason, !have_tbl);
		strcpy(changed_state, "aborted");
		json_decref(tbl);
		json_decref(txn);
		return MPC_ECONFLICT;
	}
	if (tbl == NULL)
		tbl = json_pack("{s:s, s:O, s:I, s:I, s:I, s:I}", "name", table, "columns", cols,
				"rows", (json_int_t)0, "version", (json_int_t)0, "segments",
				(json_int_t)0, "created_revision", (json_int_t)index);
	segid = json_integer_value(json_object_get(tbl, "segments"));
	/* This party's uploaded shares become visible in the same batch (DESIGN.md §3):
	 * the segment added below names this txn's data. */
	rv = store_staging_batch_publish(fsm->db, wb, id, &moved, fsm->errmsg);
	if (rv != 0) {
		json_decref(tbl);
		json_decref(txn);
		return rv;
	}
	{
		char pkey[16];
		json_t *mine;
		snprintf(pkey, sizeof pkey, "%d", fsm->party_id);
		mine = json_object_get(json_object_get(txn, "prepared"), pkey);
		if (mine != NULL && moved != (uint64_t)json_integer_value(json_object_get(mine, "bytes")))
			LOG_ERROR("txn %s: this party prepared %lld bytes but has %" PRIu64
				  " uploaded at commit: its data dir lost uploaded shares",
				  id, (long long)json_integer_value(json_object_get(mine, "bytes")),
				  moved);
	}
	json_object_set_new(tbl, "rows",
			    json_integer(json_integer_value(json_object_get(tbl, "rows")) + rows));
	json_object_set_new(tbl, "version",
			    json_integer(json_integer_value(json_object_get(tbl, "version")) + 1));
	json_object_set_new(tbl, "segments", json_integer(segid + 1));
	json_object_set_new(tbl, "revision", json_integer((json_int_t)index));
	batch_put_json(fsm, wb, key, tbl);
	seg = json_pack("{s:I, s:I, s:s, s:I}", "id", segid, "rows", rows, "txn", id, "revision",
			(json_int_t)index);
	snprintf(key, sizeof key, "seg/%s/%08llx", table, (unsigned long long)segid);
	batch_put_json(fsm, wb, key, seg);
	json_decref(seg);
	json_object_set_new(txn, "segment", json_integer(segid));
	txn_finish(fsm, wb, txn, index, "committed", !have_tbl);
	strcpy(changed_state, "committed");
	json_decref(tbl);
	json_decref(txn);
	return 0;
}

static int apply_abort(struct store_fsm *fsm, rocksdb_writebatch_t *wb, json_t *e, uint64_t index,
		       char *changed_state)
{
	const char *id = json_string_value(json_object_get(e, "txn"));
	const char *reason = json_string_value(json_object_get(e, "reason"));
	const char *state;
	char key[128];
	json_t *txn;
	int rv = 0, known = 1;

	if (!valid_txn_id(id))
		return MPC_EINVAL;
	txn_key(key, id);
	txn = meta_get_json(fsm->db, key);
	if (txn == NULL) {
		known = 0;
		/* A txn the log does not know (it may exist as uploads): recorded
		 * aborted, so that a later commit of it is refused. */
		txn = json_pack("{s:s, s:s, s:s, s:b, s:I, s:[], s:{}}", "id", id, "table", "",
				"client", "", "create", 0, "begin_revision", (json_int_t)index,
				"columns", "prepared");
		state = "pending";
	} else {
		state = json_string_value(json_object_get(txn, "state"));
	}
	if (strcmp(state, "pending") == 0 || strcmp(state, "prepared") == 0) {
		txn_abort(fsm, wb, txn, index, reason ? reason : "aborted", known);
		strcpy(changed_state, "aborted");
	} else if (strcmp(state, "committed") == 0) {
		rv = MPC_ESTATE; /* too late: the commit won */
	}
	json_decref(txn);
	return rv;
}

/* The leader's stamp (store/node.c): the clock never goes back. */
static void clock_stamp(struct store_fsm *fsm, uint64_t ts)
{
	if (ts > fsm->clock_ms) {
		pthread_mutex_lock(&fsm->lock);
		fsm->clock_ms = ts;
		pthread_mutex_unlock(&fsm->lock);
	}
}

/* Applies one (non-batch) entry at index in its own WriteBatch; the applied
 * index is recorded in that batch only when last is set. */
static int apply_one(struct store_fsm *fsm, uint64_t index, json_t *e, int last, int *outcome)
{
	rocksdb_writebatch_t *wb;
	char applied[32], changed_state[16] = "";
	const char *op, *txn_id = NULL;
	int rv, ext = 0;

	wb = rocksdb_writebatch_create();
	store_staging_lock(fsm->db);
	op = e ? json_string_value(json_object_get(e, "op")) : NULL;
	if (op == NULL) {
		*outcome = MPC_EINVAL;
	} else {
		txn_id = json_string_value(json_object_get(e, "txn"));
		if (strcmp(op, "begin") == 0)
			*outcome = apply_begin(fsm, wb, e, index, changed_state);
		else if (strcmp(op, "prepared") == 0)
			*outcome = apply_prepared(fsm, wb, e, index, changed_state);
		else if (strcmp(op, "commit") == 0) {
			*outcome = apply_commit(fsm, wb, e, index, changed_state);
			/* A local failure to publish this party's upload (ingest of its
			 * chunk files; apply_commit's only source of these codes) is no
			 * outcome: nothing is written and the entry is applied again. */
			if (*outcome == MPC_EIO || *outcome == MPC_ENOMEM || *outcome == MPC_ECORRUPT) {
				store_staging_unlock(fsm->db);
				rocksdb_writebatch_destroy(wb);
				LOG_ERROR("apply of entry %" PRIu64 " (commit): %s", index, fsm->errmsg);
				return *outcome;
			}
		}
		else if (strcmp(op, "abort") == 0)
			*outcome = apply_abort(fsm, wb, e, index, changed_state);
		else if (strcmp(op, "tick") == 0)
			*outcome = 0; /* its stamp moved the clock: the sweep below */
		else if (fsm->ext_apply != NULL) {
			txn_id = NULL;
			rv = fsm->ext_apply(fsm->ext_data, wb, e, index, outcome);
			if (rv != 0) {
				store_staging_unlock(fsm->db);
				rocksdb_writebatch_destroy(wb);
				LOG_ERROR("apply of entry %" PRIu64 " (%s) failed: %s", index, op,
					  mpc_strerror(rv));
				return rv;
			}
			ext = 1;
		} else
			*outcome = MPC_EINVAL;
	}
	if (*outcome == MPC_EINVAL && changed_state[0] == '\0')
		LOG_WARN("entry %" PRIu64 " (%s) is malformed; ignored", index, op ? op : "?");
	if (strcmp(changed_state, "committed") == 0)
		mpc_fault_point("commit");
	/* Uploads to txns the log does not know, past their deadline: dropped
	 * (store/upload.h; this entry's own txn is settled above). */
	if (fsm->clock_ms > fsm->upload_min_ms)
		store_upload_sweep(fsm, wb, txn_id);
	/* The applied index goes in the same batch as the effects (DESIGN.md §11). */
	if (last) {
		snprintf(applied, sizeof applied, "%" PRIu64, index);
		rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], "local/applied", 13,
					  applied, strlen(applied));
		if (fsm->clock_ms != fsm->clock_saved) { /* only entries that move it */
			snprintf(applied, sizeof applied, "%" PRIu64, fsm->clock_ms);
			rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], "clock", 5,
						  applied, strlen(applied));
		}
	}
	rv = store_db_write(fsm->db, wb, 0, fsm->errmsg);
	store_staging_unlock(fsm->db);
	rocksdb_writebatch_destroy(wb);
	if (rv != 0) {
		LOG_ERROR("apply of entry %" PRIu64 " failed: %s", index, fsm->errmsg);
		return rv;
	}
	pthread_mutex_lock(&fsm->lock);
	if (last)
		fsm->clock_saved = fsm->clock_ms;
	if (last) {
		/* Waiters wait for the applied index: wake them only when it moves,
		 * not once per sub-entry of a batch. */
		fsm->applied = index;
		pthread_cond_broadcast(&fsm->cond);
	}
	if (strcmp(changed_state, "committed") == 0 || strcmp(changed_state, "aborted") == 0) {
		fsm->finals++;
		pthread_cond_broadcast(&fsm->final_cond);
	}
	pthread_mutex_unlock(&fsm->lock);
	if (changed_state[0] != '\0' && txn_id != NULL && fsm->on_txn != NULL)
		fsm->on_txn(fsm->on_txn_data, txn_id, changed_state);
	if (ext && fsm->ext_applied != NULL)
		fsm->ext_applied(fsm->ext_data, e, index, *outcome);
	return 0;
}

/* A binary frame (store/entry_bin.h): its entries as the JSON batch's, each
 * decoded without a JSON parser when it is a commit record. A frame or an
 * entry that does not decode is refused as a malformed JSON entry is: its
 * reason logged with the index, no effect but the applied index. */
static int apply_frame(struct store_fsm *fsm, uint64_t index, const void *entry, size_t len,
		       int *outcome)
{
	struct store_entry_frame f;
	char why[256];
	const void *sub;
	size_t sub_len, i = 0, slot = index % STORE_FSM_BATCH_RING;
	int outcomes[STORE_FSM_BATCH_MAX] = {0}, rv = 0;
	json_t *e;

	if (store_entry_frame_open(entry, len, &f, why, sizeof why) != 0) {
		LOG_WARN("entry %" PRIu64 " refused: %s", index, why);
		return apply_one(fsm, index, NULL, 1, outcome);
	}
	clock_stamp(fsm, f.ts);
	while (rv == 0 && store_entry_frame_next(&f, &sub, &sub_len)) {
		e = store_entry_sub_decode(sub, sub_len, why, sizeof why);
		if (e == NULL)
			LOG_WARN("entry %" PRIu64 " (#%zu of %u) refused: %s", index, i, f.count, why);
		rv = apply_one(fsm, index, e, f.left == 0,
			       f.kind == STORE_ENTRY_FRAME_ONE ? outcome : &outcomes[i]);
		json_decref(e);
		i++;
	}
	if (f.kind == STORE_ENTRY_FRAME_BATCH) {
		pthread_mutex_lock(&fsm->lock);
		fsm->batch_ring[slot].index = index;
		fsm->batch_ring[slot].n = f.count;
		memcpy(fsm->batch_ring[slot].outcomes, outcomes, sizeof outcomes);
		pthread_mutex_unlock(&fsm->lock);
	}
	return rv;
}

int store_fsm_apply(struct store_fsm *fsm, uint64_t index, const void *entry, size_t len,
		    int *outcome)
{
	json_t *e, *subs;
	const char *op;
	int rv = 0;

	*outcome = 0;
	if (index <= fsm->applied)
		return 0; /* already in the db: raft re-applies after a restart */
	if (store_entry_is_frame(entry, len))
		return apply_frame(fsm, index, entry, len, outcome);
	e = json_loadb(entry, len, 0, NULL);
	op = e ? json_string_value(json_object_get(e, "op")) : NULL;
	subs = json_object_get(e, "entries");
	if (json_integer_value(json_object_get(e, "ts")) > 0)
		clock_stamp(fsm, (uint64_t)json_integer_value(json_object_get(e, "ts")));
	if (op == NULL || strcmp(op, "batch") != 0 || !json_is_array(subs) ||
	    json_array_size(subs) == 0) {
		rv = apply_one(fsm, index, e, 1, outcome);
	} else {
		/* Group commit: the sub-entries in order, each in its own WriteBatch
		 * (later ones read what earlier ones wrote); the applied index with the
		 * last. A crash in between re-applies the whole batch, and every entry
		 * type is idempotent, so the result is the same. */
		size_t n = json_array_size(subs), slot = index % STORE_FSM_BATCH_RING;
		int outcomes[STORE_FSM_BATCH_MAX] = {0};
		for (size_t i = 0; i < n && rv == 0; i++)
			rv = apply_one(fsm, index, json_array_get(subs, i), i + 1 == n,
				       i < STORE_FSM_BATCH_MAX ? &outcomes[i] : &(int){0});
		pthread_mutex_lock(&fsm->lock);
		fsm->batch_ring[slot].index = index;
		fsm->batch_ring[slot].n = n < STORE_FSM_BATCH_MAX ? n : STORE_FSM_BATCH_MAX;
		memcpy(fsm->batch_ring[slot].outcomes, outcomes, sizeof outcomes);
		pthread_mutex_unlock(&fsm->lock);
	}
	json_decref(e);
	return rv;
}

int store_fsm_batch_outcome(struct store_fsm *fsm, uint64_t index, size_t i, int *outcome)
{
	size_t slot = index % STORE_FSM_BATCH_RING;
	int rv = MPC_ENOENT;
	pthread_mutex_lock(&fsm->lock);
	if (fsm->batch_ring[slot].index == index && i < fsm->batch_ring[slot].n) {
		*outcome = fsm->batch_ring[slot].outcomes[i];
		rv = 0;
	}
	pthread_mutex_unlock(&fsm->lock);
	return rv;
}

/* ---- snapshots: "MPCSNAP1", u64 applied, then (u32 klen, key, u32 vlen, val)* ---- */

struct snap_buf {
	char *data;
	size_t len, cap;
	int oom;
};

static void snap_put(struct snap_buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		char *d;
		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL) {
			b->oom = 1;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static int snap_record(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	uint32_t k = (uint32_t)klen, v = (uint32_t)vlen;
	if (klen >= 6 && memcmp(key, "local/", 6) == 0)
		return 0;
	snap_put(ctx, &k, 4);
	snap_put(ctx, key, klen);
	snap_put(ctx, &v, 4);
	snap_put(ctx, val, vlen);
	return 0;
}

int store_fsm_snapshot(struct store_fsm *fsm, void **buf, size_t *len)
{
	struct snap_buf b = {0};
	uint64_t applied;
	const rocksdb_snapshot_t *snap;

	/* Called on the applying thread: applied and the db agree. */
	applied = fsm->applied;
	snap_put(&b, "MPCSNAP1", 8);
	snap_put(&b, &applied, 8);
	snap = rocksdb_create_snapshot(fsm->db->db);
	store_db_scan(fsm->db, STORE_CF_META, snap, "", 0, snap_record, &b);
	rocksdb_release_snapshot(fsm->db->db, snap);
	if (b.oom) {
		free(b.data);
		return MPC_ENOMEM;
	}
	*buf = b.data;
	*len = b.len;
	return 0;
}

struct reconcile_ctx {
	struct store_fsm *fsm;
	rocksdb_writebatch_t *wb;
	int rv;
};

static void reconcile_one(void *vctx, const char *txn_id)
{
	struct reconcile_ctx *ctx = vctx;
	char key[128];
	json_t *txn;
	const char *state;

	txn_key(key, txn_id);
	txn = meta_get_json(ctx->fsm->db, key);
	state = txn ? json_string_value(json_object_get(txn, "state")) : "unknown";
	if (strcmp(state, "committed") == 0) {
		uint64_t bytes = 0;
		if (store_staging_batch_publish(ctx->fsm->db, ctx->wb, txn_id, &bytes,
						ctx->fsm->errmsg) != 0)
			ctx->rv = MPC_EIO;
		LOG_INFO("txn %s: committed; published %" PRIu64 " uploaded bytes",
			 txn_id, bytes);
	} else if (txn == NULL && store_upload_note(ctx->fsm, txn_id)) {
		/* an upload to a txn the log does not know yet: kept until its deadline */
	} else if (strcmp(state, "pending") != 0 && strcmp(state, "prepared") != 0) {
		store_staging_batch_drop(ctx->fsm->db, ctx->wb, txn_id);
		LOG_INFO("txn %s: %s; dropped its uploaded data", txn_id, state);
	}
	json_decref(txn);
}

/* Settles this party's uploads against the catalog: those of committed txns
 * are published (record dropped), those of aborted or unknown ones deleted. */
static int reconcile_staging(struct store_fsm *fsm)
{
	struct reconcile_ctx rc = {fsm, rocksdb_writebatch_create(), 0};
	int rv;
	store_staging_lock(fsm->db);
	store_staging_sweep_files(fsm->db); /* chunk files a crash left without a record */
	store_staging_list(fsm->db, reconcile_one, &rc);
	if (rc.rv == 0 && fsm->ext_reconcile != NULL)
		rc.rv = fsm->ext_reconcile(fsm->ext_data, rc.wb); /* e.g. a job's kept pieces */
	rv = rc.rv ? rc.rv : store_db_write(fsm->db, rc.wb, 1, fsm->errmsg);
	store_staging_unlock(fsm->db);
	rocksdb_writebatch_destroy(rc.wb);
	return rv;
}

int store_fsm_reconcile(struct store_fsm *fsm)
{
	return fsm->db->read_only ? 0 : reconcile_staging(fsm);
}

int store_fsm_restore(struct store_fsm *fsm, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len;
	rocksdb_writebatch_t *wb;
	uint64_t applied;
	char text[32];
	int rv;

	if (len < 16 || memcmp(p, "MPCSNAP1", 8) != 0) {
		LOG_ERROR("snapshot is not an mpcstore snapshot");
		return MPC_ECORRUPT;
	}
	memcpy(&applied, p + 8, 8);
	if (applied <= fsm->applied) {
		LOG_INFO("snapshot at %" PRIu64 " is not newer than applied %" PRIu64 "; kept state",
			 applied, fsm->applied);
		return 0;
	}
	wb = rocksdb_writebatch_create();
	store_staging_lock(fsm->db);
	/* Replace every replicated key: delete [ "", "local/" ) and ( "local/\xff", end ). */
	rocksdb_writebatch_delete_range_cf(wb, fsm->db->cf[STORE_CF_META], "", 0, "local/", 6);
	rocksdb_writebatch_delete_range_cf(wb, fsm->db->cf[STORE_CF_META], "local0", 6,
					   "\xff\xff\xff\xff", 4);
	for (p += 16; p < end;) {
		uint32_t klen, vlen;
		if (end - p < 4)
			goto corrupt;
		memcpy(&klen, p, 4);
		p += 4;
		if ((size_t)(end - p) < (size_t)klen + 4)
			goto corrupt;
		memcpy(&vlen, p + klen, 4);
		if ((size_t)(end - p) < (size_t)klen + 4 + vlen)
			goto corrupt;
		rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], p, klen, p + klen + 4, vlen);
		p += klen + 4 + vlen;
	}
	snprintf(text, sizeof text, "%" PRIu64, applied);
	rocksdb_writebatch_put_cf(wb, fsm->db->cf[STORE_CF_META], "local/applied", 13, text,
				  strlen(text));
	rv = store_db_write(fsm->db, wb, 1, fsm->errmsg);
	rocksdb_writebatch_clear(wb);
	store_staging_unlock(fsm->db);
	rocksdb_writebatch_destroy(wb);
	if (rv == 0)
		rv = reconcile_staging(fsm); /* the catalog is the snapshot's now */
	if (rv != 0) {
		LOG_ERROR("snapshot restore failed: %s", fsm->errmsg);
		return rv;
	}
	pthread_mutex_lock(&fsm->lock);
	fsm->applied = applied;
	fsm->clock_ms = fsm->clock_saved = clock_read(fsm->db);
	fsm->finals++; /* txns may have finished inside the snapshot */
	pthread_cond_broadcast(&fsm->cond);
	pthread_cond_broadcast(&fsm->final_cond);
	pthread_mutex_unlock(&fsm->lock);
	if (fsm->ext_restored != NULL)
		fsm->ext_restored(fsm->ext_data);
	LOG_INFO("restored snapshot at index %" PRIu64, applied);
	return 0;
corrupt:
	store_staging_unlock(fsm->db);
	rocksdb_writebatch_destroy(wb);
	LOG_ERROR("snapshot is truncated");
	return MPC_ECORRUPT;
}
