/* libmpcclient transport: one libcurl call per request, JSON answers, HTTP status → MPC_E*. */
#include "client/internal.h"
#include "common/curl_handle.h"
#include "common/dynbuf.h"
#include "common/err.h"
#include "common/reqsig.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mpc_client_open(const char *path, struct mpc_client **out, char *errmsg)
{
	char resolved[PATH_MAX];
	struct mpc_client *cl;
	int rv;

	mpc_client_conf_path(path, resolved);
	cl = calloc(1, sizeof *cl);
	if (cl == NULL)
		return MPC_ENOMEM;
	rv = mpc_client_conf_load(resolved, &cl->conf, errmsg);
	if (rv != 0) {
		free(cl);
		return rv;
	}
	cl->cluster = cl->conf->cluster;
	cl->sign_sk = cl->conf->sign_sk;
	snprintf(cl->signer, sizeof cl->signer, "%s", cl->conf->name);
	*out = cl;
	return 0;
}

int mpc_client_open_party(const struct mpc_party_conf *pc, struct mpc_client **out)
{
	struct mpc_client *cl = calloc(1, sizeof *cl);
	if (cl == NULL)
		return MPC_ENOMEM;
	if (sodium_init() < 0) {
		free(cl);
		return MPC_ECRYPTO;
	}
	cl->cluster = pc->cluster;
	cl->sign_sk = pc->sign_sk;
	snprintf(cl->signer, sizeof cl->signer, MPC_REQSIG_PARTY_PREFIX "%d", pc->party_id);
	*out = cl;
	return 0;
}

void mpc_client_close(struct mpc_client *cl)
{
	if (cl == NULL)
		return;
	for (int p = 0; p < MPC_MAX_PARTIES; p++)
		if (cl->party_handle[p] != NULL)
			curl_easy_cleanup(cl->party_handle[p]);
	for (int p = 0; p < MPC_MAX_PARTIES; p++)
		mpc_chunkbox_key_free(cl->box_key[p]);
	if (cl->multi != NULL)
		curl_multi_cleanup(cl->multi);
	mpc_client_conf_free(cl->conf);
	free(cl);
}

const struct mpc_cluster *mpc_client_cluster(const struct mpc_client *cl)
{
	return cl->cluster;
}

const char *mpc_client_name(const struct mpc_client *cl)
{
	return cl->conf ? cl->conf->name : "";
}


static int status_err(long status)
{
	switch (status) {
	case 400: return MPC_EINVAL;
	case 401: return MPC_EAUTH;
	case 403: return MPC_EPERM;
	case 404: return MPC_ENOENT;
	case 409: return MPC_ECONFLICT;
	case 503: return MPC_EUNAVAIL;
	case 504: return MPC_ETIMEDOUT;
	default: return MPC_EPROTO;
	}
}

/* Adds the signature headers of one request (DESIGN.md §6, common/reqsig.h):
 * the one place where libmpcclient signs, for every call. */
static int sign_headers(const struct mpc_client *cl, const char *method, const char *path,
			const void *body, size_t len, struct curl_slist **hdrs)
{
	struct mpc_reqsig sig;
	char hdr[256];
	int rv = mpc_reqsig_sign(cl->sign_sk, cl->signer, cl->cluster->id_hex, method, path, body,
				 len, &sig);
	if (rv != 0)
		return rv;
	snprintf(hdr, sizeof hdr, MPC_REQSIG_HDR_CLIENT ": %s", sig.client);
	*hdrs = curl_slist_append(*hdrs, hdr);
	snprintf(hdr, sizeof hdr, MPC_REQSIG_HDR_TIME ": %lld", (long long)sig.time_ms);
	*hdrs = curl_slist_append(*hdrs, hdr);
	snprintf(hdr, sizeof hdr, MPC_REQSIG_HDR_NONCE ": %s", sig.nonce);
	*hdrs = curl_slist_append(*hdrs, hdr);
	snprintf(hdr, sizeof hdr, MPC_REQSIG_HDR_SIG ": %s", sig.sig);
	*hdrs = curl_slist_append(*hdrs, hdr);
	return 0;
}

/* Sets curl up for one call; *hdrs must be freed by the caller after the transfer. */
static int call_setup(const struct mpc_client *cl, CURL *curl, const struct mpc_party_info *p,
		      const char *method, const char *path, const void *body, size_t len,
		      struct mpc_dynbuf *bb, struct curl_slist **hdrs)
{
	char url[1024];
	int rv;
	snprintf(url, sizeof url, "http://%s:%u%s", p->host, p->api_port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, mpc_dynbuf_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, bb);
	*hdrs = curl_slist_append(NULL, "Expect:");
	if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		*hdrs = curl_slist_append(*hdrs, "Content-Type: application/octet-stream");
	}
	rv = sign_headers(cl, method, path, body, body ? len : 0, hdrs);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *hdrs);
	return rv;
}

/* Interprets a finished transfer: the one mapping from HTTP status to MPC_E*. */
static int call_finish(const struct mpc_party_info *p, int party, CURLcode cc, long status,
		       struct mpc_dynbuf *bb, json_t **resp, char *errmsg)
{
	json_t *j = NULL;
	int rv;

	if (cc != CURLE_OK) {
		mpc_errmsg_printf(errmsg, "party %d (%s:%u) unreachable: %s", party, p->host,
				  p->api_port, curl_easy_strerror(cc));
		free(bb->data);
		return MPC_EUNAVAIL;
	}
	if (bb->data != NULL)
		j = json_loadb(bb->data, bb->len, 0, NULL);
	free(bb->data);
	bb->data = NULL;
	if (status >= 200 && status < 300) {
		if (resp != NULL)
			*resp = j;
		else
			json_decref(j);
		return 0;
	}
	rv = status_err(status);
	mpc_errmsg_printf(errmsg, "party %d (%s:%u): %s", party, p->host, p->api_port,
			  j && json_string_value(json_object_get(j, "error"))
				  ? json_string_value(json_object_get(j, "error"))
				  : "unexpected answer");
	json_decref(j); /* the error body is in errmsg; *resp only on 2xx (mpcclient.h) */
	if (resp != NULL)
		*resp = NULL;
	return rv;
}

int mpc_client_call(struct mpc_client *cl, int party, const char *method, const char *path,
		    const void *body, size_t len, json_t **resp, char *errmsg)
{
	CURL *curl = mpc_curl_thread_handle();
	if (curl == NULL)
		return MPC_ENOMEM;
	return mpc_client_call_on(cl, curl, party, method, path, body, len, resp, errmsg);
}

int mpc_client_call_on(struct mpc_client *cl, CURL *curl, int party, const char *method,
		       const char *path, const void *body, size_t len, json_t **resp, char *errmsg)
{
	struct mpc_dynbuf bb = {NULL, 0};
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode cc;

	if (party < 0 || party >= cl->cluster->n_parties)
		return MPC_EINVAL;
	curl_easy_reset(curl);
	if (call_setup(cl, curl, &cl->cluster->parties[party], method, path, body, len, &bb,
		       &hdrs) != 0) {
		curl_slist_free_all(hdrs);
		mpc_errmsg_printf(errmsg, "%s %s: request path too long to sign", method, path);
		return MPC_EINVAL;
	}
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	return call_finish(&cl->cluster->parties[party], party, cc, status, &bb, resp, errmsg);
}

CURL *mpc_client_party_handle(struct mpc_client *cl, int party)
{
	if (cl->party_handle[party] == NULL)
		cl->party_handle[party] = curl_easy_init();
	return cl->party_handle[party];
}

int mpc_client_call_many(struct mpc_client *cl, struct mpc_call *calls, int n)
{
	struct mpc_dynbuf bb[MPC_MAX_PARTIES];
	struct curl_slist *hdrs[MPC_MAX_PARTIES] = {0};
	int running = 0, first_rv = 0;
	CURLMsg *msg;

	if (n > MPC_MAX_PARTIES)
		return MPC_EINVAL;
	if (cl->multi == NULL && (cl->multi = curl_multi_init()) == NULL)
		return MPC_ENOMEM;
	for (int i = 0; i < n; i++) {
		int p = calls[i].party;
		calls[i].resp = NULL;
		calls[i].errmsg[0] = '\0';
		bb[i] = (struct mpc_dynbuf){NULL, 0};
		if (mpc_client_party_handle(cl, p) == NULL)
			return MPC_ENOMEM;
		curl_easy_reset(cl->party_handle[p]);
		/* paths are at most 256 bytes here: signing them cannot fail */
		call_setup(cl, cl->party_handle[p], &cl->cluster->parties[p], calls[i].method,
			   calls[i].path, calls[i].body, calls[i].len, &bb[i], &hdrs[i]);
		curl_easy_setopt(cl->party_handle[p], CURLOPT_PRIVATE, (void *)(intptr_t)i);
		curl_multi_add_handle(cl->multi, cl->party_handle[p]);
	}
	do {
		curl_multi_perform(cl->multi, &running);
		while ((msg = curl_multi_info_read(cl->multi, &(int){0})) != NULL) {
			void *priv = NULL;
			long status = 0;
			int i;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			i = (int)(intptr_t)priv;
			calls[i].rv = call_finish(&cl->cluster->parties[calls[i].party], calls[i].party,
						  msg->data.result, status, &bb[i], &calls[i].resp,
						  calls[i].errmsg);
			curl_multi_remove_handle(cl->multi, msg->easy_handle);
		}
		if (running)
			curl_multi_poll(cl->multi, NULL, 0, 1000, NULL);
	} while (running);
	for (int i = 0; i < n; i++) {
		curl_slist_free_all(hdrs[i]);
		if (calls[i].rv != 0 && first_rv == 0)
			first_rv = calls[i].rv;
	}
	return first_rv;
}

int mpc_client_call_any(struct mpc_client *cl, const char *method, const char *path,
			const void *body, size_t len, json_t **resp, char *errmsg)
{
	char first[MPC_ERRMSG_SIZE] = "";
	int rv = MPC_EUNAVAIL;
	for (int p = 0; p < cl->cluster->n_parties; p++) {
		rv = mpc_client_call(cl, p, method, path, body, len, resp, errmsg);
		if (rv != MPC_EUNAVAIL)
			return rv;
		if (first[0] == '\0')
			memcpy(first, errmsg, sizeof first);
	}
	mpc_errmsg_printf(errmsg, "no party reachable (first: %s)", first);
	return rv;
}
