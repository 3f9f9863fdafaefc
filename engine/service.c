/* The engine service of mpcd: prss keys from the static X25519 keys, fuel ledger, mesh, sessions by id. */
#include "engine/service.h"

#include "common/err.h"
#include "common/log.h"
#include "engine/fuel_prss.h"
#include "engine/ledger.h"
#include "engine/mesh.h"
#include "engine/session.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_MAX_SESSIONS 1024

struct engine_service {
	const struct mpc_party_conf *conf;
	struct store_db *db;
	struct engine_mesh *mesh;
	struct engine_prss *prss;
	struct engine_fuel_gen fuel;
	struct engine_ledger *ledger;
	struct engine_session_env env;
	pthread_mutex_t lock;
	struct engine_session *sessions[SERVICE_MAX_SESSIONS];
	int n_sessions;
	int releasing; /* released sessions not yet freed by their threads (lock) */
	pthread_cond_t released_cond;
};

/*
 * k_{i,j} = BLAKE2b-256(key = X25519(sk_i, pk_j), "mpcstore prss v1" |
 * cluster id | min(i,j) | max(i,j)). X25519 is symmetric, so both parties
 * of the pair get the same key; no third party can (it lacks both secret
 * keys).
 */
static int pair_key(const struct mpc_party_conf *conf, int other, uint8_t out[32])
{
	const struct mpc_cluster *c = conf->cluster;
	uint8_t shared[crypto_scalarmult_BYTES], ids[2];
	crypto_generichash_state st;

	if (crypto_scalarmult(shared, conf->box_sk, c->parties[other].box_pk) != 0)
		return MPC_ECRYPTO;
	ids[0] = (uint8_t)(conf->party_id < other ? conf->party_id : other);
	ids[1] = (uint8_t)(conf->party_id < other ? other : conf->party_id);
	crypto_generichash_init(&st, shared, sizeof shared, 32);
	crypto_generichash_update(&st, (const uint8_t *)"mpcstore prss v1", 16);
	crypto_generichash_update(&st, c->id, sizeof c->id);
	crypto_generichash_update(&st, ids, 2);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(shared, sizeof shared);
	sodium_memzero(&st, sizeof st);
	return 0;
}

struct restore_ctx {
	struct engine_service *svc;
};

static int restore_cb(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct engine_service *svc = ((struct restore_ctx *)ctx)->svc;
	char err[MPC_ERRMSG_SIZE] = "";
	struct engine_session *s;
	json_t *spec;

	if (klen < 5 || memcmp(key + klen - 5, "/spec", 5) != 0)
		return 0;
	spec = json_loadb(val, vlen, 0, NULL);
	if (spec == NULL)
		return 0;
	if (svc->n_sessions < SERVICE_MAX_SESSIONS &&
	    engine_session_start(&svc->env, spec, 1, &s, err) == 0)
		svc->sessions[svc->n_sessions++] = s;
	else
		LOG_WARN("engine: cannot resume %.*s: %s", (int)klen, key, err);
	json_decref(spec);
	return 0;
}

int engine_service_start(const struct mpc_party_conf *conf, struct store_db *db,
			 struct engine_service **out, char *errmsg)
{
	const struct mpc_cluster *c = conf->cluster;
	struct engine_service *svc;
	uint8_t kprev[32], knext[32];
	struct restore_ctx rc;
	int me = conf->party_id, n = c->n_parties, rv;

	svc = calloc(1, sizeof *svc);
	if (svc == NULL)
		return MPC_ENOMEM;
	svc->conf = conf;
	svc->db = db;
	pthread_mutex_init(&svc->lock, NULL);
	pthread_cond_init(&svc->released_cond, NULL);
	rv = engine_ledger_open(db, "prss", &svc->ledger, errmsg);
	if (rv != 0)
		goto err;
	if (n == 3) {
		rv = pair_key(conf, (me + n - 1) % n, kprev);
		if (rv == 0)
			rv = pair_key(conf, (me + 1) % n, knext);
		if (rv == 0)
			rv = engine_prss_new(&svc->prss, me, kprev, knext);
		sodium_memzero(kprev, sizeof kprev);
		sodium_memzero(knext, sizeof knext);
		if (rv != 0) {
			mpc_errmsg_printf(errmsg, "engine: prss keys: %s", mpc_strerror(rv));
			goto err_ledger;
		}
		engine_prss_fuel_gen(&svc->fuel, svc->prss);
	}
	rv = engine_mesh_start(c, me, conf->box_sk, 0, &svc->mesh, errmsg);
	if (rv != 0)
		goto err_prss;
	svc->env.mesh = svc->mesh;
	svc->env.fuel = &svc->fuel;
	svc->env.ledger = svc->ledger;
	svc->env.db = db;
	svc->env.cluster = c;
	svc->env.party = me;
	svc->env.box_sk = conf->box_sk;
	svc->env.timeout_ms = 20000;
	svc->env.linger_ms = 60000;
	if (n == 3) {
		rc.svc = svc;
		store_db_scan(db, STORE_CF_FUEL, NULL, "sess/", 5, restore_cb, &rc);
	}
	LOG_INFO("engine: mesh on %s:%u, %d session(s) resumed", c->parties[me].host,
		 c->parties[me].mpc_port, svc->n_sessions);
	*out = svc;
	return 0;

err_prss:
	engine_prss_free(svc->prss);
err_ledger:
	engine_ledger_close(svc->ledger);
err:
	pthread_cond_destroy(&svc->released_cond);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
	return rv;
}

void engine_service_stop(struct engine_service *svc)
{
	if (svc == NULL)
		return;
	/* sessions first: their threads wait on the mesh */
	for (int i = 0; i < svc->n_sessions; i++) {
		struct engine_session *s = svc->sessions[i];
		svc->sessions[i] = NULL;
		engine_session_free(s, 0);
	}
	/* released sessions use the mesh, db and ledger until their threads free them */
	pthread_mutex_lock(&svc->lock);
	while (svc->releasing > 0)
		pthread_cond_wait(&svc->released_cond, &svc->lock);
	pthread_mutex_unlock(&svc->lock);
	engine_mesh_stop(svc->mesh);
	engine_prss_free(svc->prss);
	engine_ledger_close(svc->ledger);
	pthread_cond_destroy(&svc->released_cond);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
}

static int find_locked(struct engine_service *svc, uint64_t id)
{
	for (int i = 0; i < svc->n_sessions; i++)
		if (engine_session_id(svc->sessions[i]) == id)
			return i;
	return -1;
}

int engine_service_session_start(struct engine_service *svc, json_t *spec, char *errmsg)
{
	json_int_t id = json_integer_value(json_object_get(spec, "id"));
	struct engine_session *s;
	int i, rv;

	if (svc->prss == NULL) {
		mpc_errmsg_printf(errmsg, "the engine needs exactly 3 parties (prss)");
		return MPC_EINVAL;
	}
	pthread_mutex_lock(&svc->lock);
	i = find_locked(svc, (uint64_t)id);
	if (i >= 0) {
		rv = engine_session_same_spec(svc->sessions[i], spec) ? 0 : MPC_EEXIST;
		if (rv != 0)
			mpc_errmsg_printf(errmsg, "session %lld exists with another program",
					  (long long)id);
		pthread_mutex_unlock(&svc->lock);
		return rv;
	}
	if (svc->n_sessions == SERVICE_MAX_SESSIONS) {
		pthread_mutex_unlock(&svc->lock);
		mpc_errmsg_printf(errmsg, "too many sessions");
		return MPC_EUNAVAIL;
	}
	rv = engine_session_start(&svc->env, spec, 0, &s, errmsg);
	if (rv == 0)
		svc->sessions[svc->n_sessions++] = s;
	pthread_mutex_unlock(&svc->lock);
	return rv;
}

json_t *engine_service_session_get(struct engine_service *svc, uint64_t id, int values)
{
	json_t *j = NULL;
	int i;
	pthread_mutex_lock(&svc->lock);
	i = find_locked(svc, id);
	if (i >= 0)
		j = engine_session_status(svc->sessions[i], values);
	pthread_mutex_unlock(&svc->lock);
	if (j == NULL) {
		char key[64], err[MPC_ERRMSG_SIZE], *val = NULL;
		size_t vlen;
		snprintf(key, sizeof key, "sess/%016" PRIx64 "/result", id);
		if (store_db_get(svc->db, STORE_CF_FUEL, key, strlen(key), &val, &vlen, err) == 0) {
			j = json_loadb(val, vlen, 0, NULL);
			free(val);
		}
	}
	return j;
}

int engine_service_session_ended(struct engine_service *svc, uint64_t id)
{
	int i, ended = -1;
	pthread_mutex_lock(&svc->lock);
	i = find_locked(svc, id);
	if (i >= 0)
		ended = engine_session_ended(svc->sessions[i]);
	pthread_mutex_unlock(&svc->lock);
	return ended;
}

/* Takes session id out of the service (NULL if unknown); releasing: counts
 * it in svc->releasing, under the same lock. */
static struct engine_session *take(struct engine_service *svc, uint64_t id, int releasing)
{
	struct engine_session *s = NULL;
	int i;
	pthread_mutex_lock(&svc->lock);
	i = find_locked(svc, id);
	if (i >= 0) {
		s = svc->sessions[i];
		svc->sessions[i] = svc->sessions[--svc->n_sessions];
		svc->releasing += releasing;
	}
	pthread_mutex_unlock(&svc->lock);
	return s;
}

int engine_service_session_delete(struct engine_service *svc, uint64_t id)
{
	struct engine_session *s = take(svc, id, 0);
	if (s == NULL)
		return MPC_ENOENT;
	engine_session_free(s, 1);
	return 0;
}

static void released(void *ctx)
{
	struct engine_service *svc = ctx;
	pthread_mutex_lock(&svc->lock);
	if (--svc->releasing == 0)
		pthread_cond_broadcast(&svc->released_cond);
	pthread_mutex_unlock(&svc->lock);
}

int engine_service_session_release(struct engine_service *svc, uint64_t id)
{
	struct engine_session *s = take(svc, id, 1);
	if (s == NULL)
		return MPC_ENOENT;
	engine_session_release(s, 1, released, svc);
	return 0;
}

static int range_json_cb(void *ctx, const struct engine_ledger_range *r)
{
	char a[24], b[24], u[24];
	snprintf(a, sizeof a, "%" PRIu64, r->t0);
	snprintf(b, sizeof b, "%" PRIu64, r->n);
	snprintf(u, sizeof u, "%" PRIu64, r->used);
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:I, s:s}", "t0", a, "n", b, "session",
					     (json_int_t)r->session, "used", u));
	return 0;
}

void engine_service_set_notify(struct engine_service *svc, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&svc->lock);
	svc->env.on_end = fn;
	svc->env.on_end_ctx = ctx;
	pthread_mutex_unlock(&svc->lock);
}

json_t *engine_service_fuel(struct engine_service *svc)
{
	struct engine_ledger_status st;
	struct engine_mesh_stats ms;
	uint64_t gens[MPC_MAX_PARTIES];
	json_t *ranges = json_array(), *j;
	char hwm[24];
	int connected;

	engine_ledger_status(svc->ledger, &st);
	engine_ledger_ranges(svc->ledger, range_json_cb, ranges);
	engine_mesh_get_stats(svc->mesh, &ms);
	connected = engine_mesh_gens(svc->mesh, gens);
	snprintf(hwm, sizeof hwm, "%" PRIu64, st.hwm);
	j = json_pack("{s:i, s:[{s:s, s:s, s:s, s:I, s:I, s:f, s:s, s:o}], s:{s:b, s:I, s:I, s:I, s:I, s:I}}",
		      "party", svc->conf->party_id, "generators", "name", "prss", "kind",
		      "derived on demand (nothing stored)", "high_water_mark", hwm, "produced",
		      (json_int_t)st.produced, "consumed", (json_int_t)st.consumed,
		      "rate_per_s", st.rate, "available", "unlimited (derived from the index)",
		      "ranges", ranges, "mesh", "connected", connected, "bytes_sent",
		      (json_int_t)ms.bytes_sent, "bytes_received", (json_int_t)ms.bytes_received,
		      "frames_rejected", (json_int_t)ms.frames_rejected, "peers_refused",
		      (json_int_t)ms.peers_refused, "connects", (json_int_t)ms.connects);
	return j;
}
