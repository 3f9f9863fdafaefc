/* Test helper of the access tests (tests/integration/access.sh): signed request headers for curl
 * (also with a wrong key, another identity or a skewed clock), one signed call, and raw log
 * entries proposed through the party MAC route. Not installed. */
#include "api/peer.h"
#include "client/mpcclient.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/reqsig.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: mpc-signreq headers (-c CLIENT.CONF | -p MPCD.CONF) [--as NAME] [--fresh-key]\n"
		"                   [--time-offset-ms MS] METHOD PATH [BODY]\n"
		"         prints a curl config (-K) with the signature headers of the request\n"
		"       mpc-signreq call -c CLIENT.CONF PARTY METHOD PATH [BODY]\n"
		"         one call through libmpcclient; prints the JSON answer (error on stderr)\n"
		"       mpc-signreq propose -p MPCD.CONF ENTRY_JSON|@FILE\n"
		"         proposes a raw log entry (@FILE: its bytes, e.g. a binary commit\n"
		"         record) through the leader's /v1/internal/propose\n");
	exit(2);
}

static int cmd_headers(int argc, char **argv)
{
	const char *conf = NULL, *party = NULL, *as = NULL, *method, *path, *body = "";
	long long offset = 0;
	int fresh = 0, i;
	char err[MPC_ERRMSG_SIZE] = "";
	struct mpc_client_conf *cc = NULL;
	struct mpc_party_conf *pc = NULL;
	const struct mpc_cluster *cluster;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], *sk;
	char name[MPC_NAME_MAX], canon[2048];
	uint8_t sig[crypto_sign_BYTES];
	struct mpc_reqsig rs;
	size_t n;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			party = argv[++i];
		else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc)
			as = argv[++i];
		else if (strcmp(argv[i], "--fresh-key") == 0)
			fresh = 1;
		else if (strcmp(argv[i], "--time-offset-ms") == 0 && i + 1 < argc)
			offset = atoll(argv[++i]);
		else
			usage();
	}
	if (argc - i < 2 || (conf == NULL) == (party == NULL))
		usage();
	method = argv[i];
	path = argv[i + 1];
	if (argc - i > 2)
		body = argv[i + 2];
	if (conf != NULL && mpc_client_conf_load(conf, &cc, err) != 0) {
		fprintf(stderr, "mpc-signreq: %s\n", err);
		return 1;
	}
	if (party != NULL && mpc_party_conf_load(party, &pc, err) != 0) {
		fprintf(stderr, "mpc-signreq: %s\n", err);
		return 1;
	}
	cluster = cc ? cc->cluster : pc->cluster;
	sk = cc ? cc->sign_sk : pc->sign_sk;
	if (cc != NULL)
		snprintf(name, sizeof name, "%s", cc->name);
	else
		snprintf(name, sizeof name, MPC_REQSIG_PARTY_PREFIX "%d", pc->party_id);
	if (as != NULL)
		snprintf(name, sizeof name, "%s", as);
	if (fresh)
		crypto_sign_keypair(pk, sk); /* a key the cluster file does not know */
	mpc_reqsig_sign(sk, name, cluster->id_hex, method, path, body, strlen(body), &rs);
	if (offset != 0) { /* re-sign at a skewed time */
		rs.time_ms += offset;
		n = mpc_reqsig_canonical(canon, sizeof canon, cluster->id_hex, method, path,
					 rs.time_ms, rs.nonce, body, strlen(body));
		crypto_sign_detached(sig, NULL, (const uint8_t *)canon, n, sk);
		mpc_key_encode(sig, sizeof sig, rs.sig, sizeof rs.sig);
	}
	printf("header = \"%s: %s\"\nheader = \"%s: %lld\"\nheader = \"%s: %s\"\n"
	       "header = \"%s: %s\"\n",
	       MPC_REQSIG_HDR_CLIENT, rs.client, MPC_REQSIG_HDR_TIME, (long long)rs.time_ms,
	       MPC_REQSIG_HDR_NONCE, rs.nonce, MPC_REQSIG_HDR_SIG, rs.sig);
	mpc_client_conf_free(cc);
	mpc_party_conf_free(pc);
	return 0;
}

static int cmd_call(int argc, char **argv)
{
	char err[MPC_ERRMSG_SIZE] = "", *text;
	struct mpc_client *cl;
	json_t *resp = NULL;
	const char *body;
	int rv;

	if (argc < 5 || strcmp(argv[0], "-c") != 0)
		usage();
	if (mpc_client_open(argv[1], &cl, err) != 0) {
		fprintf(stderr, "mpc-signreq: %s\n", err);
		return 1;
	}
	body = argc > 5 ? argv[5] : NULL;
	rv = mpc_client_call(cl, atoi(argv[2]), argv[3], argv[4], body, body ? strlen(body) : 0,
			     &resp, err);
	if (rv != 0)
		fprintf(stderr, "mpc-signreq: %s\n", err);
	text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	if (rv == 0 && text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(resp);
	mpc_client_close(cl);
	return rv == 0 ? 0 : 1;
}

static int cmd_propose(int argc, char **argv)
{
	char err[MPC_ERRMSG_SIZE] = "";
	struct mpc_party_conf *pc;
	uint64_t index = 0;
	int outcome = 0, leader = -1, rv = MPC_ENOTLEADER;
	char entry[65536];
	size_t len;

	if (argc < 3 || strcmp(argv[0], "-p") != 0)
		usage();
	if (argv[2][0] == '@') {
		FILE *f = fopen(argv[2] + 1, "rb");
		len = f ? fread(entry, 1, sizeof entry, f) : 0;
		if (f == NULL || ferror(f) || len == sizeof entry) {
			fprintf(stderr, "mpc-signreq: %s: cannot read (or over 64 KiB)\n", argv[2] + 1);
			return 1;
		}
		fclose(f);
	} else {
		len = strlen(argv[2]);
		if (len >= sizeof entry)
			usage();
		memcpy(entry, argv[2], len);
	}
	if (mpc_party_conf_load(argv[1], &pc, err) != 0 || api_peer_init(pc) != 0) {
		fprintf(stderr, "mpc-signreq: %s\n", err);
		return 1;
	}
	/* the leader takes it; the others answer 421 with the leader's id */
	for (int i = 0; i < 2 * pc->cluster->n_parties && rv == MPC_ENOTLEADER; i++) {
		int to = leader >= 0 ? leader : i % pc->cluster->n_parties;
		leader = -1;
		rv = api_peer_propose_bytes(pc, to, entry, len, &outcome, &index, &leader, err);
	}
	if (rv == 0)
		printf("{\"index\":%llu,\"outcome\":%d}\n", (unsigned long long)index, outcome);
	else
		fprintf(stderr, "mpc-signreq: propose: %s (%s)\n", err, mpc_strerror(rv));
	api_peer_free();
	mpc_party_conf_free(pc);
	return rv == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || sodium_init() < 0)
		usage();
	if (strcmp(argv[1], "headers") == 0)
		return cmd_headers(argc - 2, argv + 2);
	if (strcmp(argv[1], "call") == 0)
		return cmd_call(argc - 2, argv + 2);
	if (strcmp(argv[1], "propose") == 0)
		return cmd_propose(argc - 2, argv + 2);
	usage();
	return 2;
}
