/* Replicated job state of the scheduler: the Raft log entries it applies through the store's FSM extension hook. */
#ifndef MPC_SCHEDULER_SCHED_FSM_H
#define MPC_SCHEDULER_SCHED_FSM_H

#include "scheduler/sched_store.h"
#include "store/db.h"

#include <jansson.h>
#include <stdint.h>

/*
 * Entries (JSON objects, field "op"; DESIGN.md §2, §5). Every decision is
 * one of them; apply depends only on the entry and the replicated state
 * (never on the clock, the shares or randomness) and is idempotent:
 *   job_submit    {req, client, name, queue, priority, file, program, args{},
 *                 time_limit_s, time_ms}
 *                 compiles the program against the catalog at apply time: the job
 *                 is PENDING, or FAILED with the FILE:LINE:COL error (or BadQueue:
 *                 a queue not in cluster.conf)
 *   task_lease    {job, task, attempt, n, expiry_ms, time_ms}   (leader)
 *                 a PENDING task whose dependencies committed; the triple range
 *                 [t0, t0+n) and the engine session id come from replicated
 *                 counters at apply, so no two attempts ever share either
 *   task_done     {job, task, attempt, party, digest, outputs{}, shares{}} (each
 *                 party: the digest of its public outputs, and the shares it keeps
 *                 for later tasks, sealed by its engine to its own key); when all
 *                 parties reported, the task is PREPARED
 *   task_commit   {job, task, attempt, time_ms}  (leader) all digests equal: the
 *                 task is COMMITTED with its outputs and shares (never re-run); the
 *                 last one completes the job (results decoded at apply)
 *   task_abort    {job, task, attempt, reason, time_ms}
 *   lease_expired {job, task, attempt, time_ms}  (leader)
 *                 only that task is retried (PENDING after a backoff), up to
 *                 SCHED_MAX_ATTEMPTS; then it is ABORTED and the job FAILED
 *   job_cancel    {job, client, time_ms}
 *   job_reason    {job, reason, time_ms}  (leader) why a PENDING job waits:
 *                 Priority (other tasks first), Resources (max_tasks tasks run, or
 *                 the queue's max_running), Fuel (max_fuel_in_flight), Parties (a
 *                 party is unreachable); see sched_policy.h
 *   job_timeout   {job, time_ms}  (leader) time_ms > start_ms + time_limit_s:
 *                 TIMEOUT (reason TimeLimit), running attempts aborted
 *   sched_multi   {entries: [...]}  up to SCHED_MULTI_MAX task_lease, task_done,
 *                 task_commit, task_abort, lease_expired, job_reason, job_timeout
 *                 entries applied in order in ONE WriteBatch, each exactly as if
 *                 applied alone (later ones see what earlier ones wrote); another
 *                 op inside is refused (MPC_EINVAL) and the rest applied. The
 *                 leader's decisions of one turn, and the reports a party has
 *                 ready, go out as one (fewer batches, writes and wake-ups)
 * Keys in the meta column family (replicated, covered by snapshots):
 *   sched/state      {"next_job": N, "next_triple": T, "next_session": S}
 *   job/<%012 id>    the job record (below)
 *   jobact/<%012 id> present while the job is not final
 *   jobreq/<req>     id of the job a submit request created
 *   jobshare/<%012 id>/<%06 task>/<attempt>/<party>  {key: sealed} the shares a
 *                    party kept for later tasks (sealed by its engine to its own
 *                    key); deleted when the attempt aborts or the job ends, with
 *                    this party's kept record of its stored pieces in its staging
 *                    column family (store_staging_kept_put, sched_store_stage)
 * Job record: {id, name, client, queue, priority, time_limit_s, file, program, args,
 *   state, reason, submit_ms, start_ms, end_ms, input_revision, error, fuel,
 *   tasks: [{task, kind "map"|"combine", stage, table, segment, rows, deps,
 *            fuel, state PENDING|LEASED|PREPARED|COMMITTED|ABORTED, attempts,
 *            retry_after_ms, outputs, committed_attempt}],
 *   attempts: [{task, attempt, t0, n, session, state leased|prepared|
 *               committed|aborted, reason, expiry_ms, leased_ms,
 *               done: {"<party>": digest}, outputs}], results,
 *   stored: [{table, segment, rows, revision}] (a job with store, sched_store.h)}
 */

#define SCHED_TRIPLE_BASE ((uint64_t)1 << 40) /* first triple index the scheduler hands out */
#define SCHED_SESSION_BASE ((uint64_t)1 << 30) /* first engine session id of a task attempt */
#define SCHED_MAX_ATTEMPTS 4 /* per task */
#define SCHED_ERR_MAX 4096
#define SCHED_MULTI_MAX 64 /* entries of one sched_multi */

enum sched_job_state {
	SCHED_JOB_PENDING,
	SCHED_JOB_RUNNING,
	SCHED_JOB_COMPLETING,
	SCHED_JOB_COMPLETED,
	SCHED_JOB_FAILED,
	SCHED_JOB_CANCELLED,
	SCHED_JOB_TIMEOUT,
};

/* Slurm's upper-case name of a state, and back (-1 unknown). */
const char *sched_job_state_name(int state);
int sched_job_state_parse(const char *name);
/* Whether a state is final (COMPLETED, FAILED, CANCELLED, TIMEOUT). */
int sched_job_state_final(int state);

#define SCHED_FSM_CHANGED_MAX 128

/* The applier, with the db it reads and the cluster size. */
struct sched_fsm {
	struct store_db *db;
	int n_parties;
	const struct mpc_cluster *cluster; /* client keys and rights, for job_submit */
	struct sched_store_party me; /* opens this party's kept shares of a store */
	/* active job records, kept at apply (sched_index.h); NULL: apply reads
	 * RocksDB only. Must have been rebuilt from db before the first apply. */
	struct sched_index *index;
	/* with an index: counts the job records put whose state (or presence)
	 * changed, so that long polls wake only then (sched_service.c) */
	uint64_t state_changes;
	/* with an index: the ids of those jobs, in apply order, since the
	 * consumer (sched_service.c, after each entry) last set n_changed to 0;
	 * n_changed > SCHED_FSM_CHANGED_MAX: more than fit (wake every poll) */
	uint64_t changed[SCHED_FSM_CHANGED_MAX];
	size_t n_changed;
	/* with an index: counts the job records put that added an attempt or
	 * changed how many are leased (what the runner acts on: a lease to
	 * start, an attempt that ended) or whose job turned final */
	uint64_t runner_changes;
	/* while a sched_multi applies: the job records and sched/state its
	 * entries wrote so far (the WriteBatch is not readable); else NULL */
	json_t *multi_jobs, *multi_state;
	/* compiled and planned programs (sched_plancache.h); NULL: none */
	struct sched_plan_cache *plans;
};

/* Applies a scheduler entry into wb (the store's per-entry WriteBatch).
 * Returns 0 (with *outcome 0 or the MPC_E* of a rejected entry) or an I/O
 * error. Signature of store_fsm.ext_apply (data is a struct sched_fsm). */
int sched_fsm_apply(void *data, rocksdb_writebatch_t *wb, json_t *entry, uint64_t index,
		    int *outcome);

/* Job record id (new reference) or NULL (MPC_ENOENT). */
json_t *sched_job_get(struct store_db *db, uint64_t id);
/* Id of the job created by submit request req, 0 if none. */
uint64_t sched_job_by_req(struct store_db *db, const char *req);
/* Ids of non-final jobs in id order into *ids (malloc'd, caller frees). */
int sched_jobs_active(struct store_db *db, uint64_t **ids, size_t *n);
/* Array of all job records (new reference). */
json_t *sched_jobs_all(struct store_db *db);
/* The shares party kept in attempt `attempt` of task `task` of job ({key:
 * sealed}, new reference), or NULL. */
json_t *sched_task_shares(struct store_db *db, uint64_t job, json_int_t task, json_int_t attempt,
			  int party);
/* The current (last) attempt of task `task` of a job record, or NULL. Borrowed. */
json_t *sched_task_attempt(json_t *job, json_int_t task);
/* Delay before a task whose attempt `attempts` failed is leased again:
 * 500 ms doubling per attempt, at most 8 s. */
unsigned sched_retry_backoff_ms(int attempts);

/* Schema callback over the catalog (ctx is a struct sched_schema_ctx). */
struct sched_schema_ctx {
	struct store_db *db;
	uint64_t revision; /* 0: latest */
};
struct sched_lang_column;
int sched_schema_lookup(void *ctx, const char *table, const char *column,
			struct sched_lang_column *out);

struct sched_ir;
/* Compiles a job's program (args a JSON object of strings) against the
 * catalog at revision. On 0 *ir is owned by the caller (sched_ir_free);
 * otherwise err holds the FILE:LINE:COL lines or the reason. */
int sched_compile(struct store_db *db, uint64_t revision, const char *file, const char *program,
		  json_t *args, struct sched_ir **ir, char *err, size_t cap);
/* The same with another schema callback (sched_plancache.c records the tables
 * it is asked about). */
struct sched_lang_schema;
int sched_compile_schema(struct sched_lang_schema *schema, const char *file, const char *program,
			 json_t *args, struct sched_ir **ir, char *err, size_t cap);

#endif
