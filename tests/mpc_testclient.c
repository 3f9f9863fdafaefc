/* Test client for the store's append transactions: generates plaintext, appends it as shares through
 * libmpcclient, and provokes the bad inputs of the store issue. Prints one JSON object per action. */
#include "client/mpcclient.h"
#include "common/chunkbox.h"
#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* splitmix64: reproducible plaintext from --seed */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static json_t *make_columns(size_t ncols)
{
	json_t *cols = json_array();
	for (size_t c = 0; c < ncols; c++) {
		char name[16];
		snprintf(name, sizeof name, "c%zu", c);
		json_array_append_new(cols, json_pack("{s:s, s:s, s:i}", "name", name, "type", "int64",
						      "frac", 0));
	}
	return cols;
}

/* PUT of party's last chunk (zero shares) with the commit body {"votes": votes}
 * after the box (?commit=LEN, docs/rest-api.md), or with tail as those bytes. */
static int put_chunk_commit(struct mpc_client *cl, int party, const char *txn, const char *begin,
			    size_t len, json_t *votes, const char *tail, char *err)
{
	const struct mpc_cluster *c = mpc_client_cluster(cl);
	struct mpc_chunkbox_key *key = mpc_chunkbox_key_new(c->parties[party].box_pk);
	json_t *body = json_pack("{s:O}", "votes", votes);
	char *text = tail ? strdup(tail) : json_dumps(body, JSON_COMPACT), path[256];
	size_t tlen = text ? strlen(text) : 0, blen = strlen(begin);
	uint8_t *shares = calloc(1, len), *buf = malloc(len + MPC_CHUNKBOX_BYTES + blen + tlen);
	int rv = MPC_ENOMEM;

	if (key != NULL && text != NULL && shares != NULL && buf != NULL &&
	    mpc_chunkbox_seal(key, buf, shares, len) == 0) {
		memcpy(buf + len + MPC_CHUNKBOX_BYTES, begin, blen);
		memcpy(buf + len + MPC_CHUNKBOX_BYTES + blen, text, tlen);
		snprintf(path, sizeof path,
			 "/v1/txns/%s/chunks?offset=0&begin=%zu&prepare=1&vote=1&commit=%zu", txn,
			 blen, tlen);
		rv = mpc_client_call(cl, party, "PUT", path, buf,
				     len + MPC_CHUNKBOX_BYTES + blen + tlen, NULL, err);
	}
	mpc_chunkbox_key_free(key);
	json_decref(body);
	free(text);
	free(shares);
	free(buf);
	return rv;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mpc-testclient -c CLIENT.CONF COMMAND TABLE [--rows N] [--cols K] [--seed S]\n"
		"                      [--count M] [--create] [--chunk BYTES]\n"
		"commands: append (M transactions), bad-offset, bad-rows, bad-seed, bad-seed-rows,\n"
		"          forged-vote, chunk-commit, unknown-table, forged-begin, orphan-upload\n");
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *cmd = NULL, *table = NULL;
	uint64_t rows = 10, seed = 1;
	size_t ncols = 2, chunk = 0;
	int count = 1, create = 0, failures = 0;
	char err[MPC_ERRMSG_SIZE] = "";
	struct mpc_client *cl;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			rows = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--cols") == 0 && i + 1 < argc)
			ncols = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
			chunk = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--create") == 0)
			create = 1;
		else if (cmd == NULL)
			cmd = argv[i];
		else if (table == NULL)
			table = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (cmd == NULL || table == NULL || ncols == 0 || rows == 0) {
		usage();
		return 2;
	}
	if (mpc_client_open(conf, &cl, err) != 0) {
		fprintf(stderr, "mpc-testclient: %s\n", err);
		return 1;
	}
	rng_state = seed;
	json_t *cols = make_columns(ncols);
	int n = mpc_client_cluster(cl)->n_parties;

	if (strcmp(cmd, "append") == 0) {
		uint64_t *values = malloc(rows * ncols * sizeof *values);
		for (int t = 0; t < count; t++) {
			struct mpc_append req = {table, cols, create, values, rows, ncols, chunk, 0};
			struct mpc_append_result res;
			json_t *sums = json_array();
			uint64_t s[64] = {0};
			int rv;
			for (uint64_t i = 0; i < rows * ncols; i++) {
				values[i] = (uint64_t)((int64_t)(rng() % 2000001) - 1000000);
				if (i % ncols < 64)
					s[i % ncols] += values[i];
			}
			rv = mpc_client_append(cl, &req, &res, err);
			for (size_t c = 0; c < ncols && c < 64; c++) {
				char text[24];
				snprintf(text, sizeof text, "%" PRIu64, s[c]);
				json_array_append_new(sums, json_string(text));
			}
			json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "op", "append", "txn",
					      res.txn, "state", res.state[0] ? res.state : "unknown",
					      "error", rv ? err : "", "rows", (json_int_t)rows, "sums",
					      sums);
			char *text = json_dumps(j, JSON_COMPACT);
			printf("%s\n", text);
			fflush(stdout);
			free(text);
			json_decref(j);
			if (rv != 0)
				failures++;
		}
		free(values);
	} else if (strcmp(cmd, "bad-offset") == 0 || strcmp(cmd, "bad-rows") == 0) {
		char txn[33], state[16] = "", reason[256] = "", perr[MPC_ERRMSG_SIZE] = "";
		uint64_t *sh = calloc(rows * ncols + ncols, sizeof *sh);
		char *begin = NULL;
		json_t *votes = json_array();
		int rv = mpc_client_txn_begin(cl, table, cols, create, 0, txn, &begin, err);
		if (rv != 0) {
			fprintf(stderr, "mpc-testclient: begin: %s\n", err);
			return 1;
		}
		for (int p = 0; p < n; p++) {
			/* bad-rows: party 0 gets one row more than the others */
			uint64_t r = rows + (strcmp(cmd, "bad-rows") == 0 && p == 0);
			uint64_t off = strcmp(cmd, "bad-offset") == 0 && p == 1 ? 8 : 0;
			rv = mpc_client_txn_put(cl, p, txn, begin, off, sh, r * ncols * 8, 0, perr);
			if (rv != 0)
				break;
		}
		for (int p = 0; p < n && rv == 0; p++) {
			json_t *v = NULL;
			if (mpc_client_txn_prepare_vote(cl, p, txn, &v, err) == 0)
				json_array_append_new(votes, v);
		}
		if (rv == 0) /* the votes disagree on the rows: the commit's apply aborts */
			mpc_client_txn_commit(cl, 0, txn, begin, votes, err);
		json_decref(votes);
		free(begin);
		mpc_client_txn_wait(cl, -1, txn, 10000, state, reason, sizeof reason, err);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", cmd, "txn", txn, "state",
				      state, "reason", reason, "put_error", perr);
		char *text = json_dumps(j, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(j);
		free(sh);
		failures = strcmp(state, "aborted") != 0;
	} else if (strcmp(cmd, "forged-vote") == 0) {
		/* The client carries the votes (POST .../commit): one relabelled as another
		 * party's is refused and records nothing; the true votes then commit. */
		char txn[33], state[16] = "", reason[256] = "", ferr[MPC_ERRMSG_SIZE] = "";
		uint64_t *sh = calloc(rows * ncols, sizeof *sh);
		char *begin = NULL;
		json_t *votes = json_array(), *forged;
		int rv = mpc_client_txn_begin(cl, table, cols, create, 0, txn, &begin, err);
		for (int p = 0; p < n && rv == 0; p++) {
			json_t *v = NULL;
			rv = mpc_client_txn_put(cl, p, txn, begin, 0, sh, rows * ncols * 8, 0, err);
			if (rv == 0)
				rv = mpc_client_txn_prepare_vote(cl, p, txn, &v, err);
			json_array_append_new(votes, v ? v : json_null());
		}
		if (rv != 0) {
			fprintf(stderr, "mpc-testclient: forged-vote: %s\n", err);
			return 1;
		}
		/* party 0's vote (signature and tags) relabelled as party 1's */
		forged = json_deep_copy(votes);
		json_array_set_new(forged, 1, json_deep_copy(json_array_get(votes, 0)));
		json_object_set_new(json_array_get(forged, 1), "party", json_integer(1));
		int frv = mpc_client_txn_commit(cl, 0, txn, begin, forged, ferr);
		rv = mpc_client_txn_commit(cl, 0, txn, begin, votes, err);
		free(begin);
		mpc_client_txn_wait(cl, -1, txn, 10000, state, reason, sizeof reason, err);
		json_t *j = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "op", cmd, "txn", txn,
				      "forged_refused", frv != 0, "forged_error", ferr, "state",
				      state, "error", rv ? err : "");
		char *text = json_dumps(j, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(j);
		json_decref(forged);
		json_decref(votes);
		free(sh);
		failures = frv == 0 || rv != 0 || strcmp(state, "committed") != 0;
	} else if (strcmp(cmd, "chunk-commit") == 0) {
		/* The last party's last chunk carries the others' votes (?commit=LEN):
		 * a tail that is not a commit body is refused before anything is
		 * staged; a relabelled vote is refused and records nothing; the true
		 * votes then commit. */
		char txn[33], state[16] = "", reason[256] = "", terr[MPC_ERRMSG_SIZE] = "",
			      ferr[MPC_ERRMSG_SIZE] = "";
		uint64_t *sh = calloc(rows * ncols, sizeof *sh);
		char *begin = NULL;
		json_t *votes = json_array(), *forged, *v = NULL;
		int trv = 0, frv = 0;
		int rv = mpc_client_txn_begin(cl, table, cols, create, 0, txn, &begin, err);
		for (int p = 0; p < n - 1 && rv == 0; p++) {
			json_t *pv = NULL;
			rv = mpc_client_txn_put(cl, p, txn, begin, 0, sh, rows * ncols * 8, 0, err);
			if (rv == 0)
				rv = mpc_client_txn_prepare_vote(cl, p, txn, &pv, err);
			json_array_append_new(votes, pv ? pv : json_null());
		}
		if (rv != 0 || n < 2) {
			fprintf(stderr, "mpc-testclient: chunk-commit: %s\n", err);
			return 1;
		}
		/* party 0's vote (signature and tags) relabelled as party 1's */
		forged = json_deep_copy(votes);
		json_array_set_new(forged, 1, json_deep_copy(json_array_get(votes, 0)));
		json_object_set_new(json_array_get(forged, 1), "party", json_integer(1));
		trv = put_chunk_commit(cl, n - 1, txn, begin, rows * ncols * 8, votes,
				       "{\"votes\":", terr);
		frv = put_chunk_commit(cl, n - 1, txn, begin, rows * ncols * 8, forged, NULL, ferr);
		rv = mpc_client_txn_prepare_vote(cl, n - 1, txn, &v, err);
		if (rv == 0) {
			json_array_append_new(votes, v);
			rv = mpc_client_txn_commit(cl, 0, txn, begin, votes, err);
		}
		free(begin);
		mpc_client_txn_wait(cl, -1, txn, 10000, state, reason, sizeof reason, err);
		json_t *j = json_pack("{s:s, s:s, s:b, s:s, s:b, s:s, s:s, s:s}", "op", cmd, "txn",
				      txn, "tail_refused", trv != 0, "tail_error", terr,
				      "forged_refused", frv != 0, "forged_error", ferr, "state",
				      state, "error", rv ? err : "");
		char *text = json_dumps(j, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(j);
		json_decref(forged);
		json_decref(votes);
		free(sh);
		failures = trv == 0 || frv == 0 || rv != 0 || strcmp(state, "committed") != 0;
	} else if (strcmp(cmd, "bad-seed") == 0 || strcmp(cmd, "bad-seed-rows") == 0) {
		/* Seed chunks to party 1: bad-seed a message 8 bytes short (refused,
		 * the client aborts), bad-seed-rows one expanding to a row and a half
		 * (the party aborts). Nothing may be appended either way. */
		char txn[33], state[16] = "", reason[256] = "", perr[MPC_ERRMSG_SIZE] = "";
		uint8_t seed[MPC_CHUNKSEED_SEED] = {1}, msg[MPC_CHUNKSEED_BYTES];
		char *begin = NULL;
		int short_msg = strcmp(cmd, "bad-seed") == 0;
		int rv = mpc_client_txn_begin(cl, table, cols, create, 0, txn, &begin, err);
		if (rv != 0) {
			fprintf(stderr, "mpc-testclient: begin: %s\n", err);
			return 1;
		}
		mpc_chunkseed_pack(msg, seed, 0, short_msg ? rows * ncols * 8 : ncols * 12);
		rv = mpc_client_txn_put_seed(cl, 1, txn, begin, 0, msg,
					     short_msg ? sizeof msg - 8 : sizeof msg, 1, perr);
		free(begin);
		if (rv != 0 && short_msg)
			mpc_client_txn_abort(cl, 0, txn, "bad seed chunk refused", err);
		mpc_client_txn_wait(cl, -1, txn, 10000, state, reason, sizeof reason, err);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", cmd, "txn", txn, "state",
				      state, "reason", reason, "put_error", perr);
		char *text = json_dumps(j, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(j);
		failures = rv == 0 || strcmp(state, "aborted") != 0;
	} else if (strcmp(cmd, "unknown-table") == 0) {
		/* the begin is signed locally: the party that gets its first chunk refuses it */
		char txn[33], *begin = NULL;
		uint64_t row[1] = {0};
		int rv = mpc_client_txn_begin(cl, table, NULL, 0, 0, txn, &begin, err);
		if (rv == 0)
			rv = mpc_client_txn_put(cl, 0, txn, begin, 0, row, sizeof row, 0, err);
		free(begin);
		printf("{\"op\":\"unknown-table\",\"refused\":%s,\"error\":\"%s\"}\n",
		       rv != 0 ? "true" : "false", rv ? err : "");
		failures = rv == 0;
	} else if (strcmp(cmd, "orphan-upload") == 0) {
		/* One chunk to party 1 of a txn whose client then goes away: the
		 * party keeps the upload until its deadline (timeout_ms 1000), then
		 * drops it once an entry stamped past it applies (a tick on an idle
		 * cluster). Prints the txn id. */
		char txn[33], *begin = NULL;
		uint64_t *sh = calloc(rows * ncols, sizeof *sh);
		int rv = mpc_client_txn_begin(cl, table, cols, create, 1000, txn, &begin, err);
		if (rv == 0)
			rv = mpc_client_txn_put(cl, 1, txn, begin, 0, sh, rows * ncols * 8, 0, err);
		printf("%s\n", rv == 0 ? txn : err);
		failures = rv != 0;
		free(begin);
		free(sh);
	} else if (strcmp(cmd, "forged-begin") == 0) {
		/* The client's signed begin relabelled as another client's ("bob"):
		 * the party refuses the chunk (the signer is not the begin's client,
		 * nor would the signature verify) and keeps nothing. */
		char txn[33], *begin = NULL, *forged = NULL, perr[MPC_ERRMSG_SIZE] = "";
		uint64_t row[1] = {0};
		json_t *b, *rec = NULL;
		int rv = mpc_client_txn_begin(cl, table, NULL, 0, 0, txn, &begin, err);
		b = rv == 0 ? json_loads(begin, 0, NULL) : NULL;
		json_object_set_new(b, "client", json_string("bob"));
		forged = b ? json_dumps(b, JSON_COMPACT) : NULL;
		rv = forged ? mpc_client_txn_put(cl, 0, txn, forged, 0, row, sizeof row, 0, perr)
			    : MPC_ENOMEM;
		char path[96];
		snprintf(path, sizeof path, "/v1/txns/%s", txn);
		int grv = mpc_client_call(cl, 0, "GET", path, NULL, 0, &rec, err);
		printf("{\"op\":\"forged-begin\",\"refused\":%s,\"known\":%s}\n%s\n",
		       rv != 0 ? "true" : "false", grv == 0 ? "true" : "false", perr);
		failures = rv == 0 || grv == 0 || strstr(perr, "bob") == NULL;
		json_decref(rec);
		json_decref(b);
		free(forged);
		free(begin);
	} else {
		usage();
		return 2;
	}
	json_decref(cols);
	mpc_client_close(cl);
	return failures ? 1 : 0;
}
