/* Cache of compiled and planned job programs, shared by apply and the runner. */
#ifndef MPC_SCHEDULER_SCHED_PLANCACHE_H
#define MPC_SCHEDULER_SCHED_PLANCACHE_H

#include "scheduler/lang.h"
#include "scheduler/sched_plan.h"
#include "store/db.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A job's program is compiled and planned at submit (apply, every party), by
 * the runner for each task and at the completion (apply) — and real workloads
 * submit the same program again and again. The result depends only on the
 * file name, the program text, the args and the catalog state of the tables
 * the compiler and the planner read, so it is cached under:
 *
 *   BLAKE2b(file, program, args as sorted compact JSON)
 *   + for every table the compiler looked up: its catalog "revision" (the
 *     index of its last change), or "absent".
 *
 * A lookup at revision R (0: the catalog as applied so far) hits only if every
 * such table's current record still has the remembered revision and that
 * revision is <= R: then the table at R is exactly the remembered one
 * (segments at or below R are immutable; a table's record changes with every
 * commit into it). A table changed after R (an append between the submit and
 * the run) is a miss, compiled at R as before. Compile errors are not cached.
 * The same plan comes out as without the cache: deterministic apply holds.
 *
 * Entries are immutable once cached and held by reference (the runner keeps
 * one for as long as its session runs); the cache is thread-safe.
 */
struct sched_plan_cache;
/* One compiled and planned program, held by its user. */
struct sched_plan_hold;

/* New cache of at most max_entries programs (LRU); NULL on ENOMEM. */
struct sched_plan_cache *sched_plan_cache_new(size_t max_entries);
/* Frees the cache; holds still out stay valid until released. NULL: no-op. */
void sched_plan_cache_free(struct sched_plan_cache *c);

/* The compiled program and its plan at revision (sched_compile +
 * sched_plan_build), from c when it has them, else built (and remembered
 * when the tables it read allow). c may be NULL (always built). On 0 *out
 * is the caller's to release with sched_plan_cache_release(); otherwise err
 * says why (as sched_compile/sched_plan_build: "FILE:LINE:COL: ..."). */
int sched_plan_cache_get(struct sched_plan_cache *c, struct store_db *db, uint64_t revision,
			 const char *file, const char *program, json_t *args,
			 struct sched_plan_hold **out, char *err, size_t cap);
/* As sched_plan_cache_get for an existing job whose record lists n_tasks
 * tasks (sched_plan_build_job: a record of another task count is planned
 * without fusion, uncached). */
int sched_plan_cache_get_job(struct sched_plan_cache *c, struct store_db *db, uint64_t revision,
			     const char *file, const char *program, json_t *args, size_t n_tasks,
			     struct sched_plan_hold **out, char *err, size_t cap);
const struct sched_ir *sched_plan_hold_ir(const struct sched_plan_hold *h);
const struct sched_plan *sched_plan_hold_plan(const struct sched_plan_hold *h);
/* Gives h back (NULL: no-op). */
void sched_plan_cache_release(struct sched_plan_cache *c, struct sched_plan_hold *h);

/* Lookups answered from the cache and lookups that compiled (tests, logs). */
void sched_plan_cache_stats(struct sched_plan_cache *c, uint64_t *hits, uint64_t *misses);

#endif
