/* Private state of libmpcclient. */
#ifndef MPC_CLIENT_INTERNAL_H
#define MPC_CLIENT_INTERNAL_H

#include "client/mpcclient.h"
#include "common/chunkbox.h"
#include "common/err.h"

#include <curl/curl.h>

struct mpc_client {
	struct mpc_client_conf *conf; /* NULL for a party admin */
	const struct mpc_cluster *cluster;
	/* Every request is signed (common/reqsig.h) as `signer` with sign_sk:
	 * the client's key, or a party's own key for its admin ("party:N"). */
	const uint8_t *sign_sk;
	char signer[MPC_NAME_MAX];
	/* One persistent handle per party for calls made in parallel: their
	 * connections stay open across calls (one thread uses a client at a time). */
	CURL *party_handle[MPC_MAX_PARTIES];
	CURLM *multi;
	/* Share chunks are boxed to a party with one ephemeral key per client and
	 * party (common/chunkbox.h), made on first use by that party's upload. */
	struct mpc_chunkbox_key *box_key[MPC_MAX_PARTIES];
	/* The raft leader named by the last accepted begin: the next begin goes
	 * there first, saving the party-to-leader forward of its proposal. */
	int leader_hint;
};

/* One call of a parallel batch; the outputs are filled by mpc_client_call_many(). */
struct mpc_call {
	int party;
	const char *method;
	char path[256];
	const void *body; /* borrowed, may be NULL */
	size_t len;
	int rv;	      /* as mpc_client_call() */
	json_t *resp; /* new reference or NULL; caller decrefs */
	char errmsg[MPC_ERRMSG_SIZE];
};

/* mpc_client_call() over the given handle (reset first). */
int mpc_client_call_on(struct mpc_client *cl, CURL *curl, int party, const char *method,
		       const char *path, const void *body, size_t len, json_t **resp, char *errmsg);
/* The client's persistent handle for party (created on first use); NULL on ENOMEM. */
CURL *mpc_client_party_handle(struct mpc_client *cl, int party);

/* The client's chunk key for party (created on first use); NULL on ENOMEM. */
const struct mpc_chunkbox_key *mpc_client_box_key(struct mpc_client *cl, int party);

/* Runs calls concurrently (at most one per party), each as mpc_client_call()
 * would. Returns 0 when all succeeded, else the rv of the first that failed. */
int mpc_client_call_many(struct mpc_client *cl, struct mpc_call *calls, int n);

#endif
