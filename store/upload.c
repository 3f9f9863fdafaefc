/* Uploads to txns the log does not know yet: begin records, keep-until deadlines, the sweep at
 * apply. */
#include "store/upload.h"
#include "common/log.h"
#include "store/catalog.h"
#include "store/json_canon.h"
#include "store/signed_req.h"
#include "store/staging.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_upload_get(struct store_db *db, const char *id, json_t **meta)
{
	char *val = NULL, err[MPC_ERRMSG_SIZE];
	size_t len = 0;
	int rv = store_staging_begin_get(db, id, &val, &len, err);
	*meta = NULL;
	if (rv != 0)
		return rv;
	*meta = json_loadb(val, len, 0, NULL);
	free(val);
	if (!json_is_object(*meta)) {
		json_decref(*meta);
		*meta = NULL;
		return MPC_ECORRUPT;
	}
	return 0;
}

static uint64_t keep_until_of(json_t *meta)
{
	json_int_t v = json_integer_value(json_object_get(meta, "keep_until_ms"));
	return v > 0 ? (uint64_t)v : 0;
}

/* Writes the begin record, or with text (not NULL) hands its bytes to the
 * caller, who writes them (store_upload_open_text). */
static int meta_put(struct store_db *db, const char *id, json_t *meta, char **text_out,
		    char *errmsg)
{
	char *text;
	size_t len;
	int rv;
	rv = store_json_canon(meta, &text, &len); /* the same bytes as json_dumps */
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "txn %s: begin record: %s", id, mpc_strerror(rv));
		return rv;
	}
	if (text_out != NULL) {
		free(*text_out);
		*text_out = text;
		return 0;
	}
	rv = store_staging_begin_put(db, id, text, len, errmsg);
	free(text);
	return rv;
}

int store_upload_open(struct store_fsm *fsm, const char *id, json_t *auth, int by_signer,
		      uint64_t now_ms, json_t **meta, char *errmsg)
{
	return store_upload_open_text(fsm, id, auth, by_signer, now_ms, meta, NULL, errmsg);
}

int store_upload_open_text(struct store_fsm *fsm, const char *id, json_t *auth, int by_signer,
			   uint64_t now_ms, json_t **meta, char **text, char *errmsg)
{
	json_t *txn = NULL, *m = NULL;
	uint64_t keep, timeout;
	int rv;

	*meta = NULL;
	if (store_catalog_txn(fsm->db, id, &txn) == 0) {
		const char *st = json_string_value(json_object_get(txn, "state"));
		const char *reason = json_string_value(json_object_get(txn, "reason"));
		mpc_errmsg_printf(errmsg, "txn %s is %s%s%s", id, st ? st : "?", reason ? ": " : "",
				  reason ? reason : "");
		json_decref(txn);
		return MPC_ESTATE;
	}
	if (store_upload_get(fsm->db, id, &m) == 0) {
		timeout = (uint64_t)json_integer_value(json_object_get(m, "timeout_ms"));
		keep = keep_until_of(m);
		if (keep < now_ms + timeout / 2) { /* a long upload: keep it longer */
			keep = now_ms + timeout;
			json_object_set_new(m, "keep_until_ms", json_integer((json_int_t)keep));
			if ((rv = meta_put(fsm->db, id, m, text, errmsg)) != 0) {
				json_decref(m);
				return rv;
			}
		}
	} else {
		char reason[512], hash[2 * STORE_BEGIN_HASH_BYTES + 1];
		json_t *e;
		if (!json_is_object(auth)) {
			mpc_errmsg_printf(
			    errmsg,
			    "txn %s: unknown transaction (its first chunk carries the "
			    "client's signed begin: ?begin=LEN)",
			    id);
			return MPC_ENOENT;
		}
		e = json_pack("{s:s, s:O, s:O}", "txn", id, "client",
			      json_object_get(auth, "client") ? json_object_get(auth, "client")
							      : json_null(),
			      "auth", auth);
		if (store_signed_req_hash(fsm->cluster, auth, hash) != 0)
			hash[0] = '\0';
		rv = e ? store_fsm_begin_check_bound(fsm, e, id, 0,
						     by_signer && hash[0] ? hash : NULL, &txn, NULL,
						     reason, sizeof reason)
		       : MPC_ENOMEM;
		json_decref(e);
		if (rv != 0) {
			mpc_errmsg_printf(errmsg, "begin of txn %s refused: %s", id,
					  txn ? reason : "out of memory");
			json_decref(txn);
			return rv;
		}
		timeout = (uint64_t)json_integer_value(json_object_get(txn, "timeout_ms"));
		keep = now_ms + timeout;
		m = json_pack(
		    "{s:O, s:O, s:O, s:O, s:O, s:I, s:O}", "client", json_object_get(txn, "client"),
		    "table", json_object_get(txn, "table"), "create",
		    json_object_get(txn, "create"), "columns", json_object_get(txn, "columns"),
		    "timeout_ms", json_object_get(txn, "timeout_ms"), "keep_until_ms",
		    (json_int_t)keep, "auth", auth);
		json_decref(txn);
		if (m == NULL)
			return MPC_ENOMEM;
		/* what the vote binds (do_prepare): computed once, here */
		if (hash[0])
			json_object_set_new(m, "begin_hash", json_string(hash));
		if ((rv = meta_put(fsm->db, id, m, text, errmsg)) != 0) {
			json_decref(m);
			return rv;
		}
	}
	if (keep < fsm->upload_min_ms)
		fsm->upload_min_ms = keep;
	*meta = m;
	return 0;
}

struct sweep_ctx {
	struct store_fsm *fsm;
	rocksdb_writebatch_t *wb;
	const char *skip;
	uint64_t clock, min;
	int noted;
};

static void sweep_one(void *vctx, const char *id)
{
	struct sweep_ctx *ctx = vctx;
	json_t *m = NULL, *txn = NULL;
	uint64_t keep;

	if (store_upload_get(ctx->fsm->db, id, &m) != 0)
		return; /* an upload of an older version's begin entry: the txn record rules it */
	keep = keep_until_of(m);
	json_decref(m);
	if (ctx->wb == NULL || keep >= ctx->clock || (ctx->skip && strcmp(id, ctx->skip) == 0) ||
	    store_catalog_txn(ctx->fsm->db, id, &txn) == 0) {
		json_decref(txn); /* known to the log: its commit or abort settles it */
		ctx->noted = 1;
		if (keep < ctx->min)
			ctx->min = keep;
		return;
	}
	store_staging_batch_drop(ctx->fsm->db, ctx->wb, id);
	LOG_INFO("txn %s: upload dropped: no commit applied before its deadline (%" PRIu64
		 " ms, clock %" PRIu64 " ms)",
		 id, keep, ctx->clock);
}

void store_upload_sweep(struct store_fsm *fsm, rocksdb_writebatch_t *wb, const char *skip)
{
	struct sweep_ctx ctx = {fsm, wb, skip, fsm->clock_ms, UINT64_MAX, 0};
	store_staging_list(fsm->db, sweep_one, &ctx);
	fsm->upload_min_ms = ctx.min;
}

int store_upload_note(struct store_fsm *fsm, const char *id)
{
	json_t *m = NULL;
	uint64_t keep;
	if (store_upload_get(fsm->db, id, &m) != 0)
		return 0;
	keep = keep_until_of(m);
	json_decref(m);
	if (keep < fsm->upload_min_ms)
		fsm->upload_min_ms = keep;
	return 1;
}

struct list_ctx {
	struct store_db *db;
	int party_id;
	json_t *arr;
};

static void list_one(void *vctx, const char *id)
{
	struct list_ctx *ctx = vctx;
	struct store_staging_info si = {0};
	char err[MPC_ERRMSG_SIZE];
	json_t *m = NULL, *txn = NULL;

	if (store_upload_get(ctx->db, id, &m) != 0)
		return;
	if (store_catalog_txn(ctx->db, id, &txn) == 0) { /* settled any moment now */
		json_decref(txn);
		json_decref(m);
		return;
	}
	store_staging_get(ctx->db, id, &si, err);
	json_array_append_new(ctx->arr, json_pack("{s:s, s:s, s:O, s:O, s:O, s:{s:i, s:I, s:b}}",
						  "id", id, "state", "uploading", "client",
						  json_object_get(m, "client"), "table",
						  json_object_get(m, "table"), "keep_until_ms",
						  json_object_get(m, "keep_until_ms"), "local",
						  "party", ctx->party_id, "received",
						  (json_int_t)si.received, "sealed", si.sealed));
	json_decref(m);
}

json_t *store_upload_list(struct store_db *db, int party_id)
{
	struct list_ctx ctx = {db, party_id, json_array()};
	store_staging_list(db, list_one, &ctx);
	return ctx.arr;
}

int store_upload_tick_due(struct store_fsm *fsm, uint64_t now_ms)
{
	uint64_t min;
	store_staging_lock(fsm->db);
	min = fsm->upload_min_ms;
	store_staging_unlock(fsm->db);
	return min != UINT64_MAX && now_ms > min && store_fsm_clock(fsm) <= min;
}
