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

/* One party's part of an append: its share stream, sent in chunks sealed to it. */
struct upload {
	struct mpc_client *cl;
	int party;
	const char *txn;
	uint64_t revision;
	const uint8_t *data;
	uint64_t total;
	size_t chunk;
	int rv;
	char errmsg[MPC_ERRMSG_SIZE];
};

/* Seals data[0..len) to party (only it can open its shares, DESIGN.md §6) and
 * writes the chunk's path; the last chunk carries the prepare. */
static void seal_chunk(const struct upload *u, uint64_t off, size_t len, uint8_t *out, char *path,
		       size_t path_size)
{
	crypto_box_seal(out, u->data + off, len, u->cl->cluster->parties[u->party].box_pk);
	snprintf(path, path_size, "/v1/txns/%s/chunks?offset=%" PRIu64 "&revision=%" PRIu64 "%s",
		 u->txn, off, u->revision, off + len == u->total ? "&prepare=1" : "");
}

/* A single chunk per party: one parallel batch of calls, no threads (small appends). */
static void upload_single(struct upload *up, int n)
{
	struct mpc_call calls[MPC_MAX_PARTIES];
	uint8_t *sealed[MPC_MAX_PARTIES] = {0};
	for (int p = 0; p < n; p++) {
		sealed[p] = malloc(up[p].total + crypto_box_SEALBYTES);
		if (sealed[p] == NULL) {
			up[p].rv = MPC_ENOMEM;
			goto out;
		}
		calls[p] = (struct mpc_call){.party = p, .method = "PUT", .body = sealed[p],
					     .len = up[p].total + crypto_box_SEALBYTES};
		seal_chunk(&up[p], 0, up[p].total, sealed[p], calls[p].path, sizeof calls[p].path);
	}
	mpc_client_call_many(up[0].cl, calls, n);
	for (int p = 0; p < n; p++) {
		up[p].rv = calls[p].rv;
		memcpy(up[p].errmsg, calls[p].errmsg, MPC_ERRMSG_SIZE);
		json_decref(calls[p].resp);
	}
out:
	for (int p = 0; p < n; p++)
		free(sealed[p]);
}

/* Many chunks: each party's stream in its own thread over that party's
 * persistent connection, so sealing chunk k+1 for one party overlaps the
 * transfers to the others (and uses both cores). */
static void *upload_party(void *arg)
{
	struct upload *u = arg;
	uint8_t *sealed = malloc(u->chunk + crypto_box_SEALBYTES);
	char path[256];
	CURL *curl = mpc_client_party_handle(u->cl, u->party);

	if (sealed == NULL || curl == NULL) {
		u->rv = MPC_ENOMEM;
		free(sealed);
		return NULL;
	}
	for (uint64_t off = 0; off < u->total && u->rv == 0;) {
		size_t len = u->total - off < u->chunk ? (size_t)(u->total - off) : u->chunk;
		seal_chunk(u, off, len, sealed, path, sizeof path);
		u->rv = mpc_client_call_on(u->cl, curl, u->party, "PUT", path, sealed,
					   len + crypto_box_SEALBYTES, NULL, u->errmsg);
		off += len;
	}
	free(sealed);
	return NULL;
}

static void upload_pipelined(struct upload *up, int n)
{
	pthread_t th[MPC_MAX_PARTIES];
	int started[MPC_MAX_PARTIES] = {0};
	for (int p = 0; p < n; p++)
		started[p] = pthread_create(&th[p], NULL, upload_party, &up[p]) == 0;
	for (int p = 0; p < n; p++) {
		if (started[p])
			pthread_join(th[p], NULL);
		else
			upload_party(&up[p]);
	}
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
	{
		size_t row_bytes = req->ncols * 8;
		size_t chunk = (req->chunk_bytes ? req->chunk_bytes : DEFAULT_CHUNK) / row_bytes * row_bytes;
		uint64_t total = req->rows * row_bytes;
		struct upload up[MPC_MAX_PARTIES];

		if (chunk == 0)
			chunk = row_bytes;
		for (int p = 0; p < n; p++)
			up[p] = (struct upload){cl, p, result->txn, result->revision,
						(const uint8_t *)shares[p], total, chunk, 0, ""};
		if (total <= chunk)
			upload_single(up, n);
		else
			upload_pipelined(up, n);
		for (int p = 0; p < n; p++) {
			if (up[p].rv != 0 && failed < 0) {
				failed = p;
				rv = up[p].rv;
				memcpy(errmsg, up[p].errmsg, MPC_ERRMSG_SIZE);
			}
		}
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
