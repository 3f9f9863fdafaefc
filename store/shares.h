/* This party's committed shares as readers see them: raw chunks, seed records expanded. */
#ifndef MPC_STORE_SHARES_H
#define MPC_STORE_SHARES_H

#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

/* A txn's data in the shares column family is a sequence of chunks, one key
 * each, in offset order (docs/architecture.md §3.3):
 *   "<txn>/<offset: 16 hex>"       the chunk's share bytes (raw), or
 *   "<txn>/<offset: 16 hex>/seed"  a seed record: the chunk's 48-byte seed
 *                                  message (common/chunkbox.h: seed, skip,
 *                                  len) from which its len bytes of shares
 *                                  are expanded (mpc_chunkseed_expand).
 * The key tells them apart, never the value: a raw chunk of 48 bytes is raw.
 * Data dirs written before seed records exist hold raw chunks only. */
#define STORE_SHARE_SEED_SUFFIX "/seed"

/* THE check of a seed message as a chunk (the API's seed chunks, staging,
 * and every read of a seed record): MPC_CHUNKSEED_BYTES long, standing for a
 * chunk's length of shares (store_chunk_len_ok). Sets *len when msg has the
 * size of a seed message (also when its length is refused, for the error),
 * and *seed / *skip when not NULL. Returns 0, -1 when mlen is not the size of
 * a seed message, -2 when the length it stands for is not a chunk's. */
int store_share_seed_parse(const uint8_t *msg, size_t mlen, const uint8_t **seed, uint64_t *skip,
			   uint64_t *len);

/* Key of txn's seed record at offset (see above). out >= 128 bytes. */
size_t store_share_seed_key(char *out, const char *txn, uint64_t offset);

/* Called with each chunk of a txn in offset order: its share bytes, len of
 * them (a multiple of 8), valid only during the call (a seed record's are
 * expanded into a buffer zeroed when the scan ends). Returns non-zero to stop
 * the scan (store_shares_scan returns that value). */
typedef int (*store_shares_fn)(void *ctx, uint64_t offset, const uint8_t *shares, size_t len);

/* THE way to read shares: calls fn for every chunk of txn's data (raw or
 * seed record) at snap (NULL: latest). Returns 0, fn's non-zero value, or
 * MPC_ECORRUPT (a key or seed record of another form) / MPC_ENOMEM /
 * MPC_ECRYPTO, naming the key in errmsg. The seed is never copied out of
 * RocksDB's buffer nor named in errmsg. */
int store_shares_scan(struct store_db *db, const rocksdb_snapshot_t *snap, const char *txn,
		      store_shares_fn fn, void *ctx, char *errmsg);

/* Whether this party holds any chunk of txn's data (raw or seed record). */
int store_shares_present(struct store_db *db, const char *txn);

#endif
