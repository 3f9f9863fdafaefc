/* Reads of the replicated catalog (tables, segments, transactions), for the API and offline tools. */
#ifndef MPC_STORE_CATALOG_H
#define MPC_STORE_CATALOG_H

#include "store/db.h"

#include <jansson.h>

/* Table record (name, columns, rows, version, segments count). With
 * revision > 0 the table as of that revision: rows and version count only the
 * segments committed at or before it. With segments != 0 the "segment_list"
 * array is included. New reference in *out. MPC_ENOENT if there is no such
 * table (at that revision). */
int store_catalog_table(struct store_db *db, const char *name, uint64_t revision, int segments,
			json_t **out);
/* Array of table records (without segment lists). */
int store_catalog_tables(struct store_db *db, uint64_t revision, json_t **out);
/* Transaction record; MPC_ENOENT if unknown. */
int store_catalog_txn(struct store_db *db, const char *txn, json_t **out);
/* Array of txn records; only_open keeps pending/prepared ones. */
int store_catalog_txns(struct store_db *db, int only_open, json_t **out);
/* BLAKE2b-256 hex digest of the replicated catalog, and the applied index it
 * was taken at (one consistent RocksDB snapshot). hex >= 65 bytes. */
int store_catalog_digest(struct store_db *db, uint64_t *applied, char *hex);
/* This party's shares of table.column as of revision (0: latest), in segment
 * order: *out gets rows values (malloc'd; caller frees with free(), after
 * sodium_memzero if it cares). MPC_ENOENT names the missing table or column
 * in errmsg. */
int store_catalog_read_column(struct store_db *db, const char *table, const char *column,
			      uint64_t revision, uint64_t **out, uint64_t *rows, char *errmsg);
/* The same for the one segment with id segment ("segment_list"[i].id) of the
 * latest table: the shares mpcstore-tool dump and mpcfs --party show. */
int store_catalog_read_segment(struct store_db *db, const char *table, const char *column,
			       uint64_t segment, uint64_t **out, uint64_t *rows, char *errmsg);
/* The same as of revision (0: latest): what a task of a job reads (its segment only). */
int store_catalog_read_segment_at(struct store_db *db, const char *table, const char *column,
				  uint64_t revision, uint64_t segment, uint64_t **out,
				  uint64_t *rows, char *errmsg);

/* Applied index persisted in the db. */
uint64_t store_catalog_applied(struct store_db *db);

#endif
