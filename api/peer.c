/* Forwarding of proposals from a follower to the leader over the leader's API, party-signed. */
#include "api/peer.h"
#include "common/curl_handle.h"
#include "common/dynbuf.h"
#include "common/err.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t party_msg(char *out, size_t size, const char *cluster_hex, int party)
{
	return (size_t)snprintf(out, size, "mpcstore-party|%s|%d|", cluster_hex, party);
}

static void sign_body(const struct mpc_party_conf *conf, const char *body, size_t len,
		      char *sig_b64, size_t sig_size)
{
	uint8_t sig[crypto_sign_BYTES];
	char prefix[128];
	size_t plen = party_msg(prefix, sizeof prefix, conf->cluster->id_hex, conf->party_id);
	crypto_sign_state st;
	crypto_sign_init(&st);
	crypto_sign_update(&st, (const uint8_t *)prefix, plen);
	crypto_sign_update(&st, (const uint8_t *)body, len);
	crypto_sign_final_create(&st, sig, NULL, conf->sign_sk);
	mpc_key_encode(sig, sizeof sig, sig_b64, sig_size);
}

int api_peer_verify(const struct mpc_cluster *c, int party, const char *body, size_t len,
		    const char *sig_b64)
{
	uint8_t sig[crypto_sign_BYTES];
	char prefix[128];
	size_t plen;
	crypto_sign_state st;

	if (party < 0 || party >= c->n_parties || sig_b64 == NULL ||
	    mpc_key_decode(sig_b64, sig, sizeof sig) != 0)
		return MPC_EPERM;
	plen = party_msg(prefix, sizeof prefix, c->id_hex, party);
	crypto_sign_init(&st);
	crypto_sign_update(&st, (const uint8_t *)prefix, plen);
	crypto_sign_update(&st, (const uint8_t *)body, len);
	return crypto_sign_final_verify(&st, sig, c->parties[party].sign_pk) == 0 ? 0 : MPC_EPERM;
}


int api_peer_propose(const struct mpc_party_conf *conf, int to, const char *entry, int *outcome,
		     uint64_t *index, int *leader, char *errmsg)
{
	const struct mpc_party_info *p = &conf->cluster->parties[to];
	struct mpc_dynbuf rb = {NULL, 0};
	struct curl_slist *hdrs = NULL;
	char url[512], hdr[256], sig[128];
	long status = 0;
	json_t *j;
	CURLcode cc;
	CURL *curl;
	int rv;

	curl = mpc_curl_thread_handle(); /* keeps the connection to the leader alive */
	if (curl == NULL)
		return MPC_ENOMEM;
	snprintf(url, sizeof url, "http://%s:%u/v1/internal/propose", p->host, p->api_port);
	sign_body(conf, entry, strlen(entry), sig, sizeof sig);
	snprintf(hdr, sizeof hdr, "%s: %d", API_HDR_PARTY, conf->party_id);
	hdrs = curl_slist_append(hdrs, hdr);
	snprintf(hdr, sizeof hdr, "%s: %s", API_HDR_SIG, sig);
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
