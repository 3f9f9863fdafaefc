/* Uploads of share chunks: ordered by offset, digest kept incrementally, sealed at prepare.
 *
 * The digest is BLAKE2b-256 over one summary per chunk, in order: SHA-256 of
 * the chunk's shares (store_staging_put), or what the caller passes
 * (store_staging_put_digest): the API passes a seed chunk's seed message,
 * which determines the shares, or a boxed chunk's header and AES-GCM tag,
 * which authenticate them (common/chunkbox.h).
 *
 * The bytes go to the shares column family under "<txn>/<offset>" from the
 * start; the staging column family holds the upload's record ("<txn>/m").
 * Uncommitted bytes are unreachable: a table's segments name the txn whose
 * data they are, and only Commit adds a segment. So Commit publishes in O(1)
 * (catalog + dropping the record, one WriteBatch) instead of copying every
 * byte, and Abort deletes the bytes. */
#include "store/staging.h"
#include "common/err.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The staging record "<txn>/m": fixed binary layout, never leaves this party. */
struct staging_rec {
	uint64_t received;
	uint32_t sealed;
	uint32_t pad;
	uint8_t digest[STORE_DIGEST_BYTES];
	crypto_generichash_state hash;
};

void store_staging_lock(struct store_db *db)
{
	pthread_mutex_lock(&db->staging_lock);
}

void store_staging_unlock(struct store_db *db)
{
	pthread_mutex_unlock(&db->staging_lock);
}

size_t store_share_key(char *out, const char *txn, uint64_t offset)
{
	return (size_t)snprintf(out, 128, "%s/%016" PRIx64, txn, offset);
}

static int rec_get(struct store_db *db, const char *txn, struct staging_rec *rec, char *errmsg)
{
	char key[128], *val = NULL;
	size_t klen = (size_t)snprintf(key, sizeof key, "%s/m", txn), vlen = 0;
	int rv = store_db_get(db, STORE_CF_STAGING, key, klen, &val, &vlen, errmsg);
	if (rv != 0)
		return rv;
	if (vlen != sizeof *rec) {
		free(val);
		mpc_errmsg_printf(errmsg, "staging record of txn %s has %zu bytes: corrupt", txn,
				  vlen);
		return MPC_ECORRUPT;
	}
	memcpy(rec, val, sizeof *rec);
	free(val);
	return 0;
}

int store_staging_get(struct store_db *db, const char *txn, struct store_staging_info *out,
		      char *errmsg)
{
	struct staging_rec rec;
	int rv = rec_get(db, txn, &rec, errmsg);
	if (rv != 0)
		return rv;
	out->received = rec.received;
	out->sealed = (int)rec.sealed;
	memcpy(out->digest, rec.digest, sizeof out->digest);
	return 0;
}

int store_staging_put(struct store_db *db, const char *txn, uint64_t offset, const void *data,
		      size_t len, char *errmsg)
{
	return store_staging_put_digest(db, txn, offset, data, len, NULL, 0, errmsg);
}

int store_staging_put_digest(struct store_db *db, const char *txn, uint64_t offset,
			     const void *data, size_t len, const void *digest_in, size_t dlen,
			     char *errmsg)
{
	struct staging_rec rec;
	rocksdb_writebatch_t *wb;
	char key[128];
	size_t klen;
	int rv;

	rv = rec_get(db, txn, &rec, errmsg);
	if (rv == MPC_ENOENT) {
		memset(&rec, 0, sizeof rec);
		crypto_generichash_init(&rec.hash, NULL, 0, STORE_DIGEST_BYTES);
	} else if (rv != 0) {
		return rv;
	}
	if (rec.sealed) {
		mpc_errmsg_printf(errmsg, "txn %s is already prepared on this party: no more chunks",
				  txn);
		return MPC_ESTATE;
	}
	if (offset != rec.received) {
		mpc_errmsg_printf(errmsg, "chunk at offset %" PRIu64 " but this party expects offset %" PRIu64,
				  offset, rec.received);
		return MPC_ECONFLICT;
	}
	if (len == 0 || len > STORE_CHUNK_MAX || len % 8 != 0) {
		mpc_errmsg_printf(errmsg, "chunk of %zu bytes: must be a non-zero multiple of 8 up to %u",
				  len, STORE_CHUNK_MAX);
		return MPC_EINVAL;
	}
	/* The record's digest chains a short summary per chunk: SHA-256 of its
	 * shares (SHA-NI, ~2x BLAKE2b's speed here), or digest_in. */
	if (digest_in != NULL) {
		crypto_generichash_update(&rec.hash, digest_in, dlen);
	} else {
		uint8_t sum[32];
		if (EVP_Digest(data, len, sum, NULL, EVP_sha256(), NULL) != 1) {
			mpc_errmsg_printf(errmsg, "txn %s: chunk at offset %" PRIu64 ": SHA-256 failed",
					  txn, offset);
			return MPC_ECRYPTO;
		}
		crypto_generichash_update(&rec.hash, sum, sizeof sum);
	}
	wb = rocksdb_writebatch_create();
	klen = store_share_key(key, txn, offset);
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key, klen, data, len);
	rec.received += len;
	klen = (size_t)snprintf(key, sizeof key, "%s/m", txn);
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen, (const char *)&rec,
				  sizeof rec);
	rv = store_db_write(db, wb, 0, errmsg);
	rocksdb_writebatch_destroy(wb);
	sodium_memzero(&rec, sizeof rec);
	return rv;
}

int store_staging_seal(struct store_db *db, const char *txn, struct store_staging_info *out,
		       char *errmsg)
{
	struct staging_rec rec;
	rocksdb_writebatch_t *wb;
	char key[128];
	size_t klen;
	int rv;

	rv = rec_get(db, txn, &rec, errmsg);
	if (rv == MPC_ENOENT) {
		mpc_errmsg_printf(errmsg, "txn %s: no shares were uploaded to this party", txn);
		return MPC_ESTATE;
	}
	if (rv != 0)
		return rv;
	if (!rec.sealed) {
		crypto_generichash_final(&rec.hash, rec.digest, sizeof rec.digest);
		rec.sealed = 1;
		wb = rocksdb_writebatch_create();
		klen = (size_t)snprintf(key, sizeof key, "%s/m", txn);
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen,
					  (const char *)&rec, sizeof rec);
		rv = store_db_write(db, wb, 0, errmsg);
		rocksdb_writebatch_destroy(wb);
		if (rv != 0)
			return rv;
	}
	out->received = rec.received;
	out->sealed = 1;
	memcpy(out->digest, rec.digest, sizeof out->digest);
	return 0;
}

static void drop_record(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn)
{
	char key[128];
	size_t klen = (size_t)snprintf(key, sizeof key, "%s/m", txn);
	rocksdb_writebatch_delete_cf(wb, db->cf[STORE_CF_STAGING], key, klen);
}

void store_staging_batch_drop(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn)
{
	char prefix[128];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", txn);
	drop_record(db, wb, txn);
	store_db_batch_delete_prefix(db, wb, STORE_CF_SHARES, prefix, plen);
}

int store_staging_batch_publish(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn,
				uint64_t *bytes)
{
	struct store_staging_info si;
	char err[MPC_ERRMSG_SIZE];
	int rv = store_staging_get(db, txn, &si, err);
	*bytes = rv == 0 ? si.received : 0;
	if (rv != 0 && rv != MPC_ENOENT)
		return rv;
	drop_record(db, wb, txn);
	return 0;
}

struct list_ctx {
	void (*fn)(void *ctx, const char *txn);
	void *ctx;
};

static int list_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct list_ctx *lc = vctx;
	char txn[128];
	if (klen < 3 || klen >= sizeof txn || memcmp(key + klen - 2, "/m", 2) != 0)
		return 0;
	memcpy(txn, key, klen - 2);
	txn[klen - 2] = '\0';
	lc->fn(lc->ctx, txn);
	return 0;
}

int store_staging_list(struct store_db *db, void (*fn)(void *ctx, const char *txn), void *ctx)
{
	struct list_ctx lc = {fn, ctx};
	return store_db_scan(db, STORE_CF_STAGING, NULL, "", 0, list_one, &lc);
}

static size_t kept_key(char *out, uint64_t job, int task, int attempt)
{
	return (size_t)snprintf(out, 96, "job/%012" PRIu64 "/%06d/%d/k", job, task, attempt);
}

int store_staging_kept_put(struct store_db *db, uint64_t job, int task, int attempt,
			   const char *val, size_t len, char *errmsg)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char key[96];
	size_t klen = kept_key(key, job, task, attempt);
	int rv;
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen, val, len);
	rv = store_db_write(db, wb, 0, errmsg);
	rocksdb_writebatch_destroy(wb);
	return rv;
}

int store_staging_kept_get(struct store_db *db, uint64_t job, int task, int attempt, char **val,
			   size_t *len, char *errmsg)
{
	char key[96];
	size_t klen = kept_key(key, job, task, attempt);
	return store_db_get(db, STORE_CF_STAGING, key, klen, val, len, errmsg);
}

void store_staging_kept_batch_drop(struct store_db *db, rocksdb_writebatch_t *wb, uint64_t job,
				   int task, int attempt)
{
	char key[96];
	size_t klen = kept_key(key, job, task, attempt);
	rocksdb_writebatch_delete_cf(wb, db->cf[STORE_CF_STAGING], key, klen);
}

struct kept_list_ctx {
	int (*fn)(void *ctx, uint64_t job, int task, int attempt);
	void *ctx;
};

static int kept_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct kept_list_ctx *lc = vctx;
	char text[96];
	unsigned long long job;
	int task, attempt, end = 0;
	(void)val;
	(void)vlen;
	if (klen >= sizeof text)
		return 0;
	memcpy(text, key, klen);
	text[klen] = '\0';
	if (sscanf(text, "job/%12llu/%6d/%d/k%n", &job, &task, &attempt, &end) != 3 ||
	    (size_t)end != klen)
		return 0;
	return lc->fn(lc->ctx, (uint64_t)job, task, attempt);
}

int store_staging_kept_list(struct store_db *db,
			    int (*fn)(void *ctx, uint64_t job, int task, int attempt), void *ctx)
{
	struct kept_list_ctx lc = {fn, ctx};
	return store_db_scan(db, STORE_CF_STAGING, NULL, "job/", 4, kept_one, &lc);
}
