/* The job record on the apply path: its copy-on-write copy (its text: store_json_canon). */
#ifndef MPC_SCHEDULER_SCHED_RECORD_H
#define MPC_SCHEDULER_SCHED_RECORD_H

#include <jansson.h>
#include <stddef.h>

/*
 * Every scheduler entry that touches a job used to deep-copy its record
 * (json_deep_copy: every string and number allocated again) and write it with
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS); both were ~10% of an mpcd's CPU
 * per trivial job (docs/scheduler.md, *The job record on the apply path*).
 * The bytes written stay exactly those of json_dumps (every party writes the
 * same, old records load unchanged: DESIGN.md §2).
 */

/*
 * A copy of the job record `job` that apply may change (new reference, or
 * NULL when out of memory): new containers for the parts apply changes — the
 * record itself, its "tasks" array and each task, its "attempts" array and
 * each attempt with its "done" and "sealed" objects — and references to
 * everything else (program, args, deps, outputs, results, strings, numbers),
 * which are shared with `job` and must never be changed in place. `job` is
 * not changed.
 */
json_t *sched_record_copy(json_t *job);

#endif
