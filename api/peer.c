/* Forwarding of proposals from a follower to the leader over the leader's API, authenticated per pair. */
#include "api/peer.h"
#include "common/curl_handle.h"
#include "common/dynbuf.h"
#include "common/err.h"
#include "common/pairkey.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pairwise MAC keys of this party with every other party (common/pairkey.h):
 * a party-to-party call is authenticated by a keyed hash (~1 us) instead of
 * an Ed25519 signature and verification (~70 us, and several per append). */
static struct mpc_pairkeys pair_keys;

int api_peer_init(const struct mpc_party_conf *conf)
{
	return mpc_pairkeys_derive(&pair_keys, conf->cluster, conf->party_id, conf->box_sk);
}

void api_peer_free(void)
{
	mpc_pairkeys_free(&pair_keys);
}

int api_peer_verify(int party, const char *body, size_t len, const char *mac_hex)
{
	return mpc_pairkeys_check(&pair_keys, party, body, len, mac_hex) == 0 ? 0 : MPC_EPERM;
}

int api_peer_propose(const struct mpc_party_conf *conf, int to, const char *entry, int *outcome,
		     uint64_t *index, int *leader, char *errmsg)
{
	return api_peer_propose_bytes(conf, to, entry, strlen(entry), outcome, index, leader,
				      errmsg);
}

int api_peer_propose_bytes(const struct mpc_party_conf *conf, int to, const char *entry,
			   size_t len, int *outcome, uint64_t *index, int *leader, char *errmsg)
{
	const struct mpc_party_info *p = &conf->cluster->parties[to];
	struct mpc_dynbuf rb = {NULL, 0};
	struct curl_slist *hdrs = NULL;
	char url[512], hdr[256], mac[MPC_PAIRKEY_TAG_HEX + 1];
	long status = 0;
	json_t *j;
	CURLcode cc;
	CURL *curl;
	int rv;

	curl = mpc_curl_thread_handle(); /* keeps the connection to the leader alive */
	if (curl == NULL)
		return MPC_ENOMEM;
	snprintf(url, sizeof url, "http://%s:%u/v1/internal/propose", p->host, p->api_port);
	mpc_pairkeys_tag(&pair_keys, to, entry, len, mac);
	snprintf(hdr, sizeof hdr, "%s: %d", API_HDR_PARTY, conf->party_id);
	hdrs = curl_slist_append(hdrs, hdr);
	snprintf(hdr, sizeof hdr, "%s: %s", API_HDR_MAC, mac);
	hdrs = curl_slist_append(hdrs, hdr);
	hdrs = curl_slist_append(hdrs, entry[0] == '{' ? "Content-Type: application/json"
						       : "Content-Type: application/octet-stream");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, entry);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
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
