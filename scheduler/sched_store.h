/* `store TABLE.COLUMN = EXPR`: the submit-time checks and the commit of a job's stored values into tables. */
#ifndef MPC_SCHEDULER_SCHED_STORE_H
#define MPC_SCHEDULER_SCHED_STORE_H

#include "scheduler/lang.h"
#include "store/db.h"
#include "store/fsm.h"

#include <jansson.h>
#include <stdint.h>

/*
 * A job's stores become one new segment (a new table version) per target
 * table, atomically with the job: in the WriteBatch of the task_commit entry
 * that completes it (docs/scheduler.md, *store*). Each party's engine kept
 * its shares of a stored value sealed to the party itself (engine op keep,
 * committed as jobshare/<job>/<task>/<attempt>/<party>); at that commit
 * every party checks, from replicated state only, that the target tables
 * still take the rows and that every party kept pieces of the right size,
 * writes the same catalog records (table version, segment "job-<id>-<table>"),
 * and opens only its OWN pieces into its shares column family — from the
 * kept records its runner wrote into its staging column family before it
 * reported (sched_store_stage), which also serve a party that learns of the
 * commit from a snapshot (sched_store_reconcile). A job that fails, times
 * out or is cancelled writes nothing (its kept shares and records are
 * deleted with it).
 *
 * Rules (strict, so that a table stays a set of whole rows): a store into an
 * existing table must store every column of it (a job appends whole rows);
 * it cannot add a column. A new table gets the stored columns in program
 * order. The client needs the append right on the table and, for a new
 * table, the create right (as an append through /v1/txns).
 */

struct mpc_cluster;

/* Checks the stores of ir against the catalog as applied so far and the
 * rights of client (c NULL: rights are not checked). 0; MPC_EPERM (a right
 * is missing) or MPC_EINVAL (the table would not get whole rows), with
 * "FILE:LINE:COL: store into table T: ..." in err. */
int sched_store_check(const struct sched_ir *ir, struct store_db *db, const struct mpc_cluster *c,
		      const char *client, const char *file, char *err, size_t cap);

/* What the commit needs of this party: its id and box secret key (borrowed;
 * must outlive the FSM). */
struct sched_store_party {
	int party;
	const uint8_t *box_sk; /* NULL: this party cannot open its pieces (tests) */
};

/* At the task_commit (entry index) that completes job, with stores from
 * sched_plan_stores(): adds to wb the catalog records of every target table
 * and this party's shares, and sets the job record's "stored": [{table,
 * segment, rows, revision}]. 0, or MPC_E* with the reason in err when the job
 * must fail instead (nothing added to wb then); the decision depends only on
 * replicated state, so every party takes the same one. */
int sched_store_commit(struct store_db *db, rocksdb_writebatch_t *wb, const struct mpc_cluster *c,
		       int n_parties, const struct sched_store_party *me, json_t *job,
		       json_t *stores, uint64_t index, char *err, size_t cap);

/* Gives the scheduler's FSM extension attached to fsm (sched_fsm_attach) this
 * party's box secret key, which opens its kept pieces at commit, hooks
 * sched_store_reconcile into fsm's reconcile passes and runs one now (a
 * failure is logged; the next start or snapshot restore retries). box_sk
 * must outlive fsm. Call before the Raft node starts. */
void sched_store_set_key(struct store_fsm *fsm, const uint8_t *box_sk);

struct sched_plan;
/* The runner's step before it proposes task_done for attempt `attempt` of
 * task `task` of job (plan: the job's): writes the pieces of stored values
 * among shares (this party's, sealed to itself by its engine: {key: sealed},
 * copied) durably into this party's staging column family
 * (store_staging_kept_put; synced). The commit writes this party's rows from
 * there, and so does the reconcile after a snapshot restore. 0 (also when
 * the task keeps no stored value: nothing written); MPC_ESTATE when the
 * attempt is no longer leased (do not report it); or an I/O error; the
 * reason in err. */
int sched_store_stage(struct store_db *db, const struct sched_plan *plan, uint64_t job,
		      json_int_t task, int attempt, json_t *shares, char *err, size_t cap);

/* store_fsm.ext_reconcile (data: the struct sched_fsm): settles the kept
 * records of the staging column family against the replicated jobs, into
 * wb: a COMPLETED job that stored gets this party's rows of each stored
 * segment it lacks (as the commit would have written them), then its
 * records go; records of attempts that aborted and of jobs that ended (or
 * are unknown) go; those of running attempts stay. Idempotent. */
int sched_store_reconcile(void *data, rocksdb_writebatch_t *wb);

#endif
