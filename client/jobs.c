/* Client side of the job API: one REST call per operation, to the first party that answers. */
#include "client/mpcjobs.h"

#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int mpc_job_state_final(const char *state)
{
	return state != NULL && (strcmp(state, "COMPLETED") == 0 || strcmp(state, "FAILED") == 0 ||
				 strcmp(state, "CANCELLED") == 0 || strcmp(state, "TIMEOUT") == 0);
}

int mpc_job_submit(struct mpc_client *cl, const char *file_name, const char *program,
		   const char *name, const char *queue, int priority, json_t *args, json_t **job,
		   char *errmsg)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:i}",
				 "file", file_name ? file_name : "job.mpc", "program", program,
				 "name", name ? name : "job", "queue", queue ? queue : "default",
				 "priority", priority);
	char *text;
	int rv;
	if (body == NULL)
		return MPC_EINVAL;
	json_object_set_new(body, "args", args ? json_incref(args) : json_object());
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MPC_ENOMEM;
	rv = mpc_client_call_any(cl, "POST", "/v1/jobs", text, strlen(text), job, errmsg);
	free(text);
	return rv;
}

int mpc_job_list(struct mpc_client *cl, const char *states, const char *client, json_t **jobs,
		 char *errmsg)
{
	char path[512];
	json_t *resp = NULL;
	int rv;
	snprintf(path, sizeof path, "/v1/jobs?state=%s&client=%s", states ? states : "",
		 client ? client : "");
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == 0) {
		*jobs = json_incref(json_object_get(resp, "jobs"));
		json_decref(resp);
		if (*jobs == NULL)
			*jobs = json_array();
	}
	return rv;
}

int mpc_job_get(struct mpc_client *cl, uint64_t id, json_t **job, char *errmsg)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64, id);
	return mpc_client_call_any(cl, "GET", path, NULL, 0, job, errmsg);
}

static uint64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

int mpc_job_wait(struct mpc_client *cl, uint64_t id, unsigned timeout_ms,
		 void (*progress)(void *ctx, json_t *job), void *ctx, json_t **job, char *errmsg)
{
	uint64_t start = now_ms(), answered = start;
	unsigned pause = 20;
	for (;;) {
		json_t *j = NULL;
		int rv = mpc_job_get(cl, id, &j, errmsg);
		if (rv == MPC_EUNAVAIL && now_ms() - answered > MPC_JOB_WAIT_UNREACHABLE_MS) {
			mpc_errmsg_wrapf(errmsg, "job %" PRIu64 ": no party answered for %u s",
					 id, MPC_JOB_WAIT_UNREACHABLE_MS / 1000);
			return rv;
		}
		if (rv == 0) {
			answered = now_ms();
			if (progress != NULL)
				progress(ctx, j);
			if (mpc_job_state_final(json_string_value(json_object_get(j, "state")))) {
				*job = j;
				return 0;
			}
			json_decref(j);
		} else if (rv != MPC_EUNAVAIL)
			return rv;
		if (timeout_ms && now_ms() - start > timeout_ms) {
			mpc_errmsg_printf(errmsg, "job %" PRIu64 " not finished within %u ms", id,
					  timeout_ms);
			return MPC_ETIMEDOUT;
		}
		usleep(pause * 1000);
		if (pause < 200)
			pause *= 2;
	}
}

int mpc_job_cancel(struct mpc_client *cl, uint64_t id, char *errmsg)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64 "/cancel", id);
	return mpc_client_call_any(cl, "POST", path, "{}", 2, NULL, errmsg);
}

int mpc_job_result(struct mpc_client *cl, uint64_t id, json_t **results, char *errmsg)
{
	char path[64];
	json_t *resp = NULL;
	int rv;
	snprintf(path, sizeof path, "/v1/jobs/%" PRIu64 "/result", id);
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &resp, errmsg);
	if (rv == 0) {
		*results = json_incref(json_object_get(resp, "results"));
		json_decref(resp);
		if (*results == NULL)
			*results = json_object();
	}
	return rv;
}
