/* Streaming appends: rows in, shares buffered a few chunks per party, uploaded, resumed. */
#include "client/internal.h"
#include "common/deadline.h"
#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CHUNK      (4u << 20)
#define MAX_CHUNK          (64u << 20) /* the party's limit (docs/rest-api.md) */
#define DEFAULT_RETRIES    4
#define DEFAULT_BACKOFF_MS 250
#define WAIT_MS            30000
#define NSLOTS             MPC_APPEND_STREAM_SLOTS
/* Slots up to this size come from malloc and are zeroed before free: for a
 * small append, sodium_malloc's guard pages and mlock cost ~7 syscalls per
 * slot (and TLB shootdowns across the client's threads), ~20 % of the
 * client's CPU, while the plaintext rows they share are in ordinary memory
 * anyway. Larger slots, which live for a whole upload, stay locked. */
#define SMALL_SLOT_BYTES   (64u << 10)
#define PRG_PIECE          8192 /* values masked per PRG call (64 KiB, stays in L2) */

/*
 * One chunk of one party's share stream. Seed-compressed shares (SPDZ-family
 * input): of each chunk, one party gets the full correction, values - sum of
 * the others' PRG streams; the others get only a fresh secret seed and expand
 * their shares themselves (mpc_chunkseed_expand). The full party of chunk i
 * is party i mod n, so receiving, hashing and opening the bulk is spread over
 * the parties instead of all landing on one. A seeded slot's data is unused.
 */
struct slot {
	uint64_t *data;  /* full chunks; see slot_alloc: shares of all parties reveal the values */
	uint8_t seed[MPC_CHUNKSEED_SEED]; /* seeded chunks: the seed, zeroed when sent */
	int full;        /* this party gets the correction of this chunk, not a seed */
	size_t cap;      /* values */
	size_t fill;     /* values */
	uint64_t offset; /* byte offset of data[0] in the party's stream */
	int last;        /* carries the prepare */
};

/*
 * A party's pipeline: slot[head % NSLOTS] is being filled by rows(); slots
 * tail..head-1 are queued for the party's upload thread, which releases a
 * slot (tail++) only once the party acknowledged it — so the slot in flight
 * still holds its data when a dropped connection makes us resume.
 */
struct party_pipe {
	struct mpc_append_stream *s;
	int party;
	struct slot slot[NSLOTS];
	uint64_t head, tail;
	uint64_t sent; /* bytes handed to the pipeline so far (next chunk's offset) */
	json_t *vote;  /* the party's signed Prepared vote, from its last chunk's answer */
	pthread_t thread;
	int started;
	int rv;
	char errmsg[MPC_ERRMSG_SIZE];
};

struct mpc_append_stream {
	struct mpc_client *cl;
	int n;
	size_t ncols, chunk_vals;
	int retries;
	unsigned backoff_ms;
	char table[128];
	char txn[33];
	char *begin;	  /* the signed begin every chunk carries (?begin=LEN) */
	size_t begin_len;
	uint64_t revision; /* 0: no begin entry to wait for */
	int leader;	   /* where the commit goes: the client's hint, then the parties' */
	int committed; /* the leader's last chunk carried the commit, which succeeded */
	uint64_t rows;
	int threads; /* upload threads started */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int closing;   /* under mu: no more chunks will be queued */
	int cancelled; /* under mu: abort; threads stop after their current call */
	int failed;    /* under mu: an upload failed; its pipe has rv and errmsg */
	int rv;
	char errmsg[MPC_ERRMSG_SIZE];
	uint64_t *prg; /* slot_alloc'd prg_cap values (<= PRG_PIECE): a seeded party's shares being
			* masked; sized by the first use, so a small append allocates a few bytes,
			* not 64 KiB of sodium_malloc (mmap, mlock, munmap) */
	size_t prg_cap;
	struct party_pipe pipe[MPC_MAX_PARTIES];
};

/* Secret buffers of cap values: small ones malloc'd, large ones sodium_malloc'd. */
static uint64_t *slot_alloc(size_t cap)
{
	size_t bytes = cap * sizeof(uint64_t);
	return bytes <= SMALL_SLOT_BYTES ? malloc(bytes) : sodium_malloc(bytes);
}

static void slot_data_free(uint64_t *data, size_t cap)
{
	size_t bytes = cap * sizeof(uint64_t);
	if (data == NULL)
		return;
	if (bytes <= SMALL_SLOT_BYTES) {
		sodium_memzero(data, bytes);
		free(data);
	} else {
		sodium_free(data); /* zeroes */
	}
}

/* Makes room for need values in sl (grows by doubling up to the chunk size,
 * so a one-row append does not pay for a 4 MiB buffer). */
static int slot_reserve(struct slot *sl, size_t need, size_t chunk_vals)
{
	size_t cap = sl->cap ? sl->cap : 512;
	uint64_t *data;

	if (need <= sl->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > chunk_vals)
		cap = chunk_vals;
	data = slot_alloc(cap);
	if (data == NULL)
		return MPC_ENOMEM;
	if (sl->data != NULL) {
		memcpy(data, sl->data, sl->fill * sizeof(uint64_t));
		slot_data_free(sl->data, sl->cap);
	}
	sl->data = data;
	sl->cap = cap;
	return 0;
}

/* Sleeps ms unless the stream is cancelled meanwhile; returns 1 if cancelled. */
static int backoff_sleep(struct mpc_append_stream *s, unsigned ms)
{
	struct timespec ts;
	int cancelled;

	mpc_deadline_after(&ts, ms);
	pthread_mutex_lock(&s->mu);
	while (!s->cancelled && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	cancelled = s->cancelled;
	pthread_mutex_unlock(&s->mu);
	return cancelled;
}

/* Sends bytes [done, len) of the chunk in sl to party, boxed to it (only it
 * can open its shares, DESIGN.md §6); with nothing left of a last chunk, asks
 * for the prepare alone. A last chunk's prepare answers the party's signed
 * vote (vote=1) into *resp, which the commit carries. */
static int send_rest(struct party_pipe *pp, CURL *curl, const struct slot *sl, size_t done,
		     uint8_t *sealed, json_t **resp, char *errmsg)
{
	struct mpc_append_stream *s = pp->s;
	const struct mpc_chunkbox_key *key;
	size_t len = sl->fill * sizeof(uint64_t);
	uint8_t msg[MPC_CHUNKSEED_BYTES];
	char path[256];
	int rv;

	if (done == len) {
		snprintf(path, sizeof path, "/v1/txns/%s/prepare?vote=1", s->txn);
		return mpc_client_call_on(s->cl, curl, pp->party, "POST", path, NULL, 0, resp,
					  errmsg);
	}
	if ((key = mpc_client_box_key(s->cl, pp->party)) == NULL) {
		mpc_errmsg_printf(errmsg, "party %d: upload: out of memory", pp->party);
		return MPC_ENOMEM;
	}
	if (!sl->full) { /* a seed chunk: the rest of the chunk is [done, len) of its stream */
		mpc_chunkseed_pack(msg, sl->seed, done, len - done);
		rv = mpc_chunkbox_seal(key, sealed, msg, sizeof msg);
		sodium_memzero(msg, sizeof msg);
	} else {
		rv = mpc_chunkbox_seal(key, sealed, (const uint8_t *)sl->data + done, len - done);
	}
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "party %d: chunk at offset %" PRIu64 ": cannot encrypt",
				  pp->party, sl->offset + done);
		return MPC_ECRYPTO;
	}
	/* every chunk carries the signed begin: the first one that reaches the
	 * party (also after a restart that lost the upload) opens the txn there */
	len = (sl->full ? len - done : sizeof msg) + MPC_CHUNKBOX_BYTES;
	memcpy(sealed + len, s->begin, s->begin_len);
	snprintf(path, sizeof path, "/v1/txns/%s/chunks?offset=%" PRIu64 "&begin=%zu%s%s", s->txn,
		 sl->offset + done, s->begin_len, sl->last ? "&prepare=1&vote=1" : "",
		 sl->full ? "" : "&seed=1");
	return mpc_client_call_on(s->cl, curl, pp->party, "PUT", path, sealed, len + s->begin_len,
				  sl->last ? resp : NULL, errmsg);
}

/*
 * After a connection error: what the party holds of the chunk in sl, from
 * its txn record. Returns 1 when the chunk (and for the last one its vote) is
 * in, 0 with *done set to resume from there, or a negative MPC_E* code.
 */
static int resume_point(struct party_pipe *pp, const struct slot *sl, json_t *rec, size_t *done,
			char *errmsg)
{
	const char *state = json_string_value(json_object_get(rec, "state"));
	json_t *local = json_object_get(rec, "local");
	uint64_t received = (uint64_t)json_integer_value(json_object_get(local, "received"));
	size_t len = sl->fill * sizeof(uint64_t), row_bytes = pp->s->ncols * sizeof(uint64_t);

	if (state == NULL)
		state = "unknown";
	if (strcmp(state, "committed") == 0)
		return 1; /* the commit (carried by a lost answer) went through: all is in */
	if (strcmp(state, "uploading") != 0) {
		const char *reason = json_string_value(json_object_get(rec, "reason"));
		mpc_errmsg_printf(errmsg, "party %d: txn %s is %s%s%s", pp->party, pp->s->txn,
				  state, reason ? ": " : "", reason ? reason : "");
		return MPC_ECONFLICT;
	}
	if (received < sl->offset || received > sl->offset + len ||
	    (received - sl->offset) % row_bytes != 0) {
		mpc_errmsg_printf(errmsg,
				  "party %d holds %" PRIu64 " bytes of txn %s: cannot resume the "
				  "chunk at offset %" PRIu64 " (%zu bytes)",
				  pp->party, received, pp->s->txn, sl->offset, len);
		return MPC_EPROTO;
	}
	*done = (size_t)(received - sl->offset);
	/* a last chunk that is in: the prepare alone (again) answers the vote */
	return *done == len && !sl->last ? 1 : 0;
}

/*
 * Delivers the chunk in sl to the party: sends it (unless the first attempt
 * already failed with a connection error, errmsg holding it) and resumes
 * after connection errors with backoff, up to s->retries reconnects.
 */
static int deliver_chunk(struct party_pipe *pp, CURL *curl, const struct slot *sl, int failed_once,
			 uint8_t *sealed, json_t **resp, char *errmsg)
{
	struct mpc_append_stream *s = pp->s;
	char lost[MPC_ERRMSG_SIZE], path[128];
	size_t done = 0;
	int attempt = 0,
	    rv = failed_once ? MPC_EUNAVAIL : send_rest(pp, curl, sl, 0, sealed, resp, errmsg);

	snprintf(path, sizeof path, "/v1/txns/%s", s->txn);
	while (rv == MPC_EUNAVAIL) {
		json_t *rec = NULL;
		memcpy(lost, errmsg, sizeof lost);
		do {
			if (attempt >= s->retries ||
			    backoff_sleep(s, s->backoff_ms << (attempt < 10 ? attempt : 10))) {
				mpc_errmsg_printf(errmsg,
						  "%s (gave up after %d reconnect attempt%s)", lost,
						  attempt, attempt == 1 ? "" : "s");
				return MPC_EUNAVAIL;
			}
			attempt++;
			rv = mpc_client_call_on(s->cl, curl, pp->party, "GET", path, NULL, 0, &rec,
						errmsg);
		} while (rv == MPC_EUNAVAIL);
		if (rv == MPC_ENOENT) { /* no upload there yet: the first chunk never arrived */
			rec = json_pack("{s:s, s:{s:i}}", "state", "uploading", "local", "received",
					0);
			rv = rec ? 0 : MPC_ENOMEM;
		}
		if (rv == 0)
			rv = resume_point(pp, sl, rec, &done, errmsg);
		json_decref(rec);
		if (rv != 0)
			return rv > 0 ? 0 : rv;
		rv = send_rest(pp, curl, sl, done, sealed, resp, errmsg);
	}
	return rv;
}

/* Keeps the signed vote of a prepare's answer resp (vote=1) for the commit. */
static void keep_vote(struct party_pipe *pp, json_t *resp)
{
	json_t *v = json_object_get(resp, "signed_vote");
	json_t *leader = json_object_get(resp, "leader");
	if (json_is_integer(leader) && json_integer_value(leader) >= 0 &&
	    json_integer_value(leader) < pp->s->n)
		pp->s->cl->leader_hint = (int)json_integer_value(leader); /* for the next append */
	if (v != NULL) {
		json_decref(pp->vote);
		pp->vote = json_incref(v);
	}
}

/* A party's upload thread: sends queued chunks in order over the party's persistent connection,
 * so sealing the next chunk for one party overlaps the transfers to the others. */
static void *upload_thread(void *arg)
{
	struct party_pipe *pp = arg;
	struct mpc_append_stream *s = pp->s;
	uint8_t *sealed =
	    malloc(s->chunk_vals * sizeof(uint64_t) + MPC_CHUNKBOX_BYTES + s->begin_len);
	CURL *curl = mpc_client_party_handle(s->cl, pp->party);
	int rv = sealed != NULL && curl != NULL ? 0 : MPC_ENOMEM;

	pthread_mutex_lock(&s->mu);
	while (rv == 0) {
		struct slot *sl;
		while (pp->tail == pp->head && !s->closing && !s->cancelled && !s->failed)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->cancelled || s->failed || pp->tail == pp->head)
			break;
		sl = &pp->slot[pp->tail % NSLOTS];
		pthread_mutex_unlock(&s->mu);
		json_t *resp = NULL;
		rv = deliver_chunk(pp, curl, sl, 0, sealed, &resp, pp->errmsg);
		if (rv == 0 && sl->last)
			keep_vote(pp, resp);
		json_decref(resp);
		pthread_mutex_lock(&s->mu);
		if (rv == 0) {
			sl->fill = 0;
			sodium_memzero(sl->seed, sizeof sl->seed);
			pp->tail++;
			pthread_cond_broadcast(&s->cv);
		}
	}
	if (rv != 0) {
		if (rv == MPC_ENOMEM)
			mpc_errmsg_printf(pp->errmsg, "party %d: upload: out of memory", pp->party);
		pp->rv = rv;
		s->failed = 1;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	free(sealed);
	return NULL;
}

/* The first failed party's error into the stream (under mu or with the threads joined). */
static int stream_failure(struct mpc_append_stream *s)
{
	for (int p = 0; p < s->n; p++)
		if (s->pipe[p].rv != 0) {
			s->rv = s->pipe[p].rv;
			memcpy(s->errmsg, s->pipe[p].errmsg, sizeof s->errmsg);
			return s->rv;
		}
	return s->rv;
}

/* Hands every party's full filling slot to its upload thread and waits for a free one. */
static int queue_chunks(struct mpc_append_stream *s, int last)
{
	pthread_mutex_lock(&s->mu);
	for (int p = 0; p < s->n; p++) {
		struct party_pipe *pp = &s->pipe[p];
		struct slot *sl = &pp->slot[pp->head % NSLOTS];
		sl->offset = pp->sent;
		sl->last = last;
		pp->sent += sl->fill * sizeof(uint64_t);
		pp->head++;
	}
	if (last)
		s->closing = 1;
	pthread_cond_broadcast(&s->cv);
	for (int p = 0; p < s->n; p++) {
		struct party_pipe *pp = &s->pipe[p];
		if (pp->started || s->failed)
			continue;
		pp->started = pthread_create(&pp->thread, NULL, upload_thread, pp) == 0;
		if (!pp->started) {
			pp->rv = MPC_ENOMEM;
			mpc_errmsg_printf(pp->errmsg, "party %d: cannot start an upload thread", p);
			s->failed = 1;
		}
	}
	s->threads = 1;
	while (!last && !s->failed) {
		int busy = 0;
		for (int p = 0; p < s->n; p++)
			busy |= s->pipe[p].head - s->pipe[p].tail >= NSLOTS;
		if (!busy)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	if (s->failed)
		stream_failure(s);
	pthread_mutex_unlock(&s->mu);
	return s->failed ? s->rv : 0;
}

static void join_threads(struct mpc_append_stream *s)
{
	for (int p = 0; p < s->n; p++)
		if (s->pipe[p].started) {
			pthread_join(s->pipe[p].thread, NULL);
			s->pipe[p].started = 0;
		}
}

static void stream_free(struct mpc_append_stream *s)
{
	join_threads(s);
	for (int p = 0; p < s->n; p++)
		json_decref(s->pipe[p].vote);
	for (int p = 0; p < s->n; p++)
		for (int k = 0; k < NSLOTS; k++) {
			slot_data_free(s->pipe[p].slot[k].data, s->pipe[p].slot[k].cap);
			sodium_memzero(s->pipe[p].slot[k].seed, MPC_CHUNKSEED_SEED);
		}
	slot_data_free(s->prg, s->prg_cap); /* zeroes */
	free(s->begin);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The table's column count (for an existing table appended without columns). */
static int table_ncols(struct mpc_client *cl, const char *table, size_t *ncols, char *errmsg)
{
	char path[256];
	json_t *t = NULL;
	int rv;

	snprintf(path, sizeof path, "/v1/tables/%s", table);
	rv = mpc_client_call_any(cl, "GET", path, NULL, 0, &t, errmsg);
	if (rv == 0)
		*ncols = json_array_size(json_object_get(t, "columns"));
	json_decref(t);
	if (rv == 0 && *ncols == 0) {
		mpc_errmsg_printf(errmsg, "table '%s' has no columns", table);
		rv = MPC_EPROTO;
	}
	return rv;
}

int mpc_append_stream_begin(struct mpc_client *cl, const char *table, json_t *columns, int create,
			    const struct mpc_append_stream_opts *opts,
			    struct mpc_append_stream **out, char *errmsg)
{
	struct mpc_append_stream_opts o = opts ? *opts : (struct mpc_append_stream_opts){0};
	struct mpc_append_stream *s;
	size_t chunk, row_bytes;
	int rv;

	if (o.ncols == 0 && columns != NULL)
		o.ncols = json_array_size(columns);
	if (o.ncols == 0 && (rv = table_ncols(cl, table, &o.ncols, errmsg)) != 0)
		return rv;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return MPC_ENOMEM;
	s->cl = cl;
	s->n = cl->cluster->n_parties;
	s->ncols = o.ncols;
	s->retries = o.retries == 0 ? DEFAULT_RETRIES : o.retries < 0 ? 0 : o.retries;
	s->backoff_ms = o.backoff_ms ? o.backoff_ms : DEFAULT_BACKOFF_MS;
	snprintf(s->table, sizeof s->table, "%s", table);
	row_bytes = o.ncols * sizeof(uint64_t);
	chunk = o.chunk_bytes ? o.chunk_bytes : DEFAULT_CHUNK;
	if (chunk > MAX_CHUNK)
		chunk = MAX_CHUNK;
	chunk = chunk / row_bytes * row_bytes; /* chunks are whole rows */
	s->chunk_vals = (chunk ? chunk : row_bytes) / sizeof(uint64_t);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (int p = 0; p < s->n; p++) {
		s->pipe[p].s = s;
		s->pipe[p].party = p;
	}
	/* No request: the begin is signed here and travels with the chunks. */
	rv = mpc_client_txn_begin(cl, table, columns, create, o.timeout_ms, s->txn, &s->begin,
				  errmsg);
	if (rv != 0) {
		stream_free(s);
		return rv;
	}
	s->begin_len = strlen(s->begin);
	s->leader = cl->leader_hint >= 0 && cl->leader_hint < s->n ? cl->leader_hint : 0;
	*out = s;
	return 0;
}

/*
 * dst (party full's shares of k values) = values - the PRG streams of the
 * other parties' slots from byte offset skip, PRG_PIECE values at a time.
 * With one party, its share is the value.
 */
static int mask_rows(struct mpc_append_stream *s, int full, uint64_t *dst, const uint64_t *values,
		     size_t k, uint64_t skip)
{
	if (s->n == 1) {
		memcpy(dst, values, k * sizeof(uint64_t));
		return 0;
	}
	if (s->prg_cap < k && s->prg_cap < PRG_PIECE) {
		size_t cap = k < PRG_PIECE ? k : PRG_PIECE;
		uint64_t *prg = slot_alloc(cap);
		if (prg == NULL)
			return MPC_ENOMEM;
		slot_data_free(s->prg, s->prg_cap);
		s->prg = prg;
		s->prg_cap = cap;
	}
	for (size_t at = 0; at < k; at += PRG_PIECE) {
		size_t m = k - at < PRG_PIECE ? k - at : PRG_PIECE;
		for (int p = 0, first = 1; p < s->n; p++) {
			const struct slot *sl = &s->pipe[p].slot[s->pipe[p].head % NSLOTS];
			const uint64_t *src = first ? values + at : dst + at;
			if (p == full)
				continue;
			first = 0;
			if (mpc_chunkseed_expand(sl->seed, skip + at * sizeof(uint64_t), s->prg,
						 m * sizeof(uint64_t)) != 0)
				return MPC_ECRYPTO;
			for (size_t i = 0; i < m; i++)
				dst[at + i] = src[i] - s->prg[i];
		}
	}
	return 0;
}

int mpc_append_stream_rows(struct mpc_append_stream *s, const uint64_t *values, uint64_t rows)
{
	size_t ncols = s->ncols;

	if (s->rv != 0)
		return s->rv;
	while (rows > 0) {
		size_t fill = s->pipe[0].slot[s->pipe[0].head % NSLOTS].fill, k;
		struct slot *slf;
		int full, rv;

		/* A full chunk goes out only when more rows come: the last one carries the prepare.
		 */
		if (fill == s->chunk_vals) {
			if (queue_chunks(s, 0) != 0)
				return s->rv;
			fill = 0;
		}
		k = (s->chunk_vals - fill) / ncols;
		if (k > rows)
			k = (size_t)rows;
		full = (int)(s->pipe[0].head % (uint64_t)s->n); /* all heads move together */
		slf = &s->pipe[full].slot[s->pipe[full].head % NSLOTS];
		if (slot_reserve(slf, fill + k * ncols, s->chunk_vals) != 0) {
			mpc_errmsg_printf(s->errmsg, "append to '%s': out of memory", s->table);
			return s->rv = MPC_ENOMEM;
		}
		if (fill == 0) /* a new chunk: fresh seeds (uniform shares, libsodium randomness) */
			for (int p = 0; p < s->n; p++) {
				struct slot *sl = &s->pipe[p].slot[s->pipe[p].head % NSLOTS];
				sl->full = p == full;
				if (!sl->full)
					randombytes_buf(sl->seed, MPC_CHUNKSEED_SEED);
			}
		if ((rv = mask_rows(s, full, slf->data + fill, values, k * ncols,
				    fill * sizeof(uint64_t))) != 0) {
			mpc_errmsg_printf(s->errmsg, "append to '%s': share generation failed%s",
					  s->table, rv == MPC_ENOMEM ? ": out of memory" : "");
			return s->rv = rv == MPC_ENOMEM ? MPC_ENOMEM : MPC_ECRYPTO;
		}
		for (int p = 0; p < s->n; p++)
			s->pipe[p].slot[s->pipe[p].head % NSLOTS].fill += k * ncols;
		values += k * ncols;
		rows -= k;
		s->rows += k;
	}
	return 0;
}

/* The whole append in one chunk per party: one parallel batch of calls, no threads. */
/*
 * The leader's (last) chunk of a single-chunk append with the other parties'
 * votes after the box (?commit=LEN, docs/rest-api.md): the leader prepares,
 * adds its vote and commits. Sets s->committed on a committed answer. When
 * that fails, resumes as after a lost connection (pp->rv and pp->errmsg say
 * how that went): the party's txn record says whether the chunk and its vote
 * are in, and mpc_append_stream_commit() commits with POST .../commit and
 * reads the final state.
 */
static void upload_commit(struct mpc_append_stream *s, struct party_pipe *pp,
			  const struct mpc_call *call, uint8_t *sealed)
{
	CURL *curl = mpc_client_party_handle(s->cl, pp->party);
	json_t *commit = json_pack("{s:[]}", "votes"), *resp = NULL;
	char path[256], *text = NULL;
	uint8_t *body = NULL;
	size_t tlen = 0;
	int rv;

	for (int p = 0; p < s->n && commit != NULL; p++)
		if (p != pp->party && s->pipe[p].vote != NULL)
			json_array_append(json_object_get(commit, "votes"), s->pipe[p].vote);
	if (commit != NULL && (text = json_dumps(commit, JSON_COMPACT)) != NULL)
		tlen = strlen(text);
	json_decref(commit);
	if (curl == NULL || text == NULL || (body = malloc(call->len + tlen)) == NULL) {
		free(text);
		mpc_errmsg_printf(pp->errmsg, "append to '%s': out of memory", s->table);
		pp->rv = MPC_ENOMEM;
		return;
	}
	memcpy(body, sealed, call->len);
	memcpy(body + call->len, text, tlen);
	free(text);
	snprintf(path, sizeof path, "%s&commit=%zu", call->path, tlen);
	rv = mpc_client_call_on(s->cl, curl, pp->party, "PUT", path, body, call->len + tlen, &resp,
				pp->errmsg);
	free(body);
	if (rv == 0) {
		const char *state = json_string_value(json_object_get(resp, "state"));
		keep_vote(pp, resp);
		s->committed = state != NULL && strcmp(state, "committed") == 0;
	} else {
		json_decref(resp);
		resp = NULL;
		pp->rv = deliver_chunk(pp, curl, &pp->slot[0], 1, sealed, &resp, pp->errmsg);
		if (pp->rv == 0)
			keep_vote(pp, resp);
	}
	json_decref(resp);
}

static int upload_single(struct mpc_append_stream *s)
{
	struct mpc_call calls[MPC_MAX_PARTIES];
	uint8_t *sealed[MPC_MAX_PARTIES] = {0};
	int rv = 0, lead;

	for (int p = 0; p < s->n; p++) {
		struct slot *sl = &s->pipe[p].slot[0];
		size_t len = sl->fill * sizeof(uint64_t);
		uint8_t msg[MPC_CHUNKSEED_BYTES];
		sl->offset = 0;
		sl->last = 1;
		const struct mpc_chunkbox_key *key = mpc_client_box_key(s->cl, p);
		sealed[p] = malloc((sl->full ? len : sizeof msg) + MPC_CHUNKBOX_BYTES + s->begin_len);
		if (sealed[p] == NULL || key == NULL) {
			mpc_errmsg_printf(s->errmsg, "append to '%s': out of memory", s->table);
			rv = MPC_ENOMEM;
			goto out;
		}
		if (!sl->full) { /* a seed chunk (see struct slot) */
			mpc_chunkseed_pack(msg, sl->seed, 0, len);
			rv = mpc_chunkbox_seal(key, sealed[p], msg, sizeof msg);
			sodium_memzero(msg, sizeof msg);
			len = sizeof msg;
		} else {
			rv = mpc_chunkbox_seal(key, sealed[p], (const uint8_t *)sl->data, len);
		}
		if (rv != 0) {
			mpc_errmsg_printf(s->errmsg, "append to '%s': party %d: cannot encrypt",
					  s->table, p);
			rv = MPC_ECRYPTO;
			goto out;
		}
		/* the signed begin after the box: the party opens the txn with it */
		memcpy(sealed[p] + len + MPC_CHUNKBOX_BYTES, s->begin, s->begin_len);
		calls[p] = (struct mpc_call){.party = p,
					     .method = "PUT",
					     .body = sealed[p],
					     .len = len + MPC_CHUNKBOX_BYTES + s->begin_len};
		snprintf(calls[p].path, sizeof calls[p].path,
			 "/v1/txns/%s/chunks?offset=0&begin=%zu&prepare=1&vote=1%s", s->txn,
			 s->begin_len, sl->full ? "" : "&seed=1");
	}
	/* The leader's chunk goes last and carries the others' votes: its answer is
	 * the commit's (one request less per append). With one party, or no leader
	 * known, all chunks go together and the commit follows. */
	lead = s->n > 1 && s->leader >= 0 && s->leader < s->n ? s->leader : -1;
	if (lead >= 0) {
		struct mpc_call swap = calls[lead];
		calls[lead] = calls[s->n - 1];
		calls[s->n - 1] = swap;
	}
	mpc_client_call_many(s->cl, calls, lead >= 0 ? s->n - 1 : s->n);
	for (int i = 0; i < (lead >= 0 ? s->n - 1 : s->n); i++) {
		int p = calls[i].party;
		struct party_pipe *pp = &s->pipe[p];
		pp->rv = calls[i].rv;
		memcpy(pp->errmsg, calls[i].errmsg, MPC_ERRMSG_SIZE);
		if (pp->rv == 0)
			keep_vote(pp, calls[i].resp);
		json_decref(calls[i].resp);
		if (pp->rv == MPC_EUNAVAIL) {
			CURL *curl = mpc_client_party_handle(s->cl, p);
			json_t *resp = NULL;
			pp->rv = curl ? deliver_chunk(pp, curl, &pp->slot[0], 1, sealed[p], &resp,
						      pp->errmsg)
				      : MPC_ENOMEM;
			if (pp->rv == 0)
				keep_vote(pp, resp);
			json_decref(resp);
		}
	}
	rv = stream_failure(s);
	if (rv == 0 && lead >= 0) {
		upload_commit(s, &s->pipe[lead], &calls[s->n - 1], sealed[lead]);
		rv = stream_failure(s);
	}
out:
	for (int p = 0; p < s->n; p++)
		free(sealed[p]);
	return rv;
}

/* Aborts the txn through the first party that answers (nothing may become visible). */
static int abort_txn(struct mpc_append_stream *s, const char *reason)
{
	char ignore[MPC_ERRMSG_SIZE];
	int rv = MPC_EUNAVAIL;
	for (int p = 0; p < s->n && rv == MPC_EUNAVAIL; p++)
		rv = mpc_client_txn_abort(s->cl, p, s->txn, reason, ignore);
	return rv;
}

/* Sends the parties' signed votes in one commit (one Raft entry, applied by
 * every party: docs/architecture.md §5). 0: committed. */
static int commit_votes(struct mpc_append_stream *s, char *errmsg)
{
	json_t *votes = json_array();
	int rv = MPC_ESTATE;

	for (int p = 0; p < s->n; p++)
		if (s->pipe[p].vote != NULL)
			json_array_append(votes, s->pipe[p].vote);
	if (json_array_size(votes) > 0)
		rv = mpc_client_txn_commit(s->cl, s->cl->leader_hint, s->txn, s->begin, votes,
					   errmsg);
	json_decref(votes);
	return rv;
}

int mpc_append_stream_commit(struct mpc_append_stream *s, struct mpc_append_result *result,
			     char *errmsg)
{
	int rv = s->rv, wrv;

	memset(result, 0, sizeof *result);
	snprintf(result->txn, sizeof result->txn, "%s", s->txn);
	result->revision = s->revision;
	result->leader = s->leader;
	if (rv == 0 && s->rows == 0) {
		mpc_errmsg_printf(s->errmsg, "append of no rows to '%s'", s->table);
		rv = s->rv = MPC_EINVAL;
	}
	if (rv == 0 && !s->threads) {
		rv = upload_single(s);
	} else if (rv == 0) {
		queue_chunks(s, 1);
		join_threads(s);
		rv = stream_failure(s);
	}
	if (rv != 0) {
		/* Stop the other uploads, then abort: nothing may become visible. */
		pthread_mutex_lock(&s->mu);
		s->cancelled = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		join_threads(s);
		memcpy(errmsg, s->errmsg, MPC_ERRMSG_SIZE);
		abort_txn(s, s->errmsg);
	}
	if (rv == 0 && (s->committed || commit_votes(s, errmsg) == 0)) {
		snprintf(result->state, sizeof result->state, "committed");
		stream_free(s);
		return 0;
	}
	/* Refused, unanswered, or votes cast in the log: the txn's final state says. */
	wrv = mpc_client_txn_wait(s->cl, s->leader, s->txn, WAIT_MS, result->state, result->reason,
				  sizeof result->reason, rv ? (char[MPC_ERRMSG_SIZE]){0} : errmsg);
	if (rv != 0 && wrv == 0 && strcmp(result->state, "committed") == 0) {
		/* the leader's chunk carried the commit, which went through, and then
		 * the answer and the leader were lost: every party voted for what it
		 * got, so the append is in (the abort above was refused) */
		rv = 0;
		errmsg[0] = '\0';
	} else if (rv == 0 && wrv != 0) {
		rv = wrv;
	} else if (rv == 0 && strcmp(result->state, "committed") != 0) {
		rv = MPC_ECONFLICT;
		mpc_errmsg_printf(errmsg, "txn %s %s: %s", s->txn, result->state, result->reason);
	}
	stream_free(s);
	return rv;
}

int mpc_append_stream_abort(struct mpc_append_stream *s, const char *reason)
{
	int rv;

	pthread_mutex_lock(&s->mu);
	s->cancelled = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	join_threads(s);
	rv = abort_txn(s, reason);
	stream_free(s);
	return rv;
}

const char *mpc_append_stream_txn(const struct mpc_append_stream *s)
{
	return s->txn;
}

uint64_t mpc_append_stream_row_count(const struct mpc_append_stream *s)
{
	return s->rows;
}

const char *mpc_append_stream_errmsg(const struct mpc_append_stream *s)
{
	return s->errmsg;
}
