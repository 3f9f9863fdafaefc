/* RocksDB data dir of one party: the meta, shares, staging and fuel column families (DESIGN.md §3). */
#ifndef MPC_STORE_DB_H
#define MPC_STORE_DB_H

#include <jansson.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stddef.h>
#include <stdint.h>

enum store_cf {
	STORE_CF_META,	  /* replicated state (catalog, txns) + local/ keys */
	STORE_CF_SHARES,  /* this party's shares, "<txn>/<offset>[/seed]" (shares.h); reachable once committed */
	STORE_CF_STAGING, /* upload records "<txn>/m" of open transactions */
	STORE_CF_FUEL,	  /* preprocessing material */
	STORE_CF_COUNT
};

struct store_db {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_column_family_handle_t *cf[STORE_CF_COUNT + 1]; /* + default */
	rocksdb_writeoptions_t *wo;
	rocksdb_writeoptions_t *wo_sync;
	rocksdb_readoptions_t *ro;
	rocksdb_options_t *shares_opts; /* the shares CF's options, for SST files written for it */
	char *sst_dir;			/* "<data dir>/staging-sst": staged chunk files */
	int read_only;
	/* Serialises staging writes (API threads) against commit/abort (apply). */
	pthread_mutex_t staging_lock;
	/* Group sync (store_db_sync): writes completed so far, how many of them
	 * are known durable, and whether a WAL sync is running: the sync_gen-th,
	 * covering writes up to sync_upto. Its waiters sleep on
	 * sync_cond[sync_gen & 1], those it does not cover (next_waiters of
	 * them) on the other, until the next sync covers them. */
	uint64_t write_seq; /* atomic */
	uint64_t synced_seq;
	int syncing;
	uint64_t sync_gen, sync_upto;
	int next_waiters;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond[2];
};

/* Opens (creating if needed, unless read_only) the RocksDB at path. The data
 * dir is stamped with cluster_id_hex and party_id on first open; a data dir of
 * another cluster or party, or a corrupt one, is refused with a message in
 * errmsg. Caller closes with store_db_close(). */
int store_db_open(const char *path, const char *cluster_id_hex, int party_id, int read_only,
		  struct store_db **out, char *errmsg);
void store_db_close(struct store_db *db);

/* Reads key from cf. On 0, *val is malloc'd (caller frees with free()) and
 * NUL-terminated for convenience; MPC_ENOENT when absent. */
int store_db_get(struct store_db *db, enum store_cf cf, const char *key, size_t klen, char **val,
		 size_t *vlen, char *errmsg);
/* Reads key from cf and parses it as JSON: a new reference, or NULL when the
 * key is absent or not JSON. */
json_t *store_db_get_json(struct store_db *db, enum store_cf cf, const char *key);

/* Writes a batch; sync makes it durable before returning. */
int store_db_write(struct store_db *db, rocksdb_writebatch_t *wb, int sync, char *errmsg);
/* Makes every earlier write durable (fsync of the WAL). */
int store_db_sync(struct store_db *db, char *errmsg);

/* Writes a one-key SST file for the shares column family at path (key,
 * value copied). NOT durable when it returns 0: its writeback is started,
 * its pages stay cached; store_db_sync_file() and store_db_sync_dir() make
 * it durable. */
int store_db_sst_write(struct store_db *db, const char *path, const char *key, size_t klen,
		       const void *val, size_t vlen, char *errmsg);
/* fdatasync of the file at path (MPC_ENOENT when it does not exist). */
int store_db_sync_file(const char *path, char *errmsg);
/* Checks that the SST file at path is whole and its checksums match
 * (MPC_ECORRUPT otherwise); reads the whole file. */
int store_db_sst_verify(const char *path, char *errmsg);
/* Ingests the n SST files at paths into the shares column family in one
 * atomic version edit, moving them (hard link, then the path is removed).
 * Durable when it returns 0 (RocksDB syncs the files, dirs and MANIFEST). */
int store_db_ingest_shares(struct store_db *db, const char *const *paths, size_t n,
			   char *errmsg);
/* fsync of a directory, making the entries created in it durable. */
int store_db_sync_dir(const char *dir, char *errmsg);

/* Calls fn for every key with the prefix, in key order; fn returns non-zero
 * to stop (that value is returned). snap may be NULL. */
typedef int (*store_db_iter_fn)(void *ctx, const char *key, size_t klen, const char *val,
				size_t vlen);
int store_db_scan(struct store_db *db, enum store_cf cf, const rocksdb_snapshot_t *snap,
		  const char *prefix, size_t plen, store_db_iter_fn fn, void *ctx);

/* Adds a delete of every key starting with prefix to wb. */
void store_db_batch_delete_prefix(struct store_db *db, rocksdb_writebatch_t *wb, enum store_cf cf,
				  const char *prefix, size_t plen);

#endif
