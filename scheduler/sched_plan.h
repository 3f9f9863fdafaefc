/* Translation of a compiled job (struct sched_ir) into one engine session: ops, inputs, fuel, and the decoding of its outputs. */
#ifndef MPC_SCHEDULER_SCHED_PLAN_H
#define MPC_SCHEDULER_SCHED_PLAN_H

#include "scheduler/lang.h"
#include "store/db.h"

#include <jansson.h>
#include <stdint.h>

/*
 * The slice of the scheduler runs a whole job (every MAP task over all the
 * segments of a table as one vector, then the COMBINE) as ONE engine
 * session. The plan:
 * - evaluates the public prologue itself (constants, args, row counts at
 *   the input revision) in int64 encodings;
 * - turns secret ops into engine ops (docs/engine.md): element-wise add/sub/
 *   neg, mul (Beaver), mulc/addc with public operands, sum, dot, trunc by
 *   16 bits (probabilistic, engine/fixed.h) repeated for larger shifts,
 *   division by a public b as mulc(round(2^(s+16k)/b)) then k truncs;
 * - opens each value revealed to public at the last secret value before a
 *   chain of injective public steps (division by / multiplication with a
 *   non-zero public value, adding a public value, negation, rescaling) and
 *   applies that chain to the opened value in double precision. Revealing
 *   a then a/n with n public discloses exactly the same; it avoids a
 *   truncation of large values whose failure probability is |X|/2^64.
 * Not supported yet (the plan fails with a message): reveal to a client,
 * store, a secret scalar broadcast over a vector (multi-stage programs).
 */

struct sched_plan;

/* Builds the plan of ir with row counts and shapes at revision. On 0 *out
 * is the caller's (sched_plan_free); otherwise err says why, as
 * "FILE:LINE:COL: message" with file the program's name. */
int sched_plan_build(const struct sched_ir *ir, struct store_db *db, uint64_t revision,
		     const char *file, struct sched_plan **out, char *err, size_t cap);
void sched_plan_free(struct sched_plan *p);

/* Triples the session consumes. */
uint64_t sched_plan_fuel(const struct sched_plan *p);
/* The engine ops (borrowed). */
json_t *sched_plan_ops(const struct sched_plan *p);

/* This party's inputs for the session: its shares of every loaded column at
 * revision, sealed to box_pk (this party's own X25519 key). New reference. */
int sched_plan_inputs(const struct sched_plan *p, struct store_db *db, uint64_t revision,
		      const uint8_t *box_pk, json_t **out, char *err, size_t cap);

/* Decodes the session's outputs (its "outputs" object with all values)
 * into the public results {name: number or array}. New reference. */
int sched_plan_results(const struct sched_plan *p, json_t *outputs, json_t **out, char *err,
		       size_t cap);

#endif
