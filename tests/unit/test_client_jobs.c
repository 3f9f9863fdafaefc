/* Unit test of the job report and results CSV that mpcstat -l / mpcresult and mpcfs's
 * jobs/ID/status / jobs/ID/result.csv share (client/jobs.c); the REST calls are mocked here. */
#include "client/mpcjobs.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <sodium.h>
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

/* ---- values revealed to a client: mpc_job_results_open joins the sealed shares ---- */

static uint8_t box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];

/* {"n": n, "sealed": {"0".."2": b64}}: random 3-party shares of v sealed to pk. */
static json_t *sealed_part(const int64_t *v, size_t n, const uint8_t *pk, int parties)
{
	json_t *sealed = json_object();
	uint64_t sh[3][8];
	cr_assert(n <= 8);
	randombytes_buf(sh, sizeof sh);
	for (size_t i = 0; i < n; i++)
		sh[2][i] = (uint64_t)v[i] - sh[0][i] - sh[1][i];
	for (int p = 0; p < parties; p++) {
		uint8_t box[8 * 8 + crypto_box_SEALBYTES];
		char b64[256], key[4];
		cr_assert_eq(crypto_box_seal(box, (uint8_t *)sh[p], n * 8, pk), 0);
		sodium_bin2base64(b64, sizeof b64, box, n * 8 + crypto_box_SEALBYTES,
				  sodium_base64_VARIANT_ORIGINAL);
		snprintf(key, sizeof key, "%d", p);
		json_object_set_new(sealed, key, json_string(b64));
	}
	return json_pack("{s:I, s:o}", "n", (json_int_t)n, "sealed", sealed);
}

static json_t *sealed_value(unsigned frac, json_t *steps, json_t *parts)
{
	return json_pack("{s:i, s:o, s:o}", "frac", (int)frac, "steps",
			 steps ? steps : json_array(), "parts", parts);
}

static json_t *private_result(const char *post, int is_int, int vector, json_t *values)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:o}", "to", "alice", "post", post, "int", is_int,
			 "vector", vector, "values", values);
}

static void keys(void)
{
	cr_assert(sodium_init() >= 0);
	crypto_box_keypair(box_pk, box_sk);
}

Test(client_jobs, results_open_joins_and_decodes, .init = keys)
{
	int64_t big = -1234567890123LL, fx = (int64_t)(-7.25 * 65536), vec1[2] = {5, -6},
		vec2[1] = {7}, cv = 3 << 16, vx = 4 << 16, vy = 9 << 16, sq = 16 << 16;
	json_t *res = json_object(), *parts = json_array();
	char err[MPC_ERRMSG_SIZE] = "";
	json_array_append_new(parts, sealed_part(vec1, 2, box_pk, 3));
	json_array_append_new(parts, sealed_part(vec2, 1, box_pk, 3));
	/* an exact integer; a fixed-point value divided by a public 2 (a peeled step) */
	json_object_set_new(
	    res, "s",
	    private_result(
		"value", 1, 0,
		json_pack("[o]", sealed_value(0, NULL,
					      json_pack("[o]", sealed_part(&big, 1, box_pk, 3))))));
	json_object_set_new(
	    res, "m",
	    private_result(
		"value", 0, 0,
		json_pack("[o]", sealed_value(16, json_pack("[[s, f]]", "div", 2.0),
					      json_pack("[o]", sealed_part(&fx, 1, box_pk, 3))))));
	/* a vector revealed by two segments' tasks, in task order */
	json_object_set_new(
	    res, "v",
	    private_result("value", 1, 1, json_pack("[o]", sealed_value(0, NULL, parts))));
	json_object_set_new(
	    res, "sd",
	    private_result(
		"sqrt", 0, 0,
		json_pack("[o]", sealed_value(16, NULL,
					      json_pack("[o]", sealed_part(&sq, 1, box_pk, 3))))));
	json_object_set_new(
	    res, "k",
	    private_result(
		"corr", 0, 0,
		json_pack(
		    "[o, o, o]",
		    sealed_value(16, NULL, json_pack("[o]", sealed_part(&cv, 1, box_pk, 3))),
		    sealed_value(16, NULL, json_pack("[o]", sealed_part(&vx, 1, box_pk, 3))),
		    sealed_value(16, NULL, json_pack("[o]", sealed_part(&vy, 1, box_pk, 3))))));
	json_object_set_new(res, "n", json_integer(3000)); /* public: untouched */

	cr_assert_eq(mpc_job_results_open(res, box_pk, box_sk, 3, err), 0, "%s", err);
	cr_assert(json_is_integer(json_object_get(res, "s")));
	cr_assert_eq(json_integer_value(json_object_get(res, "s")), big);
	cr_assert_float_eq(json_real_value(json_object_get(res, "m")), -3.625, 1e-12);
	cr_assert_eq(json_array_size(json_object_get(res, "v")), 3);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "v"), 0)), 5);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "v"), 1)), -6);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "v"), 2)), 7);
	cr_assert_float_eq(json_real_value(json_object_get(res, "sd")), 4.0, 1e-12);
	cr_assert_float_eq(json_real_value(json_object_get(res, "k")), 0.5, 1e-12);
	cr_assert_eq(json_integer_value(json_object_get(res, "n")), 3000);
	json_decref(res);
}

Test(client_jobs, results_open_refuses_wrong_key_and_missing_party, .init = keys)
{
	uint8_t other_pk[crypto_box_PUBLICKEYBYTES], other_sk[crypto_box_SECRETKEYBYTES];
	int64_t v = 42;
	char err[MPC_ERRMSG_SIZE] = "";
	json_t *res;
	crypto_box_keypair(other_pk, other_sk);
	/* sealed to another client: the boxes do not open */
	res = json_pack(
	    "{s:o}", "s",
	    private_result(
		"value", 1, 0,
		json_pack("[o]", sealed_value(0, NULL,
					      json_pack("[o]", sealed_part(&v, 1, other_pk, 3))))));
	cr_assert_eq(mpc_job_results_open(res, box_pk, box_sk, 3, err), MPC_ECRYPTO);
	cr_assert(strstr(err, "result s") != NULL, "%s", err);
	cr_assert(json_is_object(json_object_get(res, "s"))); /* left as it was */
	json_decref(res);
	/* a party's part missing: refused, not a wrong sum */
	res = json_pack(
	    "{s:o}", "s",
	    private_result(
		"value", 1, 0,
		json_pack("[o]",
			  sealed_value(0, NULL, json_pack("[o]", sealed_part(&v, 1, box_pk, 2))))));
	cr_assert_eq(mpc_job_results_open(res, box_pk, box_sk, 3, err), MPC_EPROTO);
	cr_assert(strstr(err, "missing") != NULL, "%s", err);
	json_decref(res);
}
