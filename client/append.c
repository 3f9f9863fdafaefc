/* Client side of append transactions: share splitting, txn calls, mpc_client_append. */
#include "client/internal.h"
#include "common/err.h"
#include "common/reqsig.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mpc_share_split(const uint64_t *values, size_t n, int parties, uint64_t **out)
{
	uint8_t seed[randombytes_SEEDBYTES];

	/* Additive sharing over Z_2^64: n-1 uniform shares, the last makes the sum.
	 * The masks are ChaCha20 output under a fresh random seed per call and
	 * party: a CSPRNG in user space (~2 GB/s) instead of one getrandom(2)
	 * stream through the kernel, which was the client's main cost. */
	for (int p = 0; p < parties - 1; p++) {
		randombytes_buf(seed, sizeof seed);
		randombytes_buf_deterministic(out[p], n * sizeof(uint64_t), seed);
	}
	sodium_memzero(seed, sizeof seed);
	for (size_t i = 0; i < n; i++) {
		uint64_t s = values[i];
		for (int p = 0; p < parties - 1; p++)
			s -= out[p][i];
		out[parties - 1][i] = s;
	}
}

int mpc_client_txn_begin(struct mpc_client *cl, const char *table, json_t *columns, int create,
			 unsigned timeout_ms, char *txn, char **begin, char *errmsg)
{
	struct mpc_reqsig sig;
	json_t *body, *auth;
	char *text;
	int rv;

	*begin = NULL;
	/* the client is the signer of the begin, not a body field */
	body = json_pack("{s:s, s:b}", "table", table, "create", create);
	if (columns != NULL)
		json_object_set(body, "columns", columns);
	if (timeout_ms > 0)
		json_object_set_new(body, "timeout_ms", json_integer(timeout_ms));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return MPC_ENOMEM;
	/* Signed as the request POST /v1/txns it replaces: the parties and every
	 * apply check it as such (store/signed_req.h); its nonce is the txn id. */
	rv = mpc_reqsig_sign(cl->sign_sk, cl->signer, cl->cluster->id_hex, "POST", "/v1/txns",
			     text, strlen(text), &sig);
	if (rv != 0) {
		free(text);
		mpc_errmsg_printf(errmsg, "begin of an append to '%s': cannot sign", table);
		return rv;
	}
	auth = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "client", sig.client, "method",
			 "POST", "path", "/v1/txns", "time_ms", (json_int_t)sig.time_ms, "nonce",
			 sig.nonce, "sig", sig.sig, "body", text);
	free(text);
	*begin = auth ? json_dumps(auth, JSON_COMPACT) : NULL;
	json_decref(auth);
	if (*begin == NULL) {
		mpc_errmsg_printf(errmsg, "begin of an append to '%s': out of memory", table);
		return MPC_ENOMEM;
	}
	memcpy(txn, sig.nonce, MPC_REQSIG_NONCE_HEX + 1);
	return 0;
}

const struct mpc_chunkbox_key *mpc_client_box_key(struct mpc_client *cl, int party)
{
	if (cl->box_key[party] == NULL)
		cl->box_key[party] = mpc_chunkbox_key_new(cl->cluster->parties[party].box_pk);
	return cl->box_key[party];
}

static int txn_put(struct mpc_client *cl, int party, const char *txn, const char *begin,
		   uint64_t offset, const void *shares, size_t len, int prepare, int seed,
		   char *errmsg)
{
	const struct mpc_chunkbox_key *key = mpc_client_box_key(cl, party);
	size_t blen = begin ? strlen(begin) : 0;
	uint8_t *sealed = malloc(len + MPC_CHUNKBOX_BYTES + blen);
	char path[160];
	int rv;

	if (sealed == NULL || key == NULL) {
		free(sealed);
		return MPC_ENOMEM;
	}
	/* Only the receiving party can open its shares (DESIGN.md §6). */
	if (mpc_chunkbox_seal(key, sealed, shares, len) != 0) {
		free(sealed);
		mpc_errmsg_printf(errmsg, "party %d: chunk at offset %" PRIu64 ": cannot encrypt",
				  party, offset);
		return MPC_ECRYPTO;
	}
	if (blen > 0) /* the signed begin after the box (?begin=LEN) */
		memcpy(sealed + len + MPC_CHUNKBOX_BYTES, begin, blen);
	snprintf(path, sizeof path, "/v1/txns/%s/chunks?offset=%" PRIu64 "&begin=%zu%s%s", txn,
		 offset, blen, prepare ? "&prepare=1&vote=1" : "", seed ? "&seed=1" : "");
	rv = mpc_client_call(cl, party, "PUT", path, sealed, len + MPC_CHUNKBOX_BYTES + blen, NULL,
			     errmsg);
	free(sealed);
	return rv;
}

int mpc_client_txn_put(struct mpc_client *cl, int party, const char *txn, const char *begin,
		       uint64_t offset, const void *shares, size_t len, int prepare, char *errmsg)
{
	return txn_put(cl, party, txn, begin, offset, shares, len, prepare, 0, errmsg);
}

int mpc_client_txn_put_seed(struct mpc_client *cl, int party, const char *txn, const char *begin,
			    uint64_t offset, const void *msg, size_t mlen, int prepare,
			    char *errmsg)
{
	return txn_put(cl, party, txn, begin, offset, msg, mlen, prepare, 1, errmsg);
}

int mpc_client_txn_prepare_vote(struct mpc_client *cl, int party, const char *txn, json_t **vote,
				char *errmsg)
{
	char path[160];
	json_t *resp = NULL;
	int rv;

	*vote = NULL;
	snprintf(path, sizeof path, "/v1/txns/%s/prepare?vote=1", txn);
	rv = mpc_client_call(cl, party, "POST", path, NULL, 0, &resp, errmsg);
	if (rv == 0 && !json_is_object(json_object_get(resp, "signed_vote"))) {
		mpc_errmsg_printf(errmsg, "party %d answered prepare without a signed vote", party);
		rv = MPC_EPROTO;
	} else if (rv == 0) {
		*vote = json_incref(json_object_get(resp, "signed_vote"));
	}
	json_decref(resp);
	return rv;
}

int mpc_client_txn_commit(struct mpc_client *cl, int party, const char *txn, const char *begin,
			  json_t *votes, char *errmsg)
{
	char path[128], *text;
	json_t *body = json_pack("{s:O}", "votes", votes);
	if (begin != NULL) /* for a party that has no upload of txn (docs/rest-api.md) */
		json_object_set_new(body, "begin", json_loads(begin, 0, NULL));
	int rv = MPC_EUNAVAIL, n = cl->cluster->n_parties;

	snprintf(path, sizeof path, "/v1/txns/%s/commit", txn);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MPC_ENOMEM;
	/* The leader first (no forward); any other party forwards to the leader,
	 * and a retried commit is harmless (a committed txn answers committed). */
	for (int i = 0; i < n && rv == MPC_EUNAVAIL; i++)
		rv = mpc_client_call(cl, ((party >= 0 && party < n ? party : 0) + i) % n, "POST",
				     path, text, strlen(text), NULL, errmsg);
	free(text);
	return rv;
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
	struct mpc_append_stream_opts opts = {.ncols = req->ncols,
					      .chunk_bytes = req->chunk_bytes,
					      .timeout_ms = req->timeout_ms};
	struct mpc_append_stream *s;
	int rv;

	/* The one way to append is the stream (client/append_stream.c): all rows
	 * at once, so a single chunk per party still goes out as one parallel
	 * batch and more as one upload pipeline per party. */
	memset(result, 0, sizeof *result);
	if (req->rows == 0 || req->ncols == 0) {
		mpc_errmsg_printf(errmsg, "append of no rows to '%s'", req->table);
		return MPC_EINVAL;
	}
	rv = mpc_append_stream_begin(cl, req->table, req->columns, req->create, &opts, &s, errmsg);
	if (rv != 0) {
		snprintf(result->state, sizeof result->state, "refused");
		snprintf(result->reason, sizeof result->reason, "%s", errmsg);
		return rv;
	}
	/* rows() fails only on an upload error, which commit reports (after aborting). */
	mpc_append_stream_rows(s, req->values, req->rows);
	return mpc_append_stream_commit(s, result, errmsg);
}
