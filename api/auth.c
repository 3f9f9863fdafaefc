/* Authentication of client requests: the signature check, the replay window and the nonce cache. */
#include "api/auth.h"
#include "common/err.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nonce_slot {
	uint8_t nonce[MPC_REQSIG_NONCE_BYTES];
	int64_t expiry_ms; /* 0: never used */
};

struct api_nonce_cache {
	pthread_mutex_t lock;
	size_t mask;
	struct nonce_slot *slots;
};

struct api_nonce_cache *api_nonce_cache_new(size_t slots)
{
	struct api_nonce_cache *nc = calloc(1, sizeof *nc);
	size_t n = API_NONCE_PROBE;
	if (nc == NULL)
		return NULL;
	while (n < slots)
		n <<= 1;
	nc->slots = calloc(n, sizeof *nc->slots);
	if (nc->slots == NULL) {
		free(nc);
		return NULL;
	}
	nc->mask = n - 1;
	pthread_mutex_init(&nc->lock, NULL);
	return nc;
}

void api_nonce_cache_free(struct api_nonce_cache *nc)
{
	if (nc == NULL)
		return;
	pthread_mutex_destroy(&nc->lock);
	free(nc->slots);
	free(nc);
}

int api_nonce_cache_add(struct api_nonce_cache *nc, const char *nonce, int64_t expiry_ms,
			int64_t now_ms)
{
	uint8_t bin[MPC_REQSIG_NONCE_BYTES];
	size_t got = 0, h, free_slot = SIZE_MAX;
	int rv = 0;

	if (sodium_hex2bin(bin, sizeof bin, nonce, strlen(nonce), NULL, &got, NULL) != 0 ||
	    got != sizeof bin)
		return MPC_EINVAL;
	/* the nonces are random: their first bytes are a good hash */
	memcpy(&h, bin, sizeof h);
	pthread_mutex_lock(&nc->lock);
	for (size_t i = 0; i < API_NONCE_PROBE; i++) {
		struct nonce_slot *sl = &nc->slots[(h + i) & nc->mask];
		int live = sl->expiry_ms != 0 && sl->expiry_ms >= now_ms;
		if (live && memcmp(sl->nonce, bin, sizeof bin) == 0) {
			rv = MPC_EEXIST;
			goto out;
		}
		if (!live && free_slot == SIZE_MAX)
			free_slot = (h + i) & nc->mask;
	}
	if (free_slot == SIZE_MAX) {
		rv = MPC_EUNAVAIL;
		goto out;
	}
	memcpy(nc->slots[free_slot].nonce, bin, sizeof bin);
	nc->slots[free_slot].expiry_ms = expiry_ms > 0 ? expiry_ms : 1;
out:
	pthread_mutex_unlock(&nc->lock);
	return rv;
}

const char *api_right_name(unsigned right)
{
	switch (right) {
	case MPC_RIGHT_ADMIN: return "admin";
	case MPC_RIGHT_CREATE: return "create";
	case MPC_RIGHT_APPEND: return "append";
	case MPC_RIGHT_SUBMIT: return "submit";
	case MPC_RIGHT_READ: return "read";
	case MPC_RIGHT_OUTPUT: return "output";
	default: return "?";
	}
}

int api_auth_has(const struct api_caller *who, unsigned right, const char *what, char *errmsg)
{
	if (who->rights & (right | MPC_RIGHT_ADMIN))
		return 1;
	mpc_errmsg_printf(errmsg, "client '%s' lacks the '%s' right (%s)", who->sig.client,
			  api_right_name(right), what);
	return 0;
}

int api_auth_check(const struct mpc_party_conf *conf, struct api_nonce_cache *nc,
		   int64_t window_ms, int64_t now_ms, const struct mpc_reqsig *sig,
		   const char *method, const char *path_query, const void *body, size_t len,
		   struct api_caller *who, char *errmsg)
{
	const struct mpc_cluster *c = conf->cluster;
	const uint8_t *pk;
	int64_t skew;
	int party, rv;

	memset(who, 0, sizeof *who);
	who->party = -1;
	pk = mpc_reqsig_signer(c, sig->client, &party);
	if (pk == NULL) {
		mpc_errmsg_printf(errmsg, "unknown client '%s' (not in the cluster file)",
				  sig->client);
		return MPC_EAUTH;
	}
	rv = mpc_reqsig_verify(pk, c->id_hex, method, path_query, body, len, sig, errmsg);
	if (rv != 0)
		return MPC_EAUTH;
	skew = now_ms - sig->time_ms;
	if (skew > window_ms || skew < -window_ms) {
		mpc_errmsg_printf(errmsg,
				  "request of client '%s' signed at %" PRId64 " is %+.1f s from "
				  "party %d's clock, outside the replay window of +-%" PRId64
				  " s (clock skew?)",
				  sig->client, sig->time_ms, (double)-skew / 1000.0, conf->party_id,
				  window_ms / 1000);
		return MPC_EAUTH;
	}
	/* after the signature: an unsigned request cannot burn a nonce */
	rv = api_nonce_cache_add(nc, sig->nonce, sig->time_ms + window_ms, now_ms);
	if (rv == MPC_EEXIST) {
		mpc_errmsg_printf(errmsg, "replayed request: client '%s' nonce %s was already used",
				  sig->client, sig->nonce);
		return MPC_EAUTH;
	}
	if (rv != 0) {
		mpc_errmsg_printf(errmsg, "too many requests within the replay window; retry later");
		return MPC_EUNAVAIL;
	}
	who->sig = *sig;
	who->party = party;
	if (party >= 0) {
		if (party != conf->party_id) {
			mpc_errmsg_printf(errmsg,
					  "'%s' is party %d's admin: party %d's API refuses "
					  "another party's admin calls",
					  sig->client, party, conf->party_id);
			return MPC_EPERM;
		}
		if (strcmp(method, "GET") != 0) {
			mpc_errmsg_printf(errmsg, "party admin '%s' may only read (GET), not %s %s",
					  sig->client, method, path_query);
			return MPC_EPERM;
		}
		who->rights = MPC_RIGHT_READ | MPC_RIGHT_ADMIN;
		return 0;
	}
	who->ci = mpc_cluster_client(c, sig->client);
	who->rights = who->ci->rights;
	return 0;
}
