/* In-memory index of the scheduler's active (non-final) job records, kept by the FSM at apply. */
#ifndef MPC_SCHEDULER_SCHED_INDEX_H
#define MPC_SCHEDULER_SCHED_INDEX_H

#include "store/db.h"

#include <jansson.h>
#include <stdint.h>

/*
 * The leader and runner threads look at every active job after every applied
 * entry. Reading and parsing `job/<id>` from RocksDB for each of them (and
 * scanning `jobact/` past the tombstones of finished jobs) made each turn
 * O(active jobs) RocksDB reads and JSON parses; this index holds the parsed
 * records instead. It is a cache of the replicated state, never a source of
 * it: the FSM puts every job record it writes (sched_fsm.c put_job), and the
 * index is rebuilt from RocksDB (`jobact/` + `job/`) when the FSM opens its
 * db and after a snapshot install. A record in the index is immutable: the
 * FSM puts a new object for each change, readers hold references.
 * Thread-safe: one mutex; jansson's reference counts are atomic (>= 2.11).
 */
struct sched_index;

/* A new empty index. 0 or MPC_ENOMEM; caller frees with sched_index_free(). */
int sched_index_new(struct sched_index **out);
void sched_index_free(struct sched_index *ix);

/* Replaces the content with the non-final jobs of db (keys jobact/ and job/).
 * 0 or an I/O error (then the index is empty). */
int sched_index_rebuild(struct sched_index *ix, struct store_db *db);

/* Records the job record `job` (its field "id"): kept (a reference is taken;
 * the caller must not change job afterwards) while its state is not final,
 * removed once it is. 0 or MPC_ENOMEM (then the index has dropped the job and
 * marked itself stale: the next sched_index_active() rebuilds it). */
int sched_index_put(struct sched_index *ix, json_t *job);

/* The record of active job id (new reference; read-only), or NULL. */
json_t *sched_index_get(struct sched_index *ix, uint64_t id);

/* The active job records in id order: *jobs (malloc'd array of new references,
 * read-only; free with sched_index_release()) and *n. 0 or MPC_ENOMEM. */
int sched_index_active(struct sched_index *ix, json_t ***jobs, size_t *n);
void sched_index_release(json_t **jobs, size_t n);

/* Number of active jobs. */
size_t sched_index_size(struct sched_index *ix);

#endif
