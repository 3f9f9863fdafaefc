/* Append transactions from the client side: split, seal per party, parallel upload, prepare, wait. */
#include "client/internal.h"
#include "common/err.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CHUNK (4u << 20)

void mpc_share_split(const uint64_t *values, size_t n, int parties, uint64_t **out)
{
	/* Additive sharing over Z_2^64: n-1 uniform shares, the last makes the sum. */
	for (int p = 0; p < parties - 1; p++)
		randombytes_buf(out[p], n * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		uint64_t s = values[i];
		for (int p = 0; p < parties - 1; p++)
			s -= out[p][i];
		out[parties - 1][i] = s;
	}
}

int mpc_client_txn_begin(struct mpc_client *cl, int party, const char *table, json_t *columns,
			 int create, unsigned timeout_ms, char *txn, uint64_t *revision,
			 int *leader, char *errmsg)
{
	json_t *body, *resp = NULL;
	char *text;
	int rv;

	body = json_pack("{s:s, s:s, s:b}", "table", table, "client", mpc_client_name(cl), "create",
			 create);
	if (columns != NULL)
		json_object_set(body, "columns", columns);
	if (timeout_ms > 0)
		json_object_set_new(body, "timeout_ms", json_integer(timeout_ms));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rv = mpc_client_call(cl, party, "POST", "/v1/txns", text, strlen(text), &resp, errmsg);
	free(text);
	if (rv == 0) {
		const char *id = json_string_value(json_object_get(resp, "id"));
		if (id == NULL || strlen(id) != 32) {
			mpc_errmsg_printf(errmsg, "party %d answered begin without a txn id", party);
			rv = MPC_EPROTO;
		} else {
			strcpy(txn, id);
			*revision = (uint64_t)json_integer_value(json_object_get(resp, "revision"));
			if (leader != NULL)
				*leader = json_is_integer(json_object_get(resp, "leader"))
						  ? (int)json_integer_value(json_object_get(resp, "leader"))
						  : -1;
		}
	}
	json_decref(resp);
	return rv;
}

int mpc_client_txn_put(struct mpc_client *cl, int party, const char *txn, uint64_t revision,
		       uint64_t offset, const void *shares, size_t len, int prepare, char *errmsg)
{
	const struct mpc_party_info *p = &cl->cluster->parties[party];
	uint8_t *sealed = malloc(len + crypto_box_SEALBYTES);
	char path[128];
	int rv;

	if (sealed == NULL)
		return MPC_ENOMEM;
	/* Only the receiving party can open its shares (DESIGN.md §6). */
	crypto_box_seal(sealed, shares, len, p->box_pk);
	snprintf(path, sizeof path, "/v1/txns/%s/chunks?offset=%" PRIu64 "&revision=%" PRIu64 "%s",
		 txn, offset, revision, prepare ? "&prepare=1" : "");
	rv = mpc_client_call(cl, party, "PUT", path, sealed, len + crypto_box_SEALBYTES, NULL,
			     errmsg);
	free(sealed);
	return rv;
}

int mpc_client_txn_prepare(struct mpc_client *cl, int party, const char *txn, uint64_t revision,
			   char *errmsg)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/txns/%s/prepare?revision=%" PRIu64, txn, revision);
	return mpc_client_call(cl, party, "POST", path, NULL, 0, NULL, errmsg);
}

int mpc_client_txn_abort(struct mpc_client *cl, int party, const char *txn, const char *reason,
			 char *errmsg)
{
	char path[128], *text;
	json_t *body = json_pack("{s:s}", "reason", reason ? reason : "");
	int rv;
	snprintf(path, sizeof path, "/v1/txns/%s/abort", txn);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rv = mpc_client_call(cl, party, "POST", path, text, strlen(text), NULL, errmsg);
	free(text);
	return rv;
}

int mpc_client_txn_wait(struct mpc_client *cl, int party, const char *txn, int timeout_ms,
			char *state, char *reason, size_t reason_size, char *errmsg)
{
	char path[128];
	json_t *resp = NULL;
	int rv = MPC_EUNAVAIL;

	snprintf(path, sizeof path, "/v1/txns/%s?wait=%d", txn, timeout_ms);
	if (party >= 0 && party < cl->cluster->n_parties)
		rv = mpc_client_call(cl, party, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == MPC_EUNAVAIL)
		rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == 0) {
		const char *st = json_string_value(json_object_get(resp, "state"));
		const char *re = json_string_value(json_object_get(resp, "reason"));
		snprintf(state, 16, "%s", st ? st : "unknown");
		snprintf(reason, reason_size, "%s", re ? re : "");
	}
	json_decref(resp);
	return rv;
}

int mpc_client_append(struct mpc_client *cl, const struct mpc_append *req,
		      struct mpc_append_result *result, char *errmsg)
{
	int n = cl->cluster->n_parties, rv, failed = -1;
	size_t count = (size_t)req->rows * req->ncols;
	uint64_t *shares[MPC_MAX_PARTIES] = {0};

	memset(result, 0, sizeof *result);
	if (req->rows == 0 || req->ncols == 0) {
		mpc_errmsg_printf(errmsg, "append of no rows to '%s'", req->table);
		return MPC_EINVAL;
	}
	for (int p = 0; p < n; p++) {
		shares[p] = sodium_malloc(count * sizeof(uint64_t) + 1);
		if (shares[p] == NULL) {
			rv = MPC_ENOMEM;
			goto out;
		}
	}
	mpc_share_split(req->values, count, n, shares);
	rv = MPC_EUNAVAIL;
	for (int p = 0; p < n && rv == MPC_EUNAVAIL; p++)
		rv = mpc_client_txn_begin(cl, p, req->table, req->columns, req->create,
					  req->timeout_ms, result->txn, &result->revision,
					  &result->leader, errmsg);
	if (rv != 0) {
		snprintf(result->state, sizeof result->state, "refused");
		snprintf(result->reason, sizeof result->reason, "%s", errmsg);
		goto out;
	}
	/* Chunk k of every party in parallel, over connections that stay open;
	 * the last chunk carries the prepare. Chunks hold whole rows. */
	{
		size_t row_bytes = req->ncols * 8;
		size_t chunk = (req->chunk_bytes ? req->chunk_bytes : DEFAULT_CHUNK) / row_bytes * row_bytes;
		uint64_t total = req->rows * row_bytes, off = 0;
		struct mpc_call calls[MPC_MAX_PARTIES];
		uint8_t *sealed[MPC_MAX_PARTIES] = {0};

		if (chunk == 0)
			chunk = row_bytes;
		while (off < total && failed < 0) {
			size_t len = total - off < chunk ? (size_t)(total - off) : chunk;
			int last = off + len == total;
			for (int p = 0; p < n; p++) {
				uint8_t *b = realloc(sealed[p], len + crypto_box_SEALBYTES);
				if (b == NULL) {
					rv = MPC_ENOMEM;
					failed = p;
					break;
				}
				sealed[p] = b;
				/* Only the receiving party can open its shares (DESIGN.md §6). */
				crypto_box_seal(b, (const uint8_t *)shares[p] + off, len,
						cl->cluster->parties[p].box_pk);
				calls[p] = (struct mpc_call){.party = p, .method = "PUT", .body = b,
							     .len = len + crypto_box_SEALBYTES};
				snprintf(calls[p].path, sizeof calls[p].path,
					 "/v1/txns/%s/chunks?offset=%" PRIu64 "&revision=%" PRIu64 "%s",
					 result->txn, off, result->revision, last ? "&prepare=1" : "");
			}
			if (failed >= 0)
				break;
			rv = mpc_client_call_many(cl, calls, n);
			for (int p = 0; p < n; p++) {
				if (calls[p].rv != 0 && failed < 0) {
					failed = p;
					memcpy(errmsg, calls[p].errmsg, MPC_ERRMSG_SIZE);
				}
				json_decref(calls[p].resp);
			}
			off += len;
		}
		for (int p = 0; p < n; p++)
			free(sealed[p]);
	}
	if (failed >= 0) {
		char ignore[MPC_ERRMSG_SIZE];
		/* Nothing may become visible: abort through any party that answers. */
		for (int p = 0; p < n; p++)
			if (mpc_client_txn_abort(cl, p, result->txn, errmsg, ignore) != MPC_EUNAVAIL)
				break;
	}
	{
		int upload_rv = rv;
		rv = mpc_client_txn_wait(cl, result->leader, result->txn, 30000, result->state,
					 result->reason, sizeof result->reason,
					 failed >= 0 ? (char[MPC_ERRMSG_SIZE]){0} : errmsg);
		if (rv == 0 && strcmp(result->state, "committed") != 0) {
			rv = failed >= 0 ? upload_rv : MPC_ECONFLICT;
			if (failed < 0)
				mpc_errmsg_printf(errmsg, "txn %s %s: %s", result->txn,
						  result->state, result->reason);
		} else if (failed >= 0) {
			rv = upload_rv;
		}
	}
out:
	for (int p = 0; p < n; p++)
		if (shares[p] != NULL)
			sodium_free(shares[p]); /* zeroes */
	return rv;
}
