/* Uploads of share chunks: ordered by offset, digest kept incrementally, sealed at prepare.
 *
 * The digest is BLAKE2b-256 over one summary per chunk, in order: SHA-256 of
 * the chunk's shares (store_staging_put), or what the caller passes
 * (store_staging_put_digest): the API passes a seed chunk's seed message,
 * which determines the shares, or a boxed chunk's header and AES-GCM tag,
 * which authenticate them (common/chunkbox.h).
 *
 * The bytes go to the shares column family under "<txn>/<offset>" from the
 * start (a seed chunk's 48-byte seed message under "<txn>/<offset>/seed",
 * expanded by readers: store/shares.h); the staging column family holds the
 * upload's record ("<txn>/m").
 * Uncommitted bytes are unreachable: a table's segments name the txn whose
 * data they are, and only Commit adds a segment. So Commit publishes in O(1)
 * (catalog + dropping the record, one WriteBatch) instead of copying every
 * byte, and Abort deletes the bytes.
 *
 * Large chunks (>= STORE_STAGING_SST_MIN) skip the WAL and the memtable: each
 * is written as a one-key SST file "<data dir>/staging-sst/<txn>.<offset>.sst"
 * (key "<txn>/<offset>"), named by a marker "<txn>/s/<offset>" in the staging
 * CF written with the record. A chunk is answered before its file is synced
 * (like the WAL records of small chunks): store_staging_sync_files fsyncs all
 * of a txn's files and their directory once, at prepare, before the vote. A
 * process crash loses nothing (the page cache survives); after an OS crash,
 * start-up verifies every marked file (store_staging_sweep_files) and drops
 * the whole upload of a txn with a lost or damaged file, so a resumed upload
 * fails instead of skipping lost bytes. Commit ingests the files into the
 * shares CF (moved, not copied) before its WriteBatch. Keys are unique per
 * txn, so a re-applied Commit finds each chunk either still a file or already
 * a key. */
#include "store/staging.h"
#include "common/chunkbox.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "store/shares.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The staging record "<txn>/m": fixed binary layout, never leaves this party. */
struct staging_rec {
	uint64_t received;
	uint32_t sealed;
	uint32_t files; /* chunks staged as files (0 in records of older versions: none) */
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

static void chunk_path(struct store_db *db, char *out, const char *txn, uint64_t offset)
{
	snprintf(out, PATH_MAX, "%s/%s.%016" PRIx64 ".sst", db->sst_dir, txn, offset);
}

static size_t marker_key(char *out, const char *txn, uint64_t offset)
{
	return (size_t)snprintf(out, 128, "%s/s/%016" PRIx64, txn, offset);
}

/* Calls fn for each chunk of txn staged as a file, in offset order. */
typedef int (*chunk_file_fn)(void *ctx, const char *marker, size_t mlen, uint64_t offset,
			     uint64_t len);
struct chunk_scan {
	chunk_file_fn fn;
	void *ctx;
};

static int chunk_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct chunk_scan *cs = vctx;
	uint64_t len = 0;
	char hex[17];
	if (klen < 16 || vlen != sizeof len)
		return MPC_ECORRUPT;
	memcpy(hex, key + klen - 16, 16);
	hex[16] = '\0';
	memcpy(&len, val, sizeof len);
	return cs->fn(cs->ctx, key, klen, strtoull(hex, NULL, 16), len);
}

static int chunk_files(struct store_db *db, const char *txn, chunk_file_fn fn, void *ctx)
{
	struct chunk_scan cs = {fn, ctx};
	char prefix[128];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/s/", txn);
	return store_db_scan(db, STORE_CF_STAGING, NULL, prefix, plen, chunk_one, &cs);
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
	return store_staging_put_last(db, txn, offset, data, len, digest_in, dlen, NULL, 0, 0,
				      errmsg);
}

/* Erases the copies of a seed that a write batch holds (store_staging_put_seed):
 * the batch is a buffer of ours, the seed as secret as the shares. */
static void batch_wipe(rocksdb_writebatch_t *wb)
{
	size_t n = 0;
	char *rep = (char *)rocksdb_writebatch_data(wb, &n);
	sodium_memzero(rep, n);
}

/* A chunk at offset: len bytes of shares at data, or (seed_msg) the seed
 * message that expands to them (store/shares.h), stored instead. */
static int put_chunk(struct store_db *db, const char *txn, uint64_t offset, const void *data,
		     size_t len, const void *digest_in, size_t dlen, const uint8_t *seed_msg,
		     const char *begin, size_t blen, int seal, char *errmsg)
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
	if (!store_chunk_len_ok(len)) {
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
	if (seed_msg != NULL) {
		/* 48 bytes whatever the chunk's size: through the WAL, never a file */
		klen = store_share_seed_key(key, txn, offset);
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key, klen,
					  (const char *)seed_msg, MPC_CHUNKSEED_BYTES);
	} else if (len >= STORE_STAGING_SST_MIN) {
		/* File first, then its marker: a marker always names a whole file. */
		char path[PATH_MAX], mkey[128];
		uint64_t len64 = len;
		chunk_path(db, path, txn, offset);
		rv = store_db_sst_write(db, path, key, klen, data, len, errmsg);
		if (rv != 0) {
			unlink(path);
			rocksdb_writebatch_destroy(wb);
			sodium_memzero(&rec, sizeof rec);
			mpc_errmsg_wrapf(errmsg, "txn %s: chunk at offset %" PRIu64, txn, offset);
			return rv;
		}
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], mkey,
					  marker_key(mkey, txn, offset), (const char *)&len64,
					  sizeof len64);
		rec.files++;
	} else {
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_SHARES], key, klen, data, len);
	}
	rec.received += len;
	/* The last chunk of an upload without files: sealed in this batch
	 * (store_staging_seal then only reads the record). With files, the seal
	 * checks them first. */
	if (seal && rec.files == 0) {
		crypto_generichash_final(&rec.hash, rec.digest, sizeof rec.digest);
		rec.sealed = 1;
	}
	if (begin != NULL) {
		klen = (size_t)snprintf(key, sizeof key, "%s/b", txn);
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen, begin, blen);
	}
	klen = (size_t)snprintf(key, sizeof key, "%s/m", txn);
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen, (const char *)&rec,
				  sizeof rec);
	rv = store_db_write(db, wb, 0, errmsg);
	if (seed_msg != NULL)
		batch_wipe(wb);
	rocksdb_writebatch_destroy(wb);
	sodium_memzero(&rec, sizeof rec);
	if (rv == 0 && seed_msg == NULL && len >= STORE_STAGING_SST_MIN)
		mpc_fault_point("chunk_file"); /* staged as a file, not synced, not answered */
	return rv;
}

int store_staging_put_last(struct store_db *db, const char *txn, uint64_t offset, const void *data,
			   size_t len, const void *digest_in, size_t dlen, const char *begin,
			   size_t blen, int seal, char *errmsg)
{
	return put_chunk(db, txn, offset, data, len, digest_in, dlen, NULL, begin, blen, seal,
			 errmsg);
}

int store_staging_put_seed(struct store_db *db, const char *txn, uint64_t offset,
			   const uint8_t *msg, size_t mlen, const char *begin, size_t blen, int seal,
			   char *errmsg)
{
	uint64_t len;
	/* a refused length (-2) is named by put_chunk, as a raw chunk's is */
	if (store_share_seed_parse(msg, mlen, NULL, NULL, &len) == -1) {
		mpc_errmsg_printf(errmsg, "txn %s: seed chunk at offset %" PRIu64
				  " of %zu bytes: must be %d", txn, offset, mlen,
				  MPC_CHUNKSEED_BYTES);
		return MPC_EINVAL;
	}
	/* the digest covers the seed message: it determines the shares */
	return put_chunk(db, txn, offset, NULL, (size_t)len, msg, MPC_CHUNKSEED_BYTES, msg, begin,
			 blen, seal, errmsg);
}

struct file_check {
	struct store_db *db;
	const char *txn;
	char *errmsg;
	size_t files;
};

static int file_check_one(void *vctx, const char *marker, size_t mlen, uint64_t offset,
			  uint64_t len)
{
	struct file_check *fc = vctx;
	char path[PATH_MAX];
	chunk_path(fc->db, path, fc->txn, offset);
	if (access(path, F_OK) != 0) {
		mpc_errmsg_printf(fc->errmsg, "txn %s: staged chunk file %s is missing", fc->txn,
				  path);
		return MPC_EIO;
	}
	fc->files++;
	return 0;
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
		struct file_check fc = {db, txn, errmsg, 0};
		/* Every chunk file exists before the sealed record is written;
		 * store_staging_sync_files makes them durable before the vote. */
		rv = rec.files > 0 ? chunk_files(db, txn, file_check_one, &fc) : 0;
		if (rv == 0 && fc.files != rec.files) {
			mpc_errmsg_printf(errmsg, "txn %s: %u staged chunk files recorded, %zu found",
					  txn, rec.files, fc.files);
			rv = MPC_ECORRUPT;
		}
		if (rv != 0)
			return rv;
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

static int file_sync_one(void *vctx, const char *marker, size_t mlen, uint64_t offset, uint64_t len)
{
	struct file_check *fc = vctx;
	char path[PATH_MAX];
	int rv;
	chunk_path(fc->db, path, fc->txn, offset);
	rv = store_db_sync_file(path, fc->errmsg);
	if (rv == MPC_ENOENT) {
		mpc_errmsg_printf(fc->errmsg, "txn %s: staged chunk file %s is missing", fc->txn,
				  path);
		return MPC_EIO;
	}
	fc->files++;
	return rv;
}

int store_staging_sync_files(struct store_db *db, const char *txn, char *errmsg)
{
	struct file_check fc = {db, txn, errmsg, 0};
	int rv = chunk_files(db, txn, file_sync_one, &fc);
	/* the files' directory entries too (created since the last sync) */
	if (rv == 0 && fc.files > 0)
		rv = store_db_sync_dir(db->sst_dir, errmsg);
	return rv;
}

static void drop_record(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn)
{
	char key[128];
	size_t klen = (size_t)snprintf(key, sizeof key, "%s/m", txn);
	rocksdb_writebatch_delete_cf(wb, db->cf[STORE_CF_STAGING], key, klen);
	klen = (size_t)snprintf(key, sizeof key, "%s/b", txn); /* the upload's begin */
	rocksdb_writebatch_delete_cf(wb, db->cf[STORE_CF_STAGING], key, klen);
}

int store_staging_begin_put(struct store_db *db, const char *txn, const char *val, size_t len,
			    char *errmsg)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char key[128];
	size_t klen = (size_t)snprintf(key, sizeof key, "%s/b", txn);
	int rv;
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_STAGING], key, klen, val, len);
	rv = store_db_write(db, wb, 0, errmsg);
	rocksdb_writebatch_destroy(wb);
	return rv;
}

int store_staging_begin_get(struct store_db *db, const char *txn, char **val, size_t *len,
			    char *errmsg)
{
	char key[128];
	size_t klen = (size_t)snprintf(key, sizeof key, "%s/b", txn);
	return store_db_get(db, STORE_CF_STAGING, key, klen, val, len, errmsg);
}

/* What drop and publish do with the chunk files of one txn. */
struct chunk_settle {
	struct store_db *db;
	rocksdb_writebatch_t *wb;
	const char *txn;
	char **paths; /* publish: files to ingest */
	size_t n;
	uint64_t missing; /* publish: bytes neither in a file nor in the shares CF */
};

static int drop_file_one(void *vctx, const char *marker, size_t mlen, uint64_t offset,
			 uint64_t len)
{
	struct chunk_settle *cs = vctx;
	char path[PATH_MAX];
	chunk_path(cs->db, path, cs->txn, offset);
	unlink(path);
	rocksdb_writebatch_delete_cf(cs->wb, cs->db->cf[STORE_CF_STAGING], marker, mlen);
	return 0;
}

void store_staging_batch_drop(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn)
{
	struct chunk_settle cs = {db, wb, txn, NULL, 0, 0};
	char prefix[128];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", txn);
	chunk_files(db, txn, drop_file_one, &cs);
	drop_record(db, wb, txn);
	store_db_batch_delete_prefix(db, wb, STORE_CF_SHARES, prefix, plen);
}

static int key_found(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	return klen == *(const size_t *)ctx; /* the key itself, not "<key>/seed" */
}

/* Whether the chunk at offset of txn is a key of the shares CF (ingested). */
static int chunk_ingested(struct store_db *db, const char *txn, uint64_t offset)
{
	char key[128];
	size_t klen = store_share_key(key, txn, offset);
	return store_db_scan(db, STORE_CF_SHARES, NULL, key, klen, key_found, &klen) == 1;
}

static int publish_file_one(void *vctx, const char *marker, size_t mlen, uint64_t offset,
			    uint64_t len)
{
	struct chunk_settle *cs = vctx;
	char path[PATH_MAX];
	rocksdb_writebatch_delete_cf(cs->wb, cs->db->cf[STORE_CF_STAGING], marker, mlen);
	chunk_path(cs->db, path, cs->txn, offset);
	if (access(path, F_OK) == 0) {
		char **p = realloc(cs->paths, (cs->n + 1) * sizeof *p);
		if (p == NULL || (p[cs->n] = strdup(path)) == NULL) {
			if (p != NULL)
				cs->paths = p;
			return MPC_ENOMEM;
		}
		cs->paths = p;
		cs->n++;
		return 0;
	}
	/* Ingested by an earlier apply of this Commit that crashed before its
	 * WriteBatch (the key is unique to this txn), or lost. */
	if (!chunk_ingested(cs->db, cs->txn, offset))
		cs->missing += len;
	return 0;
}

int store_staging_batch_publish(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn,
				uint64_t *bytes, char *errmsg)
{
	struct staging_rec rec;
	struct chunk_settle cs = {db, wb, txn, NULL, 0, 0};
	int rv = rec_get(db, txn, &rec, errmsg), files;
	*bytes = rv == 0 ? rec.received : 0;
	files = rv == 0 && rec.files > 0;
	sodium_memzero(&rec, sizeof rec);
	if (rv != 0 && rv != MPC_ENOENT)
		return rv;
	rv = files ? chunk_files(db, txn, publish_file_one, &cs) : 0;
	if (rv == 0)
		rv = store_db_ingest_shares(db, (const char *const *)cs.paths, cs.n, errmsg);
	for (size_t i = 0; i < cs.n; i++)
		free(cs.paths[i]);
	free(cs.paths);
	if (rv != 0)
		return rv;
	*bytes -= cs.missing < *bytes ? cs.missing : *bytes;
	drop_record(db, wb, txn);
	return 0;
}

static int chunk_ingested(struct store_db *db, const char *txn, uint64_t offset);

/* Start-up check of one marked chunk file; a txn with a bad one is dropped. */
struct file_verify {
	struct store_db *db;
	char last_bad[64]; /* txn whose upload was dropped last (markers come by txn) */
	rocksdb_writebatch_t *wb;
};

static int verify_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct file_verify *fv = vctx;
	char txn[64], hex[17], path[PATH_MAX], err[MPC_ERRMSG_SIZE] = "";
	const char *sep = memchr(key, '/', klen);
	size_t tlen = sep ? (size_t)(sep - key) : 0;
	int rv;

	/* "<txn>/s/<offset hex>" */
	if (tlen == 0 || tlen >= sizeof txn || klen != tlen + 3 + 16 || memcmp(sep, "/s/", 3) != 0)
		return 0;
	memcpy(txn, key, tlen);
	txn[tlen] = '\0';
	if (strcmp(txn, fv->last_bad) == 0)
		return 0;
	memcpy(hex, key + tlen + 3, 16);
	hex[16] = '\0';
	chunk_path(fv->db, path, txn, strtoull(hex, NULL, 16));
	if (access(path, F_OK) == 0)
		rv = store_db_sst_verify(path, err);
	else /* ingested already (a crash before the markers were dropped), or lost */
		rv = chunk_ingested(fv->db, txn, strtoull(hex, NULL, 16)) ? 0 : MPC_ENOENT;
	if (rv == 0)
		return 0;
	/* Chunks are answered before their file is synced: after an OS crash a
	 * marker may outlive its file's data. The txn cannot have voted (the vote
	 * follows store_staging_sync_files), so dropping its upload loses nothing
	 * committed; the client's resume finds fewer bytes than it sent and
	 * fails, its prepare finds no upload and aborts. */
	LOG_WARN("txn %s: staged chunk file %s %s; dropping this party's upload of the txn", txn,
		 path, rv == MPC_ENOENT ? "is missing" : err);
	snprintf(fv->last_bad, sizeof fv->last_bad, "%s", txn);
	if (fv->wb == NULL)
		fv->wb = rocksdb_writebatch_create();
	store_staging_batch_drop(fv->db, fv->wb, txn);
	return 0;
}

int store_staging_sweep_files(struct store_db *db)
{
	DIR *d = opendir(db->sst_dir);
	struct dirent *de;
	struct file_verify fv = {db, "", NULL};
	int rv = 0;
	if (d == NULL)
		return 0; /* none yet (read-only open of an old data dir) */
	while ((de = readdir(d)) != NULL) {
		char txn[64], hex[17], mkey[128], path[PATH_MAX], *val = NULL;
		const char *dot = strchr(de->d_name, '.');
		size_t tlen = dot ? (size_t)(dot - de->d_name) : 0;
		if (tlen == 0 || tlen >= sizeof txn || strlen(dot) != 1 + 16 + 4 ||
		    strcmp(dot + 17, ".sst") != 0)
			continue;
		memcpy(txn, de->d_name, tlen);
		txn[tlen] = '\0';
		memcpy(hex, dot + 1, 16);
		hex[16] = '\0';
		if (store_db_get(db, STORE_CF_STAGING, mkey,
				 marker_key(mkey, txn, strtoull(hex, NULL, 16)), &val, NULL,
				 NULL) == MPC_ENOENT) {
			snprintf(path, sizeof path, "%s/%s", db->sst_dir, de->d_name);
			unlink(path);
		}
		free(val);
	}
	closedir(d);
	/* Every marked file whole, or its txn's upload dropped. */
	store_db_scan(db, STORE_CF_STAGING, NULL, "", 0, verify_one, &fv);
	if (fv.wb != NULL) {
		rv = store_db_write(db, fv.wb, 1, NULL);
		rocksdb_writebatch_destroy(fv.wb);
	}
	return rv;
}

struct list_ctx {
	void (*fn)(void *ctx, const char *txn);
	void *ctx;
	char last[128];
};

static int list_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct list_ctx *lc = vctx;
	char txn[128];
	if (klen < 3 || klen >= sizeof txn ||
	    (memcmp(key + klen - 2, "/m", 2) != 0 && memcmp(key + klen - 2, "/b", 2) != 0))
		return 0;
	memcpy(txn, key, klen - 2);
	txn[klen - 2] = '\0';
	if (strcmp(txn, lc->last) == 0)
		return 0; /* "<txn>/b" and "<txn>/m": one upload */
	snprintf(lc->last, sizeof lc->last, "%s", txn);
	lc->fn(lc->ctx, txn);
	return 0;
}

int store_staging_list(struct store_db *db, void (*fn)(void *ctx, const char *txn), void *ctx)
{
	struct list_ctx lc = {fn, ctx, ""};
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
