/* Shared set-up of the scheduler unit tests: a temp RocksDB with catalog records, submits. */
#ifndef MPC_TESTS_SCHED_FIXTURE_H
#define MPC_TESTS_SCHED_FIXTURE_H

#include "common/err.h"
#include "common/reqsig.h"
#include "store/db.h"
#include "store/signed_req.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The cluster id of the tests' db and cluster config. */
#define SCHED_FIXTURE_CLUSTER_ID "00112233445566778899aabbccddeeff"

/* Makes dir (64 bytes: /tmp/NAME.XXXXXX) and opens a db there as a fresh party's. */
static inline struct store_db *sched_fixture_open(char dir[64], const char *name)
{
	char err[MPC_ERRMSG_SIZE];
	struct store_db *db;
	snprintf(dir, 64, "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_db_open(dir, SCHED_FIXTURE_CLUSTER_ID, 0, 0, &db, err), 0, "%s", err);
	return db;
}

/* Closes db and removes its dir. */
static inline void sched_fixture_close(struct store_db *db, const char *dir)
{
	char cmd[128];
	store_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Writes the meta record key = json (a catalog or job record, as the store commits it). */
static inline void sched_fixture_put(struct store_db *db, const char *key, const char *json)
{
	char err[MPC_ERRMSG_SIZE];
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, db->cf[STORE_CF_META], key, strlen(key), json, strlen(json));
	cr_assert_eq(store_db_write(db, wb, 0, err), 0, "%s", err);
	rocksdb_writebatch_destroy(wb);
}

/* The job_submit entry of program in file (queue default, priority 0, no args) signed by
 * client with sign_sk, as the API proposes it; caller frees with json_decref(). */
static inline json_t *sched_fixture_submit_entry(const uint8_t *sign_sk, const char *client,
						 const char *file, const char *program)
{
	struct mpc_reqsig sig;
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:i, s:{}}", "name", file, "file", file,
				 "program", program, "queue", "default", "priority", 0, "args");
	char *text = json_dumps(body, JSON_COMPACT);
	cr_assert_eq(mpc_reqsig_sign(sign_sk, client, SCHED_FIXTURE_CLUSTER_ID, "POST", "/v1/jobs",
				     text, strlen(text), &sig),
		     0);
	json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:o}", "op", "job_submit", "req", sig.nonce,
			      "client", client, "time_ms", (json_int_t)1000, "auth",
			      store_signed_req_pack(&sig, "POST", "/v1/jobs", text, strlen(text)));
	cr_assert_not_null(e);
	free(text);
	json_decref(body);
	return e;
}

#endif
