/* Unit tests for engine/service: three parties' engines in one process, a session's release without waiting for its thread. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"
#include "engine/service.h"
#include "store/db.h"

#define N 3

static struct mpc_cluster cl;
static uint8_t box_sk[N][32];
static struct mpc_party_conf conf[N];
static struct store_db *db[N];
static struct engine_service *svc[N];
static char dir[N][64];

static void setup(void)
{
	char err[MPC_ERRMSG_SIZE];
	cr_assert(sodium_init() >= 0);
	memset(&cl, 0, sizeof cl);
	randombytes_buf(cl.id, sizeof cl.id);
	sodium_bin2hex(cl.id_hex, sizeof cl.id_hex, cl.id, sizeof cl.id);
	cl.n_parties = N;
	for (int i = 0; i < N; i++) {
		cl.parties[i].id = i;
		strcpy(cl.parties[i].host, "127.0.0.1");
		/* below the ephemeral range, different per test process */
		cl.parties[i].mpc_port = 25000u + (unsigned)(getpid() % 2000) * 3 + (unsigned)i;
		crypto_box_keypair(cl.parties[i].box_pk, box_sk[i]);
	}
	for (int i = 0; i < N; i++) {
		snprintf(dir[i], sizeof dir[i], "/tmp/test_engine_service.XXXXXX");
		cr_assert_not_null(mkdtemp(dir[i]));
		cr_assert_eq(store_db_open(dir[i], cl.id_hex, i, 0, &db[i], err), 0, "%s", err);
		memset(&conf[i], 0, sizeof conf[i]);
		conf[i].party_id = i;
		conf[i].box_sk = box_sk[i];
		conf[i].cluster = &cl;
		cr_assert_eq(engine_service_start(&conf[i], db[i], &svc[i], err), 0, "%s", err);
	}
}

static void teardown(void)
{
	char cmd[128];
	for (int i = 0; i < N; i++) {
		engine_service_stop(svc[i]);
		store_db_close(db[i]);
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir[i]);
		cr_assert_eq(system(cmd), 0);
	}
}

TestSuite(engine_service, .init = setup, .fini = teardown);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Session id opening x, of which party p holds share (sealed to itself). */
static json_t *open_spec(int p, uint64_t id, uint64_t share)
{
	uint8_t sealed[8 + crypto_box_SEALBYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof sealed, sodium_base64_VARIANT_ORIGINAL)];
	crypto_box_seal(sealed, (const uint8_t *)&share, 8, cl.parties[p].box_pk);
	sodium_bin2base64(b64, sizeof b64, sealed, sizeof sealed, sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:I, s:s, s:s, s:[{s:s, s:i, s:s}], s:[[s, s, s]]}", "id", (json_int_t)id,
			 "t0", "1000", "n", "10", "inputs", "name", "x", "n", 1, "sealed", b64,
			 "ops", "open", "o", "x");
}

static int spec_stored(int p, uint64_t id)
{
	char key[64], err[MPC_ERRMSG_SIZE], *val = NULL;
	size_t vlen;
	int rv;
	snprintf(key, sizeof key, "sess/%016" PRIx64 "/spec", id);
	rv = store_db_get(db[p], STORE_CF_FUEL, key, strlen(key), &val, &vlen, err);
	free(val);
	return rv == 0;
}

Test(engine_service, release_leaves_a_finished_session_to_its_thread_which_erases_it)
{
	char err[MPC_ERRMSG_SIZE];
	uint64_t shares[N] = {40, 2, (uint64_t)-30}, t;

	for (int p = 0; p < N; p++) {
		json_t *spec = open_spec(p, 5, shares[p]);
		cr_assert_eq(engine_service_session_start(svc[p], spec, err), 0, "%s", err);
		json_decref(spec);
	}
	for (int p = 0; p < N; p++) {
		for (t = now_ms(); engine_service_session_ended(svc[p], 5) != 1;) {
			cr_assert_lt(now_ms() - t, 20000, "party %d: session 5 did not end", p);
			usleep(2000);
		}
		cr_assert(spec_stored(p, 5));
	}
	/* every party's session lingers (a peer may still ask for a replay):
	 * the release returns without waiting for its thread */
	for (int p = 0; p < N; p++) {
		json_t *st;
		cr_assert_eq(engine_service_session_release(svc[p], 5), 0);
		cr_assert_eq(engine_service_session_ended(svc[p], 5), -1, "still in the service");
		cr_assert_eq(engine_service_session_release(svc[p], 5), MPC_ENOENT);
		/* the result stays readable (the stored one) */
		st = engine_service_session_get(svc[p], 5, 1);
		cr_assert_not_null(st);
		cr_assert_str_eq(json_string_value(json_object_get(st, "state")), "done");
		cr_assert_str_eq(json_string_value(json_array_get(
				     json_object_get(json_object_get(json_object_get(st, "outputs"), "o"),
						     "values"),
				     0)),
				 "12"); /* 40 + 2 - 30 */
		json_decref(st);
	}
	/* its thread erases the spec (as engine_service_session_delete did) */
	for (int p = 0; p < N; p++)
		for (t = now_ms(); spec_stored(p, 5);) {
			cr_assert_lt(now_ms() - t, 5000, "party %d: session 5's spec not erased", p);
			usleep(2000);
		}
}

Test(engine_service, stop_waits_for_a_released_running_session)
{
	char err[MPC_ERRMSG_SIZE];
	json_t *spec = open_spec(0, 6, 1);
	uint64_t t;

	/* parties 1 and 2 never start session 6: party 0's waits in its round */
	cr_assert_eq(engine_service_session_start(svc[0], spec, err), 0, "%s", err);
	json_decref(spec);
	usleep(50000);
	cr_assert_eq(engine_service_session_ended(svc[0], 6), 0);
	t = now_ms();
	cr_assert_eq(engine_service_session_release(svc[0], 6), 0);
	cr_assert_lt(now_ms() - t, 1000, "the release waited for the session");
	/* teardown's engine_service_stop waits for the thread: then the spec is gone */
	engine_service_stop(svc[0]);
	svc[0] = NULL;
	cr_assert(!spec_stored(0, 6), "a released session's spec survived the stop");
}
