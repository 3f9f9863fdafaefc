/* Fuel ledger in RocksDB's fuel column family: high-water mark, handed-out ranges, counters. */
#include "engine/ledger.h"

#include "common/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine_ledger {
	struct store_db *db;
	char gen[32];
	pthread_mutex_t lock;
	uint64_t hwm, produced, consumed, gen_ns;
};

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static int get_vals(struct engine_ledger *l, const char *key, uint64_t *v, int nv)
{
	char err[MPC_ERRMSG_SIZE], *val = NULL;
	size_t vlen = 0;
	int rv = store_db_get(l->db, STORE_CF_FUEL, key, strlen(key), &val, &vlen, err);
	if (rv != 0)
		return rv;
	if (vlen != (size_t)nv * 8) {
		free(val);
		return MPC_ECORRUPT;
	}
	for (int k = 0; k < nv; k++)
		v[k] = get_u64((const uint8_t *)val + 8 * k);
	free(val);
	return 0;
}

static void batch_put(struct engine_ledger *l, rocksdb_writebatch_t *wb, const char *key,
		      const uint64_t *v, int nv)
{
	uint8_t buf[64];
	for (int k = 0; k < nv; k++)
		put_u64(buf + 8 * k, v[k]);
	rocksdb_writebatch_put_cf(wb, l->db->cf[STORE_CF_FUEL], key, strlen(key), (char *)buf,
				  (size_t)nv * 8);
}

static void stats_put(struct engine_ledger *l, rocksdb_writebatch_t *wb)
{
	char key[64];
	uint64_t v[2] = {l->produced, l->consumed};
	snprintf(key, sizeof key, "%s/stats", l->gen);
	batch_put(l, wb, key, v, 2);
}

int engine_ledger_open(struct store_db *db, const char *gen, struct engine_ledger **out,
		       char *errmsg)
{
	struct engine_ledger *l = calloc(1, sizeof *l);
	char key[64];
	uint64_t v[2];
	int rv;

	if (l == NULL)
		return MPC_ENOMEM;
	l->db = db;
	snprintf(l->gen, sizeof l->gen, "%s", gen);
	pthread_mutex_init(&l->lock, NULL);
	snprintf(key, sizeof key, "%s/hwm", gen);
	rv = get_vals(l, key, v, 1);
	if (rv == 0)
		l->hwm = v[0];
	else if (rv != MPC_ENOENT)
		goto err;
	snprintf(key, sizeof key, "%s/stats", gen);
	rv = get_vals(l, key, v, 2);
	if (rv == 0) {
		l->produced = v[0];
		l->consumed = v[1];
	} else if (rv != MPC_ENOENT) {
		goto err;
	}
	*out = l;
	return 0;
err:
	mpc_errmsg_printf(errmsg, "fuel ledger %s: %s", gen, mpc_strerror(rv));
	pthread_mutex_destroy(&l->lock);
	free(l);
	return rv;
}

void engine_ledger_close(struct engine_ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

struct scan_ctx {
	int (*fn)(void *ctx, const struct engine_ledger_range *r);
	void *ctx;
};

static int scan_cb(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct scan_ctx *sc = ctx;
	struct engine_ledger_range r;
	if (vlen != 32)
		return 0;
	r.t0 = get_u64((const uint8_t *)val);
	r.n = get_u64((const uint8_t *)val + 8);
	r.session = get_u64((const uint8_t *)val + 16);
	r.used = get_u64((const uint8_t *)val + 24);
	return sc->fn(sc->ctx, &r);
}

static int ranges_locked(struct engine_ledger *l,
			 int (*fn)(void *ctx, const struct engine_ledger_range *r), void *ctx)
{
	struct scan_ctx sc = {fn, ctx};
	char prefix[64];
	snprintf(prefix, sizeof prefix, "%s/range/", l->gen);
	return store_db_scan(l->db, STORE_CF_FUEL, NULL, prefix, strlen(prefix), scan_cb, &sc);
}

int engine_ledger_ranges(struct engine_ledger *l,
			 int (*fn)(void *ctx, const struct engine_ledger_range *r), void *ctx)
{
	int rv;
	pthread_mutex_lock(&l->lock);
	rv = ranges_locked(l, fn, ctx);
	pthread_mutex_unlock(&l->lock);
	return rv;
}

struct overlap_ctx {
	uint64_t t0, end, session;
	struct engine_ledger_range hit;
	int same;
};

static int overlap_cb(void *ctx, const struct engine_ledger_range *r)
{
	struct overlap_ctx *oc = ctx;
	if (r->t0 < oc->end && oc->t0 < r->t0 + r->n) {
		oc->hit = *r;
		oc->same = r->t0 == oc->t0 && r->t0 + r->n == oc->end && r->session == oc->session;
		return 1;
	}
	return 0;
}

/* The handed-out ranges are disjoint (claim refuses overlaps) and keyed by t0
 * in fixed-width hex, so key order is t0 order: if any range overlaps
 * [oc->t0, oc->end), the one with the largest t0 below oc->end does. One seek
 * instead of a scan of every range ever handed out (which grew with each task
 * attempt and made each session start O(history)). Returns 1 on an overlap. */
static int overlap_locked(struct engine_ledger *l, struct overlap_ctx *oc)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(l->db->db, ro, l->db->cf[STORE_CF_FUEL]);
	char prefix[64], key[80];
	size_t plen, klen, vlen;
	int rv = 0;
	plen = (size_t)snprintf(prefix, sizeof prefix, "%s/range/", l->gen);
	snprintf(key, sizeof key, "%s%016llx", prefix, (unsigned long long)(oc->end - 1));
	rocksdb_iter_seek_for_prev(it, key, strlen(key));
	if (rocksdb_iter_valid(it)) {
		const char *k = rocksdb_iter_key(it, &klen), *v = rocksdb_iter_value(it, &vlen);
		if (klen >= plen && memcmp(k, prefix, plen) == 0)
			rv = scan_cb(&(struct scan_ctx){overlap_cb, oc}, k, klen, v, vlen);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rv;
}

int engine_ledger_claim(struct engine_ledger *l, uint64_t t0, uint64_t n, uint64_t session,
			char *errmsg)
{
	return engine_ledger_claim_with(l, t0, n, session, NULL, 1, errmsg);
}

int engine_ledger_claim_with(struct engine_ledger *l, uint64_t t0, uint64_t n, uint64_t session,
			     rocksdb_writebatch_t *with, int sync, char *errmsg)
{
	struct overlap_ctx oc = {t0, t0 + n, session, {0}, 0};
	rocksdb_writebatch_t *wb;
	char key[80];
	int rv;

	if (n == 0 || n - 1 > UINT64_MAX - t0 || t0 + n == 0) {
		mpc_errmsg_printf(errmsg, "triple range [%llu, +%llu) is empty or past 2^64",
				  (unsigned long long)t0, (unsigned long long)n);
		return MPC_ERANGE;
	}
	pthread_mutex_lock(&l->lock);
	if (overlap_locked(l, &oc) != 0) {
		if (oc.same) { /* claimed before: only the caller's writes */
			rv = with != NULL ? store_db_write(l->db, with, sync, errmsg) : 0;
			pthread_mutex_unlock(&l->lock);
			return rv;
		}
		pthread_mutex_unlock(&l->lock);
		mpc_errmsg_printf(errmsg,
				  "triple range [%llu, %llu) overlaps [%llu, %llu) handed to "
				  "session %llu",
				  (unsigned long long)t0, (unsigned long long)(t0 + n),
				  (unsigned long long)oc.hit.t0,
				  (unsigned long long)(oc.hit.t0 + oc.hit.n),
				  (unsigned long long)oc.hit.session);
		return MPC_EOVERLAP;
	}
	wb = with != NULL ? with : rocksdb_writebatch_create();
	snprintf(key, sizeof key, "%s/range/%016llx", l->gen, (unsigned long long)t0);
	batch_put(l, wb, key, (uint64_t[]){t0, n, session, 0}, 4);
	if (t0 + n > l->hwm) {
		snprintf(key, sizeof key, "%s/hwm", l->gen);
		batch_put(l, wb, key, (uint64_t[]){t0 + n}, 1);
	}
	rv = store_db_write(l->db, wb, sync, errmsg);
	if (wb != with)
		rocksdb_writebatch_destroy(wb);
	if (rv == 0 && t0 + n > l->hwm)
		l->hwm = t0 + n;
	pthread_mutex_unlock(&l->lock);
	return rv;
}

static int get_range_locked(struct engine_ledger *l, uint64_t t0, struct engine_ledger_range *r)
{
	char key[80];
	uint64_t v[4];
	int rv;
	snprintf(key, sizeof key, "%s/range/%016llx", l->gen, (unsigned long long)t0);
	rv = get_vals(l, key, v, 4);
	if (rv == 0) {
		r->t0 = v[0];
		r->n = v[1];
		r->session = v[2];
		r->used = v[3];
	}
	return rv;
}

int engine_ledger_get(struct engine_ledger *l, uint64_t t0, struct engine_ledger_range *out)
{
	int rv;
	pthread_mutex_lock(&l->lock);
	rv = get_range_locked(l, t0, out);
	pthread_mutex_unlock(&l->lock);
	return rv;
}

int engine_ledger_use(struct engine_ledger *l, uint64_t t0, uint64_t used, char *errmsg)
{
	struct engine_ledger_range r;
	rocksdb_writebatch_t *wb;
	char key[80];
	int rv;

	pthread_mutex_lock(&l->lock);
	rv = get_range_locked(l, t0, &r);
	if (rv != 0) {
		pthread_mutex_unlock(&l->lock);
		mpc_errmsg_printf(errmsg, "no triple range starts at %llu", (unsigned long long)t0);
		return rv;
	}
	if (used > r.n) {
		pthread_mutex_unlock(&l->lock);
		mpc_errmsg_printf(errmsg, "session %llu used %llu triples of a range of %llu",
				  (unsigned long long)r.session, (unsigned long long)used,
				  (unsigned long long)r.n);
		return MPC_ERANGE;
	}
	if (used <= r.used) {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	l->consumed += used - r.used;
	wb = rocksdb_writebatch_create();
	snprintf(key, sizeof key, "%s/range/%016llx", l->gen, (unsigned long long)t0);
	batch_put(l, wb, key, (uint64_t[]){r.t0, r.n, r.session, used}, 4);
	stats_put(l, wb);
	rv = store_db_write(l->db, wb, 0, errmsg);
	rocksdb_writebatch_destroy(wb);
	pthread_mutex_unlock(&l->lock);
	return rv;
}

void engine_ledger_produced(struct engine_ledger *l, uint64_t n, uint64_t ns)
{
	pthread_mutex_lock(&l->lock);
	l->produced += n;
	l->gen_ns += ns;
	pthread_mutex_unlock(&l->lock);
}

static int count_cb(void *ctx, const struct engine_ledger_range *r)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

void engine_ledger_status(struct engine_ledger *l, struct engine_ledger_status *st)
{
	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&l->lock);
	st->hwm = l->hwm;
	st->produced = l->produced;
	st->consumed = l->consumed;
	st->rate = l->gen_ns > 0 ? (double)l->produced / ((double)l->gen_ns / 1e9) : 0;
	ranges_locked(l, count_cb, &st->ranges);
	pthread_mutex_unlock(&l->lock);
}
