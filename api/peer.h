/* Party-to-party API calls: proposals forwarded to the Raft leader, signed with the party's key. */
#ifndef MPC_API_PEER_H
#define MPC_API_PEER_H

#include "common/conf.h"

#include <jansson.h>

#define API_HDR_PARTY "X-Mpc-Party"
#define API_HDR_MAC "X-Mpc-Mac"

/* Derives the pairwise MAC keys of conf's party with every party (once, at
 * start); api_peer_free() zeroes and frees them. */
int api_peer_init(const struct mpc_party_conf *conf);
void api_peer_free(void);

/* POSTs entry (JSON text) to party `to`'s /v1/internal/propose, authenticated
 * with the pair's MAC key. On 0 sets *outcome and *index from the leader's
 * answer; MPC_ENOTLEADER (with *leader) if `to` no longer leads. */
int api_peer_propose(const struct mpc_party_conf *conf, int to, const char *entry, int *outcome,
		     uint64_t *index, int *leader, char *errmsg);

/* As api_peer_propose, for an entry of len bytes that may be binary
 * (store/entry_bin.h). */
int api_peer_propose_bytes(const struct mpc_party_conf *conf, int to, const char *entry,
			   size_t len, int *outcome, uint64_t *index, int *leader, char *errmsg);

/* Checks the hex MAC of a body sent by party under this pair's key: 0 or MPC_EPERM. */
int api_peer_verify(int party, const char *body, size_t len, const char *mac_hex);

#endif
