/* The scheduler inside mpcd: the leader's duties (leases, expiry, commits) and this party's runner of leased tasks. */
#ifndef MPC_SCHEDULER_SCHED_SERVICE_H
#define MPC_SCHEDULER_SCHED_SERVICE_H

#include "common/conf.h"
#include "store/db.h"
#include "store/fsm.h"
#include "store/node.h"

struct engine_service;
struct sched_service;

/* Forwards a proposal (JSON text) to party `to`, the leader (api_peer_propose's signature). */
typedef int (*sched_forward_fn)(const struct mpc_party_conf *conf, int to, const char *entry,
				int *outcome, uint64_t *index, int *leader, char *errmsg);

/* Registers the scheduler's FSM extension (sched_fsm_apply) on fsm. Call
 * before store_node_start(), so that no scheduler entry is applied without
 * it (raft re-applies its log at start). db must outlive fsm. Returns 0 or
 * MPC_ENOMEM. */
int sched_fsm_attach(struct store_fsm *fsm, struct store_db *db, int n_parties);

/*
 * Starts the scheduler of this party: the leader thread (leases ready
 * tasks — PENDING, dependencies committed, backoff over — by job priority,
 * job id, task id while fewer than max_tasks run — [scheduler] of
 * cluster.conf, else MPC_SCHED_MAX_TASKS, default 16 — and every party is
 * reachable; expires leases; commits tasks that every party
 * reported with the same digest) and the runner thread (runs this party's
 * side of every leased task attempt as an engine session and proposes
 * task_done/task_abort). Attaches the FSM extension if sched_fsm_attach()
 * was not called. Test hooks (environment): MPC_SCHED_LEASE_MS (lease
 * length, default 60000), MPC_SCHED_DELAY_MS (engine delay per operation,
 * default 0). Everything passed must outlive
 * the service. Stop with sched_service_stop().
 */
int sched_service_start(const struct mpc_party_conf *conf, struct store_node *node,
			struct store_fsm *fsm, struct store_db *db, struct engine_service *engine,
			struct sched_service **out, char *errmsg);
/* Sets how proposals reach the leader from a follower (NULL: they are retried locally). */
void sched_service_set_forward(struct sched_service *svc, sched_forward_fn fn);
/* Proposes entry through the leader (forwarding when needed). */
int sched_service_propose(struct sched_service *svc, json_t *entry, int *outcome,
			  uint64_t *index, char *errmsg);
/* The db and fsm the service reads (for the API). */
struct store_db *sched_service_db(struct sched_service *svc);
/* The cache of compiled and planned programs apply and the runner use
 * (sched_plancache.h; NULL when it could not be made). */
struct sched_plan_cache *sched_service_plans(struct sched_service *svc);

/* Long-poll support (GET /v1/jobs/ID?wait_ms=N): *seen = the count of job
 * state changes (or presence: submitted, final) applied so far; read the state
 * after that. */
void sched_service_mark(struct sched_service *svc, uint64_t *seen);
/* Waits until the state of job (of any job if 0) changed after *seen, ms pass
 * or the service stops (returns non-zero then); updates *seen. May return
 * early (a snapshot restore, more changes than the service remembers): the
 * caller reads the state again. */
int sched_service_wait(struct sched_service *svc, uint64_t job, uint64_t *seen, unsigned ms);
/* The record of job id while it is active (the FSM's in-memory index: no
 * RocksDB read), a new read-only reference; NULL once it is final (read it
 * with sched_job_get) or if there is no such job. */
json_t *sched_service_active_job(struct sched_service *svc, uint64_t id);
/* Before the API stops (it joins its request threads): every long poll
 * answers at once, and later ones do not wait. */
void sched_service_release_waiters(struct sched_service *svc);
/* Stops the threads and frees svc (NULL allowed). Call before the engine stops. */
void sched_service_stop(struct sched_service *svc);

#endif
