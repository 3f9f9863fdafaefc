/* Translation of a compiled job (struct sched_ir) into tasks (engine ops, inputs, fuel each) and the decoding of their outputs. */
#ifndef MPC_SCHEDULER_SCHED_PLAN_H
#define MPC_SCHEDULER_SCHED_PLAN_H

#include "scheduler/lang.h"
#include "store/db.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* snprintf into err of cap bytes: the error texts of sched_plan.c and sched_store.c */
void sched_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A job runs as a DAG of tasks, each one engine session with its own lease,
 * attempts and triple range (docs/scheduler.md): every MAP task of the IR
 * runs once per segment of its table (the segment's rows only) and keeps
 * its per-segment partials; a COMBINE task sums the partials of all
 * segments and computes the scalars of its stage. A stage whose only MAP
 * covers one segment is ONE task (fused: the MAP's ops, then the
 * COMBINE's, in one session; kind "map" with "fused": true in the record).
 * What a task hands to a later one are this party's shares, sealed by the engine to the party's
 * own box key ("keep") and committed in the task's task_done entries. The
 * plan:
 * - evaluates the public prologue itself (constants, args, row counts at
 *   the input revision) in int64 encodings;
 * - turns secret ops into engine ops (docs/engine.md): element-wise add/sub/
 *   neg, mul (Beaver), mulc/addc with public operands, sum, dot, bcast of a
 *   secret scalar over a vector, trunc by any number of bits
 *   (probabilistic, engine/fixed.h), division by a public b as a
 *   truncation of a, a mulc and a truncation by 20 bits (sched_plan.c);
 * - opens each value revealed to public at the last secret value of its
 *   task before a chain of injective public steps (division by /
 *   multiplication with a non-zero public value, adding a public value,
 *   negation, rescaling) and applies that chain to the opened value in
 *   double precision. Revealing a then a/n with n public discloses exactly
 *   the same; it avoids a truncation of large values whose failure
 *   probability is |X|/2^64.
 * - reveals a value revealed to a client with the engine's reveal op (each
 *   party's re-randomised shares sealed to the client's box key); the
 *   results hold the sealed parts and the steps, the client joins them
 *   (client/jobs.c).
 * - keeps the value of a `store TABLE.COLUMN = EXPR` (engine op keep, key
 *   "st<column>") in the task that computes it; sched_plan_stores() says
 *   which task kept which piece, for the commit (sched_store.h).
 */

struct sched_plan;

/* Builds the plan of ir with segments and row counts at revision (0: the
 * catalog as applied so far). On 0 *out is the caller's (sched_plan_free);
 * otherwise err says why, as "FILE:LINE:COL: message" with file the
 * program's name. */
int sched_plan_build(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
		     const char *file, struct sched_plan **out, char *err, size_t cap);
/* The plan of an existing job whose record lists n_tasks tasks, for the
 * runner and the completion: as sched_plan_build(), or, when that gives
 * another number of tasks, without fused tasks (the record was made by an
 * mpcd that did not fuse a one-segment MAP into its COMBINE). The same
 * decision on every party: it depends on the replicated record only. */
int sched_plan_build_job(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
			 const char *file, size_t n_tasks, struct sched_plan **out, char *err,
			 size_t cap);
void sched_plan_free(struct sched_plan *p);

/* Triples all tasks consume. */
uint64_t sched_plan_fuel(const struct sched_plan *p);
/* Number of tasks, and task k's engine ops (borrowed). */
size_t sched_plan_n_tasks(const struct sched_plan *p);
json_t *sched_plan_task_ops(const struct sched_plan *p, size_t k);
/* The tasks for the job record: [{task, kind, stage, deps, fuel, state
 * "PENDING", attempts 0, ir_task, table, segment, rows}]. New reference. */
json_t *sched_plan_tasks_json(const struct sched_plan *p);

/* This party's inputs of task k: for every loaded column a table input
 * (table, column, segment id, revision) that the engine reads from this
 * party's store itself, and the shares committed earlier tasks kept for it
 * (sched_task_shares(), sealed to this party). box_pk is not used any more
 * (the column shares no longer travel through the spec). New reference. */
int sched_plan_task_inputs(const struct sched_plan *p, size_t k, struct store_db *db,
			   uint64_t revision, const uint8_t *box_pk, json_t *job, int party,
			   json_t **out, char *err, size_t cap);

/* The stores of the job, by target table, in order of first store:
 * [{"table", "line", "col", "vector": bool, "columns": [{"name", "type"
 * "int64"|"fixed", "frac"}] (program order), "parts": [{"n": rows,
 * "cols": {column: {"task": k, "key": "st<c>"}}}]}]: one part for scalars
 * (one row), one per segment of the source table for vectors, in segment
 * order. New reference (an empty array for a job without store). */
json_t *sched_plan_stores(const struct sched_plan *p);

struct mpc_cluster;
/* A reveal to a client that is not in c or lacks the output right:
 * MPC_EINVAL with "FILE:LINE:COL: ..." in err. */
int sched_plan_check_recipients(const struct sched_ir *ir, const struct mpc_cluster *c,
				const char *file, char *err, size_t cap);

/* Decodes the public outputs of all tasks (an array, by task, of each
 * session's "outputs" with values) into the results {name: number or
 * array}. A value revealed to a client becomes {"to", "post", "int",
 * "vector", "values": [{"public": x} or {"frac", "steps": [[kind, p]],
 * "parts": [{"n", "sealed": {party: b64}}]}]} from task_sealed (an array,
 * by task, of {party: {output: {"n", "sealed"}}}); docs/scheduler.md. New
 * reference. */
int sched_plan_results(const struct sched_plan *p, json_t *task_outputs, json_t *task_sealed,
		       json_t **out, char *err, size_t cap);

#endif
