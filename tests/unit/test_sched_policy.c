/* Unit tests of the scheduler's policy (scheduler/sched_policy.c): queues' weights and limits,
 * priority, FIFO, fuel, reasons. */
#include "scheduler/sched_policy.h"

#include <criterion/criterion.h>
#include <string.h>

#define T(q, p, o, t, f)                                                                           \
	{                                                                                          \
		.queue = (q), .priority = (p), .order = (o), .task = (t), .fuel = (f)              \
	}

static struct sched_policy_in in_of(struct sched_policy_queue *qs, int nq,
				    const struct sched_policy_task *ts, size_t nt, unsigned max)
{
	struct sched_policy_in in = {.queues = qs,
				     .n_queues = nq,
				     .tasks = ts,
				     .n_tasks = nt,
				     .max_tasks = max,
				     .parties_ok = 1};
	return in;
}

Test(sched_policy, priority_then_fifo_inside_a_queue)
{
	struct sched_policy_queue q[1] = {{1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, 10), T(0, 5, 3, 0, 10), T(0, 0, 2, 0, 10),
					T(0, 5, 3, 1, 10), T(0, 0, 1, 1, 10)};
	enum sched_wait w[5];
	struct sched_policy_in in = in_of(q, 1, t, 5, 3);
	cr_assert_eq(sched_policy_choose(&in, w), 3);
	/* priority 5 (job 3, tasks 0 and 1) first, then the oldest job 1, task 0 */
	cr_assert_eq(w[1], SCHED_WAIT_NONE);
	cr_assert_eq(w[3], SCHED_WAIT_NONE);
	cr_assert_eq(w[0], SCHED_WAIT_NONE);
	cr_assert_eq(w[4], SCHED_WAIT_RESOURCES);
	cr_assert_eq(w[2], SCHED_WAIT_RESOURCES);
	cr_assert_eq(in.running, 3);
	cr_assert_eq(in.fuel_in_flight, 30);
}

Test(sched_policy, weights_share_the_running_tasks)
{
	/* queue 0 weight 3, queue 1 weight 1: of 8 slots, 6 and 2 */
	struct sched_policy_queue q[2] = {{3, 0, 0}, {1, 0, 0}};
	struct sched_policy_task t[20];
	enum sched_wait w[20];
	int got[2] = {0, 0};
	for (int i = 0; i < 20; i++)
		t[i] = (struct sched_policy_task)T(i % 2, 0, (uint64_t)i, 0, 1);
	struct sched_policy_in in = in_of(q, 2, t, 20, 8);
	cr_assert_eq(sched_policy_choose(&in, w), 8);
	for (int i = 0; i < 20; i++)
		if (w[i] == SCHED_WAIT_NONE)
			got[t[i].queue]++;
	cr_assert_eq(got[0], 6, "queue of weight 3 got %d", got[0]);
	cr_assert_eq(got[1], 2, "queue of weight 1 got %d", got[1]);
	cr_assert_eq(q[0].running, 6);
	cr_assert_eq(q[1].running, 2);
}

Test(sched_policy, the_queue_below_its_share_goes_first)
{
	/* queue 0 already runs 2 of weight 1; queue 1 runs 0: its task takes the one free slot
	 * even though queue 0's task has a higher priority and is older */
	struct sched_policy_queue q[2] = {{1, 0, 2}, {1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 9, 1, 0, 1), T(1, 0, 2, 0, 1)};
	enum sched_wait w[2];
	struct sched_policy_in in = in_of(q, 2, t, 2, 3);
	in.running = 2;
	cr_assert_eq(sched_policy_choose(&in, w), 1);
	cr_assert_eq(w[1], SCHED_WAIT_NONE);
	cr_assert_eq(w[0], SCHED_WAIT_RESOURCES);
}

Test(sched_policy, max_running_of_a_queue)
{
	struct sched_policy_queue q[2] = {{1, 1, 0}, {1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, 1), T(0, 0, 1, 1, 1), T(0, 0, 2, 0, 1),
					T(1, 0, 3, 0, 1), T(1, 0, 3, 1, 1)};
	enum sched_wait w[5];
	struct sched_policy_in in = in_of(q, 2, t, 5, 10);
	cr_assert_eq(sched_policy_choose(&in, w), 3);
	cr_assert_eq(w[0], SCHED_WAIT_NONE);
	cr_assert_eq(w[1], SCHED_WAIT_RESOURCES, "held back by its queue's max_running");
	cr_assert_eq(w[2], SCHED_WAIT_RESOURCES);
	cr_assert_eq(w[3], SCHED_WAIT_NONE);
	cr_assert_eq(w[4], SCHED_WAIT_NONE);
	cr_assert_eq(q[0].running, 1);
}

Test(sched_policy, cluster_task_limit_reached)
{
	struct sched_policy_queue q[1] = {{1, 0, 4}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, 1)};
	enum sched_wait w[1];
	struct sched_policy_in in = in_of(q, 1, t, 1, 4);
	in.running = 4;
	cr_assert_eq(sched_policy_choose(&in, w), 0);
	cr_assert_eq(w[0], SCHED_WAIT_RESOURCES);
}

Test(sched_policy, fuel_budget)
{
	/* 100 triples of budget, 60 in flight: a 50-triple task waits (Fuel), and the task
	 * behind it in its queue waits too (Priority) although 10 triples would fit; the
	 * other queue's 30-triple task fits */
	struct sched_policy_queue q[2] = {{1, 0, 1}, {1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, 50), T(0, 0, 2, 0, 10), T(1, 0, 3, 0, 30)};
	enum sched_wait w[3];
	struct sched_policy_in in = in_of(q, 2, t, 3, 10);
	in.running = 1;
	in.fuel_in_flight = 60;
	in.max_fuel = 100;
	cr_assert_eq(sched_policy_choose(&in, w), 1);
	cr_assert_eq(w[0], SCHED_WAIT_FUEL);
	cr_assert_eq(w[1], SCHED_WAIT_PRIORITY);
	cr_assert_eq(w[2], SCHED_WAIT_NONE);
	cr_assert_eq(in.fuel_in_flight, 90);
	cr_assert_str_eq(sched_wait_name(w[0]), "Fuel");
}

/* Two tasks of one queue needing fuel0 and fuel1 triples of a budget of 100, none in flight:
 * the first is leased, the second waits for fuel. */
static void expect_second_waits_for_fuel(uint64_t fuel0, uint64_t fuel1)
{
	struct sched_policy_queue q[1] = {{1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, fuel0), T(0, 0, 2, 0, fuel1)};
	enum sched_wait w[2];
	struct sched_policy_in in = in_of(q, 1, t, 2, 10);
	in.max_fuel = 100;
	cr_assert_eq(sched_policy_choose(&in, w), 1);
	cr_assert_eq(w[0], SCHED_WAIT_NONE);
	cr_assert_eq(w[1], SCHED_WAIT_FUEL);
}

Test(sched_policy, fuel_counts_the_tasks_chosen_in_the_same_turn)
{
	expect_second_waits_for_fuel(60, 60);
}

Test(sched_policy, a_task_larger_than_the_budget_runs_alone)
{
	expect_second_waits_for_fuel(500, 1);
}

Test(sched_policy, unreachable_party_leases_nothing)
{
	struct sched_policy_queue q[1] = {{1, 0, 0}};
	struct sched_policy_task t[] = {T(0, 0, 1, 0, 1), T(0, 0, 2, 0, 1)};
	enum sched_wait w[2];
	struct sched_policy_in in = in_of(q, 1, t, 2, 10);
	in.parties_ok = 0;
	cr_assert_eq(sched_policy_choose(&in, w), 0);
	cr_assert_eq(w[0], SCHED_WAIT_PARTIES);
	cr_assert_eq(w[1], SCHED_WAIT_PARTIES);
	cr_assert_str_eq(sched_wait_name(SCHED_WAIT_PARTIES), "Parties");
}

Test(sched_policy, a_task_of_an_unknown_queue_is_never_leased)
{
	struct sched_policy_queue q[1] = {{1, 0, 0}};
	struct sched_policy_task t[] = {T(5, 9, 1, 0, 1), T(0, 0, 2, 0, 1)};
	enum sched_wait w[2];
	struct sched_policy_in in = in_of(q, 1, t, 2, 10);
	cr_assert_eq(sched_policy_choose(&in, w), 1);
	cr_assert_eq(w[0], SCHED_WAIT_PRIORITY);
	cr_assert_eq(w[1], SCHED_WAIT_NONE);
}
