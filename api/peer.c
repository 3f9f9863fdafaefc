/* Forwarding of proposals from a follower to the leader over the leader's API, authenticated per pair. */
#include "api/peer.h"
#include "common/curl_handle.h"
#include "common/dynbuf.h"
#include "common/err.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pairwise MAC keys of this party with every other party (sodium_malloc'd):
 * K_ij = BLAKE2b-256(key = X25519(sk_i, pk_j), "mpcstore-party-mac|cluster|min|max").
 * Both parties of a pair derive the same key from their static keys, so a
 * party-to-party call is authenticated by a keyed hash (~1 us) instead of an
 * Ed25519 signature and verification (~70 us, and several per append). */
static uint8_t (*pair_keys)[crypto_generichash_BYTES];
static int pair_n;

int api_peer_init(const struct mpc_party_conf *conf)
{
	uint8_t shared[crypto_scalarmult_BYTES];
	char ctx[128];
	pair_n = conf->cluster->n_parties;
	pair_keys = sodium_malloc((size_t)pair_n * sizeof *pair_keys);
	if (pair_keys == NULL)
		return MPC_ENOMEM;
	for (int j = 0; j < pair_n; j++) {
		int lo = conf->party_id < j ? conf->party_id : j;
		int hi = conf->party_id < j ? j : conf->party_id;
		size_t n = (size_t)snprintf(ctx, sizeof ctx, "mpcstore-party-mac|%s|%d|%d",
					    conf->cluster->id_hex, lo, hi);
		if (crypto_scalarmult(shared, conf->box_sk, conf->cluster->parties[j].box_pk) != 0) {
			sodium_memzero(shared, sizeof shared);
			return MPC_ECRYPTO;
		}
		crypto_generichash(pair_keys[j], sizeof pair_keys[j], (const uint8_t *)ctx, n, shared,
				   sizeof shared);
	}
	sodium_memzero(shared, sizeof shared);
	return 0;
}

void api_peer_free(void)
{
	sodium_free(pair_keys); /* zeroes */
	pair_keys = NULL;
}

static void body_mac(int party, const char *body, size_t len, char *hex)
{
	uint8_t mac[crypto_generichash_BYTES];
	crypto_generichash(mac, sizeof mac, (const uint8_t *)body, len, pair_keys[party],
			   sizeof pair_keys[party]);
	sodium_bin2hex(hex, 2 * sizeof mac + 1, mac, sizeof mac);
}

int api_peer_verify(int party, const char *body, size_t len, const char *mac_hex)
{
	char want[2 * crypto_generichash_BYTES + 1];
	if (pair_keys == NULL || party < 0 || party >= pair_n || mac_hex == NULL ||
	    strlen(mac_hex) != sizeof want - 1)
		return MPC_EPERM;
	body_mac(party, body, len, want);
	return sodium_memcmp(want, mac_hex, sizeof want - 1) == 0 ? 0 : MPC_EPERM;
}

int api_peer_propose(const struct mpc_party_conf *conf, int to, const char *entry, int *outcome,
		     uint64_t *index, int *leader, char *errmsg)
{
	const struct mpc_party_info *p = &conf->cluster->parties[to];
	struct mpc_dynbuf rb = {NULL, 0};
	struct curl_slist *hdrs = NULL;
	char url[512], hdr[256], mac[2 * crypto_generichash_BYTES + 1];
	long status = 0;
	json_t *j;
	CURLcode cc;
	CURL *curl;
	int rv;

	curl = mpc_curl_thread_handle(); /* keeps the connection to the leader alive */
	if (curl == NULL)
		return MPC_ENOMEM;
	snprintf(url, sizeof url, "http://%s:%u/v1/internal/propose", p->host, p->api_port);
	body_mac(to, entry, strlen(entry), mac);
	snprintf(hdr, sizeof hdr, "%s: %d", API_HDR_PARTY, conf->party_id);
	hdrs = curl_slist_append(hdrs, hdr);
	snprintf(hdr, sizeof hdr, "%s: %s", API_HDR_MAC, mac);
	hdrs = curl_slist_append(hdrs, hdr);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, entry);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, mpc_dynbuf_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rb);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		mpc_errmsg_printf(errmsg, "forward to leader party %d (%s): %s", to, url,
				  curl_easy_strerror(cc));
		free(rb.data);
		return MPC_EUNAVAIL;
	}
	j = rb.data ? json_loads(rb.data, 0, NULL) : NULL;
	free(rb.data);
	if (status == 200 && j != NULL) {
		*outcome = (int)json_integer_value(json_object_get(j, "outcome"));
		*index = (uint64_t)json_integer_value(json_object_get(j, "index"));
		rv = 0;
	} else if (status == 421) {
		*leader = j ? (int)json_integer_value(json_object_get(j, "leader")) : -1;
		rv = MPC_ENOTLEADER;
	} else {
		mpc_errmsg_printf(errmsg, "leader party %d refused the proposal (HTTP %ld): %s", to,
				  status,
				  j ? json_string_value(json_object_get(j, "error")) : "no body");
		rv = status == 403 ? MPC_EPERM : MPC_EUNAVAIL;
	}
	json_decref(j);
	return rv;
}
