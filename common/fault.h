/* Crash points for fault-injection tests: MPC_FAULT="point:N" kills the process (SIGKILL) at the N-th hit. */
#ifndef MPC_COMMON_FAULT_H
#define MPC_COMMON_FAULT_H

/* Counts a hit of point; at the N-th hit of the point named in $MPC_FAULT
 * the process kills itself with SIGKILL, as kill -9 would. Costs one
 * getenv-cached compare when unset. Points: "prepare" (staging durable, vote
 * not yet proposed), "commit" (commit batch built, not yet written), "store_commit" (the task_commit
 * completing a job with stores decided, its batch not built), "store_staged"
 * (a task's stored pieces durable in staging, task_done not proposed),
 * "chunk_file" (a large chunk staged as a file, not yet synced nor answered). */
void mpc_fault_point(const char *point);

#endif
