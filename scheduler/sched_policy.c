/* The scheduler's policy: weighted fair share across queues, priority then FIFO inside one, task
 * and fuel limits. */
#include "scheduler/sched_policy.h"

#include <stdlib.h>

const char *sched_wait_name(enum sched_wait w)
{
	switch (w) {
	case SCHED_WAIT_PRIORITY: return "Priority";
	case SCHED_WAIT_RESOURCES: return "Resources";
	case SCHED_WAIT_FUEL: return "Fuel";
	case SCHED_WAIT_PARTIES: return "Parties";
	default: return "";
	}
}

static int task_cmp(const void *a, const void *b)
{
	const struct sched_policy_task *x = *(const struct sched_policy_task *const *)a;
	const struct sched_policy_task *y = *(const struct sched_policy_task *const *)b;
	if (x->queue != y->queue)
		return x->queue < y->queue ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->task < y->task ? -1 : x->task > y->task;
}

/* Whether queue a is further below its share than queue b (running/weight lower). */
static int below_share(const struct sched_policy_queue *a, const struct sched_policy_queue *b)
{
	return (uint64_t)a->running * b->weight < (uint64_t)b->running * a->weight;
}

size_t sched_policy_choose(struct sched_policy_in *in, enum sched_wait *wait)
{
	const struct sched_policy_task **ord;
	size_t *idx, *head, *end, chosen = 0;
	int *blocked;
	enum sched_wait rest;

	for (size_t i = 0; i < in->n_tasks; i++)
		wait[i] = in->parties_ok ? SCHED_WAIT_PRIORITY : SCHED_WAIT_PARTIES;
	if (!in->parties_ok || in->n_tasks == 0 || in->n_queues <= 0)
		return 0;
	ord = malloc(in->n_tasks * sizeof *ord);
	idx = malloc(in->n_tasks * sizeof *idx);
	head = calloc((size_t)in->n_queues, sizeof *head);
	end = calloc((size_t)in->n_queues, sizeof *end);
	blocked = calloc((size_t)in->n_queues, sizeof *blocked);
	if (ord == NULL || idx == NULL || head == NULL || end == NULL || blocked == NULL) {
		chosen = 0;
		goto out;
	}
	/* the tasks grouped by queue, each group in its order */
	for (size_t i = 0; i < in->n_tasks; i++)
		ord[i] = &in->tasks[i];
	qsort(ord, in->n_tasks, sizeof *ord, task_cmp);
	for (size_t i = 0; i < in->n_tasks; i++)
		idx[i] = (size_t)(ord[i] - in->tasks);
	for (size_t i = 0; i < in->n_tasks; i++) {
		int q = in->tasks[idx[i]].queue;
		if (q < 0 || q >= in->n_queues)
			continue; /* no such queue: never leased, waits with Priority */
		if (end[q] == 0)
			head[q] = i;
		end[q] = i + 1;
	}
	for (;;) {
		int best = -1;
		if (in->running >= in->max_tasks)
			break;
		for (int q = 0; q < in->n_queues; q++) {
			struct sched_policy_queue *Q = &in->queues[q];
			if (blocked[q] || head[q] >= end[q] ||
			    (Q->max_running > 0 && Q->running >= Q->max_running))
				continue;
			if (best < 0 || below_share(Q, &in->queues[best]))
				best = q;
		}
		if (best < 0)
			break;
		size_t t = idx[head[best]];
		uint64_t fuel = in->tasks[t].fuel;
		if (in->max_fuel > 0 && in->fuel_in_flight > 0 &&
		    (fuel > in->max_fuel || in->fuel_in_flight > in->max_fuel - fuel)) {
			wait[t] = SCHED_WAIT_FUEL;
			blocked[best] = 1;
			continue;
		}
		wait[t] = SCHED_WAIT_NONE;
		head[best]++;
		in->queues[best].running++;
		in->running++;
		in->fuel_in_flight += fuel;
		chosen++;
	}
	/* the rest: Resources when a task limit holds its queue back, else Priority */
	rest = in->running >= in->max_tasks ? SCHED_WAIT_RESOURCES : SCHED_WAIT_PRIORITY;
	for (int q = 0; q < in->n_queues; q++) {
		const struct sched_policy_queue *Q = &in->queues[q];
		enum sched_wait w = Q->max_running > 0 && Q->running >= Q->max_running
					? SCHED_WAIT_RESOURCES
					: rest;
		for (size_t i = head[q]; i < end[q]; i++)
			if (wait[idx[i]] == SCHED_WAIT_PRIORITY)
				wait[idx[i]] = blocked[q] ? SCHED_WAIT_PRIORITY : w;
	}
out:
	free(ord);
	free(idx);
	free(head);
	free(end);
	free(blocked);
	return chosen;
}
