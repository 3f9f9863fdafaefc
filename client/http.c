/* libmpcclient transport: one libcurl call per request, JSON answers, HTTP status → MPC_E*. */
#include "client/internal.h"
#include "common/dynbuf.h"
#include "common/err.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

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
	pthread_once(&curl_once, curl_init_once);
	*out = cl;
	return 0;
}

int mpc_client_open_cluster(const struct mpc_cluster *c, struct mpc_client **out)
{
	struct mpc_client *cl = calloc(1, sizeof *cl);
	if (cl == NULL)
		return MPC_ENOMEM;
	if (sodium_init() < 0) {
		free(cl);
		return MPC_ECRYPTO;
	}
	cl->cluster = c;
	pthread_once(&curl_once, curl_init_once);
	*out = cl;
	return 0;
}

void mpc_client_close(struct mpc_client *cl)
{
	if (cl == NULL)
		return;
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


/* One handle per thread, reset per call: libcurl keeps its connections to
 * the parties alive across calls (no TCP set-up per request). */
static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void handle_key_init(void)
{
	pthread_key_create(&handle_key, handle_free);
}

static CURL *thread_handle(void)
{
	CURL *h;
	pthread_once(&handle_once, handle_key_init);
	h = pthread_getspecific(handle_key);
	if (h == NULL) {
		h = curl_easy_init();
		if (h != NULL)
			pthread_setspecific(handle_key, h);
	} else {
		curl_easy_reset(h);
	}
	return h;
}

static int status_err(long status)
{
	switch (status) {
	case 400: return MPC_EINVAL;
	case 403: return MPC_EPERM;
	case 404: return MPC_ENOENT;
	case 409: return MPC_ECONFLICT;
	case 503: return MPC_EUNAVAIL;
	case 504: return MPC_ETIMEDOUT;
	default: return MPC_EPROTO;
	}
}

int mpc_client_call(struct mpc_client *cl, int party, const char *method, const char *path,
		    const void *body, size_t len, json_t **resp, char *errmsg)
{
	const struct mpc_party_info *p;
	struct mpc_dynbuf bb = {NULL, 0};
	struct curl_slist *hdrs = NULL;
	char url[1024];
	long status = 0;
	json_t *j = NULL;
	CURLcode cc;
	CURL *curl;
	int rv;

	if (party < 0 || party >= cl->cluster->n_parties)
		return MPC_EINVAL;
	p = &cl->cluster->parties[party];
	curl = thread_handle();
	if (curl == NULL)
		return MPC_ENOMEM;
	snprintf(url, sizeof url, "http://%s:%u%s", p->host, p->api_port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, mpc_dynbuf_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bb);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		mpc_errmsg_printf(errmsg, "party %d (%s:%u) unreachable: %s", party, p->host,
				  p->api_port, curl_easy_strerror(cc));
		free(bb.data);
		return MPC_EUNAVAIL;
	}
	if (bb.data != NULL)
		j = json_loadb(bb.data, bb.len, 0, NULL);
	free(bb.data);
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
	if (resp != NULL)
		*resp = j;
	else
		json_decref(j);
	return rv;
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
