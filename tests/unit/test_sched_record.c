/* Unit tests of the job record's copy-on-write copy, and of old job records written by store_json_canon byte for byte as before. */
#include "common/err.h"
#include "scheduler/sched_record.h"
#include "store/json_canon.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A COMPLETED job record as mpcd wrote it before sched_record (json_dumps,
 * JSON_COMPACT | JSON_SORT_KEYS): taken from a real run. */
static const char old_completed[] =
    "{\"args\":{},\"attempts\":[{\"attempt\":1,\"done\":{\"0\":"
    "\"d6468ebc3957731f7b0cf6e5ebfb11d7a97d2c1ebcc7cc6bc3443d63a22cb033\",\"1\":"
    "\"d6468ebc3957731f7b0cf6e5ebfb11d7a97d2c1ebcc7cc6bc3443d63a22cb033\",\"2\":"
    "\"d6468ebc3957731f7b0cf6e5ebfb11d7a97d2c1ebcc7cc6bc3443d63a22cb033\"},\"expiry_ms\":"
    "1795307687851,\"leased_ms\":1795307627851,\"n\":1,\"reason\":\"\",\"session\":1073741824,"
    "\"state\":\"committed\",\"t0\":\"1099511627776\",\"task\":0}],\"client\":\"admin\","
    "\"end_ms\":1795307627870,\"file\":\"/tmp/h/jr/cl/j.mpc\",\"fuel\":0,\"id\":1,"
    "\"input_revision\":4,\"name\":\"j.mpc\",\"priority\":0,\"program\":\"x = load "
    "tiny.v\\ns = sum(x)\\nreveal s to public\\n\",\"queue\":\"default\",\"reason\":\"\","
    "\"req\":\"4f1c\",\"results\":{\"s\":6},\"start_ms\":1795307627851,\"state\":"
    "\"COMPLETED\",\"submit_ms\":1795307627849,\"tasks\":[{\"attempts\":1,"
    "\"committed_attempt\":1,\"deps\":[],\"fuel\":0,\"fused\":true,\"ir_task\":1,\"kind\":"
    "\"map\",\"outputs\":{\"o2\":{\"values\":[\"6\"]}},\"rows\":3,\"segment\":0,\"stage\":0,"
    "\"state\":\"COMMITTED\",\"table\":\"tiny\",\"task\":0}]}";

/* A RUNNING one with what apply changes (a prepared attempt with sealed
 * parts, a retried task) and the odd values: reals, escapes, UTF-8, null. */
static const char old_running[] =
    "{\"args\":{\"k\":-3,\"w\":0.25},\"attempts\":[{\"attempt\":1,\"done\":{},\"expiry_ms\":"
    "10,\"leased_ms\":5,\"n\":2,\"reason\":\"lease expired\",\"session\":1073741824,\"state\":"
    "\"aborted\",\"t0\":\"1099511627776\",\"task\":0},{\"attempt\":2,\"done\":{\"0\":\"ab\","
    "\"1\":\"ab\"},\"expiry_ms\":90,\"leased_ms\":30,\"n\":2,\"outputs\":{\"o1\":{\"values\":"
    "[\"-9223372036854775808\"]}},\"reason\":\"\",\"sealed\":{\"0\":{\"o1\":\"Ym94\"}},"
    "\"session\":1073741825,\"state\":\"leased\",\"t0\":\"1099511627778\",\"task\":0}],"
    "\"client\":\"caf\xc3\xa9 \\\"q\\\" \\\\ \\t\\u001F\xf0\x9f\x98\x80\",\"end_ms\":null,"
    "\"error\":\"a/b\\r\\n\",\"file\":\"job.mpc\",\"fuel\":12,\"id\":9223372036854775807,"
    "\"input_revision\":7,\"name\":\"\",\"priority\":-5,\"program\":\"\",\"queue\":"
    "\"default\",\"reason\":\"Retry\",\"results\":{},\"start_ms\":5,\"state\":\"RUNNING\","
    "\"submit_ms\":1,\"tasks\":[{\"attempts\":2,\"deps\":[],\"fuel\":12,\"kind\":\"map\","
    "\"retry_after_ms\":510,\"rows\":2.5,\"segment\":0,\"stage\":0,\"state\":\"LEASED\","
    "\"table\":\"t\",\"task\":0},{\"attempts\":0,\"deps\":[0],\"fuel\":0,\"kind\":\"combine\","
    "\"rows\":0.5,\"stage\":0,\"state\":\"PENDING\",\"task\":1}],\"time_limit_s\":60}";

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	cr_assert_not_null(j, "fixture: %s at %d", err.text, err.position);
	return j;
}

Test(sched_record, old_format_records_load_and_are_written_unchanged)
{
	const char *const records[] = {old_completed, old_running};
	for (int i = 0; i < 2; i++) {
		json_t *j = load(records[i]);
		char *jansson = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS), *text;
		size_t len;
		/* the fixture is what the old writer wrote */
		cr_assert_str_eq(jansson, records[i]);
		cr_assert_eq(store_json_canon(j, &text, &len), 0);
		cr_assert_eq(len, strlen(records[i]));
		cr_assert_str_eq(text, records[i], "record %d written differently", i);
		free(text);
		free(jansson);
		json_decref(j);
	}
}

Test(sched_record, copy_changes_leave_the_original_alone_and_share_the_rest)
{
	json_t *orig = load(old_running), *c = sched_record_copy(orig);
	json_t *t0 = json_array_get(json_object_get(c, "tasks"), 0);
	json_t *a1 = json_array_get(json_object_get(c, "attempts"), 1);
	char *before = json_dumps(orig, JSON_COMPACT | JSON_SORT_KEYS), *after;
	cr_assert_not_null(c);
	cr_assert(json_equal(orig, c));
	/* what apply changes: every kind of place (sched_fsm.c) */
	json_object_set_new(c, "state", json_string("COMPLETING"));
	json_object_set_new(t0, "state", json_string("PREPARED"));
	json_object_del(t0, "retry_after_ms");
	json_object_set_new(json_object_get(a1, "done"), "2", json_string("ab"));
	json_object_set_new(json_object_get(a1, "sealed"), "2", json_object());
	json_object_del(a1, "outputs");
	json_array_append_new(json_object_get(c, "attempts"), json_object());
	after = json_dumps(orig, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(after, before, "the copy's changes reached the original");
	cr_assert(!json_equal(orig, c));
	/* the parts apply never changes are shared, not copied */
	cr_assert_eq(json_object_get(c, "args"), json_object_get(orig, "args"));
	cr_assert_eq(json_object_get(c, "client"), json_object_get(orig, "client"));
	cr_assert_eq(json_object_get(t0, "deps"),
		     json_object_get(json_array_get(json_object_get(orig, "tasks"), 0), "deps"));
	cr_assert_neq(json_object_get(c, "tasks"), json_object_get(orig, "tasks"));
	free(before);
	free(after);
	json_decref(c);
	json_decref(orig);
}

Test(sched_record, copy_of_a_record_without_tasks_or_attempts)
{
	json_t *orig = json_pack("{s:I, s:s}", "id", (json_int_t)3, "state", "FAILED");
	json_t *c = sched_record_copy(orig);
	cr_assert_not_null(c);
	cr_assert(json_equal(orig, c));
	cr_assert_neq(c, orig);
	json_decref(c);
	json_decref(orig);
}
