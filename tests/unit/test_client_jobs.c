/* Unit test of the job report and results CSV that mpcstat -l / mpcresult and mpcfs's
 * jobs/ID/status / jobs/ID/result.csv share (client/jobs.c); the REST calls are mocked here. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* client/jobs.c's REST dependencies: the submit test answers a program error as a party would. */
int mpc_client_call_any(struct mpc_client *cl, const char *method, const char *path,
			const void *body, size_t len, json_t **resp, char *errmsg)
{
	(void)cl, (void)method, (void)path, (void)body, (void)len, (void)resp;
	mpc_errmsg_printf(errmsg, "party 1 (127.0.0.1:7111): q.mpc:2:5: unknown name 'nosuch'");
	return MPC_EINVAL;
}

const char *mpc_client_name(const struct mpc_client *cl)
{
	(void)cl;
	return "alice";
}

Test(client_jobs, report_has_every_field_and_attempt)
{
	json_t *job = json_loads(
	    "{\"id\": 7, \"name\": \"q.mpc\", \"client\": \"alice\", \"queue\": \"default\","
	    " \"priority\": 2, \"state\": \"COMPLETED\", \"reason\": \"\", \"start_ms\": 1000,"
	    " \"end_ms\": 3723000, \"input_revision\": 41, \"fuel\": 12, \"file\": \"q.mpc\","
	    " \"attempts\": [{\"attempt\": 1, \"state\": \"FAILED\", \"t0\": \"100\", \"n\": 5,"
	    " \"done\": {}, \"reason\": \"party 2 lease expired\"},"
	    " {\"attempt\": 2, \"state\": \"DONE\", \"t0\": \"105\", \"n\": 5,"
	    " \"done\": {\"0\": true, \"1\": true}}]}",
	    0, NULL);
	char *text = mpc_job_report(job);
	cr_assert_not_null(text);
	cr_assert_str_eq(text,
			 "JobId=7 JobName=q.mpc Client=alice Queue=default Priority=2\n"
			 "   JobState=COMPLETED Reason=None RunTime=1:02:02 InputRevision=41 Fuel=12\n"
			 "   File=q.mpc\n"
			 "   Task=0 Attempt=1 State=FAILED Triples=[100,+5) Done=- Reason=\"party 2 "
			 "lease expired\"\n"
			 "   Task=0 Attempt=2 State=DONE Triples=[105,+5) Done=0,1\n"
			 "\n");
	free(text);
	json_decref(job);
}

Test(client_jobs, results_csv_one_row_per_value)
{
	json_t *res = json_loads("{\"n\": 800, \"m\": -1.25, \"v\": [1, 2.5, -3], \"x\": null}",
				 JSON_DECODE_ANY, NULL);
	char *text = mpc_job_results_csv(res);
	cr_assert_not_null(text);
	/* jansson keeps object keys in insertion order */
	cr_assert_str_eq(text, "name,value\nn,800\nm,-1.25\nv,1\nv,2.5\nv,-3\nx,NA\n");
	free(text);
	json_decref(res);
	res = json_object();
	text = mpc_job_results_csv(res);
	json_decref(res);
	cr_assert_str_eq(text, "name,value\n");
	free(text);
}

Test(client_jobs, submit_error_is_the_program_error_alone)
{
	char errmsg[MPC_ERRMSG_SIZE];
	json_t *job = NULL;
	cr_assert_eq(mpc_job_submit(NULL, "q.mpc", "x", NULL, NULL, 0, NULL, &job, errmsg), MPC_EINVAL);
	cr_assert_str_eq(errmsg, "q.mpc:2:5: unknown name 'nosuch'");
	cr_assert_null(job);
}
