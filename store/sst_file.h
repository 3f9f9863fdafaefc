/* Chunk files for the shares column family: written without fsync and kept in the page cache. */
#ifndef MPC_STORE_SST_FILE_H
#define MPC_STORE_SST_FILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a one-key SST file at path that the shares column family can
 * ingest (no compression, default block-based table). Unlike the C API's
 * rocksdb_sstfilewriter, the file is NOT synced and its pages stay cached:
 * the caller makes it durable later (one fdatasync at prepare), and the
 * ingest reads it from memory. Returns 0, or -1 with *err set to a
 * malloc'd message (caller frees with free()). */
int store_sst_file_write(const char *path, const char *key, size_t klen, const void *val,
			 size_t vlen, char **err);

/* Checks that path is a whole SST file whose block checksums match: 0, or -1
 * with *err as above. Reads the whole file. */
int store_sst_file_verify(const char *path, char **err);

#ifdef __cplusplus
}
#endif

#endif
