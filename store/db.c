/* RocksDB data dir: open with column families, identity stamp, small read/write/scan helpers. */
#include "store/db.h"
#include "common/err.h"
#include "common/log.h"
#include "store/sst_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cf_names[STORE_CF_COUNT + 1] = {"meta", "shares", "staging", "fuel",
						    "default"};

/* Converts RocksDB's char **errptr at the edge: one mapping. */
static int rocks_err(char *err, char *errmsg, const char *what)
{
	int rv = MPC_EIO;
	if (err == NULL)
		return 0;
	if (strstr(err, "Corruption") != NULL)
		rv = MPC_ECORRUPT;
	if (errmsg != NULL)
		mpc_errmsg_printf(errmsg, "rocksdb %s: %s", what, err);
	rocksdb_free(err);
	return rv;
}

int store_db_get(struct store_db *db, enum store_cf cf, const char *key, size_t klen, char **val,
		 size_t *vlen, char *errmsg)
{
	char *err = NULL, *v, *copy;
	size_t n = 0;

	v = rocksdb_get_cf(db->db, db->ro, db->cf[cf], key, klen, &n, &err);
	if (err != NULL)
		return rocks_err(err, errmsg, "get");
	if (v == NULL)
		return MPC_ENOENT;
	copy = malloc(n + 1);
	if (copy == NULL) {
		rocksdb_free(v);
		return MPC_ENOMEM;
	}
	memcpy(copy, v, n);
	copy[n] = '\0';
	rocksdb_free(v);
	*val = copy;
	if (vlen != NULL)
		*vlen = n;
	return 0;
}

json_t *store_db_get_json(struct store_db *db, enum store_cf cf, const char *key)
{
	char *val = NULL;
	size_t vlen = 0;
	json_t *j;
	if (store_db_get(db, cf, key, strlen(key), &val, &vlen, NULL) != 0)
		return NULL;
	j = json_loadb(val, vlen, 0, NULL);
	free(val);
	return j;
}

int store_db_write(struct store_db *db, rocksdb_writebatch_t *wb, int sync, char *errmsg)
{
	char *err = NULL;
	rocksdb_write(db->db, sync ? db->wo_sync : db->wo, wb, &err);
	if (err == NULL)
		__atomic_add_fetch(&db->write_seq, 1, __ATOMIC_SEQ_CST);
	return rocks_err(err, errmsg, "write");
}

/* Group sync: concurrent callers (one per preparing txn) share one WAL fsync.
 * A caller whose writes a finished or running sync already covers returns
 * without its own; otherwise it waits for the running one and then syncs for
 * everyone whose writes completed before it started. */
int store_db_sync(struct store_db *db, char *errmsg)
{
	uint64_t want = __atomic_load_n(&db->write_seq, __ATOMIC_SEQ_CST), upto, gen;
	char *err = NULL;

	pthread_mutex_lock(&db->sync_lock);
	for (;;) {
		if (db->synced_seq >= want) {
			pthread_mutex_unlock(&db->sync_lock);
			return 0;
		}
		if (db->syncing) {
			/* not covered by the running sync: sleep through its end
			 * (one wake-up per waiter, not one per sync) */
			int next = want > db->sync_upto;
			db->next_waiters += next;
			pthread_cond_wait(&db->sync_cond[(db->sync_gen + (uint64_t)next) & 1],
					  &db->sync_lock);
			db->next_waiters -= next;
			continue;
		}
		db->syncing = 1;
		gen = ++db->sync_gen;
		upto = db->sync_upto = __atomic_load_n(&db->write_seq, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&db->sync_lock);
		rocksdb_flush_wal(db->db, 1, &err);
		pthread_mutex_lock(&db->sync_lock);
		db->syncing = 0;
		if (err == NULL && upto > db->synced_seq)
			db->synced_seq = upto;
		pthread_cond_broadcast(&db->sync_cond[gen & 1]);
		if (db->next_waiters > 0) /* one of them syncs for all of them */
			pthread_cond_signal(&db->sync_cond[(gen + 1) & 1]);
		if (err != NULL)
			break;
	}
	pthread_mutex_unlock(&db->sync_lock);
	return rocks_err(err, errmsg, "flush wal");
}

int store_db_sst_write(struct store_db *db, const char *path, const char *key, size_t klen,
		       const void *val, size_t vlen, char *errmsg)
{
	char *err = NULL;
	int fd;

	(void)db; /* store/sst_file.cc builds the shares CF's table options itself */
	if (store_sst_file_write(path, key, klen, val, vlen, &err) != 0)
		return err != NULL ? rocks_err(err, errmsg, "sst write") : MPC_ENOMEM;
	/* Start the writeback now, so that the fdatasync at prepare finds most of
	 * the file on disk already; the chunk's answer does not wait for it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
	return 0;
}

int store_db_sync_file(const char *path, char *errmsg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), saved;
	if (fd < 0 || fdatasync(fd) != 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		if (errmsg != NULL)
			mpc_errmsg_printf(errmsg, "fdatasync of %s: %s", path, strerror(saved));
		return saved == ENOENT ? MPC_ENOENT : MPC_EIO;
	}
	close(fd);
	return 0;
}

int store_db_sst_verify(const char *path, char *errmsg)
{
	char *err = NULL;
	int rv;
	if (store_sst_file_verify(path, &err) == 0)
		return 0;
	if (err == NULL)
		return MPC_ENOMEM;
	rv = rocks_err(err, errmsg, "sst verify");
	return rv == MPC_EIO ? MPC_ECORRUPT : rv;
}

int store_db_ingest_shares(struct store_db *db, const char *const *paths, size_t n,
			   char *errmsg)
{
	rocksdb_ingestexternalfileoptions_t *io;
	char *err = NULL;
	int *fds;

	if (n == 0)
		return 0;
	/* The files' pages are cached (store_db_sst_write), so the ingest reads
	 * them from memory; they are dropped afterwards (clean: synced at prepare
	 * and by the ingest) through fds opened before the move, so that the next
	 * chunks' writes reuse those pages instead of new ones (on this VM a page
	 * never touched before costs ~10x the copy into it). */
	if ((fds = malloc(n * sizeof *fds)) == NULL)
		return MPC_ENOMEM;
	for (size_t i = 0; i < n; i++)
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
	io = rocksdb_ingestexternalfileoptions_create();
	rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
	rocksdb_ingest_external_file_cf(db->db, db->cf[STORE_CF_SHARES], paths, n, io, &err);
	rocksdb_ingestexternalfileoptions_destroy(io);
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (err == NULL)
			posix_fadvise(fds[i], 0, 0, POSIX_FADV_DONTNEED);
		close(fds[i]);
	}
	free(fds);
	return rocks_err(err, errmsg, "ingest");
}

int store_db_sync_dir(const char *dir, char *errmsg)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rv = 0;
	if (fd < 0 || fsync(fd) != 0) {
		if (errmsg != NULL)
			mpc_errmsg_printf(errmsg, "fsync of directory %s: %s", dir, strerror(errno));
		rv = MPC_EIO;
	}
	if (fd >= 0)
		close(fd);
	return rv;
}

int store_db_scan(struct store_db *db, enum store_cf cf, const rocksdb_snapshot_t *snap,
		  const char *prefix, size_t plen, store_db_iter_fn fn, void *ctx)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char upper[256];
	size_t ulen = plen < sizeof upper ? plen : 0;
	int rv = 0;

	if (snap != NULL)
		rocksdb_readoptions_set_snapshot(ro, snap);
	/* Upper bound: the first key past the prefix. Without it a seek past the
	 * last live key of the prefix skips every tombstone after it (each
	 * finished txn leaves one in staging) before it can stop. */
	memcpy(upper, prefix, ulen);
	while (ulen > 0 && (unsigned char)upper[ulen - 1] == 0xff)
		ulen--;
	if (ulen > 0) {
		upper[ulen - 1]++;
		rocksdb_readoptions_set_iterate_upper_bound(ro, upper, ulen);
	}
	it = rocksdb_create_iterator_cf(db->db, ro, db->cf[cf]);
	for (rocksdb_iter_seek(it, prefix, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen < plen || memcmp(k, prefix, plen) != 0)
			break;
		rv = fn(ctx, k, klen, v, vlen);
		if (rv != 0)
			break;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rv;
}

struct delete_ctx {
	struct store_db *db;
	rocksdb_writebatch_t *wb;
	enum store_cf cf;
};

static int delete_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct delete_ctx *ctx = vctx;
	rocksdb_writebatch_delete_cf(ctx->wb, ctx->db->cf[ctx->cf], key, klen);
	return 0;
}

void store_db_batch_delete_prefix(struct store_db *db, rocksdb_writebatch_t *wb, enum store_cf cf,
				  const char *prefix, size_t plen)
{
	/* Point deletes of the keys that exist, not DeleteRange: every range
	 * tombstone in the memtable is re-fragmented by later reads, and one per
	 * transaction made reads slower as the table grew. */
	struct delete_ctx ctx = {db, wb, cf};
	store_db_scan(db, cf, NULL, prefix, plen, delete_one, &ctx);
}

static int stamp_check(struct store_db *db, const char *cluster_id_hex, int party_id,
		       const char *path, char *errmsg)
{
	char *val = NULL;
	char want_party[16];
	int rv;

	snprintf(want_party, sizeof want_party, "%d", party_id);
	rv = store_db_get(db, STORE_CF_META, "local/cluster_id", 16, &val, NULL, errmsg);
	if (rv == MPC_ENOENT) {
		rocksdb_writebatch_t *wb;
		if (db->read_only) {
			mpc_errmsg_printf(errmsg, "%s: not an mpcstore data dir (no cluster id)",
					  path);
			return MPC_ECONFIG;
		}
		wb = rocksdb_writebatch_create();
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], "local/cluster_id", 16,
					  cluster_id_hex, strlen(cluster_id_hex));
		rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], "local/party_id", 14,
					  want_party, strlen(want_party));
		rv = store_db_write(db, wb, 1, errmsg);
		rocksdb_writebatch_destroy(wb);
		return rv;
	}
	if (rv != 0)
		return rv;
	if (cluster_id_hex != NULL && strcmp(val, cluster_id_hex) != 0) {
		mpc_errmsg_printf(errmsg,
				  "%s belongs to cluster %s, not to cluster %s of the config; "
				  "refusing to start (point data_dir at this cluster's data)",
				  path, val, cluster_id_hex);
		free(val);
		return MPC_ECONFIG;
	}
	free(val);
	rv = store_db_get(db, STORE_CF_META, "local/party_id", 14, &val, NULL, errmsg);
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "%s: data dir has no party id: corrupt", path);
		return MPC_ECORRUPT;
	}
	if (party_id >= 0 && strcmp(val, want_party) != 0) {
		mpc_errmsg_printf(errmsg, "%s belongs to party %s, not party %d", path, val,
				  party_id);
		free(val);
		return MPC_ECONFIG;
	}
	free(val);
	return 0;
}

/* Most point reads of an append miss (its txn's records before they exist,
 * on every party): bloom filters over whole keys, in the memtable and in each
 * table file, answer those without a search of the memtable's skiplist (6 %
 * of a party's CPU per small append) or of a file's index. Best effort: with
 * an option refused, reads are as before. */
static void point_read_filters(rocksdb_options_t **opts)
{
	rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
	rocksdb_options_t *o = rocksdb_options_create();
	char *err = NULL;

	if (t != NULL) {
		rocksdb_block_based_options_set_filter_policy(
		    t, rocksdb_filterpolicy_create_bloom_full(10));
		rocksdb_options_set_block_based_table_factory(*opts, t);
		rocksdb_block_based_options_destroy(t);
	}
	if (o == NULL)
		return;
	rocksdb_get_options_from_string(
	    *opts, "memtable_whole_key_filtering=true;memtable_prefix_bloom_size_ratio=0.05", o,
	    &err);
	if (err != NULL) {
		LOG_WARN("rocksdb: memtable bloom filter not set: %s", err);
		rocksdb_free(err);
		rocksdb_options_destroy(o);
		return;
	}
	rocksdb_options_destroy(*opts);
	*opts = o;
}

int store_db_open(const char *path, const char *cluster_id_hex, int party_id, int read_only,
		  struct store_db **out, char *errmsg)
{
	struct store_db *db = calloc(1, sizeof *db);
	const rocksdb_options_t *cf_opts[STORE_CF_COUNT + 1];
	rocksdb_options_t *raw_opts;
	char *err = NULL;
	int rv;

	if (db == NULL)
		return MPC_ENOMEM;
	db->read_only = read_only;
	pthread_mutex_init(&db->staging_lock, NULL);
	pthread_mutex_init(&db->sync_lock, NULL);
	pthread_cond_init(&db->sync_cond[0], NULL);
	pthread_cond_init(&db->sync_cond[1], NULL);
	db->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(db->opts, !read_only);
	rocksdb_options_set_create_missing_column_families(db->opts, !read_only);
	rocksdb_options_increase_parallelism(db->opts, 2);
	rocksdb_options_set_max_open_files(db->opts, 256);
	rocksdb_options_set_write_buffer_size(db->opts, 64 << 20);
	rocksdb_options_set_paranoid_checks(db->opts, 1);
	point_read_filters(&db->opts);
	/* Shares and fuel are uniformly random by construction: compressing them
	 * (Snappy by default) costs flush CPU and saves nothing. */
	if ((raw_opts = rocksdb_options_create_copy(db->opts)) != NULL)
		rocksdb_options_set_compression(raw_opts, rocksdb_no_compression);
	db->shares_opts = raw_opts != NULL ? raw_opts : rocksdb_options_create_copy(db->opts);
	for (int i = 0; i <= STORE_CF_COUNT; i++)
		cf_opts[i] = raw_opts != NULL && (i == STORE_CF_SHARES || i == STORE_CF_FUEL)
				     ? raw_opts
				     : db->opts;
	if (read_only)
		db->db = rocksdb_open_for_read_only_column_families(
			db->opts, path, STORE_CF_COUNT + 1, cf_names, cf_opts, db->cf, 0, &err);
	else
		db->db = rocksdb_open_column_families(db->opts, path, STORE_CF_COUNT + 1, cf_names,
						      cf_opts, db->cf, &err);
	if (err != NULL) {
		rv = rocks_err(err, errmsg, "open");
		mpc_errmsg_wrapf(errmsg, "cannot open data dir %s", path);
		rocksdb_options_destroy(db->shares_opts);
		rocksdb_options_destroy(db->opts);
		free(db);
		return rv == MPC_EIO ? MPC_ECONFIG : rv;
	}
	db->wo = rocksdb_writeoptions_create();
	db->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(db->wo_sync, 1);
	db->ro = rocksdb_readoptions_create();
	/* Staged chunk files (store/staging.c) live next to the RocksDB files;
	 * RocksDB ignores subdirectories. The new directory's entry is synced
	 * before any file in it counts as durable. */
	if (asprintf(&db->sst_dir, "%s/staging-sst", path) < 0) {
		db->sst_dir = NULL;
		store_db_close(db);
		return MPC_ENOMEM;
	}
	if (!read_only && mkdir(db->sst_dir, 0700) == 0 && store_db_sync_dir(path, errmsg) != 0) {
		store_db_close(db);
		return MPC_EIO;
	}
	rv = stamp_check(db, cluster_id_hex, party_id, path, errmsg);
	if (rv != 0) {
		store_db_close(db);
		return rv;
	}
	*out = db;
	return 0;
}

void store_db_close(struct store_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i <= STORE_CF_COUNT; i++)
		if (db->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(db->cf[i]);
	rocksdb_close(db->db);
	rocksdb_writeoptions_destroy(db->wo);
	rocksdb_writeoptions_destroy(db->wo_sync);
	rocksdb_readoptions_destroy(db->ro);
	rocksdb_options_destroy(db->shares_opts);
	rocksdb_options_destroy(db->opts);
	free(db->sst_dir);
	pthread_mutex_destroy(&db->staging_lock);
	pthread_mutex_destroy(&db->sync_lock);
	pthread_cond_destroy(&db->sync_cond[0]);
	pthread_cond_destroy(&db->sync_cond[1]);
	free(db);
}
