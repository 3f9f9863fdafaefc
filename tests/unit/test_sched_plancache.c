/* Unit tests of the program cache: hits, misses on new table revisions and args, no errors. */
#include "common/err.h"
#include "scheduler/lang.h"
#include "scheduler/sched_plan.h"
#include "scheduler/sched_plancache.h"
#include "store/db.h"
#include "tests/unit/sched_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store_db *db;
static struct sched_plan_cache *cache;

static void put(const char *key, const char *json)
{
	sched_fixture_put(db, key, json);
}

/* Table t (a int64) with segments of 300 and 200 rows, committed at 2 and 3. */
static void setup(void)
{
	db = sched_fixture_open(dir, "test_sched_plancache");
	put("tbl/t",
	    "{\"name\":\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\",\"frac\":0}],"
	    "\"rows\":500,\"version\":2,\"segments\":2,\"created_revision\":2,\"revision\":3}");
	put("seg/t/00000000", "{\"id\":0,\"txn\":\"x1\",\"rows\":300,\"revision\":2}");
	put("seg/t/00000001", "{\"id\":1,\"txn\":\"x2\",\"rows\":200,\"revision\":3}");
	cache = sched_plan_cache_new(4);
	cr_assert_not_null(cache);
}

static void teardown(void)
{
	sched_plan_cache_free(cache);
	sched_fixture_close(db, dir);
}

TestSuite(sched_plan_cache, .init = setup, .fini = teardown);

#define SUM "x = load t.a\ns = sum(x)\nreveal s to public\n"

/* The tasks of a get from the cache (new reference). */
static json_t *tasks_of(uint64_t revision, const char *program, json_t *args)
{
	char err[1024] = "";
	struct sched_plan_hold *h;
	json_t *tasks;
	cr_assert_eq(
	    sched_plan_cache_get(cache, db, revision, "p.mpc", program, args, &h, err, sizeof err),
	    0, "%s", err);
	tasks = sched_plan_tasks_json(sched_plan_hold_plan(h));
	sched_plan_cache_release(cache, h);
	return tasks;
}

/* The same without the cache: compile and plan. */
static json_t *tasks_uncached(uint64_t revision, const char *program, json_t *args)
{
	char err[1024] = "";
	struct sched_plan_hold *h;
	json_t *tasks;
	cr_assert_eq(
	    sched_plan_cache_get(NULL, db, revision, "p.mpc", program, args, &h, err, sizeof err),
	    0, "%s", err);
	tasks = sched_plan_tasks_json(sched_plan_hold_plan(h));
	sched_plan_cache_release(NULL, h);
	return tasks;
}

static void expect_stats(uint64_t hits, uint64_t misses)
{
	uint64_t h, m;
	sched_plan_cache_stats(cache, &h, &m);
	cr_assert_eq(h, hits, "hits %llu, expected %llu", (unsigned long long)h,
		     (unsigned long long)hits);
	cr_assert_eq(m, misses, "misses %llu, expected %llu", (unsigned long long)m,
		     (unsigned long long)misses);
}

Test(sched_plan_cache, a_resubmitted_program_hits_and_plans_the_same)
{
	json_t *args = json_object(), *a = tasks_of(0, SUM, args), *b, *want;
	expect_stats(0, 1);
	cr_assert_eq(json_array_size(a), 3); /* 2 MAP (one per segment), 1 COMBINE */
	b = tasks_of(0, SUM, args);
	expect_stats(1, 1);
	/* the runner reads at the job's input revision: the table is unchanged since 3 */
	json_decref(tasks_of(10, SUM, args));
	expect_stats(2, 1);
	want = tasks_uncached(10, SUM, args);
	cr_assert(json_equal(a, want));
	cr_assert(json_equal(b, want));
	/* the records are the caller's: changing one leaves the cached plan alone */
	json_object_set_new(json_array_get(b, 0), "state", json_string("LEASED"));
	json_array_append_new(json_object_get(json_array_get(b, 2), "deps"), json_integer(7));
	json_decref(b);
	b = tasks_of(0, SUM, args);
	cr_assert(json_equal(b, want));
	json_decref(a);
	json_decref(b);
	json_decref(want);
	json_decref(args);
}

Test(sched_plan_cache, a_new_table_revision_is_a_miss)
{
	json_t *args = json_object(), *before = tasks_of(0, SUM, args), *after, *at5;
	/* an append commits a third segment at revision 12 */
	put("tbl/t",
	    "{\"name\":\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\",\"frac\":0}],"
	    "\"rows\":600,\"version\":3,\"segments\":3,\"created_revision\":2,\"revision\":12}");
	put("seg/t/00000002", "{\"id\":2,\"txn\":\"x3\",\"rows\":100,\"revision\":12}");
	after = tasks_of(0, SUM, args);
	expect_stats(0, 2);
	cr_assert_eq(json_array_size(after), 4, "3 segments: 3 MAP + COMBINE");
	json_t *want = tasks_uncached(0, SUM, args);
	cr_assert(json_equal(after, want));
	json_decref(want);
	/* a job submitted at 5 still reads 2 segments: the table changed after
	 * 5, so the entry (stamped 12) does not serve it, nor is one made */
	at5 = tasks_of(5, SUM, args);
	cr_assert(json_equal(at5, before));
	expect_stats(0, 3);
	json_decref(tasks_of(5, SUM, args));
	expect_stats(0, 4);
	/* and the latest one is still there */
	json_decref(tasks_of(0, SUM, args));
	expect_stats(1, 4);
	json_decref(before);
	json_decref(after);
	json_decref(at5);
	json_decref(args);
}

Test(sched_plan_cache, other_args_get_their_own_plan)
{
	const char *prog = "x = load t.a\ns = sum(x) * arg(\"k\")\nreveal s to public\n";
	json_t *a1 = json_pack("{s:s}", "k", "3"), *a2 = json_pack("{s:s}", "k", "5");
	char err[1024] = "";
	struct sched_plan_hold *h1, *h2, *h3;
	cr_assert_eq(sched_plan_cache_get(cache, db, 0, "p.mpc", prog, a1, &h1, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(sched_plan_cache_get(cache, db, 0, "p.mpc", prog, a2, &h2, err, sizeof err), 0,
		     "%s", err);
	expect_stats(0, 2);
	cr_assert_neq(h1, h2);
	/* the argument is a public step of the reveal: the same opened sum
	 * gives each plan its own result */
	json_t *o1 = sched_plan_task_ops(sched_plan_hold_plan(h1), 2);
	json_t *r1 = NULL, *r2 = NULL;
	json_t *outs = json_array(), *sealed = json_array();
	/* the results decode the opened sum with the argument's factor */
	for (int k = 0; k < 3; k++) {
		json_array_append_new(sealed, json_null());
		json_array_append_new(outs, k < 2 ? json_null() : json_object());
	}
	{ /* the value the last task opens, whatever its name */
		json_t *op;
		size_t i;
		json_array_foreach(o1, i, op)
		{
			if (strcmp(json_string_value(json_array_get(op, 0)), "open") == 0)
				json_object_set_new(json_array_get(outs, 2),
						    json_string_value(json_array_get(op, 1)),
						    json_pack("{s:[s]}", "values", "7"));
		}
	}
	int rv1 = sched_plan_results(sched_plan_hold_plan(h1), outs, sealed, &r1, err, sizeof err);
	int rv2 = sched_plan_results(sched_plan_hold_plan(h2), outs, sealed, &r2, err, sizeof err);
	cr_assert_eq(rv1, 0, "%s", err);
	cr_assert_eq(rv2, 0, "%s", err);
	/* s = 7 * k */
	cr_assert_eq(json_integer_value(json_object_get(r1, "s")), 21);
	cr_assert_eq(json_integer_value(json_object_get(r2, "s")), 35);
	json_decref(r1);
	json_decref(r2);
	json_decref(outs);
	json_decref(sealed);
	cr_assert_eq(sched_plan_cache_get(cache, db, 0, "p.mpc", prog, a1, &h3, err, sizeof err), 0,
		     "%s", err);
	expect_stats(1, 2);
	cr_assert_eq(h3, h1);
	/* an entry evicted while held stays valid for its holder */
	for (int k = 0; k < 6; k++) {
		char v[8];
		json_t *a = json_object();
		snprintf(v, sizeof v, "%d", 10 + k);
		json_object_set_new(a, "k", json_string(v));
		json_decref(tasks_of(0, prog, a));
		json_decref(a);
	}
	cr_assert_eq(sched_plan_n_tasks(sched_plan_hold_plan(h1)), 3);
	sched_plan_cache_release(cache, h1);
	sched_plan_cache_release(cache, h2);
	sched_plan_cache_release(cache, h3);
	json_decref(a1);
	json_decref(a2);
}

Test(sched_plan_cache, compile_errors_are_not_cached)
{
	char err[1024] = "";
	struct sched_plan_hold *h = NULL;
	json_t *args = json_object();
	for (int k = 0; k < 2; k++) {
		err[0] = '\0';
		cr_assert_neq(sched_plan_cache_get(cache, db, 0, "bad.mpc", "x = load nope.a\n",
						   args, &h, err, sizeof err),
			      0);
		cr_assert(strncmp(err, "bad.mpc:1:", 10) == 0, "error: %s", err);
	}
	expect_stats(0, 2);
	/* the table appears: the program compiles now */
	put("tbl/nope", "{\"name\":\"nope\",\"columns\":[{\"name\":\"a\",\"type\":\"int64\","
			"\"frac\":0}],\"rows\":1,\"version\":1,\"segments\":1,"
			"\"created_revision\":20,\"revision\":20}");
	put("seg/nope/00000000", "{\"id\":0,\"txn\":\"x9\",\"rows\":1,\"revision\":20}");
	cr_assert_eq(sched_plan_cache_get(cache, db, 0, "bad.mpc",
					  "x = load nope.a\ns = sum(x)\nreveal s to public\n", args,
					  &h, err, sizeof err),
		     0, "%s", err);
	sched_plan_cache_release(cache, h);
	json_decref(args);
}
