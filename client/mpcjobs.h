/* libmpcclient's job API: submit, list, show, wait, cancel and fetch the results of jobs (REST /v1/jobs). */
#ifndef MPCJOBS_H
#define MPCJOBS_H

#include "client/mpcclient.h"

#include <jansson.h>
#include <stdint.h>

/* Final job states (Slurm's names): COMPLETED, FAILED, CANCELLED, TIMEOUT. */
int mpc_job_state_final(const char *state);

/*
 * Submits program (text, NUL-terminated) as client cl. file_name prefixes
 * error positions (FILE:LINE:COL); name, queue may be NULL; args is a JSON
 * object of strings (borrowed, may be NULL). On 0 *job is the new job record
 * (new reference; "id", "state", ...). A program error gives MPC_EINVAL and
 * the FILE:LINE:COL message in errmsg (without the answering party's name);
 * nothing is queued then.
 */
int mpc_job_submit(struct mpc_client *cl, const char *file_name, const char *program,
		   const char *name, const char *queue, int priority, json_t *args, json_t **job,
		   char *errmsg);
/* Jobs as an array (new reference), filtered by comma-separated states and client (NULL: all). */
int mpc_job_list(struct mpc_client *cl, const char *states, const char *client, json_t **jobs,
		 char *errmsg);
/* One job with its attempts (new reference). MPC_ENOENT if unknown. */
int mpc_job_get(struct mpc_client *cl, uint64_t id, json_t **job, char *errmsg);
/* Waits until the job is final or timeout_ms passes (0: forever; MPC_ETIMEDOUT),
 * with long polls of at most MPC_JOB_WAIT_POLL_MS (GET /v1/jobs/ID?wait_ms=N).
 * Parties that cannot be reached are waited for, but when none has answered for
 * MPC_JOB_WAIT_UNREACHABLE_MS it gives up with MPC_EUNAVAIL.
 * progress (may be NULL) is called with every job record seen. */
#define MPC_JOB_WAIT_UNREACHABLE_MS 120000u
#define MPC_JOB_WAIT_POLL_MS 10000u
int mpc_job_wait(struct mpc_client *cl, uint64_t id, unsigned timeout_ms,
		 void (*progress)(void *ctx, json_t *job), void *ctx, json_t **job, char *errmsg);
/* Cancels a job; MPC_ESTATE if it is already final. */
int mpc_job_cancel(struct mpc_client *cl, uint64_t id, char *errmsg);
/* The public results {name: number or array} of a COMPLETED job (new
 * reference); MPC_ESTATE with the state in errmsg otherwise. */
int mpc_job_result(struct mpc_client *cl, uint64_t id, json_t **results, char *errmsg);

/* The long report of a job (mpcstat -l, mpcfs jobs/ID/status): key=value
 * lines with its attempts, ending in an empty line. malloc'd; NULL on ENOMEM. */
char *mpc_job_report(json_t *job);
/* The squeue-style TIME of a job (run time so far, or until its end). */
void mpc_job_runtime(json_t *job, char *out, size_t size);
/* Results {name: number or array} as CSV (mpcresult --format csv, mpcfs
 * jobs/ID/result.csv): a header "name,value", then one row per value (a
 * vector as one row per element). malloc'd; NULL on ENOMEM. */
char *mpc_job_results_csv(json_t *results);

#endif
