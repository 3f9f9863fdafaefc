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
/* The same with a time limit in seconds (0: none): the job ends TIMEOUT when it
 * runs longer (Slurm's --time). */
int mpc_job_submit_limit(struct mpc_client *cl, const char *file_name, const char *program,
			 const char *name, const char *queue, int priority, unsigned time_limit_s,
			 json_t *args, json_t **job, char *errmsg);
/* Jobs as an array (new reference), filtered by comma-separated states and client (NULL: all). */
int mpc_job_list(struct mpc_client *cl, const char *states, const char *client, json_t **jobs,
		 char *errmsg);
/* One job with its attempts (new reference). MPC_ENOENT if unknown. */
int mpc_job_get(struct mpc_client *cl, uint64_t id, json_t **job, char *errmsg);
/* Waits until the job is final or timeout_ms passes (0: forever; MPC_ETIMEDOUT),
 * with long polls of at most MPC_JOB_WAIT_POLL_MS (GET /v1/jobs/ID?wait_ms=N).
 * Parties that cannot be reached are waited for, but when none has answered for
 * MPC_JOB_WAIT_UNREACHABLE_MS it gives up with MPC_EUNAVAIL.
 * progress (may be NULL) is called with every job record seen; it is then
 * one long poll per state change (since=STATE), without it one per job
 * (until=final). */
#define MPC_JOB_WAIT_UNREACHABLE_MS 120000u
#define MPC_JOB_WAIT_POLL_MS 10000u
int mpc_job_wait(struct mpc_client *cl, uint64_t id, unsigned timeout_ms,
		 void (*progress)(void *ctx, json_t *job), void *ctx, json_t **job, char *errmsg);
/* Cancels a job; MPC_ESTATE if it is already final. */
int mpc_job_cancel(struct mpc_client *cl, uint64_t id, char *errmsg);
/* The results {name: number or array} of a COMPLETED job (new reference):
 * the public values and the values revealed to this client, joined
 * (mpc_job_results_open); MPC_ESTATE with the state in errmsg otherwise,
 * MPC_EPERM when all values are revealed to other clients. */
int mpc_job_result(struct mpc_client *cl, uint64_t id, json_t **results, char *errmsg);
/* Replaces in results every value revealed to a client ({"to", "post",
 * "int", "vector", "values": [...]}, docs/scheduler.md) by the number or
 * array it encodes: opens each party's sealed shares with the client's box
 * key pair, adds the n_parties shares mod 2^64, decodes the fixed point and
 * applies the public steps and the post op (sqrt, corr). MPC_ECRYPTO if a
 * box does not open, MPC_EPROTO if a part is malformed or a party's part
 * is missing; errmsg names the value. */
int mpc_job_results_open(json_t *results, const uint8_t *box_pk, const uint8_t *box_sk,
			 int n_parties, char *errmsg);

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
