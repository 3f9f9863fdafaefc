/* Engine sessions: a (cached) thread per computation, checkpoints, epoch resynchronisation. */
#include "engine/session.h"

#include "common/deadline.h"
#include "common/err.h"
#include "common/log.h"
#include "engine/exec.h"
#include "store/catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG_SYNC 2
#define CKPT_MAGIC 0x31544b43434d5043ull /* "CPMCCKT1" */
#define CKPT_KEEP 3
#define MAX_CKPTS 64
#define VALUES_INLINE 1024

enum sess_state { SESS_SYNCING, SESS_RUNNING, SESS_DONE, SESS_FAILED };
static const char *state_names[] = {"syncing", "running", "done", "failed"};

struct engine_session {
	struct engine_session_env env;
	uint64_t id;
	char *spec_text;
	json_t *spec;
	struct engine_prog prog;
	struct engine_reg *regs;
	uint64_t t0, tn;
	int ckpt_every, fuel_ready, delay_ms;
	int inputs_fresh; /* regs hold exactly the loaded inputs (pc 0, nothing run) */
	struct engine_exec x;
	struct engine_session *pool_next; /* queued for a worker (pool_lock) */
	int finished;                     /* session_main returned (lock, done_cond) */
	/* released (engine_session_release) before session_main returned: the
	 * worker erases and frees s itself, then calls release_done (lock) */
	int released, release_erase;
	void (*release_done)(void *ctx);
	void *release_ctx;
	pthread_cond_t done_cond;
	pthread_mutex_t lock; /* guards the fields below and regs for status */
	enum sess_state state;
	int pc, stop, resyncs;
	uint32_t epoch, max_seen;
	uint32_t epoch_stored; /* the epoch durable in the store (key "epoch") */
	/* the start's write (claim, spec, first epoch) is not synced yet: the
	 * session thread syncs it before its first message (session_main) */
	int start_unsynced;
	char error[MPC_ERRMSG_SIZE];
	uint64_t online_ns, start_ns;
	uint64_t gens[MPC_MAX_PARTIES];
	struct engine_mesh_watch watch;
	json_t *result;
	uint64_t *op_ns; /* duration of each operation (last run) */
	int *last_use;	 /* per register: the last operation reading it (INT_MAX: an output) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void key_of(char *key, size_t cap, uint64_t id, const char *what)
{
	snprintf(key, cap, "sess/%016" PRIx64 "/%s", id, what);
}

/* ---- inputs ---- */

/*
 * Input k from this party's share store: the shares of one committed
 * segment of table.column as of revision. Segments are immutable, so a
 * resume reads the same shares again; nothing about them is in the spec.
 */
static int input_load_segment(struct engine_session *s, int k, json_t *in, struct engine_reg *r,
			      char *errmsg)
{
	const char *table = json_string_value(json_object_get(in, "table"));
	const char *column = json_string_value(json_object_get(in, "column"));
	json_int_t seg = json_integer_value(json_object_get(in, "segment"));
	json_int_t rev = json_integer_value(json_object_get(in, "revision"));
	uint64_t *v = NULL, rows = 0;
	char msg[MPC_ERRMSG_SIZE] = "";
	int rv;

	if (table == NULL || column == NULL || seg < 0 || rev < 0) {
		mpc_errmsg_printf(errmsg, "input %s: a table input needs column, segment >= 0 "
				  "and revision >= 0", s->prog.names[k]);
		return MPC_EINVAL;
	}
	rv = store_catalog_read_segment_at(s->env.db, table, column, (uint64_t)rev, (uint64_t)seg,
					   &v, &rows, msg);
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "input %s: read %s.%s segment %lld at revision %lld: %s",
				  s->prog.names[k], table, column, (long long)seg, (long long)rev,
				  msg[0] ? msg : mpc_strerror(rv));
		return rv;
	}
	if (rows != s->prog.len[k]) {
		mpc_errmsg_printf(errmsg, "input %s: %s.%s segment %lld has %" PRIu64
				  " rows, the program expects %zu", s->prog.names[k], table,
				  column, (long long)seg, rows, s->prog.len[k]);
		if (v != NULL)
			sodium_memzero(v, rows * 8);
		free(v);
		return MPC_ECORRUPT;
	}
	engine_reg_clear(r);
	r->v = v;
	r->n = rows;
	r->kind = ENGINE_REG_SHARE;
	return 0;
}

/* Input k's shares from the spec: a sealed share vector, a sealed 32-byte
 * seed, or a segment of a table in this party's store. */
static int input_load(struct engine_session *s, int k, struct engine_reg *r, char *errmsg)
{
	json_t *in = json_array_get(json_object_get(s->spec, "inputs"), (size_t)k);
	const char *sealed = json_string_value(json_object_get(in, "sealed"));
	const char *seed = json_string_value(json_object_get(in, "seed"));
	const char *b64 = sealed ? sealed : seed;
	size_t n = s->prog.len[k], blen, want = sealed ? n * 8 : 32;
	uint8_t pk[32], *bin, *plain;
	int rv = 0;

	if (json_object_get(in, "table") != NULL)
		return input_load_segment(s, k, in, r, errmsg);
	if (b64 == NULL) {
		mpc_errmsg_printf(errmsg, "input %s: needs sealed, seed or table", s->prog.names[k]);
		return MPC_EINVAL;
	}
	blen = strlen(b64);
	bin = malloc(blen + 1);
	plain = malloc(want + 1);
	if (bin == NULL || plain == NULL) {
		free(bin);
		free(plain);
		return MPC_ENOMEM;
	}
	crypto_scalarmult_base(pk, s->env.box_sk);
	if (sodium_base642bin(bin, blen, b64, blen, NULL, &blen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen != want + crypto_box_SEALBYTES ||
	    crypto_box_seal_open(plain, bin, blen, pk, s->env.box_sk) != 0) {
		mpc_errmsg_printf(errmsg, "input %s: cannot open the sealed %s", s->prog.names[k],
				  sealed ? "shares" : "seed");
		rv = MPC_ECRYPTO;
		goto out;
	}
	engine_reg_clear(r);
	r->v = malloc(n * 8 + 8);
	if (r->v == NULL) {
		rv = MPC_ENOMEM;
		goto out;
	}
	r->n = n;
	r->kind = ENGINE_REG_SHARE;
	if (sealed)
		memcpy(r->v, plain, n * 8);
	else
		randombytes_buf_deterministic(r->v, n * 8, plain);
out:
	sodium_memzero(plain, want);
	free(plain);
	free(bin);
	return rv;
}

/* ---- checkpoints ---- */

struct pclist {
	int pcs[MAX_CKPTS];
	int n;
};

static int pcs_cb(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
	struct pclist *l = ctx;
	char hex[9];
	(void)v;
	(void)vl;
	/* keys end in 8 hex digits and are not NUL-terminated */
	if (kl < 8 || l->n >= MAX_CKPTS)
		return 0;
	memcpy(hex, k + kl - 8, 8);
	hex[8] = '\0';
	l->pcs[l->n++] = (int)strtol(hex, NULL, 16);
	return 0;
}

/* Writes a checkpoint at s->pc (not synced), or, with into != NULL, adds it
 * to that batch for the caller to write (session_finish: one write with the
 * result). */
static int ckpt_save_with(struct engine_session *s, rocksdb_writebatch_t *into, char *errmsg)
{
	struct engine_prog *p = &s->prog;
	size_t len = 40, off = 0;
	rocksdb_writebatch_t *wb;
	char key[96], prefix[64];
	uint8_t *buf;
	int rv, pcs[MAX_CKPTS], npcs = 0;

	/* only what operations pc.. read, and the outputs: a dead vector (a
	 * column, a product already summed) is not written, so a checkpoint
	 * after a big MAP's arithmetic holds a few words, not the vectors */
	for (int i = 0; i < p->n_regs; i++)
		if (s->last_use[i] >= s->pc)
			len += 17 + (s->regs[i].kind == ENGINE_REG_SEALED ? s->regs[i].sealed_len
									   : s->regs[i].n * 8);
		else
			len += 17;
	buf = malloc(len);
	if (buf == NULL)
		return MPC_ENOMEM;
	{
		uint64_t hdr[5] = {CKPT_MAGIC, (uint64_t)s->pc, s->x.xchg, s->x.cursor,
				   (uint64_t)p->n_regs};
		memcpy(buf, hdr, sizeof hdr);
		off = sizeof hdr;
	}
	for (int i = 0; i < p->n_regs; i++) {
		struct engine_reg *r = &s->regs[i];
		uint64_t n = (r->v || r->sealed) && s->last_use[i] >= s->pc ? r->n : 0;
		uint64_t bytes = r->kind == ENGINE_REG_SEALED ? r->sealed_len : n * 8;
		buf[off] = (uint8_t)r->kind;
		memcpy(buf + off + 1, &n, 8);
		memcpy(buf + off + 9, &bytes, 8);
		off += 17;
		if (bytes > 0)
			memcpy(buf + off, r->kind == ENGINE_REG_SEALED ? r->sealed : (uint8_t *)r->v,
			       bytes);
		off += bytes;
	}
	/* older checkpoints beyond the last CKPT_KEEP go */
	snprintf(prefix, sizeof prefix, "sess/%016" PRIx64 "/ckpt/", s->id);
	wb = into != NULL ? into : rocksdb_writebatch_create();
	snprintf(key, sizeof key, "%s%08x", prefix, (unsigned)s->pc);
	rocksdb_writebatch_put_cf(wb, s->env.db->cf[STORE_CF_FUEL], key, strlen(key), (char *)buf,
				  off);
	{
		struct pclist l = {{0}, 0};
		store_db_scan(s->env.db, STORE_CF_FUEL, NULL, prefix, strlen(prefix), pcs_cb, &l);
		for (int k = 0; k < l.n; k++)
			pcs[npcs++] = l.pcs[k];
	}
	for (int k = 0; k + CKPT_KEEP - 1 < npcs; k++)
		if (pcs[k] != s->pc) {
			snprintf(key, sizeof key, "%s%08x", prefix, (unsigned)pcs[k]);
			rocksdb_writebatch_delete_cf(wb, s->env.db->cf[STORE_CF_FUEL], key,
						     strlen(key));
		}
	rv = 0;
	if (into == NULL) {
		rv = store_db_write(s->env.db, wb, 0, errmsg);
		rocksdb_writebatch_destroy(wb);
	}
	sodium_memzero(buf, off);
	free(buf);
	return rv;
}

static int ckpt_save(struct engine_session *s, char *errmsg)
{
	return ckpt_save_with(s, NULL, errmsg);
}

/* Checkpoints this party holds: 0 always, then the stored ones. */
static void ckpt_list(struct engine_session *s, struct pclist *l)
{
	char prefix[64];
	l->n = 1;
	l->pcs[0] = 0;
	snprintf(prefix, sizeof prefix, "sess/%016" PRIx64 "/ckpt/", s->id);
	store_db_scan(s->env.db, STORE_CF_FUEL, NULL, prefix, strlen(prefix), pcs_cb, l);
}

static int ckpt_load(struct engine_session *s, int pc, char *errmsg)
{
	struct engine_prog *p = &s->prog;
	char key[96], *val = NULL;
	size_t vlen = 0, off;
	uint64_t hdr[5];
	int rv;

	if (pc == 0 && s->inputs_fresh) {
		/* the inputs loaded at start, untouched: deriving them again
		 * would only delay this party's first round */
		s->pc = 0;
		s->x.xchg = 0;
		s->x.cursor = s->t0;
		return 0;
	}
	s->inputs_fresh = 0;
	for (int i = 0; i < p->n_regs; i++)
		engine_reg_clear(&s->regs[i]);
	if (pc == 0) {
		for (int k = 0; k < p->n_inputs; k++)
			if ((rv = input_load(s, k, &s->regs[k], errmsg)) != 0)
				return rv;
		s->pc = 0;
		s->x.xchg = 0;
		s->x.cursor = s->t0;
		return 0;
	}
	snprintf(key, sizeof key, "sess/%016" PRIx64 "/ckpt/%08x", s->id, (unsigned)pc);
	rv = store_db_get(s->env.db, STORE_CF_FUEL, key, strlen(key), &val, &vlen, errmsg);
	if (rv != 0)
		return rv;
	rv = MPC_ECORRUPT;
	if (vlen < sizeof hdr)
		goto out;
	memcpy(hdr, val, sizeof hdr);
	if (hdr[0] != CKPT_MAGIC || hdr[1] != (uint64_t)pc || hdr[4] != (uint64_t)p->n_regs)
		goto out;
	off = sizeof hdr;
	for (int i = 0; i < p->n_regs; i++) {
		struct engine_reg *r = &s->regs[i];
		uint64_t n, bytes;
		if (off + 17 > vlen)
			goto out;
		r->kind = (enum engine_reg_kind)(uint8_t)val[off];
		memcpy(&n, val + off + 1, 8);
		memcpy(&bytes, val + off + 9, 8);
		off += 17;
		if (off + bytes > vlen)
			goto out;
		r->n = n;
		if (r->kind == ENGINE_REG_SEALED) {
			r->sealed = malloc(bytes + 1);
			if (r->sealed == NULL) {
				rv = MPC_ENOMEM;
				goto out;
			}
			memcpy(r->sealed, val + off, bytes);
			r->sealed_len = bytes;
		} else if (bytes > 0) {
			r->v = malloc(bytes);
			if (r->v == NULL) {
				rv = MPC_ENOMEM;
				goto out;
			}
			memcpy(r->v, val + off, bytes);
		}
		off += bytes;
	}
	s->pc = pc;
	s->x.xchg = (uint32_t)hdr[2];
	s->x.cursor = hdr[3];
	rv = 0;
out:
	if (rv == MPC_ECORRUPT)
		mpc_errmsg_printf(errmsg, "checkpoint %d of session %" PRIu64 " is corrupt", pc,
				  s->id);
	sodium_memzero(val, vlen);
	free(val);
	return rv;
}

/* ---- synchronisation ---- */

static void set_state(struct engine_session *s, enum sess_state st)
{
	pthread_mutex_lock(&s->lock);
	s->state = st;
	pthread_mutex_unlock(&s->lock);
}

static void sync_send(struct engine_session *s, uint32_t epoch, const struct pclist *mine)
{
	uint32_t msg[1 + MAX_CKPTS];
	msg[0] = (uint32_t)mine->n;
	for (int k = 0; k < mine->n; k++)
		msg[1 + k] = (uint32_t)mine->pcs[k];
	for (int p = 0; p < s->env.cluster->n_parties; p++)
		if (p != s->env.party)
			engine_mesh_send_copy(s->env.mesh, p, s->id | (uint64_t)epoch << 32, 0,
					      MSG_SYNC, msg, 4 * (1 + (size_t)mine->n));
}

/* Agrees with every peer on an epoch and a common checkpoint; restores it. */
static int session_sync(struct engine_session *s, char *errmsg)
{
	int np = s->env.cluster->n_parties;
	struct pclist mine, theirs[MPC_MAX_PARTIES];
	int have[MPC_MAX_PARTIES];
	uint32_t E = (s->epoch > s->max_seen ? s->epoch : s->max_seen) + 1;
	uint64_t seq = 0;
	int best = -1, rv;

	set_state(s, SESS_SYNCING);
	/* A restarted party must never reuse an epoch its peers are in (they
	 * would not notice its SYNC): the epoch survives restarts. A new
	 * session's first epoch (1) was written with its spec. */
	if (E > s->epoch_stored) {
		char key[64];
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		key_of(key, sizeof key, s->id, "epoch");
		rocksdb_writebatch_put_cf(wb, s->env.db->cf[STORE_CF_FUEL], key, strlen(key),
					  (const char *)&E, sizeof E);
		rv = store_db_write(s->env.db, wb, 1, errmsg);
		rocksdb_writebatch_destroy(wb);
		if (rv != 0)
			return rv;
		s->epoch_stored = E;
	}
	ckpt_list(s, &mine);
	engine_mesh_purge(s->env.mesh, s->id, E);
	sync_send(s, E, &mine);
	memset(have, 0, sizeof have);
	for (;;) {
		void *buf;
		size_t len;
		uint64_t wire;
		int peer, all = 1;

		while (engine_mesh_take_any(s->env.mesh, s->id, MSG_SYNC, &peer, &wire, &buf, &len) ==
		       0) {
			uint32_t e = (uint32_t)(wire >> 32), *m = buf;
			if (e > s->max_seen)
				s->max_seen = e;
			if (e > E) {
				E = e;
				memset(have, 0, sizeof have);
				engine_mesh_purge(s->env.mesh, s->id, E);
				sync_send(s, E, &mine);
			}
			if (e == E && len >= 4 && m[0] <= MAX_CKPTS && len == 4 * (1 + (size_t)m[0])) {
				theirs[peer].n = (int)m[0];
				for (uint32_t k = 0; k < m[0]; k++)
					theirs[peer].pcs[k] = (int)m[1 + k];
				have[peer] = 1;
			}
			free(buf);
		}
		for (int p = 0; p < np; p++)
			if (p != s->env.party && !have[p])
				all = 0;
		if (all)
			break;
		if (s->stop)
			return MPC_ESHUTDOWN;
		rv = engine_mesh_wait_event(s->env.mesh, &seq, 500);
		if (rv == MPC_ESHUTDOWN)
			return rv;
	}
	for (int k = 0; k < mine.n; k++) {
		int pc = mine.pcs[k], ok = 1;
		for (int p = 0; p < np && ok; p++) {
			int found = 0;
			if (p == s->env.party)
				continue;
			for (int q = 0; q < theirs[p].n; q++)
				found |= theirs[p].pcs[q] == pc;
			ok = found;
		}
		if (ok && pc > best)
			best = pc;
	}
	s->epoch = E;
	if (best < 0) {
		mpc_errmsg_printf(errmsg, "no checkpoint common to all parties");
		return MPC_ESTATE;
	}
	rv = ckpt_load(s, best, errmsg);
	if (rv != 0)
		return rv;
	engine_mesh_gens(s->env.mesh, s->gens);
	s->watch.gens = s->gens;
	s->watch.sid = s->id;
	s->watch.epoch = E;
	s->watch.watch_type = MSG_SYNC;
	s->x.wire_session = s->id | (uint64_t)E << 32;
	s->resyncs++;
	LOG_INFO("engine: session %" PRIu64 " epoch %u resumes at operation %d of %d", s->id, E,
		 best, s->prog.n_ops);
	set_state(s, SESS_RUNNING);
	return 0;
}

/* ---- results ---- */

static json_t *outputs_json(struct engine_session *s, int values)
{
	json_t *out = json_object();
	for (int i = 0; i < s->prog.n_ops; i++) {
		const struct engine_op *op = &s->prog.ops[i];
		struct engine_reg *r = &s->regs[op->dst];
		json_t *o;
		if (op->kind != ENGINE_OP_OPEN && op->kind != ENGINE_OP_REVEAL &&
		    op->kind != ENGINE_OP_KEEP)
			continue;
		if (r->kind == ENGINE_REG_PUBLIC && r->v != NULL) {
			uint8_t h[32];
			char hex[65];
			crypto_generichash(h, 32, (const uint8_t *)r->v, r->n * 8, NULL, 0);
			sodium_bin2hex(hex, sizeof hex, h, 32);
			o = json_pack("{s:s, s:I, s:s}", "kind", "public", "n", (json_int_t)r->n,
				      "digest", hex);
			if (values || r->n <= VALUES_INLINE) {
				json_t *arr = json_array();
				char num[24];
				for (size_t k = 0; k < r->n; k++) {
					snprintf(num, sizeof num, "%" PRId64, (int64_t)r->v[k]);
					json_array_append_new(arr, json_string(num));
				}
				json_object_set_new(o, "values", arr);
			}
		} else if (r->kind == ENGINE_REG_SEALED && r->sealed != NULL) {
			size_t cap = sodium_base64_ENCODED_LEN(r->sealed_len,
							       sodium_base64_VARIANT_ORIGINAL);
			char *b64 = malloc(cap);
			if (b64 == NULL)
				continue;
			sodium_bin2base64(b64, cap, r->sealed, r->sealed_len,
					  sodium_base64_VARIANT_ORIGINAL);
			if (op->kind == ENGINE_OP_KEEP)
				o = json_pack("{s:s, s:I, s:i, s:s}", "kind", "sealed", "n",
					      (json_int_t)r->n, "party", s->env.party, "sealed", b64);
			else
				o = json_pack("{s:s, s:I, s:s, s:s}", "kind", "sealed", "n",
					      (json_int_t)r->n, "client",
					      s->env.cluster->clients[op->client].name, "sealed", b64);
			free(b64);
		} else {
			continue;
		}
		json_object_set_new(out, s->prog.names[op->dst], o);
	}
	return out;
}

static void session_finish(struct engine_session *s)
{
	char err[MPC_ERRMSG_SIZE] = "", key[64];
	rocksdb_writebatch_t *wb;
	json_t *res;
	char *text;

	s->online_ns = now_ns() - s->start_ns;
	if (engine_ledger_use(s->env.ledger, s->t0, s->x.cursor - s->t0, err) != 0)
		LOG_ERROR("engine: session %" PRIu64 ": %s", s->id, err);
	res = json_pack("{s:s, s:I, s:I}", "state", "done", "fuel_used",
			(json_int_t)(s->x.cursor - s->t0), "cursor", (json_int_t)s->x.cursor);
	json_object_set_new(res, "outputs", outputs_json(s, 0));
	text = json_dumps(res, JSON_COMPACT);
	json_decref(res);
	key_of(key, sizeof key, s->id, "result");
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, s->env.db->cf[STORE_CF_FUEL], key, strlen(key), text,
				  strlen(text));
	/* the final checkpoint in the same write: one write per finished
	 * session instead of two. Durable before the session says it is done
	 * (and the scheduler reports it), as before, but through the group
	 * sync: sessions that finish together share one fsync. */
	if (ckpt_save_with(s, wb, err) != 0)
		LOG_ERROR("engine: session %" PRIu64 " final checkpoint: %s", s->id, err);
	if (store_db_write(s->env.db, wb, 0, err) != 0 || store_db_sync(s->env.db, err) != 0)
		LOG_ERROR("engine: session %" PRIu64 " result: %s", s->id, err);
	rocksdb_writebatch_destroy(wb);
	free(text);
	set_state(s, SESS_DONE);
	if (s->env.on_end != NULL)
		s->env.on_end(s->env.on_end_ctx);
	LOG_INFO("engine: session %" PRIu64 " done: %d operations, %" PRIu64 " fuel, %.1f ms",
		 s->id, s->prog.n_ops, s->x.cursor - s->t0, s->online_ns / 1e6);
	if (mpc_log_enabled(MPC_LOG_DEBUG)) { /* where a task's time goes, per operation */
		char ms[512] = "";
		size_t o = 0;
		for (int i = 0; i < s->prog.n_ops && o + 16 < sizeof ms; i++)
			o += (size_t)snprintf(ms + o, sizeof ms - o, " %.2f", s->op_ns[i] / 1e6);
		LOG_DEBUG("engine: session %" PRIu64 " op ms:%s%s; fuel %.2f ms", s->id, ms,
			  o + 16 < sizeof ms ? "" : " ...", s->x.fuel_ns / 1e6);
	}
}

/*
 * A fresh session (started from a lease, not resumed from the store: epoch
 * 1, no checkpoint but pc 0) goes online without the SYNC round: every
 * party would agree on epoch 1 and checkpoint 0 anyway, and the inputs are
 * loaded. Whatever needs a resynchronisation still gets one: the watch
 * epoch is 0, so ANY SYNC of this session (a restarted peer's epoch 2, a
 * peer that timed out, a peer that still sends SYNC(1)) interrupts the
 * first operation with MPC_ESTATE, and this party enters epoch 2 with
 * everyone; a changed connection gives MPC_EUNAVAIL. Messages of epoch 1
 * sent by a peer before this party started wait in the mailbox as before.
 * With fuel_ready the SYNC stays: it is the barrier after which the
 * parties go online together (mpc-engine's timings).
 */
static void session_go_online(struct engine_session *s)
{
	s->epoch = 1;
	s->pc = 0;
	s->x.xchg = 0;
	s->x.cursor = s->t0;
	engine_mesh_gens(s->env.mesh, s->gens);
	s->watch.gens = s->gens;
	s->watch.sid = s->id;
	s->watch.epoch = 0;
	s->watch.watch_type = MSG_SYNC;
	s->x.wire_session = s->id | (uint64_t)1 << 32;
	set_state(s, SESS_RUNNING);
}

static void *session_main(void *arg)
{
	struct engine_session *s = arg;
	char err[MPC_ERRMSG_SIZE] = "";
	int need_sync = 1, rv;
	uint64_t linger_end = 0;

	if (s->start_unsynced) {
		if (store_db_sync(s->env.db, err) != 0) {
			mpc_errmsg_wrapf(err, "start of session %" PRIu64, s->id);
			goto failed;
		}
		s->start_unsynced = 0;
	}
	/* Fuel "ready": generated before the first synchronisation, so that
	 * the sync is the barrier after which all parties go online together. */
	if (s->fuel_ready && engine_exec_pregen(&s->x, s->t0, s->prog.fuel_need) != 0)
		LOG_WARN("engine: session %" PRIu64 ": no memory to pre-generate fuel", s->id);
	if (s->inputs_fresh && s->epoch == 0 && !s->fuel_ready) {
		session_go_online(s);
		need_sync = 0;
		s->start_ns = now_ns();
	}
	for (;;) {
		if (s->stop)
			break;
		if (need_sync) {
			rv = session_sync(s, err);
			if (rv == MPC_ESHUTDOWN)
				break;
			if (rv != 0)
				goto failed;
			need_sync = 0;
			if (s->start_ns == 0)
				s->start_ns = now_ns();
		}
		if (s->pc == s->prog.n_ops) {
			if (s->state != SESS_DONE) {
				session_finish(s);
				linger_end = now_ns() + (uint64_t)s->env.linger_ms * 1000000u;
			}
			if (now_ns() > linger_end)
				break;
			rv = engine_mesh_wait(s->env.mesh, NULL, 0, NULL, 0, &s->watch, 200);
			if (rv == MPC_ESTATE) {
				need_sync = 1; /* a peer asks to replay */
				linger_end = now_ns() + (uint64_t)s->env.linger_ms * 1000000u;
			} else if (rv == MPC_EUNAVAIL) {
				engine_mesh_gens(s->env.mesh, s->gens);
			} else if (rv == MPC_ESHUTDOWN) {
				break;
			}
			continue;
		}
		s->inputs_fresh = 0;
		{
			uint64_t t = now_ns();
			rv = engine_exec_op(&s->x, &s->prog.ops[s->pc], s->regs);
			s->op_ns[s->pc] = now_ns() - t;
		}
		if (rv == 0) {
			pthread_mutex_lock(&s->lock);
			s->pc++;
			pthread_mutex_unlock(&s->lock);
			if (s->ckpt_every > 0 && s->pc % s->ckpt_every == 0 && s->pc < s->prog.n_ops) {
				if (ckpt_save(s, err) != 0)
					goto failed;
				if (engine_ledger_use(s->env.ledger, s->t0, s->x.cursor - s->t0,
						      err) != 0)
					goto failed;
			}
			if (s->delay_ms > 0)
				usleep((useconds_t)s->delay_ms * 1000);
			continue;
		}
		if (rv == MPC_EUNAVAIL || rv == MPC_ESTATE || rv == MPC_ETIMEDOUT) {
			LOG_INFO("engine: session %" PRIu64 " operation %d: %s; resynchronising",
				 s->id, s->pc, mpc_strerror(rv));
			need_sync = 1;
			continue;
		}
		if (rv == MPC_ESHUTDOWN)
			break;
		mpc_errmsg_printf(err, "operation %d: %s", s->pc, mpc_strerror(rv));
		goto failed;
	}
	return NULL;
failed:
	pthread_mutex_lock(&s->lock);
	s->state = SESS_FAILED;
	snprintf(s->error, sizeof s->error, "%s", err);
	pthread_mutex_unlock(&s->lock);
	LOG_WARN("engine: session %" PRIu64 " failed: %s", s->id, err);
	if (s->env.on_end != NULL)
		s->env.on_end(s->env.on_end_ctx);
	return NULL;
}

/* ---- workers ----
 * A session runs on a thread of its own for its whole life (it blocks on
 * the mesh), but the threads are kept: a worker that finished a session
 * waits POOL_IDLE_MS for the next one before it exits. A trivial job's
 * session lasts milliseconds; creating and tearing down a thread (stack
 * mapping, clone, exit, unmap) for each was a visible part of mpcd's CPU
 * per job. Invariant: idle workers >= queued sessions, else a new worker
 * is started, so no session ever waits for another one to end. */

#define POOL_IDLE_MS 10000

static void session_destroy(struct engine_session *s, int erase);

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct engine_session *pool_head, *pool_tail;
static int pool_idle, pool_queued;

static void *pool_main(void *arg)
{
	pthread_setname_np(pthread_self(), "engine-sess");
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct engine_session *s;
		struct timespec ts;
		pool_idle++;
		mpc_deadline_after(&ts, POOL_IDLE_MS);
		while (pool_head == NULL)
			if (pthread_cond_timedwait(&pool_cond, &pool_lock, &ts) == ETIMEDOUT &&
			    pool_head == NULL) {
				pool_idle--;
				pthread_mutex_unlock(&pool_lock);
				return NULL;
			}
		pool_idle--;
		s = pool_head;
		pool_head = s->pool_next;
		if (pool_head == NULL)
			pool_tail = NULL;
		pool_queued--;
		pthread_mutex_unlock(&pool_lock);
		session_main(s);
		/* s may be freed as soon as finished is seen */
		pthread_mutex_lock(&s->lock);
		if (s->released) { /* nobody waits: the end is this thread's */
			void (*done)(void *) = s->release_done;
			void *ctx = s->release_ctx;
			pthread_mutex_unlock(&s->lock);
			session_destroy(s, s->release_erase);
			if (done != NULL)
				done(ctx);
		} else {
			s->finished = 1;
			pthread_cond_broadcast(&s->done_cond);
			pthread_mutex_unlock(&s->lock);
		}
		pthread_mutex_lock(&pool_lock);
	}
}

static int pool_run(struct engine_session *s, char *errmsg)
{
	int rv = 0;
	pthread_mutex_lock(&pool_lock);
	s->pool_next = NULL;
	if (pool_tail != NULL)
		pool_tail->pool_next = s;
	else
		pool_head = s;
	pool_tail = s;
	pool_queued++;
	if (pool_idle >= pool_queued) {
		pthread_cond_signal(&pool_cond);
	} else {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, pool_main, NULL) != 0) {
			/* take it back (the tail): nobody would run it */
			struct engine_session *q = pool_head, *prev = NULL;
			while (q != s) {
				prev = q;
				q = q->pool_next;
			}
			if (prev != NULL)
				prev->pool_next = NULL;
			else
				pool_head = NULL;
			pool_tail = prev;
			pool_queued--;
			mpc_errmsg_printf(errmsg, "engine: cannot start a session thread");
			rv = MPC_ENOMEM;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&pool_lock);
	return rv;
}

/* ---- life cycle ---- */

static int spec_parse(struct engine_session *s, char *errmsg)
{
	json_t *inputs = json_object_get(s->spec, "inputs");
	char names[MPC_MAX_PARTIES * 4][ENGINE_REG_NAME_MAX];
	size_t lens[MPC_MAX_PARTIES * 4];
	json_int_t id = json_integer_value(json_object_get(s->spec, "id"));
	json_int_t chunk = json_integer_value(json_object_get(s->spec, "chunk"));
	json_int_t f = json_integer_value(json_object_get(s->spec, "f"));
	size_t n_in = json_array_size(inputs);
	const char *t0s = json_string_value(json_object_get(s->spec, "t0"));
	const char *tns = json_string_value(json_object_get(s->spec, "n"));

	if (id <= 0 || id > 0xffffffffll) {
		mpc_errmsg_printf(errmsg, "session id must be in 1 .. 2^32-1");
		return MPC_EINVAL;
	}
	s->id = (uint64_t)id;
	s->t0 = t0s ? strtoull(t0s, NULL, 10)
		    : (uint64_t)json_integer_value(json_object_get(s->spec, "t0"));
	s->tn = tns ? strtoull(tns, NULL, 10)
		    : (uint64_t)json_integer_value(json_object_get(s->spec, "n"));
	if (n_in == 0 || n_in > sizeof lens / sizeof lens[0]) {
		mpc_errmsg_printf(errmsg, "inputs: 1 to %zu", sizeof lens / sizeof lens[0]);
		return MPC_EINVAL;
	}
	for (size_t k = 0; k < n_in; k++) {
		json_t *in = json_array_get(inputs, k);
		const char *name = json_string_value(json_object_get(in, "name"));
		json_int_t n = json_integer_value(json_object_get(in, "n"));
		if (name == NULL || strlen(name) >= ENGINE_REG_NAME_MAX || n <= 0 ||
		    n > (json_int_t)1 << 30) {
			mpc_errmsg_printf(errmsg, "input %zu: needs a name and 1 <= n <= 2^30", k);
			return MPC_EINVAL;
		}
		snprintf(names[k], ENGINE_REG_NAME_MAX, "%s", name);
		lens[k] = (size_t)n;
	}
	if (engine_prog_parse(json_object_get(s->spec, "ops"), (const char(*)[32])names, lens,
			      (int)n_in, s->env.cluster, &s->prog, errmsg) != 0)
		return MPC_EINVAL;
	if (s->prog.fuel_need > s->tn) {
		mpc_errmsg_printf(errmsg, "the program needs %" PRIu64 " triple indices, range has %" PRIu64,
				  s->prog.fuel_need, s->tn);
		return MPC_EINVAL;
	}
	s->ckpt_every = (int)json_integer_value(json_object_get(s->spec, "checkpoint_every"));
	s->fuel_ready = json_is_true(json_object_get(s->spec, "fuel_ready"));
	s->delay_ms = (int)json_integer_value(json_object_get(s->spec, "delay_ms"));
	s->x.chunk = chunk > 0 && chunk <= (1 << 22) ? (size_t)chunk : ENGINE_EXEC_DEFAULT_CHUNK;
	s->x.f = json_object_get(s->spec, "f") ? (unsigned)f : 16;
	if (s->x.f > 62) {
		mpc_errmsg_printf(errmsg, "f must be 0 .. 62");
		return MPC_EINVAL;
	}
	if (s->env.cluster->n_parties != 3) {
		mpc_errmsg_printf(errmsg, "the prss engine needs 3 parties");
		return MPC_EINVAL;
	}
	return 0;
}

int engine_session_start(const struct engine_session_env *env, json_t *spec, int stored,
			 struct engine_session **out, char *errmsg)
{
	struct engine_session *s = calloc(1, sizeof *s);
	char key[64];
	int rv;

	if (s == NULL)
		return MPC_ENOMEM;
	s->env = *env;
	s->spec = json_deep_copy(spec);
	s->spec_text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done_cond, NULL);
	if (s->spec == NULL || s->spec_text == NULL) {
		rv = MPC_ENOMEM;
		goto err;
	}
	rv = spec_parse(s, errmsg);
	if (rv != 0)
		goto err;
	s->regs = calloc((size_t)s->prog.n_regs, sizeof *s->regs);
	s->op_ns = calloc((size_t)s->prog.n_ops, sizeof *s->op_ns);
	s->last_use = calloc((size_t)s->prog.n_regs, sizeof *s->last_use);
	if (s->regs == NULL || s->op_ns == NULL || s->last_use == NULL) {
		rv = MPC_ENOMEM;
		goto err;
	}
	for (int i = 0; i < s->prog.n_regs; i++)
		s->last_use[i] = -1;
	for (int i = 0; i < s->prog.n_ops; i++) {
		const struct engine_op *op = &s->prog.ops[i];
		s->last_use[op->a] = i;
		if (op->b >= 0)
			s->last_use[op->b] = i;
		if (op->kind == ENGINE_OP_OPEN || op->kind == ENGINE_OP_REVEAL ||
		    op->kind == ENGINE_OP_KEEP)
			s->last_use[op->dst] = INT_MAX;
	}
	if (!stored) {
		rocksdb_writebatch_t *wb;
		/* the inputs must open before anything is claimed */
		for (int k = 0; k < s->prog.n_inputs; k++)
			if ((rv = input_load(s, k, &s->regs[k], errmsg)) != 0)
				goto err;
		s->inputs_fresh = 1;
		/* the claim, the spec and the first epoch in one write: after a
		 * crash the session is there with its range claimed, or neither
		 * is. Not synced here, on the caller's thread (the scheduler's
		 * runner, which starts one session after the other): the session
		 * thread makes it durable before its first message, so no triple
		 * of the range is used before its claim is on disk, and sessions
		 * starting together share one fsync (store_db_sync). */
		wb = rocksdb_writebatch_create();
		key_of(key, sizeof key, s->id, "spec");
		rocksdb_writebatch_put_cf(wb, env->db->cf[STORE_CF_FUEL], key, strlen(key),
					  s->spec_text, strlen(s->spec_text));
		key_of(key, sizeof key, s->id, "epoch");
		rocksdb_writebatch_put_cf(wb, env->db->cf[STORE_CF_FUEL], key, strlen(key),
					  (const char *)&(uint32_t){1}, sizeof(uint32_t));
		rv = engine_ledger_claim_with(env->ledger, s->t0, s->tn, s->id, wb, 0, errmsg);
		rocksdb_writebatch_destroy(wb);
		if (rv != 0)
			goto err;
		s->epoch_stored = 1;
		s->start_unsynced = 1;
	}
	if (stored) {
		char *val = NULL;
		size_t vlen = 0;
		key_of(key, sizeof key, s->id, "epoch");
		if (store_db_get(env->db, STORE_CF_FUEL, key, strlen(key), &val, &vlen, errmsg) == 0 &&
		    vlen == sizeof s->epoch)
			memcpy(&s->epoch, val, sizeof s->epoch);
		s->epoch_stored = s->epoch;
		free(val);
	}
	s->x.mesh = env->mesh;
	s->x.fuel = env->fuel;
	s->x.ledger = env->ledger;
	s->x.cluster = env->cluster;
	s->x.party = env->party;
	s->x.n_parties = env->cluster->n_parties;
	s->x.watch = &s->watch;
	s->x.timeout_ms = env->timeout_ms;
	s->state = SESS_SYNCING;
	rv = pool_run(s, errmsg);
	if (rv != 0)
		goto err;
	*out = s;
	return 0;
err:
	if (s->regs != NULL)
		for (int i = 0; i < s->prog.n_regs; i++)
			engine_reg_clear(&s->regs[i]);
	free(s->regs);
	free(s->op_ns);
	free(s->last_use);
	engine_prog_free(&s->prog);
	json_decref(s->spec);
	free(s->spec_text);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->done_cond);
	free(s);
	return rv;
}

uint64_t engine_session_id(const struct engine_session *s)
{
	return s->id;
}

int engine_session_same_spec(const struct engine_session *s, json_t *spec)
{
	char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	int same = text != NULL && strcmp(text, s->spec_text) == 0;
	free(text);
	return same;
}

int engine_session_ended(struct engine_session *s)
{
	int ended;
	pthread_mutex_lock(&s->lock);
	ended = s->state == SESS_DONE || s->state == SESS_FAILED;
	pthread_mutex_unlock(&s->lock);
	return ended;
}

json_t *engine_session_status(struct engine_session *s, int values)
{
	json_t *j;
	pthread_mutex_lock(&s->lock);
	j = json_pack("{s:I, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:I, s:I, s:f, s:f, s:I}", "id",
		      (json_int_t)s->id, "state", state_names[s->state], "pc", s->pc, "n_ops",
		      s->prog.n_ops, "epoch", (int)s->epoch, "resyncs", s->resyncs, "t0",
		      "", "n", "", "fuel_need", (json_int_t)s->prog.fuel_need, "mults",
		      (json_int_t)s->x.mults, "online_ms", s->online_ns / 1e6, "fuel_ms",
		      s->x.fuel_ns / 1e6, "cursor", (json_int_t)s->x.cursor);
	{
		char num[24];
		snprintf(num, sizeof num, "%" PRIu64, s->t0);
		json_object_set_new(j, "t0", json_string(num));
		snprintf(num, sizeof num, "%" PRIu64, s->tn);
		json_object_set_new(j, "n", json_string(num));
	}
	if (s->state == SESS_FAILED)
		json_object_set_new(j, "error", json_string(s->error));
	{
		json_t *ops = json_array();
		for (int i = 0; i < s->prog.n_ops; i++)
			json_array_append_new(ops, json_real(s->op_ns[i] / 1e6));
		json_object_set_new(j, "op_ms", ops);
	}
	if (s->state == SESS_DONE)
		json_object_set_new(j, "outputs", outputs_json(s, values));
	pthread_mutex_unlock(&s->lock);
	return j;
}

void engine_session_free(struct engine_session *s, int erase)
{
	if (s == NULL)
		return;
	s->stop = 1;
	/* a lingering session waits for frames of its own only: wake it */
	engine_mesh_wake(s->env.mesh, s->id);
	pthread_mutex_lock(&s->lock);
	while (!s->finished)
		pthread_cond_wait(&s->done_cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	session_destroy(s, erase);
}

void engine_session_release(struct engine_session *s, int erase, void (*done)(void *ctx),
			    void *ctx)
{
	if (s == NULL)
		return;
	s->stop = 1;
	engine_mesh_wake(s->env.mesh, s->id);
	pthread_mutex_lock(&s->lock);
	if (!s->finished) { /* its worker ends it (pool_main) */
		s->released = 1;
		s->release_erase = erase;
		s->release_done = done;
		s->release_ctx = ctx;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	pthread_mutex_unlock(&s->lock);
	session_destroy(s, erase);
	if (done != NULL)
		done(ctx);
}

/* Frees s, whose thread has returned from session_main; erase: deletes its
 * spec, epoch and checkpoints too. */
static void session_destroy(struct engine_session *s, int erase)
{
	if (erase) {
		char prefix[64];
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		snprintf(prefix, sizeof prefix, "sess/%016" PRIx64 "/ckpt/", s->id);
		store_db_batch_delete_prefix(s->env.db, wb, STORE_CF_FUEL, prefix, strlen(prefix));
		key_of(prefix, sizeof prefix, s->id, "spec");
		rocksdb_writebatch_delete_cf(wb, s->env.db->cf[STORE_CF_FUEL], prefix,
					     strlen(prefix));
		key_of(prefix, sizeof prefix, s->id, "epoch");
		rocksdb_writebatch_delete_cf(wb, s->env.db->cf[STORE_CF_FUEL], prefix,
					     strlen(prefix));
		/* not synced: the next synced write (any session's start or
		 * result) makes it durable; lost in an OS crash, the session is
		 * resumed at the restart and the scheduler stops it again (its
		 * attempt ended: sched_service.c, drop_stale_sessions) */
		{
			char err[MPC_ERRMSG_SIZE];
			store_db_write(s->env.db, wb, 0, err);
		}
		rocksdb_writebatch_destroy(wb);
	}
	for (int i = 0; i < s->prog.n_regs; i++)
		engine_reg_clear(&s->regs[i]);
	free(s->regs);
	free(s->op_ns);
	free(s->last_use);
	engine_exec_clear(&s->x);
	engine_prog_free(&s->prog);
	json_decref(s->spec);
	json_decref(s->result);
	free(s->spec_text);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->done_cond);
	free(s);
}
