/* Unit tests of the job record's copy-on-write copy and its serialisation (byte for byte jansson's sorted compact JSON). */
#include "common/err.h"
#include "scheduler/sched_record.h"

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

static void assert_dumps_as_jansson(json_t *j)
{
	char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY), *got = NULL;
	size_t len = 0;
	cr_assert_not_null(want);
	cr_assert_eq(sched_record_dump(j, &got, &len), 0);
	cr_assert_eq(len, strlen(got));
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
}

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
		cr_assert_eq(sched_record_dump(j, &text, &len), 0);
		cr_assert_eq(len, strlen(records[i]));
		cr_assert_str_eq(text, records[i], "record %d written differently", i);
		free(text);
		free(jansson);
		json_decref(j);
	}
}

/* xorshift64*: the same trees on every run */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static size_t random_text(char *out, size_t max)
{
	static const char *const pieces[] = {"a",
					     "b",
					     "ab",
					     "\"",
					     "\\",
					     "/",
					     "\n",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "\xc3\xa9",
					     "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80",
					     "",
					     "z",
					     "\t\b\f\r",
					     " "};
	size_t n = next() % 6, len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[next() % (sizeof pieces / sizeof pieces[0])];
		if (len + strlen(p) >= max)
			break;
		memcpy(out + len, p, strlen(p));
		len += strlen(p);
	}
	if (next() % 16 == 0 && len + 1 < max)
		out[len++] = '\0'; /* embedded NUL: json_stringn */
	out[len] = '\0';
	return len;
}

static json_t *random_tree(int depth)
{
	static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1795307627851, -1000};
	static const double reals[] = {0.0, 0.5, -2.25, 1e300, 3.141592653589793, 1e-7};
	char text[64];
	size_t len;
	switch (depth <= 0 ? next() % 6 : next() % 8) {
	case 0: return json_integer(ints[next() % 8]);
	case 1: return json_real(reals[next() % 6]);
	case 2: len = random_text(text, sizeof text); return json_stringn(text, len);
	case 3: return json_true();
	case 4: return json_false();
	case 5: return json_null();
	case 6: {
		json_t *a = json_array();
		for (size_t i = next() % 5; i > 0; i--)
			json_array_append_new(a, random_tree(depth - 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		size_t n =
		    next() % 4 == 0 ? 40 + next() % 10 : next() % 8; /* > 32: the qsort path */
		for (size_t i = 0; i < n; i++) {
			len = random_text(text, sizeof text);
			json_object_setn_new(o, text, len, random_tree(depth - 1));
		}
		return o;
	}
	}
}

Test(sched_record, dump_equals_json_dumps_on_random_trees)
{
	for (int i = 0; i < 3000; i++) {
		json_t *j = random_tree(4);
		assert_dumps_as_jansson(j);
		json_decref(j);
	}
}

Test(sched_record, dump_refuses_a_string_that_is_not_utf8_as_json_dumps_does)
{
	json_t *o = json_pack("{s:o}", "k", json_stringn_nocheck("a\xff", 2));
	char *text = (char *)"untouched";
	size_t len = 7;
	cr_assert_null(json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS));
	cr_assert_eq(sched_record_dump(o, &text, &len), MPC_EINVAL);
	cr_assert_str_eq(text, "untouched");
	cr_assert_eq(len, 7);
	json_decref(o);
	o = json_stringn_nocheck("\xed\xa0\x80", 3); /* a surrogate */
	cr_assert_null(json_dumps(o, JSON_ENCODE_ANY));
	cr_assert_eq(sched_record_dump(o, &text, &len), MPC_EINVAL);
	json_decref(o);
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
