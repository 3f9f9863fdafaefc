/* The scheduler inside mpcd: leader duties on a timer and the per-party runner of leased task attempts (one engine session each). */
#include "scheduler/sched_service.h"

#include "common/err.h"
#include "common/log.h"
#include "engine/exec.h"
#include "engine/service.h"
#include "scheduler/lang.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_index.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_plancache.h"
#include "scheduler/sched_policy.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define DEFAULT_MAX_TASKS 16
#define MAX_LOCAL 256
#define REPROPOSE_MS 2000
#define INFLIGHT_MAX 512
#define INFLIGHT_MS 1000 /* a leader proposal not applied by then is proposed again */
#define PLAN_CACHE_ENTRIES 64   /* programs compiled and planned (sched_plancache.h) */
#define REPORTERS 4	 /* threads proposing the runner's task_done/task_abort */
/* A PENDING job gets a job_reason entry only once it has waited this long:
 * on a busy cluster most jobs wait a few ms for a slot, and an entry (applied
 * on every party) per job to say so cost more than it told. */
#define REASON_AFTER_MS 300

#define CHG_RING 1024

/* A long poll in sched_service_wait. */
struct poll_waiter {
	uint64_t job; /* 0: any job */
	pthread_cond_t cond;
	struct poll_waiter *next;
};

/* A leader proposal queued (store_node_propose_async) and not yet seen applied. */
struct inflight {
	char op; /* 'l' task_lease, 'c' task_commit, 'x' lease_expired, 'r' job_reason */
	uint64_t job;
	json_int_t task, attempt;
	uint64_t at_ms;
	int seen; /* looked up in the current turn: not applied yet */
};

/* A session this party started or resumed, until its attempt is over. */
struct local_run {
	uint64_t job;
	json_int_t task;
	int attempt;
	uint64_t session;
	uint64_t proposed_ms; /* last task_done/task_abort proposal */
	struct sched_plan_hold *hold;  /* the compiled program and its plan */
	const struct sched_plan *plan; /* hold's */
};

struct sched_service {
	struct sched_fsm sf; /* first: ext_data points here */
	const struct mpc_party_conf *conf;
	struct store_node *node;
	struct store_fsm *fsm;
	struct store_db *db;
	struct engine_service *engine;
	sched_forward_fn forward;
	unsigned lease_ms, delay_ms, max_tasks;
	uint64_t max_fuel; /* triples in flight, 0: no limit */
	pthread_t leader_thr, runner_thr;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t kicks; /* applied entries (the leader thread's cond) */
	/* this party led at the leader thread's last turn (atomic): only then
	 * does an applied entry wake that thread; on a follower it turns every
	 * 100 ms only, and a party elected leader starts within that */
	int leading;
	/* the runner's: entries that leased or ended an attempt (sf.runner_changes)
	 * and finished engine sessions; the runner does nothing for the others
	 * (submits, other parties' task_done, reasons) */
	pthread_cond_t rcond;
	uint64_t rkicks, runner_changes_seen;
	/* long polls (sched_service_wait) wait each on its own condition
	 * variable, signalled only when their job's state changed: 16 polls
	 * woken by every entry that changed any job's state cost ~30 wake-ups
	 * per job on the party the clients talk to. chg_ring holds the ids of
	 * the last CHG_RING state changes (0: unknown, wakes every poll), so
	 * that a change between sched_service_mark and the wait is not missed. */
	struct poll_waiter *waiters;
	uint64_t chg_ring[CHG_RING], chg_seq;
	uint64_t seen_leader, seen_runner; /* kicks each thread has acted on */
	int stop;
	int release; /* the API stops: long polls answer now */
	int proposing; /* runner proposals queued or in flight (propose_detached) */
	/* the runner's proposals, proposed by REPORTERS threads that keep their
	 * connection to the leader (a thread per proposal made a new TCP
	 * connection, and a new API thread on the leader, for each report) */
	struct report *rq_head, *rq_tail;
	pthread_cond_t qcond;
	pthread_t reporter_thr[REPORTERS];
	int n_reporters;
	struct local_run runs[MAX_LOCAL];
	int n_runs;
	struct inflight inflight[INFLIGHT_MAX]; /* the leader thread's own */
	int n_inflight;
	json_t *turn; /* the leader's entries of this turn, proposed at its end */
	/* the runner's reports of this turn while this party leads, proposed at
	 * its end without a reporter (runner_flush) */
	json_t *rturn;
	size_t multi_max; /* entries per sched_multi (MPC_SCHED_MULTI; 1: none) */
};

static struct sched_service *attached; /* the one per process, made by sched_fsm_attach */

static uint64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Whether job's state (any job's for 0) changed after change number seen;
 * under svc->lock. */
static int changed_since(const struct sched_service *svc, uint64_t job, uint64_t seen)
{
	if (svc->chg_seq - seen > CHG_RING)
		return 1; /* the ring no longer tells */
	for (uint64_t k = seen; k < svc->chg_seq; k++) {
		uint64_t id = svc->chg_ring[k % CHG_RING];
		if (id == 0 || job == 0 || id == job)
			return 1;
	}
	return 0;
}

static void on_applied(void *data, json_t *entry, uint64_t index, int outcome)
{
	struct sched_service *svc = data;
	(void)entry;
	(void)index;
	(void)outcome;
	pthread_mutex_lock(&svc->lock);
	svc->kicks++;
	if (__atomic_load_n(&svc->leading, __ATOMIC_RELAXED))
		pthread_cond_broadcast(&svc->cond);
	/* sf.runner_changes and sf.changed are written by apply, on this thread */
	if (svc->sf.runner_changes != svc->runner_changes_seen || entry == NULL) {
		svc->runner_changes_seen = svc->sf.runner_changes;
		svc->rkicks++;
		pthread_cond_signal(&svc->rcond);
	}
	if (svc->sf.n_changed > 0 || entry == NULL) {
		uint64_t from = svc->chg_seq;
		if (entry == NULL || svc->sf.n_changed > SCHED_FSM_CHANGED_MAX)
			svc->chg_ring[svc->chg_seq++ % CHG_RING] = 0;
		else
			for (size_t i = 0; i < svc->sf.n_changed; i++)
				svc->chg_ring[svc->chg_seq++ % CHG_RING] = svc->sf.changed[i];
		svc->sf.n_changed = 0;
		for (struct poll_waiter *w = svc->waiters; w != NULL; w = w->next)
			if (changed_since(svc, w->job, from))
				pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&svc->lock);
}

/* A snapshot replaced the replicated state: the index follows it. */
static void on_restored(void *data)
{
	struct sched_service *svc = data;
	int rv = sched_index_rebuild(svc->sf.index, svc->sf.db);
	if (rv != 0)
		LOG_ERROR("sched: active job index after a snapshot: %s", mpc_strerror(rv));
	on_applied(svc, NULL, 0, 0);
}

int sched_fsm_attach(struct store_fsm *fsm, struct store_db *db, int n_parties)
{
	struct sched_service *svc = calloc(1, sizeof *svc);
	int rv;
	if (svc == NULL)
		return MPC_ENOMEM;
	/* before the first apply: the records of the jobs active in the db */
	if ((rv = sched_index_new(&svc->sf.index)) != 0 ||
	    (rv = sched_index_rebuild(svc->sf.index, db)) != 0) {
		sched_index_free(svc->sf.index);
		free(svc);
		return rv;
	}
	svc->sf.db = db;
	svc->sf.n_parties = n_parties;
	/* NULL (out of memory): every program is compiled, as without it */
	svc->sf.plans = sched_plan_cache_new(PLAN_CACHE_ENTRIES);
	svc->sf.cluster = fsm->cluster;
	pthread_mutex_init(&svc->lock, NULL);
	pthread_cond_init(&svc->cond, NULL);
	pthread_cond_init(&svc->qcond, NULL);
	pthread_cond_init(&svc->rcond, NULL);
	fsm->ext_data = svc;
	fsm->ext_apply = sched_fsm_apply;
	fsm->ext_applied = on_applied;
	fsm->ext_restored = on_restored;
	attached = svc;
	return 0;
}

/* An engine session of this party finished (done or failed): wakes the runner. */
static void on_session_end(void *data)
{
	struct sched_service *svc = data;
	pthread_mutex_lock(&svc->lock);
	svc->rkicks++;
	pthread_cond_signal(&svc->rcond);
	pthread_mutex_unlock(&svc->lock);
}

/* Waits for a kick the caller has not seen yet (an entry applied or a session
 * ended since its last turn began: none is lost while a turn runs) or ms,
 * whichever first; returns non-zero on stop. */
static int nap(struct sched_service *svc, pthread_cond_t *cond, const uint64_t *kicks,
	       uint64_t *seen, unsigned ms)
{
	struct timespec ts;
	int stop;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&svc->lock);
	while (!svc->stop && *kicks == *seen)
		if (pthread_cond_timedwait(cond, &svc->lock, &ts) != 0)
			break;
	*seen = *kicks;
	stop = svc->stop;
	pthread_mutex_unlock(&svc->lock);
	return stop;
}

int sched_service_propose(struct sched_service *svc, json_t *entry, int *outcome,
			  uint64_t *index, char *errmsg)
{
	char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
	int rv, leader = -1;
	if (text == NULL)
		return MPC_ENOMEM;
	rv = store_node_propose(svc->node, text, strlen(text), 10000, outcome, index, &leader);
	if (rv == MPC_ENOTLEADER && leader >= 0 && leader != svc->conf->party_id &&
	    svc->forward != NULL)
		rv = svc->forward(svc->conf, leader, text, outcome, index, &leader, errmsg);
	free(text);
	return rv;
}

/* ---- leader duties ---- */

static int all_reachable(const struct store_node_status *st, int self)
{
	for (int i = 0; i < st->n_members; i++)
		if (st->members[i].party != self && !st->members[i].recent_contact)
			return 0;
	return 1;
}

static void propose_quiet(struct sched_service *svc, json_t *e)
{
	char err[MPC_ERRMSG_SIZE] = "";
	int outcome = 0;
	uint64_t index = 0;
	int rv = sched_service_propose(svc, e, &outcome, &index, err);
	if (rv != 0)
		LOG_DEBUG("sched: propose %s: %s %s", json_string_value(json_object_get(e, "op")),
			  mpc_strerror(rv), err);
	json_decref(e);
}

static struct inflight *inflight_find(struct sched_service *svc, char op, uint64_t job,
				     json_int_t task, json_int_t attempt)
{
	for (int i = 0; i < svc->n_inflight; i++) {
		struct inflight *f = &svc->inflight[i];
		if (f->op == op && f->job == job && f->task == task && f->attempt == attempt) {
			f->seen = 1;
			return f;
		}
	}
	return NULL;
}

/* Proposes one entry (consumed) without waiting. Returns 0 or MPC_ENOMEM. */
static int propose_one(struct sched_service *svc, json_t *e)
{
	char *text = e ? json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rv = text != NULL ? store_node_propose_async(svc->node, text, strlen(text))
			      : MPC_ENOMEM;
	free(text);
	json_decref(e);
	return rv;
}

/* Proposes entries (an array, consumed) without waiting: one entry alone,
 * several as sched_multi entries of up to SCHED_MULTI_MAX (applied in order
 * in one WriteBatch). A task_commit always goes alone: the commit that
 * completes a job may write a table (store), and the catalog it reads must
 * hold what earlier entries wrote, which a sched_multi's WriteBatch does not
 * show. Returns 0 or MPC_ENOMEM. */
static int propose_entries(struct sched_service *svc, json_t *entries)
{
	json_t *part = json_array(), *e;
	size_t i, n = json_array_size(entries);
	int rv = part != NULL ? 0 : MPC_ENOMEM;

	for (i = 0; i <= n && rv == 0; i++) {
		const char *op = NULL;
		int alone;
		e = i < n ? json_array_get(entries, i) : NULL;
		op = e ? json_string_value(json_object_get(e, "op")) : NULL;
		alone = op != NULL && strcmp(op, "task_commit") == 0;
		/* flush what is gathered: at the end, before an entry that goes
		 * alone (order kept), or when full */
		if (json_array_size(part) > 0 &&
		    (e == NULL || alone || json_array_size(part) == svc->multi_max)) {
			rv = propose_one(svc, json_array_size(part) == 1
						      ? json_incref(json_array_get(part, 0))
						      : json_pack("{s:s, s:O}", "op", "sched_multi",
								  "entries", part));
			json_array_clear(part);
		}
		if (rv != 0 || e == NULL)
			break;
		if (alone)
			rv = propose_one(svc, json_incref(e));
		else if (json_array_append(part, e) != 0)
			rv = MPC_ENOMEM;
	}
	json_decref(part);
	json_decref(entries);
	return rv;
}

/* Adds the leader's entry e (consumed) to this turn's, which go out at the
 * end of the turn without waiting for them (store_node_propose_async: one
 * sched_multi in the group commit with the parties' task_done entries); an
 * entry already queued within INFLIGHT_MS is not queued again (the turn runs
 * after every applied entry, before its own are applied). Returns 1 if added. */
static int leader_propose(struct sched_service *svc, char op, uint64_t job, json_int_t task,
			  json_int_t attempt, json_t *e, uint64_t now)
{
	if (e == NULL || inflight_find(svc, op, job, task, attempt) != NULL ||
	    svc->n_inflight == INFLIGHT_MAX) {
		json_decref(e);
		return 0;
	}
	if (svc->turn == NULL)
		svc->turn = json_array();
	if (json_array_append_new(svc->turn, e) != 0)
		return 0;
	svc->inflight[svc->n_inflight++] = (struct inflight){op, job, task, attempt, now, 1};
	return 1;
}

/* The end of a leader turn: its entries go out (if that fails, they are
 * proposed again once their inflight records expire). */
static void leader_flush(struct sched_service *svc)
{
	json_t *entries = svc->turn;
	svc->turn = NULL;
	if (entries != NULL && propose_entries(svc, entries) != 0)
		LOG_WARN("sched: the leader's entries of this turn were not queued");
}

/* Before a turn: entries queued INFLIGHT_MS ago are forgotten (proposed again
 * if still due); after it (done): those the turn did not look up are applied
 * (the state that made them due is gone). */
static void inflight_expire(struct sched_service *svc, uint64_t now, int done)
{
	for (int i = 0; i < svc->n_inflight;) {
		struct inflight *f = &svc->inflight[i];
		if (done ? !f->seen : now - f->at_ms >= INFLIGHT_MS) {
			*f = svc->inflight[--svc->n_inflight];
		} else {
			f->seen = done ? f->seen : 0;
			i++;
		}
	}
}

struct cand {
	uint64_t id;
	json_int_t task, attempt, fuel;
};

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* committing: the tasks whose task_commit this turn queued (a lease queued
 * right after it is applied after it, in the same group commit: one round
 * trip less per stage; if the commit fails, apply refuses the lease). */
static int task_ready(json_t *job, json_t *task, uint64_t now, const char *committing)
{
	json_t *d;
	size_t i;
	if (strcmp(str_of(task, "state"), "PENDING") != 0 ||
	    now < (uint64_t)json_integer_value(json_object_get(task, "retry_after_ms")))
		return 0;
	json_array_foreach(json_object_get(task, "deps"), i, d)
	{
		json_int_t di = json_integer_value(d);
		json_t *t = json_array_get(json_object_get(job, "tasks"), (size_t)di);
		if (t == NULL || (strcmp(str_of(t, "state"), "COMMITTED") != 0 &&
				  !(strcmp(str_of(t, "state"), "PREPARED") == 0 &&
				    committing[di])))
			return 0;
	}
	return 1;
}

static int queue_index(const struct mpc_cluster *cl, const char *name)
{
	for (int q = 0; q < cl->n_queues; q++)
		if (strcmp(cl->queues[q].name, name) == 0)
			return q;
	return -1; /* a queue removed from the config since: its jobs wait */
}

/* A started job past its time limit (--time), not yet COMPLETING (its work is
 * done): proposes job_timeout (the leader's clock, as for lease expiry). */

static int timed_out(struct sched_service *svc, json_t *job, uint64_t id, uint64_t now)
{
	json_int_t limit = json_integer_value(json_object_get(job, "time_limit_s"));
	json_t *start = json_object_get(job, "start_ms");
	if (limit <= 0 || !json_is_integer(start) || strcmp(str_of(job, "state"), "COMPLETING") == 0 ||
	    now <= (uint64_t)json_integer_value(start) + (uint64_t)limit * 1000)
		return 0;
	leader_propose(svc, 't', id, -1, 0,
		       json_pack("{s:s, s:I, s:I}", "op", "job_timeout", "job", (json_int_t)id,
				 "time_ms", (json_int_t)now),
		       now);
	return 1;
}

static void leader_turn(struct sched_service *svc)
{
	struct store_node_status st;
	json_t **jobs = NULL;
	uint64_t now = now_ms();
	size_t n = 0, nc = 0, cap = 0;
	struct cand *cands = NULL;
	struct sched_policy_task *pt = NULL;
	struct sched_policy_queue qs[MPC_MAX_QUEUES];
	const struct mpc_cluster *cl = svc->conf->cluster;
	uint64_t fuel_in_flight = 0;
	int running = 0, reachable;
	json_t *pending; /* PENDING jobs: id -> current reason */

	for (int q = 0; q < cl->n_queues; q++)
		qs[q] = (struct sched_policy_queue){cl->queues[q].weight, cl->queues[q].max_running, 0};

	store_node_status(svc->node, &st);
	__atomic_store_n(&svc->leading, strcmp(st.state, "leader") == 0, __ATOMIC_RELAXED);
	if (strcmp(st.state, "leader") != 0 || sched_index_active(svc->sf.index, &jobs, &n) != 0 ||
	    n == 0) {
		svc->n_inflight = 0;
		sched_index_release(jobs, n);
		return;
	}
	inflight_expire(svc, now, 0);
	pending = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *job = jobs[i], *a, *t; /* read-only: the index's record */
		uint64_t id = (uint64_t)json_integer_value(json_object_get(job, "id"));
		size_t k, n_tasks;
		char *committing;
		int state = sched_job_state_parse(json_string_value(json_object_get(job, "state")));
		int qi = queue_index(cl, str_of(job, "queue"));
		n_tasks = json_array_size(json_object_get(job, "tasks"));
		committing = sched_job_state_final(state) ? NULL : calloc(n_tasks + 1, 1);
		if (committing == NULL)
			continue;
		if (timed_out(svc, job, id, now)) {
			free(committing);
			continue;
		}
		if (state == SCHED_JOB_PENDING &&
		    now >= (uint64_t)json_integer_value(json_object_get(job, "submit_ms")) +
				   REASON_AFTER_MS) {
			char key[24];
			snprintf(key, sizeof key, "%" PRIu64, id);
			json_object_set_new(pending, key, json_string(str_of(job, "reason")));
		}
		json_array_foreach(json_object_get(job, "attempts"), k, a)
		{
			const char *as = str_of(a, "state");
			json_int_t task = json_integer_value(json_object_get(a, "task"));
			json_int_t attempt = json_integer_value(json_object_get(a, "attempt"));
			json_t *e = NULL;
			char op = 0;
			if (strcmp(as, "leased") == 0 || strcmp(as, "prepared") == 0) {
				fuel_in_flight += (uint64_t)json_integer_value(json_object_get(a, "n"));
				if (qi >= 0)
					qs[qi].running++;
			}
			if (strcmp(as, "leased") == 0) {
				running++;
				op = 'x';
				if (now > (uint64_t)json_integer_value(json_object_get(a, "expiry_ms")))
					e = json_pack("{s:s, s:I, s:O, s:O, s:I}", "op", "lease_expired",
						      "job", (json_int_t)id, "task",
						      json_object_get(a, "task"), "attempt",
						      json_object_get(a, "attempt"), "time_ms",
						      (json_int_t)now);
			} else if (strcmp(as, "prepared") == 0) {
				running++;
				op = 'c';
				if (task >= 0 && (size_t)task < n_tasks)
					committing[task] = 1;
				e = json_pack("{s:s, s:I, s:O, s:O, s:I}", "op", "task_commit", "job",
					      (json_int_t)id, "task", json_object_get(a, "task"),
					      "attempt", json_object_get(a, "attempt"), "time_ms",
					      (json_int_t)now);
			}
			if (e != NULL)
				leader_propose(svc, op, id, task, attempt, e, now);
		}
		json_array_foreach(json_object_get(job, "tasks"), k, t)
		{
			json_int_t next = json_integer_value(json_object_get(t, "attempts")) + 1;
			if (!task_ready(job, t, now, committing))
				continue;
			if (inflight_find(svc, 'l', id, (json_int_t)k, next) != NULL) {
				/* its lease is queued, not applied yet: it runs already */
				running++;
				fuel_in_flight += (uint64_t)json_integer_value(json_object_get(t, "fuel"));
				if (qi >= 0)
					qs[qi].running++;
				continue;
			}
			if (nc == cap) {
				size_t nn = cap ? cap * 2 : 16;
				struct cand *c2 = realloc(cands, nn * sizeof *c2);
				struct sched_policy_task *p2 = c2 ? realloc(pt, nn * sizeof *p2) : NULL;
				if (c2 != NULL)
					cands = c2;
				if (p2 == NULL)
					break;
				pt = p2;
				cap = nn;
			}
			cands[nc].id = id;
			pt[nc] = (struct sched_policy_task){
				qi, (int)json_integer_value(json_object_get(job, "priority")), id,
				(int64_t)k, (uint64_t)json_integer_value(json_object_get(t, "fuel"))};
			cands[nc].task = (json_int_t)k;
			cands[nc].attempt = next;
			cands[nc].fuel = json_integer_value(json_object_get(t, "fuel"));
			nc++;
		}
		free(committing);
	}
	reachable = all_reachable(&st, svc->conf->party_id);
	{
		/* the policy (sched_policy.c) picks the tasks; a PENDING job
		 * waits for the reason of its first task left waiting */
		enum sched_wait *w = calloc(nc ? nc : 1, sizeof *w);
		struct sched_policy_in in = {qs, cl->n_queues, pt, nc, (unsigned)running,
					     svc->max_tasks, fuel_in_flight, svc->max_fuel,
					     reachable};
		const char *k;
		json_t *v;
		if (w == NULL)
			goto out;
		sched_policy_choose(&in, w);
		for (size_t i = 0; i < nc; i++) {
			char key[24];
			snprintf(key, sizeof key, "%" PRIu64, cands[i].id);
			if (w[i] != SCHED_WAIT_NONE) {
				json_t *cur = json_object_get(pending, key);
				if (json_is_string(cur)) /* PENDING: first waiting task's reason */
					json_object_set_new(pending, key,
							    json_pack("[s, s]", sched_wait_name(w[i]),
								      json_string_value(cur)));
				continue;
			}
			json_object_set_new(pending, key, json_null()); /* gets a lease */
			leader_propose(svc, 'l', cands[i].id, cands[i].task, cands[i].attempt,
				       json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "op",
						 "task_lease", "job", (json_int_t)cands[i].id, "task",
						 cands[i].task, "attempt", cands[i].attempt, "n",
						 cands[i].fuel > 0 ? cands[i].fuel : 1, "expiry_ms",
						 (json_int_t)(now + svc->lease_ms), "time_ms",
						 (json_int_t)now),
				       now);
		}
		free(w);
		/* why the jobs still PENDING wait, when that changed: pending holds
		 * the current reason (a string) or the new one (["Reason", current]) */
		json_object_foreach(pending, k, v)
		{
			const char *why = json_string_value(json_array_get(v, 0));
			if (why != NULL && strcmp(why, json_string_value(json_array_get(v, 1))) != 0)
				leader_propose(svc, 'r', strtoull(k, NULL, 10), -1, why[0],
					       json_pack("{s:s, s:I, s:s, s:I}", "op", "job_reason",
							 "job", (json_int_t)strtoull(k, NULL, 10),
							 "reason", why, "time_ms", (json_int_t)now),
					       now);
		}
	}
out:
	json_decref(pending);
	free(pt);
	free(cands);
	sched_index_release(jobs, n);
	inflight_expire(svc, now, 1);
}

static void *leader_main(void *arg)
{
	struct sched_service *svc = arg;
	pthread_setname_np(pthread_self(), "sched-leader"); /* for top -H, perf --sort comm */
	/* woken by every applied entry; the 100 ms timer catches lease expiries and retry backoffs */
	while (!nap(svc, &svc->cond, &svc->kicks, &svc->seen_leader, 100)) {
		leader_turn(svc);
		leader_flush(svc);
	}
	return NULL;
}

/* ---- runner ---- */

static struct local_run *run_find(struct sched_service *svc, uint64_t job, json_int_t task,
				  int attempt)
{
	for (int i = 0; i < svc->n_runs; i++)
		if (svc->runs[i].job == job && svc->runs[i].task == task &&
		    svc->runs[i].attempt == attempt)
			return &svc->runs[i];
	return NULL;
}

struct report {
	json_t *entry;
	struct report *next;
};

/* A reporter: proposes what is queued — one entry alone, several (up to
 * SCHED_MULTI_MAX) as one sched_multi — and waits for it (a follower's go to
 * the leader over this thread's kept-alive connection), until stop, then
 * what is left in the queue. */
static void *reporter_main(void *arg)
{
	struct sched_service *svc = arg;
	pthread_setname_np(pthread_self(), "sched-report");
	pthread_mutex_lock(&svc->lock);
	for (;;) {
		json_t *entries, *e;
		int n = 0;
		if (svc->rq_head == NULL) {
			if (svc->stop)
				break;
			pthread_cond_wait(&svc->qcond, &svc->lock);
			continue;
		}
		entries = json_array();
		while (svc->rq_head != NULL && (size_t)n < svc->multi_max) {
			struct report *r = svc->rq_head;
			svc->rq_head = r->next;
			json_array_append_new(entries, r->entry);
			free(r);
			n++;
		}
		if (svc->rq_head == NULL)
			svc->rq_tail = NULL;
		pthread_mutex_unlock(&svc->lock);
		e = json_array_size(entries) == 1
			    ? json_incref(json_array_get(entries, 0))
			    : json_pack("{s:s, s:O}", "op", "sched_multi", "entries", entries);
		if (e != NULL)
			propose_quiet(svc, e); /* consumes e */
		json_decref(entries);
		pthread_mutex_lock(&svc->lock);
		svc->proposing -= n;
		/* only sched_service_stop waits for proposing: the runner and
		 * leader threads (on cond too) need not wake per report */
		if (svc->stop)
			pthread_cond_broadcast(&svc->cond);
	}
	pthread_mutex_unlock(&svc->lock);
	return NULL;
}

/* The runner's task_done/task_abort (e consumed), proposed by a reporter: a
 * follower's goes to the leader and waits for the commit there, and the
 * runner meanwhile starts and reports other sessions (up to REPORTERS of
 * them in flight share one group commit). A lost one is proposed again
 * after REPROPOSE_MS. */
static void propose_detached(struct sched_service *svc, json_t *e)
{
	struct report *r;
	/* on the leader: queued at the end of the runner's turn (runner_flush),
	 * as the leader thread's entries are; no reporter thread, no wait */
	if (__atomic_load_n(&svc->leading, __ATOMIC_RELAXED)) {
		if (svc->rturn == NULL)
			svc->rturn = json_array();
		/* out of memory: e is freed and proposed again after REPROPOSE_MS */
		if (svc->rturn == NULL || json_array_append_new(svc->rturn, e) != 0)
			json_decref(svc->rturn == NULL ? e : NULL);
		return;
	}
	r = malloc(sizeof *r);
	if (r == NULL || svc->n_reporters == 0) {
		free(r);
		propose_quiet(svc, e);
		return;
	}
	r->entry = e;
	r->next = NULL;
	pthread_mutex_lock(&svc->lock);
	if (svc->rq_tail != NULL)
		svc->rq_tail->next = r;
	else
		svc->rq_head = r;
	svc->rq_tail = r;
	svc->proposing++;
	pthread_cond_signal(&svc->qcond);
	pthread_mutex_unlock(&svc->lock);
}

/* Stops and erases the session of an attempt that ended. Its own thread does
 * that (engine_service_session_release): stopping may wait for a
 * resynchronisation with a party that is down, and neither the runner nor a
 * thread of the scheduler's waits for it (a deleter thread per delete was a
 * wake-up and a wait per job and party). */
static void session_delete_async(struct sched_service *svc, uint64_t session)
{
	engine_service_session_release(svc->engine, session);
}

static void run_drop(struct sched_service *svc, struct local_run *r)
{
	session_delete_async(svc, r->session);
	sched_plan_cache_release(svc->sf.plans, r->hold);
	*r = svc->runs[--svc->n_runs];
}

static void propose_abort(struct sched_service *svc, struct local_run *r, const char *reason)
{
	uint64_t now = now_ms();
	if (now - r->proposed_ms < REPROPOSE_MS)
		return;
	r->proposed_ms = now;
	LOG_WARN("sched: job %" PRIu64 " task %d attempt %d fails here: %s", r->job, (int)r->task,
		 r->attempt, reason);
	propose_detached(svc, json_pack("{s:s, s:I, s:I, s:i, s:s, s:I}", "op", "task_abort", "job",
				     (json_int_t)r->job, "task", r->task, "attempt", r->attempt,
				     "reason", reason, "time_ms", (json_int_t)now));
}

/* The engine's chunk for a task: its rows rounded up to a power of two, between
 * 1024 and the engine's default. The engine's scratch is 36 chunks of 8 bytes
 * and is wiped when the session ends: a task over 3 rows does not need 18 MiB.
 * Taken from the replicated job record, so every party runs the same chunks. */
static json_int_t task_chunk(json_t *job, json_int_t task)
{
	json_t *t = json_array_get(json_object_get(job, "tasks"), (size_t)task);
	json_int_t rows = json_integer_value(json_object_get(t, "rows")), c = 1024;
	while (c < rows && c < (json_int_t)ENGINE_EXEC_DEFAULT_CHUNK)
		c *= 2;
	return c;
}

/* Starts (or finds, after a restart) this party's session of the attempt. */
static void run_start(struct sched_service *svc, json_t *job, json_t *a, struct local_run *r)
{
	char *err = calloc(1, SCHED_ERR_MAX), msg[MPC_ERRMSG_SIZE] = "";
	uint64_t rev = (uint64_t)json_integer_value(json_object_get(job, "input_revision"));
	json_t *inputs = NULL, *spec, *have;
	int rv;

	if (err == NULL)
		return;
	rv = sched_plan_cache_get_job(
	    svc->sf.plans, svc->db, rev, json_string_value(json_object_get(job, "file")),
	    json_string_value(json_object_get(job, "program")), json_object_get(job, "args"),
	    json_array_size(json_object_get(job, "tasks")), &r->hold, err, SCHED_ERR_MAX);
	if (rv == 0)
		r->plan = sched_plan_hold_plan(r->hold);
	if (rv == 0 && (size_t)r->task >= sched_plan_n_tasks(r->plan)) {
		snprintf(err, SCHED_ERR_MAX, "the plan has no task %d", (int)r->task);
		rv = MPC_ECORRUPT;
	}
	if (rv != 0) {
		propose_abort(svc, r, err);
		goto out;
	}
	have = engine_service_session_get(svc->engine, r->session, 0);
	if (have != NULL) { /* resumed by the engine after a restart */
		json_decref(have);
		goto out;
	}
	rv = sched_plan_task_inputs(r->plan, (size_t)r->task, svc->db, rev,
				    svc->conf->cluster->parties[svc->conf->party_id].box_pk, job,
				    svc->conf->party_id, &inputs, err, SCHED_ERR_MAX);
	if (rv != 0) {
		propose_abort(svc, r, err);
		goto out;
	}
	spec = json_pack("{s:I, s:O, s:O, s:i, s:I, s:i, s:i, s:o, s:O}", "id",
			 (json_int_t)r->session, "t0", json_object_get(a, "t0"), "n",
			 json_object_get(a, "n"), "f", 16, "chunk", task_chunk(job, r->task),
			 "checkpoint_every", 4, "delay_ms", (int)svc->delay_ms, "inputs", inputs,
			 "ops", sched_plan_task_ops(r->plan, (size_t)r->task));
	rv = engine_service_session_start(svc->engine, spec, msg);
	json_decref(spec);
	if (rv != 0) {
		snprintf(err, SCHED_ERR_MAX, "engine: %s", msg[0] ? msg : mpc_strerror(rv));
		propose_abort(svc, r, err);
	} else
		LOG_INFO("sched: job %" PRIu64 " task %d attempt %d: session %" PRIu64 " started",
			 r->job, (int)r->task, r->attempt, r->session);
out:
	free(err);
}

static void run_poll(struct sched_service *svc, struct local_run *r)
{
	json_t *s;
	const char *state;
	char err[1024] = "";
	/* every turn polls every running session: the status (JSON with every
	 * output) only of those that ended and are not reported already (both
	 * proposals below wait REPROPOSE_MS for the last one to apply) */
	if (r->plan == NULL || now_ms() - r->proposed_ms < REPROPOSE_MS ||
	    engine_service_session_ended(svc->engine, r->session) == 0)
		return;
	s = engine_service_session_get(svc->engine, r->session, 1);
	state = s ? json_string_value(json_object_get(s, "state")) : NULL;
	if (state == NULL) {
		json_decref(s);
		return;
	}
	if (strcmp(state, "done") == 0) {
		/* public outputs (the same on every party) and the shares kept
		 * for later tasks (sealed to this party by its engine) */
		json_t *outputs = json_object(), *shares = json_object(), *sealed = json_object(),
		       *o;
		const char *k;
		json_object_foreach(json_object_get(s, "outputs"), k, o)
		{
			if (strcmp(str_of(o, "kind"), "public") == 0)
				json_object_set_new(outputs, k,
						    json_pack("{s:O}", "values",
							      json_object_get(o, "values")));
			else if (json_object_get(o, "party") != NULL)
				json_object_set(shares, k, json_object_get(o, "sealed"));
			else if (json_object_get(o, "client") != NULL) /* reveal to a client */
				json_object_set_new(sealed, k,
						    json_pack("{s:O, s:O}", "n",
							      json_object_get(o, "n"), "sealed",
							      json_object_get(o, "sealed")));
		}
		char *text = json_dumps(outputs, JSON_COMPACT | JSON_SORT_KEYS);
		uint8_t h[32];
		char hex[65];
		crypto_generichash(h, sizeof h, (const uint8_t *)text, strlen(text), NULL, 0);
		sodium_bin2hex(hex, sizeof hex, h, sizeof h);
		free(text);
		/* this party's pieces of stored values: durable locally first */
		int staged = sched_store_stage(svc->db, r->plan, r->job, r->task, r->attempt,
					       shares, err, sizeof err);
		if (staged != 0) {
			json_decref(outputs);
			json_decref(shares);
			json_decref(sealed);
			if (staged != MPC_ESTATE) /* else the attempt is over: nothing to report */
				propose_abort(svc, r, err);
			json_decref(s);
			return;
		}
		r->proposed_ms = now_ms();
		propose_detached(svc, json_pack("{s:s, s:I, s:I, s:i, s:i, s:s, s:o, s:o, s:o}", "op",
						"task_done", "job", (json_int_t)r->job, "task",
						r->task, "attempt", r->attempt, "party",
						svc->conf->party_id, "digest", hex, "outputs", outputs,
						"shares", shares, "sealed", sealed));
	} else if (strcmp(state, "failed") == 0) {
		snprintf(err, sizeof err, "engine session failed: %s",
			 json_string_value(json_object_get(s, "error")) ?: "?");
		propose_abort(svc, r, err);
	}
	json_decref(s);
}

/* The end of a runner turn on the leader: its reports go out in this group
 * commit (store_node_propose_async; lost if leadership moved meanwhile, then
 * proposed again after REPROPOSE_MS, as any lost report). */
static void runner_flush(struct sched_service *svc)
{
	json_t *entries = svc->rturn;
	svc->rturn = NULL;
	if (entries != NULL && propose_entries(svc, entries) != 0)
		LOG_WARN("sched: this turn's reports of the runner were not queued");
}

static void runner_turn(struct sched_service *svc)
{
	json_t **jobs = NULL;
	size_t n = 0;
	char me[16];
	snprintf(me, sizeof me, "%d", svc->conf->party_id);
	/* sessions whose attempt is over (every party reported, committed, aborted,
	 * expired, cancelled): until then another party may still exchange with ours */
	for (int i = 0; i < svc->n_runs;) {
		struct local_run *r = &svc->runs[i];
		json_t *job = sched_index_get(svc->sf.index, r->job); /* NULL: final */
		json_t *a = job ? sched_task_attempt(job, r->task) : NULL;
		int live = a != NULL && json_integer_value(json_object_get(a, "attempt")) == r->attempt &&
			   strcmp(str_of(a, "state"), "leased") == 0;
		json_decref(job);
		if (!live)
			run_drop(svc, r);
		else
			i++;
	}
	if (sched_index_active(svc->sf.index, &jobs, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *job = jobs[i], *a; /* read-only: the index's record */
		uint64_t id = (uint64_t)json_integer_value(json_object_get(job, "id"));
		size_t k;
		json_array_foreach(job ? json_object_get(job, "attempts") : NULL, k, a)
		{
			struct local_run *r;
			json_int_t task = json_integer_value(json_object_get(a, "task"));
			int attempt = (int)json_integer_value(json_object_get(a, "attempt"));
			int reported = json_object_get(json_object_get(a, "done"), me) != NULL;
			if (strcmp(str_of(a, "state"), "leased") != 0)
				continue;
			r = run_find(svc, id, task, attempt);
			if (r == NULL && svc->n_runs < MAX_LOCAL) {
				r = &svc->runs[svc->n_runs++];
				memset(r, 0, sizeof *r);
				r->job = id;
				r->task = task;
				r->attempt = attempt;
				r->session = (uint64_t)json_integer_value(json_object_get(a, "session"));
				/* reported before a restart: only tracked, so that its
				 * session is deleted when the attempt ends */
				if (!reported)
					run_start(svc, job, a, r);
			}
			if (r != NULL && !reported)
				run_poll(svc, r);
		}
	}
	sched_index_release(jobs, n);
	runner_flush(svc);
}

/* After a restart the engine resumes every stored session, also those of
 * attempts that ended meanwhile: stop those. */
static void drop_stale_sessions(struct sched_service *svc)
{
	json_t *jobs = sched_jobs_all(svc->db), *job;
	size_t i;
	json_array_foreach(jobs, i, job)
	{
		json_t *a;
		size_t k;
		json_array_foreach(json_object_get(job, "attempts"), k, a)
		{
			if (strcmp(str_of(a, "state"), "leased") != 0 &&
			    json_object_get(a, "session") != NULL)
				session_delete_async(svc, (uint64_t)json_integer_value(
								  json_object_get(a, "session")));
		}
	}
	json_decref(jobs);
}

static void *runner_main(void *arg)
{
	struct sched_service *svc = arg;
	pthread_setname_np(pthread_self(), "sched-runner");
	drop_stale_sessions(svc);
	/* woken by applied entries and by the engine when a session ends; the timer
	 * re-proposes lost task_done/task_abort entries */
	do
		runner_turn(svc);
	while (
	    !nap(svc, &svc->rcond, &svc->rkicks, &svc->seen_runner, svc->n_runs > 0 ? 100 : 200));
	while (svc->n_runs > 0) { /* keep the engine's sessions: they resume on restart */
		struct local_run *r = &svc->runs[--svc->n_runs];
		sched_plan_cache_release(svc->sf.plans, r->hold);
	}
	return NULL;
}

static unsigned env_ms(const char *name, unsigned def)
{
	const char *v = getenv(name);
	return v != NULL && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

int sched_service_start(const struct mpc_party_conf *conf, struct store_node *node,
			struct store_fsm *fsm, struct store_db *db, struct engine_service *engine,
			struct sched_service **out, char *errmsg)
{
	struct sched_service *svc;
	if (attached == NULL || fsm->ext_data != attached) {
		int rv = sched_fsm_attach(fsm, db, conf->cluster->n_parties);
		if (rv != 0) {
			mpc_errmsg_printf(errmsg, "scheduler: %s", mpc_strerror(rv));
			return rv;
		}
	}
	svc = attached;
	svc->conf = conf;
	svc->node = node;
	svc->fsm = fsm;
	svc->db = db;
	svc->engine = engine;
	if (engine != NULL)
		engine_service_set_notify(engine, on_session_end, svc);
	svc->lease_ms = env_ms("MPC_SCHED_LEASE_MS", 60000);
	svc->delay_ms = env_ms("MPC_SCHED_DELAY_MS", 0);
	/* [scheduler] of cluster.conf, else the environment */
	svc->max_tasks = conf->cluster->sched_max_tasks
				 ? conf->cluster->sched_max_tasks
				 : env_ms("MPC_SCHED_MAX_TASKS", DEFAULT_MAX_TASKS);
	if (svc->max_tasks == 0)
		svc->max_tasks = DEFAULT_MAX_TASKS;
	svc->max_fuel = conf->cluster->sched_max_fuel;
	svc->multi_max = env_ms("MPC_SCHED_MULTI", SCHED_MULTI_MAX);
	if (svc->multi_max < 1 || svc->multi_max > SCHED_MULTI_MAX)
		svc->multi_max = SCHED_MULTI_MAX;
	if (pthread_create(&svc->leader_thr, NULL, leader_main, svc) != 0) {
		mpc_errmsg_printf(errmsg, "scheduler: cannot start the leader thread");
		return MPC_ENOMEM;
	}
	for (int i = 0; engine != NULL && i < REPORTERS; i++)
		if (pthread_create(&svc->reporter_thr[svc->n_reporters], NULL, reporter_main, svc) ==
		    0)
			svc->n_reporters++;
	if (engine != NULL && pthread_create(&svc->runner_thr, NULL, runner_main, svc) != 0) {
		pthread_mutex_lock(&svc->lock);
		svc->stop = 1;
		pthread_cond_broadcast(&svc->cond);
		pthread_cond_broadcast(&svc->qcond);
		pthread_mutex_unlock(&svc->lock);
		pthread_join(svc->leader_thr, NULL);
		for (int i = 0; i < svc->n_reporters; i++)
			pthread_join(svc->reporter_thr[i], NULL);
		svc->n_reporters = 0;
		mpc_errmsg_printf(errmsg, "scheduler: cannot start the runner thread");
		return MPC_ENOMEM;
	}
	*out = svc;
	return 0;
}

void sched_service_set_forward(struct sched_service *svc, sched_forward_fn fn)
{
	svc->forward = fn;
}

struct store_db *sched_service_db(struct sched_service *svc)
{
	return svc->db;
}

struct sched_plan_cache *sched_service_plans(struct sched_service *svc)
{
	return svc->sf.plans;
}

void sched_service_mark(struct sched_service *svc, uint64_t *seen)
{
	pthread_mutex_lock(&svc->lock);
	*seen = svc->chg_seq;
	pthread_mutex_unlock(&svc->lock);
}

int sched_service_wait(struct sched_service *svc, uint64_t job, uint64_t *seen, unsigned ms)
{
	struct poll_waiter w = {job, PTHREAD_COND_INITIALIZER, NULL}, **pp;
	struct timespec ts;
	int over;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&svc->lock);
	w.next = svc->waiters;
	svc->waiters = &w;
	while (!svc->stop && !svc->release && !changed_since(svc, job, *seen))
		if (pthread_cond_timedwait(&w.cond, &svc->lock, &ts) != 0)
			break;
	for (pp = &svc->waiters; *pp != &w; pp = &(*pp)->next)
		;
	*pp = w.next;
	*seen = svc->chg_seq;
	over = svc->stop || svc->release;
	pthread_mutex_unlock(&svc->lock);
	pthread_cond_destroy(&w.cond);
	return over;
}

/* Wakes every long poll; under svc->lock. */
static void wake_waiters(struct sched_service *svc)
{
	for (struct poll_waiter *w = svc->waiters; w != NULL; w = w->next)
		pthread_cond_signal(&w->cond);
}

json_t *sched_service_active_job(struct sched_service *svc, uint64_t id)
{
	return sched_index_get(svc->sf.index, id);
}

void sched_service_release_waiters(struct sched_service *svc)
{
	if (svc == NULL)
		return;
	pthread_mutex_lock(&svc->lock);
	svc->release = 1;
	pthread_cond_broadcast(&svc->cond);
	wake_waiters(svc);
	pthread_mutex_unlock(&svc->lock);
}

void sched_service_stop(struct sched_service *svc)
{
	if (svc == NULL)
		return;
	pthread_mutex_lock(&svc->lock);
	svc->stop = 1;
	pthread_cond_broadcast(&svc->cond);
	pthread_cond_broadcast(&svc->rcond);
	wake_waiters(svc);
	pthread_mutex_unlock(&svc->lock);
	pthread_join(svc->leader_thr, NULL);
	if (svc->engine != NULL)
		pthread_join(svc->runner_thr, NULL);
	/* the runner queues no more: the reporters propose what is left and end */
	pthread_mutex_lock(&svc->lock);
	pthread_cond_broadcast(&svc->qcond);
	pthread_mutex_unlock(&svc->lock);
	for (int i = 0; i < svc->n_reporters; i++)
		pthread_join(svc->reporter_thr[i], NULL);
	svc->n_reporters = 0;
	pthread_mutex_lock(&svc->lock);
	while (svc->proposing > 0)
		pthread_cond_wait(&svc->cond, &svc->lock);
	pthread_mutex_unlock(&svc->lock);
	/* the FSM keeps applying until the node closes: the extension stays attached */
}
