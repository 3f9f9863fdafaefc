/* Uploads of open append transactions: records in the staging CF, bytes in the shares CF (see staging.c). */
#ifndef MPC_STORE_STAGING_H
#define MPC_STORE_STAGING_H

#include "store/db.h"

#define STORE_DIGEST_BYTES 32
#define STORE_CHUNK_MAX (64u << 20) /* largest accepted upload chunk */

/* Whether an upload chunk may hold len bytes of shares: 1..STORE_CHUNK_MAX,
 * whole int64 shares. */
static inline int store_chunk_len_ok(uint64_t len)
{
	return len > 0 && len <= STORE_CHUNK_MAX && len % 8 == 0;
}
/* Chunks of at least this many bytes are staged as SST files, ingested at
 * Commit; smaller ones go through the WAL (docs/store-performance.md). */
#define STORE_STAGING_SST_MIN (1u << 20)

struct store_staging_info {
	uint64_t received; /* bytes received so far, in order */
	int sealed;	   /* prepared: no more chunks accepted */
	uint8_t digest[STORE_DIGEST_BYTES]; /* valid when sealed */
};

/* Staging writes and the apply of commit/abort exclude each other with these. */
void store_staging_lock(struct store_db *db);
void store_staging_unlock(struct store_db *db);

/* Reads the staging record of txn; MPC_ENOENT when nothing was staged. */
int store_staging_get(struct store_db *db, const char *txn, struct store_staging_info *out,
		      char *errmsg);

/* Appends a chunk at offset, which must equal the bytes already received
 * (MPC_ECONFLICT otherwise, naming the expected offset). The bytes are
 * unreachable until Commit (see staging.c). Caller holds the staging lock.
 * Not synced: after store_staging_seal(), store_staging_sync_files() and
 * store_db_sync() make it durable. */
int store_staging_put(struct store_db *db, const char *txn, uint64_t offset, const void *data,
		      size_t len, char *errmsg);

/* store_staging_put(), the digest covering digest_in (dlen bytes) instead of
 * data when digest_in is not NULL: a summary that determines or authenticates
 * the chunk, e.g. a seed chunk's seed message (docs/store-performance.md). */
int store_staging_put_digest(struct store_db *db, const char *txn, uint64_t offset,
			     const void *data, size_t len, const void *digest_in, size_t dlen,
			     char *errmsg);

/* store_staging_put_digest() that also writes, in the same batch, the
 * upload's begin record begin (blen bytes, as store_staging_begin_put(); may
 * be NULL) and, with seal, seals the upload when it has no chunk files (as
 * store_staging_seal() would; with files the seal is left to it). One
 * RocksDB write per last chunk instead of three. */
int store_staging_put_last(struct store_db *db, const char *txn, uint64_t offset, const void *data,
			   size_t len, const void *digest_in, size_t dlen, const char *begin,
			   size_t blen, int seal, char *errmsg);

/* store_staging_put_last() for a seed chunk (common/chunkbox.h): msg (mlen
 * bytes, MPC_CHUNKSEED_BYTES or MPC_EINVAL) is stored as the chunk instead of
 * the len bytes of shares it expands to, a seed record (store/shares.h), and
 * counts as len bytes at offset; the digest covers msg. Readers expand it
 * (store_shares_scan). The batch's copy of msg is zeroed; the caller zeroes
 * msg. */
int store_staging_put_seed(struct store_db *db, const char *txn, uint64_t offset,
			   const uint8_t *msg, size_t mlen, const char *begin, size_t blen, int seal,
			   char *errmsg);

/* Seals txn's staged data: computes its BLAKE2b-256 digest and marks it
 * sealed (no more chunks), after checking that the chunk files of the upload
 * exist and syncing their directory (MPC_EIO when one is missing).
 * Idempotent. Caller holds the lock, and calls
 * store_db_sync() after releasing it, before voting: the fsync makes every
 * chunk durable, and outside the lock concurrent prepares share one fsync
 * instead of stalling each other and the FSM. */
int store_staging_seal(struct store_db *db, const char *txn, struct store_staging_info *out,
		       char *errmsg);

/* Makes txn's chunk files durable: fdatasync of each, then of their
 * directory (MPC_EIO naming the file when one is missing). Chunk files are
 * not synced when written (store_staging_put): call this after
 * store_staging_seal() and before voting, without the staging lock (like
 * store_db_sync()). */
int store_staging_sync_files(struct store_db *db, const char *txn, char *errmsg);

/* Adds to wb the deletion of all uncommitted data of txn (record and bytes);
 * removes its chunk files now (a crash before wb is written leaves the
 * record, and a second drop finds the files gone: idempotent). */
void store_staging_batch_drop(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn);

/* Adds to wb what Commit does to this party's upload of txn: the bytes stay
 * where they are (shares CF, "<txn>/<offset>"), now reachable through the
 * segment the same batch adds; the staging record is dropped. Chunks staged
 * as files are ingested into the shares CF before this returns (durable), so
 * wb must be written after: a crash in between re-applies Commit, which finds
 * those chunks' keys in the shares CF instead of their files. *bytes gets the
 * size uploaded and present (0 when this party has no record). Errors (I/O,
 * MPC_ENOMEM, a corrupt record) are local: the caller must not write wb. */
int store_staging_batch_publish(struct store_db *db, rocksdb_writebatch_t *wb, const char *txn,
				uint64_t *bytes, char *errmsg);

/* Removes chunk files that no staging marker names (a crash between writing
 * the file and its record), then checks every marked file (whole, checksums
 * match: reads it) and drops, durably, the upload of each txn with a missing
 * or damaged one (an OS crash before the prepare synced it). Caller holds the
 * staging lock. */
int store_staging_sweep_files(struct store_db *db);

/* The upload's begin record "<txn>/b" (store/upload.h: the client's signed
 * begin of a txn the log does not know yet, and how long this party keeps the
 * upload), opaque here; dropped with the upload. Put: val copied, not synced
 * (the seal's sync covers it). Get: *val malloc'd (caller frees), MPC_ENOENT
 * when there is none. */
int store_staging_begin_put(struct store_db *db, const char *txn, const char *val, size_t len,
			    char *errmsg);
int store_staging_begin_get(struct store_db *db, const char *txn, char **val, size_t *len,
			    char *errmsg);

/* Calls fn(ctx, txn) for each txn with a staging record or begin record. */
int store_staging_list(struct store_db *db, void (*fn)(void *ctx, const char *txn), void *ctx);

/* Kept records: this party's pieces of a job's stored values (`store`,
 * scheduler/sched_store.c), still sealed to this party by its engine, as its
 * runner reports them in task_done. One record per job, task and attempt,
 * "job/<%012 job>/<%06 task>/<attempt>/k" in the staging column family,
 * value opaque here (the scheduler's JSON {key: sealed}). Written before the
 * party proposes task_done, so that this party can write its rows of the
 * stored segment even when it learns of the commit from a Raft snapshot.
 * The upload reconcile (store_staging_list) does not list them. */

/* Puts the record (val copied). Not synced: store_db_sync() before voting. */
int store_staging_kept_put(struct store_db *db, uint64_t job, int task, int attempt,
			   const char *val, size_t len, char *errmsg);
/* Reads the record into *val (malloc'd, NUL-terminated; caller frees);
 * MPC_ENOENT when there is none. */
int store_staging_kept_get(struct store_db *db, uint64_t job, int task, int attempt, char **val,
			   size_t *len, char *errmsg);
/* Adds to wb the deletion of the record (none: a no-op). */
void store_staging_kept_batch_drop(struct store_db *db, rocksdb_writebatch_t *wb, uint64_t job,
				   int task, int attempt);
/* Calls fn(ctx, job, task, attempt) for each record, in key order (so by
 * job); fn returns non-zero to stop. */
int store_staging_kept_list(struct store_db *db,
			    int (*fn)(void *ctx, uint64_t job, int task, int attempt), void *ctx);

/* Key in the shares column family of the chunk at byte offset of txn's upload
 * (the data of the segment that txn committed), raw share bytes; a seed
 * record's is store_share_seed_key(). Read shares with store_shares_scan().
 * out >= 128 bytes. */
size_t store_share_key(char *out, const char *txn, uint64_t offset);

#endif
