/* Unit tests of the streaming append against a mock REST API: chunks, prepare, resume, abort. */
#include "client/internal.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the mock: replaces client/http.c for this test only ---- */

#define NP    3
#define NCOLS 3
#define TXN   m.txn /* the nonce of the client's signed begin, learnt from the first chunk */

struct mock_party {
	uint8_t box_sk[crypto_box_SECRETKEYBYTES];
	uint8_t *received;
	size_t len, cap;
	int prepared;   /* its vote is in the (mock) log */
	int voted_back; /* it answered its signed vote to the client (vote=1) */
	int puts, prepare_puts, prepare_calls, gets;
	size_t max_chunk;
	size_t seed_bytes; /* bodies of seed chunks received */
	int full_puts;	   /* chunks received with full shares, not a seed */
	int drop_after_store;  /* next PUTs: store, then report a dropped connection */
	int drop_before_store; /* next PUTs: report a dropped connection, store nothing */
	int down;              /* every call fails as unreachable */
	int down_after_drop;   /* after a drop_after_store: down */
};

static struct mock {
	pthread_mutex_t mu;
	struct mpc_cluster cluster;
	struct mock_party party[NP];
	char txn[33];
	int begins; /* chunks that carried the signed begin (?begin=LEN) */
	char state[16];
	char reason[256];
	int aborts;
	int commits, waits;
	int chunk_commits; /* commits carried by a last chunk (?commit=LEN) */
	int refuse_commit; /* the commit is refused: the txn aborted meanwhile */
} m = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void mock_reset(void)
{
	cr_assert(sodium_init() >= 0);
	for (int p = 0; p < NP; p++)
		free(m.party[p].received);
	memset(&m.party, 0, sizeof m.party);
	memset(&m.cluster, 0, sizeof m.cluster);
	m.cluster.n_parties = NP;
	for (int p = 0; p < NP; p++) {
		snprintf(m.cluster.parties[p].host, sizeof m.cluster.parties[p].host, "mock");
		m.cluster.parties[p].api_port = 1000 + (unsigned)p;
		crypto_box_keypair(m.cluster.parties[p].box_pk, m.party[p].box_sk);
	}
	strcpy(m.state, "uploading"); /* only uploads until the commit */
	m.txn[0] = '\0';
	m.begins = 0;
	m.reason[0] = '\0';
	m.aborts = 0;
	m.commits = m.waits = m.refuse_commit = m.chunk_commits = 0;
}

static json_t *record(int party)
{
	json_t *prepared = json_object();
	for (int p = 0; p < NP; p++)
		if (m.party[p].prepared) {
			char k[8];
			snprintf(k, sizeof k, "%d", p);
			json_object_set_new(prepared, k, json_object());
		}
	return json_pack("{s:s, s:s, s:s, s:o, s:{s:i, s:I, s:b}}", "id", TXN, "state", m.state,
			 "reason", m.reason, "prepared", prepared, "local", "party", party,
			 "received", (json_int_t)m.party[party].len, "sealed",
			 m.party[party].voted_back || m.party[party].prepared);
}

static void vote(int party)
{
	int all = 1;
	m.party[party].prepared = 1;
	for (int p = 0; p < NP; p++)
		all &= m.party[p].prepared;
	if (all)
		strcpy(m.state, "committed");
}

/* The party seals and answers its signed vote (vote=1), or votes in the log. */
static void prepare(int party, const char *path, json_t **resp)
{
	if (strstr(path, "vote=1") == NULL) {
		vote(party);
		return;
	}
	m.party[party].voted_back = 1;
	if (resp != NULL)
		*resp = json_pack("{s:i, s:s, s:{s:i, s:s}}", "party", party, "vote", "prepared",
				  "signed_vote", "party", party, "sig", "mock");
}

/* POST .../commit {"votes": [...]}: every vote must be one its party answered. */
static int commit(const void *body, size_t len, json_t **resp, char *errmsg)
{
	json_t *b = json_loadb(body, len, 0, NULL), *v;
	size_t i;

	m.commits++;
	cr_assert(json_array_size(json_object_get(b, "votes")) > 0, "a commit carries votes");
	json_array_foreach(json_object_get(b, "votes"), i, v)
	{
		int p = (int)json_integer_value(json_object_get(v, "party"));
		cr_assert(p >= 0 && p < NP && m.party[p].voted_back, "vote of party %d", p);
		if (!m.refuse_commit)
			vote(p);
	}
	json_decref(b);
	if (m.refuse_commit) {
		strcpy(m.state, "aborted");
		strcpy(m.reason, "timeout: not all parties prepared");
		mpc_errmsg_printf(errmsg, "commit of txn %s refused: state (txn aborted)", TXN);
		return MPC_ESTATE;
	}
	if (strcmp(m.state, "committed") != 0) {
		mpc_errmsg_printf(errmsg, "commit of txn %s refused: not every party voted", TXN);
		return MPC_ESTATE;
	}
	if (resp != NULL)
		*resp = json_pack("{s:s, s:s}", "id", TXN, "state", "committed");
	return 0;
}

static int unreachable(int party, char *errmsg)
{
	mpc_errmsg_printf(errmsg, "party %d (mock:%d) unreachable: Connection refused", party,
			  1000 + party);
	return MPC_EUNAVAIL;
}

static int mock_call(int party, const char *method, const char *path, const void *body, size_t len,
		     json_t **resp, char *errmsg)
{
	struct mock_party *mp = &m.party[party];
	const char *carried = strstr(path, "&commit=");
	json_t *commit_body = NULL;
	int rv = 0;

	if (resp != NULL)
		*resp = NULL;
	pthread_mutex_lock(&m.mu);
	if (carried != NULL) { /* the box, then {"votes": [...]} of LEN bytes */
		size_t vlen = strtoul(carried + 8, NULL, 10);
		cr_assert(strcmp(method, "PUT") == 0 && strstr(path, "&prepare=1&vote=1") != NULL);
		cr_assert(vlen > 0 && vlen < len, "votes after the box");
		commit_body = json_loadb((const char *)body + len - vlen, vlen, 0, NULL);
		cr_assert(json_is_array(json_object_get(commit_body, "votes")));
		len -= vlen;
	}
	if (strcmp(method, "PUT") == 0) { /* every chunk: box, then the signed begin */
		const char *b = strstr(path, "&begin=");
		size_t blen = b ? strtoul(b + 7, NULL, 10) : 0;
		json_t *begin;
		cr_assert(blen > 0 && blen < len, "a chunk carries the signed begin: %s", path);
		begin = json_loadb((const char *)body + len - blen, blen, 0, NULL);
		cr_assert_str_eq(json_string_value(json_object_get(begin, "path")), "/v1/txns");
		cr_assert_eq(strlen(json_string_value(json_object_get(begin, "nonce"))), 32);
		if (m.txn[0] == '\0')
			snprintf(m.txn, sizeof m.txn, "%s",
				 json_string_value(json_object_get(begin, "nonce")));
		cr_assert_str_eq(json_string_value(json_object_get(begin, "nonce")), m.txn,
				 "the txn id is the begin's nonce");
		json_decref(begin);
		m.begins++;
		len -= blen;
	}
	if (mp->down) {
		rv = unreachable(party, errmsg);
	} else if (strcmp(method, "PUT") == 0) {
		uint64_t off = 0;
		int last = strstr(path, "&prepare=1") != NULL;
		size_t plain = len - MPC_CHUNKBOX_BYTES;
		int seeded = strstr(path, "&seed=1") != NULL;
		const uint8_t *seed = NULL;
		uint64_t skip = 0, slen = 0;
		uint8_t *copy = malloc(len), *chunk = NULL;
		memcpy(copy, body, len);
		cr_assert(mpc_chunkbox_open(copy, len, m.cluster.parties[party].box_pk, mp->box_sk,
					    &chunk) == 0,
			  "boxed to the party");
		if (seeded) {
			cr_assert_eq(mpc_chunkseed_unpack(chunk, plain, &seed, &skip, &slen), 0,
				     "a seed chunk message");
			plain = (size_t)slen;
			mp->seed_bytes += len;
		} else {
			mp->full_puts++;
		}
		cr_assert(sscanf(strstr(path, "offset="), "offset=%" SCNu64, &off) == 1);
		cr_assert(strncmp(path, "/v1/txns/", 9) == 0 && strncmp(path + 9, TXN, 32) == 0 &&
			      strncmp(path + 41, "/chunks?", 8) == 0,
			  "%s", path);
		if (mp->drop_before_store > 0) {
			mp->drop_before_store--;
			free(copy);
			rv = unreachable(party, errmsg);
			goto out;
		}
		mp->puts++;
		cr_assert_eq(plain % (NCOLS * 8), 0, "chunks are whole rows");
		cr_assert_eq(off, mp->len, "party %d: offset %" PRIu64 " after %zu bytes", party,
			     off, mp->len);
		cr_assert(!mp->prepared, "no chunk after the prepare");
		cr_assert_str_eq(m.state, "uploading");
		if (plain > mp->max_chunk)
			mp->max_chunk = plain;
		if (mp->len + plain > mp->cap) {
			mp->cap = (mp->len + plain) * 2;
			mp->received = realloc(mp->received, mp->cap);
		}
		if (seeded)
			cr_assert_eq(mpc_chunkseed_expand(seed, skip, mp->received + mp->len, plain),
				     0);
		else
			memcpy(mp->received + mp->len, chunk, plain);
		free(copy);
		mp->len += plain;
		if (last) {
			mp->prepare_puts++;
			prepare(party, path, resp);
		}
		if (commit_body != NULL) { /* the party adds its vote and commits */
			json_t *own = json_incref(json_object_get(*resp, "signed_vote"));
			char *text;
			json_array_append_new(json_object_get(commit_body, "votes"), own);
			text = json_dumps(commit_body, JSON_COMPACT);
			json_decref(*resp);
			*resp = NULL;
			m.chunk_commits++;
			rv = commit(text, strlen(text), resp, errmsg);
			free(text);
			if (rv == 0)
				json_object_set(*resp, "signed_vote", own);
		}
		if (mp->drop_after_store > 0) {
			mp->drop_after_store--;
			mp->down = mp->down_after_drop;
			rv = unreachable(party, errmsg);
		}
	} else if (strcmp(method, "POST") == 0 && strstr(path, "/prepare") != NULL) {
		mp->prepare_calls++;
		prepare(party, path, resp);
	} else if (strcmp(method, "POST") == 0 && strstr(path, "/commit") != NULL) {
		rv = commit(body, len, resp, errmsg);
	} else if (strcmp(method, "POST") == 0 && strstr(path, "/abort") != NULL) {
		json_t *b = json_loadb(body, len, 0, NULL);
		m.aborts++;
		if (strcmp(m.state, "committed") == 0) {
			mpc_errmsg_printf(errmsg, "abort of txn %s refused: already committed", TXN);
			rv = MPC_ESTATE;
		} else if (strcmp(m.state, "aborted") != 0) {
			strcpy(m.state, "aborted");
			snprintf(m.reason, sizeof m.reason, "aborted by client: %s",
				 json_string_value(json_object_get(b, "reason")));
		}
		json_decref(b);
	} else if (strcmp(method, "GET") == 0 && strncmp(path, "/v1/txns/", 9) == 0 &&
		   strncmp(path + 9, TXN, 32) == 0) {
		if (strstr(path, "?wait=") == NULL)
			mp->gets++; /* resume lookups, not the final long poll */
		else
			m.waits++;
		if (mp->puts == 0 && strcmp(m.state, "uploading") == 0) {
			/* as a party: a txn the log does not know and it has no upload of */
			mpc_errmsg_printf(errmsg, "txn %s: unknown transaction", TXN);
			rv = MPC_ENOENT;
		} else if (resp != NULL) {
			*resp = record(party);
		}
	} else if (strcmp(method, "GET") == 0 && strncmp(path, "/v1/tables/", 11) == 0) {
		if (resp != NULL)
			*resp = json_pack("{s:[{s:s},{s:s},{s:s}]}", "columns", "name", "a", "name",
					  "b", "name", "c");
	} else {
		cr_assert_fail("unexpected call %s %s", method, path);
	}
out:
	json_decref(commit_body);
	if (rv != 0 && resp != NULL) { /* an answer only on success (mpcclient.h) */
		json_decref(*resp);
		*resp = NULL;
	}
	pthread_mutex_unlock(&m.mu);
	return rv;
}

int mpc_client_call(struct mpc_client *cl, int party, const char *method, const char *path,
		    const void *body, size_t len, json_t **resp, char *errmsg)
{
	return mock_call(party, method, path, body, len, resp, errmsg);
}

int mpc_client_call_on(struct mpc_client *cl, CURL *curl, int party, const char *method,
		       const char *path, const void *body, size_t len, json_t **resp, char *errmsg)
{
	cr_assert_eq((void *)curl, (void *)&m.party[party], "the party's own handle");
	return mock_call(party, method, path, body, len, resp, errmsg);
}

CURL *mpc_client_party_handle(struct mpc_client *cl, int party)
{
	return (CURL *)&m.party[party];
}

int mpc_client_call_many(struct mpc_client *cl, struct mpc_call *calls, int n)
{
	int first = 0;
	for (int i = 0; i < n; i++) {
		calls[i].resp = NULL;
		calls[i].rv =
		    mock_call(calls[i].party, calls[i].method, calls[i].path, calls[i].body,
			      calls[i].len, &calls[i].resp, calls[i].errmsg);
		if (calls[i].rv != 0 && first == 0)
			first = calls[i].rv;
	}
	return first;
}

int mpc_client_call_any(struct mpc_client *cl, const char *method, const char *path,
			const void *body, size_t len, json_t **resp, char *errmsg)
{
	int rv = MPC_EUNAVAIL;
	for (int p = 0; p < NP && rv == MPC_EUNAVAIL; p++)
		rv = mock_call(p, method, path, body, len, resp, errmsg);
	return rv;
}

const char *mpc_client_name(const struct mpc_client *cl)
{
	return "tester";
}

/* ---- helpers ---- */

static uint8_t client_sk[crypto_sign_SECRETKEYBYTES];
static struct mpc_client client = {.cluster = &m.cluster, .sign_sk = client_sk,
				   .signer = "tester"};

static uint64_t *make_rows(uint64_t rows)
{
	uint64_t *v = malloc(rows * NCOLS * sizeof *v);
	for (uint64_t i = 0; i < rows * NCOLS; i++)
		v[i] = i * 0x9e3779b97f4a7c15ULL - 12345;
	return v;
}

/* The parties' shares add up to values, row by row. */
static void assert_joined(const uint64_t *values, uint64_t rows)
{
	for (int p = 0; p < NP; p++)
		cr_assert_eq(m.party[p].len, rows * NCOLS * 8, "party %d got %zu bytes", p,
			     m.party[p].len);
	for (uint64_t i = 0; i < rows * NCOLS; i++) {
		uint64_t sum = 0, s;
		for (int p = 0; p < NP; p++) {
			memcpy(&s, m.party[p].received + i * 8, 8);
			sum += s;
		}
		cr_assert_eq(sum, values[i], "value %" PRIu64 " joins", i);
	}
}

/* Streams rows in batches of batch rows with chunks of chunk_rows rows; returns commit's rv. */
static int stream(const uint64_t *values, uint64_t rows, uint64_t batch, size_t chunk_rows,
		  struct mpc_append_result *res, char *errmsg)
{
	struct mpc_append_stream_opts o = {.chunk_bytes = chunk_rows * NCOLS * 8, .backoff_ms = 1};
	struct mpc_append_stream *s;
	json_t *cols = json_pack("[{s:s},{s:s},{s:s}]", "name", "a", "name", "b", "name", "c");
	int rv = mpc_append_stream_begin(&client, "t", cols, 1, &o, &s, errmsg);

	json_decref(cols);
	cr_assert_eq(rv, 0, "%s", errmsg);
	/* the begin is signed locally: an id and no call; every chunk then carries it */
	cr_assert_eq(strlen(mpc_append_stream_txn(s)), 32);
	cr_assert_eq(m.begins, 0, "no call at the begin");
	snprintf(m.txn, sizeof m.txn, "%s", mpc_append_stream_txn(s));
	for (uint64_t r = 0; r < rows; r += batch) {
		uint64_t k = rows - r < batch ? rows - r : batch;
		if (mpc_append_stream_rows(s, values + r * NCOLS, k) != 0)
			break;
	}
	return mpc_append_stream_commit(s, res, errmsg);
}

/* Streams make_rows(rows) as stream() does into res; asserts that the commit succeeded and
 * that the parties' shares join to the rows. */
static void stream_joined(uint64_t rows, uint64_t batch, size_t chunk_rows,
			  struct mpc_append_result *res)
{
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *v = make_rows(rows);

	cr_assert_eq(stream(v, rows, batch, chunk_rows, res, err), 0, "%s", err);
	assert_joined(v, rows);
	free(v);
}

TestSuite(append_stream, .init = mock_reset);

/* ---- tests ---- */

Test(append_stream, small_batches_fill_whole_row_chunks_and_prepare_once)
{
	struct mpc_append_result res;

	stream_joined(1000, 7, 10, &res);
	cr_assert_str_eq(res.state, "committed");
	for (int p = 0; p < NP; p++) {
		cr_assert_eq(m.party[p].puts, 100, "party %d: %d chunks", p, m.party[p].puts);
		cr_assert_eq(m.party[p].max_chunk, 10 * NCOLS * 8);
		cr_assert_eq(m.party[p].prepare_puts, 1, "the last chunk carries the prepare");
		cr_assert_eq(m.party[p].prepare_calls, 0, "no separate prepare");
		cr_assert_eq(m.party[p].gets, 0);
	}
	cr_assert_eq(m.commits, 1, "one commit carries the three votes");
	cr_assert_eq(m.waits, 0, "the commit's answer is the outcome: no poll");
}

/* Seed-compressed shares: of each chunk one party gets the full correction,
 * in turn (chunk i: party i mod n), the others a boxed seed; no party's
 * shares are the values, and no two parties' shares are the same. */
Test(append_stream, one_party_per_chunk_gets_full_shares_in_turn)
{
	struct mpc_append_result res;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *v = make_rows(1000);
	int same[NP] = {0}, same12 = 0, full = 0;

	cr_assert_eq(stream(v, 1000, 7, 100, &res, err), 0, "%s", err);
	assert_joined(v, 1000);
	for (int p = 0; p < NP; p++) {
		int seeded = m.party[p].puts - m.party[p].full_puts;
		cr_assert_eq(m.party[p].puts, 10);
		cr_assert_eq(m.party[p].full_puts, p == 0 ? 4 : 3, "party %d: %d full chunks", p,
			     m.party[p].full_puts);
		cr_assert_eq(m.party[p].seed_bytes,
			     (size_t)seeded * (MPC_CHUNKSEED_BYTES + MPC_CHUNKBOX_BYTES),
			     "party %d: %zu bytes for %d seed chunks", p, m.party[p].seed_bytes,
			     seeded);
		full += m.party[p].full_puts;
	}
	cr_assert_eq(full, 10, "one full party per chunk");
	for (size_t i = 0; i < 1000 * NCOLS; i++) {
		uint64_t sh[NP];
		for (int p = 0; p < NP; p++) {
			memcpy(&sh[p], m.party[p].received + i * 8, 8);
			same[p] += sh[p] == v[i];
		}
		same12 += sh[1] == sh[2];
	}
	for (int p = 0; p < NP; p++)
		cr_assert_lt(same[p], 3, "party %d: %d shares equal their values", p, same[p]);
	cr_assert_lt(same12, 3, "parties 1 and 2 got different streams");
	free(v);
}

Test(append_stream, single_chunk_is_one_call_per_party)
{
	struct mpc_append_result res;

	stream_joined(5, 2, 1000, &res);
	for (int p = 0; p < NP; p++)
		cr_assert(m.party[p].puts == 1 && m.party[p].prepare_puts == 1);
	cr_assert_eq(m.chunk_commits, 1, "the leader's chunk carries the commit");
	cr_assert_eq(m.commits, 1, "no separate commit request");
}

Test(append_stream, lost_answer_to_the_leaders_commit_chunk_still_commits)
{
	struct mpc_append_result res;

	m.party[0].drop_after_store = 1; /* the leader committed, its answer is lost */
	stream_joined(3, 3, 10, &res);
	cr_assert_str_eq(res.state, "committed");
	cr_assert_eq(m.party[0].puts, 1, "the chunk is not sent twice");
	cr_assert_eq(m.party[0].gets, 1, "asked what it holds");
	cr_assert_eq(m.chunk_commits, 1);
	cr_assert_eq(m.commits, 2, "the commit retried with POST .../commit: harmless");
}

Test(append_stream, leader_lost_after_its_carried_commit_reports_committed)
{
	struct mpc_append_result res;

	m.party[0].drop_after_store = 1; /* committed, then the answer and the party are lost */
	m.party[0].down_after_drop = 1;
	stream_joined(3, 3, 10, &res);
	cr_assert_str_eq(res.state, "committed", "the final state from another party");
	cr_assert_eq(m.chunk_commits, 1);
	cr_assert_eq(m.waits, 1, "asked another party for the outcome");
}

Test(append_stream, leaders_commit_chunk_lost_before_it_arrived_is_resent_then_committed)
{
	struct mpc_append_result res;

	m.party[0].drop_before_store = 1;
	stream_joined(3, 3, 10, &res);
	cr_assert_str_eq(res.state, "committed");
	cr_assert_eq(m.party[0].puts, 1);
	cr_assert_eq(m.party[0].prepare_puts, 1, "resent as a plain last chunk");
	cr_assert_eq(m.chunk_commits, 0);
	cr_assert_eq(m.commits, 1, "then one POST .../commit with all votes");
}

Test(append_stream, exact_multiple_of_the_chunk_needs_no_empty_last_chunk)
{
	struct mpc_append_result res;

	stream_joined(40, 40, 10, &res);
	for (int p = 0; p < NP; p++)
		cr_assert(m.party[p].puts == 4 && m.party[p].prepare_puts == 1 &&
			  m.party[p].prepare_calls == 0);
}

Test(append_stream, resumes_when_the_answer_was_lost)
{
	struct mpc_append_result res;

	m.party[1].drop_after_store = 2; /* chunks 1 and 2 arrive, their answers do not */
	stream_joined(100, 3, 10, &res);
	cr_assert_eq(m.party[1].puts, 10, "nothing sent twice");
	cr_assert_eq(m.party[1].gets, 2, "asked for the received count");
}

Test(append_stream, resumes_when_the_chunk_was_lost)
{
	struct mpc_append_result res;

	m.party[2].drop_before_store = 3; /* three attempts fail: within the 4 retries */
	stream_joined(100, 100, 10, &res);
	cr_assert_eq(m.party[2].gets, 3);
}

Test(append_stream, lost_answer_to_the_prepare_chunk_counts_the_vote)
{
	struct mpc_append_result res;

	m.party[1].drop_after_store = 1; /* single-chunk path: the vote is in, the answer lost */
	stream_joined(3, 3, 10, &res);
	cr_assert_str_eq(res.state, "committed");
	cr_assert_eq(m.party[1].puts, 1);
	cr_assert_eq(m.party[1].gets, 1, "asked what it holds");
	cr_assert_eq(m.party[1].prepare_calls, 1, "asked for its vote again, without the chunk");
	cr_assert_eq(m.commits, 1);
	cr_assert_eq(m.chunk_commits, 1, "carried by the leader's chunk");
}

Test(append_stream, refused_commit_reports_the_final_state_and_reason)
{
	struct mpc_append_result res;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *v = make_rows(3);

	m.refuse_commit = 1;
	cr_assert_eq(stream(v, 3, 3, 10, &res, err), MPC_ECONFLICT);
	cr_assert_str_eq(res.state, "aborted");
	cr_assert(strstr(err, "timeout: not all parties prepared"), "%s", err);
	cr_assert_eq(m.waits, 1, "the outcome from the txn record");
	free(v);
}

Test(append_stream, party_down_aborts_and_names_it)
{
	struct mpc_append_result res;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *v = make_rows(100);

	m.party[2].down = 1;
	cr_assert_eq(stream(v, 100, 10, 10, &res, err), MPC_EUNAVAIL);
	cr_assert(strstr(err, "party 2") && strstr(err, "unreachable") &&
		      strstr(err, "gave up after 4 reconnect attempts"),
		  "%s", err);
	cr_assert_str_eq(m.state, "aborted");
	cr_assert_str_eq(res.state, "aborted");
	cr_assert(strstr(m.reason, "party 2"), "%s", m.reason);
	free(v);
}

Test(append_stream, commit_without_rows_aborts)
{
	struct mpc_append_result res;
	char err[MPC_ERRMSG_SIZE] = "";

	cr_assert_eq(stream(NULL, 0, 1, 10, &res, err), MPC_EINVAL);
	cr_assert(strstr(err, "no rows"), "%s", err);
	cr_assert_str_eq(m.state, "aborted");
}

Test(append_stream, abort_stops_the_uploads)
{
	struct mpc_append_stream_opts o = {.ncols = NCOLS, .chunk_bytes = 10 * NCOLS * 8};
	struct mpc_append_stream *s;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t *v = make_rows(100);

	cr_assert_eq(mpc_append_stream_begin(&client, "t", NULL, 0, &o, &s, err), 0, "%s", err);
	cr_assert_eq(mpc_append_stream_rows(s, v, 100), 0);
	cr_assert_eq(mpc_append_stream_row_count(s), 100);
	cr_assert_eq(mpc_append_stream_abort(s, "parse error"), 0);
	cr_assert_str_eq(m.state, "aborted");
	cr_assert_str_eq(m.reason, "aborted by client: parse error");
	for (int p = 0; p < NP; p++)
		cr_assert(!m.party[p].prepared);
	free(v);
}

Test(append_stream, columns_of_an_existing_table)
{
	struct mpc_append_stream *s;
	char err[MPC_ERRMSG_SIZE] = "";
	uint64_t v[NCOLS] = {1, 2, 3};
	struct mpc_append_result res;

	cr_assert_eq(mpc_append_stream_begin(&client, "t", NULL, 0, NULL, &s, err), 0, "%s", err);
	cr_assert_eq(mpc_append_stream_rows(s, v, 1), 0);
	cr_assert_eq(mpc_append_stream_commit(s, &res, err), 0, "%s", err);
	assert_joined(v, 1);
}

Test(append_stream, client_append_is_the_stream)
{
	uint64_t *v = make_rows(50);
	struct mpc_append req = {"t", NULL, 0, v, 50, NCOLS, 10 * NCOLS * 8, 0};
	struct mpc_append_result res;
	char err[MPC_ERRMSG_SIZE] = "";

	cr_assert_eq(mpc_client_append(&client, &req, &res, err), 0, "%s", err);
	cr_assert_str_eq(res.txn, TXN);
	assert_joined(v, 50);
	cr_assert_eq(m.party[0].puts, 5);
	free(v);
}
