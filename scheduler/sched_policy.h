/* The scheduler's policy: which ready tasks the leader leases now, and why the others wait (pure,
 * no I/O). */
#ifndef MPC_SCHEDULER_SCHED_POLICY_H
#define MPC_SCHEDULER_SCHED_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Why a task (and its job, while PENDING) waits: Slurm's squeue REASON. */
enum sched_wait {
	SCHED_WAIT_NONE,      /* leased now */
	SCHED_WAIT_PRIORITY,  /* tasks ahead of it in its queue, or of other queues, go first */
	SCHED_WAIT_RESOURCES, /* max_tasks run in the cluster, or its queue's max_running */
	SCHED_WAIT_FUEL,      /* the triples in flight leave too few for it */
	SCHED_WAIT_PARTIES,   /* a party is unreachable: nothing is leased */
};

/* "Priority", "Resources", "Fuel", "Parties" ("" for SCHED_WAIT_NONE). */
const char *sched_wait_name(enum sched_wait w);

struct sched_policy_queue {
	unsigned weight;      /* >= 1 */
	unsigned max_running; /* 0: no limit */
	unsigned running;     /* its tasks leased or prepared now */
};

/* A ready task: PENDING, its dependencies committed, past its retry backoff. */
struct sched_policy_task {
	int queue;      /* index into the queues */
	int priority;   /* of its job, higher first */
	uint64_t order; /* submit order (the job id), lower first */
	int64_t task;   /* task index in the job, lower first */
	uint64_t fuel;  /* triples it needs */
};

struct sched_policy_in {
	struct sched_policy_queue *queues; /* running counts are updated as tasks are chosen */
	int n_queues;
	const struct sched_policy_task *tasks;
	size_t n_tasks;
	unsigned running;        /* tasks leased or prepared in the cluster */
	unsigned max_tasks;      /* per party (every party runs every task), >= 1 */
	uint64_t fuel_in_flight; /* triples of the leased or prepared attempts */
	uint64_t max_fuel;       /* 0: no limit */
	int parties_ok;          /* every party reachable */
};

/*
 * Chooses the tasks to lease now: wait[i] is SCHED_WAIT_NONE for a task to
 * lease, else why it waits. Weighted fair share across queues: the next task
 * comes from the queue with the lowest running/weight (ties: the queue
 * listed first) among those below their max_running; inside a queue by
 * priority (higher first), then submit order, then task index (FIFO). A task
 * starts only while fewer than max_tasks run and its fuel fits into
 * max_fuel - fuel_in_flight (or nothing is in flight: a task larger than the
 * whole budget runs alone); a queue whose head waits for fuel leases nothing
 * behind it (no starvation of large tasks). Returns the number chosen.
 */
size_t sched_policy_choose(struct sched_policy_in *in, enum sched_wait *wait);

#endif
