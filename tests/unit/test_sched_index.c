/* Unit tests of the in-memory index of active jobs: put/replace/remove on a final state, id order, rebuild from RocksDB. */
#include "common/err.h"
#include "scheduler/sched_fsm.h"
#include "scheduler/sched_index.h"
#include "store/db.h"
#include "tests/unit/sched_fixture.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store_db *db;
static struct sched_index *ix;

static void setup(void)
{
	db = sched_fixture_open(dir, "test_sched_index");
	cr_assert_eq(sched_index_new(&ix), 0);
}

static void teardown(void)
{
	sched_index_free(ix);
	sched_fixture_close(db, dir);
}

TestSuite(sched_index, .init = setup, .fini = teardown);

static json_t *job(uint64_t id, const char *state)
{
	return json_pack("{s:I, s:s, s:[]}", "id", (json_int_t)id, "state", state, "tasks");
}

static void put_db(const char *key, const char *val)
{
	sched_fixture_put(db, key, val);
}

static const char *state_of(json_t *j)
{
	return json_string_value(json_object_get(j, "state"));
}

Test(sched_index, keeps_active_jobs_in_id_order_and_drops_final_ones)
{
	json_t **jobs, *j;
	size_t n;
	uint64_t order[] = {7, 2, 9, 4};
	for (int i = 0; i < 4; i++) {
		j = job(order[i], "PENDING");
		cr_assert_eq(sched_index_put(ix, j), 0);
		json_decref(j);
	}
	cr_assert_eq(sched_index_size(ix), 4);
	/* a new record replaces the old one */
	j = job(9, "RUNNING");
	cr_assert_eq(sched_index_put(ix, j), 0);
	json_decref(j);
	j = sched_index_get(ix, 9);
	cr_assert_str_eq(state_of(j), "RUNNING");
	json_decref(j);
	/* final states leave the index */
	j = job(2, "COMPLETED");
	cr_assert_eq(sched_index_put(ix, j), 0);
	json_decref(j);
	j = job(7, "CANCELLED");
	cr_assert_eq(sched_index_put(ix, j), 0);
	json_decref(j);
	cr_assert_null(sched_index_get(ix, 2));
	cr_assert_null(sched_index_get(ix, 7));
	cr_assert_null(sched_index_get(ix, 5), "never put");
	cr_assert_eq(sched_index_active(ix, &jobs, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(json_integer_value(json_object_get(jobs[0], "id")), 4);
	cr_assert_eq(json_integer_value(json_object_get(jobs[1], "id")), 9);
	/* the snapshot outlives a later change of the index */
	j = job(4, "FAILED");
	cr_assert_eq(sched_index_put(ix, j), 0);
	json_decref(j);
	cr_assert_str_eq(state_of(jobs[0]), "PENDING");
	sched_index_release(jobs, n);
	cr_assert_eq(sched_index_size(ix), 1);
}

Test(sched_index, many_jobs_grow_and_shrink_the_array)
{
	json_t *j;
	for (uint64_t id = 1000; id >= 1; id--) {
		j = job(id, "PENDING");
		cr_assert_eq(sched_index_put(ix, j), 0);
		json_decref(j);
	}
	cr_assert_eq(sched_index_size(ix), 1000);
	for (uint64_t id = 1; id <= 1000; id += 2) {
		j = job(id, "TIMEOUT");
		cr_assert_eq(sched_index_put(ix, j), 0);
		json_decref(j);
	}
	cr_assert_eq(sched_index_size(ix), 500);
	for (uint64_t id = 1; id <= 1000; id++) {
		j = sched_index_get(ix, id);
		cr_assert_eq(j != NULL, id % 2 == 0, "job %" PRIu64, id);
		json_decref(j);
	}
}

Test(sched_index, rebuild_reads_the_active_jobs_of_the_db)
{
	json_t **jobs, *j;
	size_t n;
	/* a stale in-memory record is replaced by what the db says */
	j = job(1, "RUNNING");
	cr_assert_eq(sched_index_put(ix, j), 0);
	json_decref(j);
	put_db("job/000000000001", "{\"id\":1,\"state\":\"COMPLETED\",\"tasks\":[]}");
	put_db("job/000000000002", "{\"id\":2,\"state\":\"RUNNING\",\"tasks\":[{\"task\":0}]}");
	put_db("jobact/000000000002", "1");
	put_db("job/000000000003", "{\"id\":3,\"state\":\"PENDING\",\"tasks\":[]}");
	put_db("jobact/000000000003", "1");
	put_db("jobact/000000000004", "1"); /* without its record: skipped */
	cr_assert_eq(sched_index_rebuild(ix, db), 0);
	cr_assert_eq(sched_index_active(ix, &jobs, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(json_integer_value(json_object_get(jobs[0], "id")), 2);
	cr_assert_str_eq(state_of(jobs[0]), "RUNNING");
	cr_assert_eq(json_array_size(json_object_get(jobs[0], "tasks")), 1);
	cr_assert_eq(json_integer_value(json_object_get(jobs[1], "id")), 3);
	sched_index_release(jobs, n);
	cr_assert_null(sched_index_get(ix, 1));
}
