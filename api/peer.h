/* Party-to-party API calls: proposals forwarded to the Raft leader, signed with the party's key. */
#ifndef MPC_API_PEER_H
#define MPC_API_PEER_H

#include "common/conf.h"

#include <jansson.h>

#define API_HDR_PARTY "X-Mpc-Party"
#define API_HDR_SIG "X-Mpc-Signature"

/* POSTs entry (JSON text) to party `to`'s /v1/internal/propose, signed by
 * conf's party. On 0 sets *outcome and *index from the leader's answer;
 * MPC_ENOTLEADER (with *leader) if `to` no longer leads. */
int api_peer_propose(const struct mpc_party_conf *conf, int to, const char *entry, int *outcome,
		     uint64_t *index, int *leader, char *errmsg);

/* Signature text for a party-signed body: "mpcstore-party|<cluster>|<party>|" + body. */
int api_peer_verify(const struct mpc_cluster *c, int party, const char *body, size_t len,
		    const char *sig_b64);

#endif
