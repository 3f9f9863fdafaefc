/* Client signatures in log entries: the "auth" object and its check at apply. */
#include "store/signed_req.h"
#include "common/err.h"

#include <sodium.h>

#include <stdio.h>
#include <string.h>

json_t *store_signed_req_pack(const struct mpc_reqsig *sig, const char *method, const char *path,
			      const char *body, size_t len)
{
	json_t *text = json_stringn(body ? body : "", body ? len : 0);
	if (text == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "client", sig->client, "method",
			 method, "path", path, "time_ms", (json_int_t)sig->time_ms, "nonce",
			 sig->nonce, "sig", sig->sig, "body", text);
}

int store_signed_req_hash(const struct mpc_cluster *c, json_t *auth, char *hex)
{
	const char *client = json_string_value(json_object_get(auth, "client"));
	const char *nonce = json_string_value(json_object_get(auth, "nonce"));
	const char *m = json_string_value(json_object_get(auth, "method"));
	const char *p = json_string_value(json_object_get(auth, "path"));
	json_t *jbody = json_object_get(auth, "body");
	char canon[2048];
	uint8_t hash[STORE_BEGIN_HASH_BYTES];
	size_t n;

	if (client == NULL || nonce == NULL || m == NULL || p == NULL || !json_is_string(jbody) ||
	    !json_is_integer(json_object_get(auth, "time_ms")))
		return MPC_EINVAL;
	n = mpc_reqsig_canonical(canon, sizeof canon, c->id_hex, m, p,
				 (int64_t)json_integer_value(json_object_get(auth, "time_ms")),
				 nonce, json_string_value(jbody), json_string_length(jbody));
	if (n == 0)
		return MPC_EINVAL;
	/* the client's name, then what its signature covers (NUL-separated: a
	 * name never holds a NUL) */
	if (mpc_reqsig_sha256(client, strlen(client) + 1, canon, n, hash) != 0)
		return MPC_EINVAL;
	sodium_bin2hex(hex, 2 * sizeof hash + 1, hash, sizeof hash);
	return 0;
}

int store_signed_req_open(const struct mpc_cluster *c, json_t *e, const char *method,
			  const char *path, const char *id_key, const struct mpc_client_info **ci,
			  json_t **body, char *why, size_t size)
{
	return store_signed_req_open_bound(c, e, method, path, id_key, NULL, ci, body, why, size);
}

int store_signed_req_open_bound(const struct mpc_cluster *c, json_t *e, const char *method,
				const char *path, const char *id_key, const char *bound_hex,
				const struct mpc_client_info **ci, json_t **body, char *why,
				size_t size)
{
	json_t *auth = json_object_get(e, "auth");
	const char *client = json_string_value(json_object_get(auth, "client"));
	const char *nonce = json_string_value(json_object_get(auth, "nonce"));
	const char *sig64 = json_string_value(json_object_get(auth, "sig"));
	const char *m = json_string_value(json_object_get(auth, "method"));
	const char *p = json_string_value(json_object_get(auth, "path"));
	const char *id = json_string_value(json_object_get(e, id_key));
	const char *named = json_string_value(json_object_get(e, "client"));
	json_t *jbody = json_object_get(auth, "body");
	char err[MPC_ERRMSG_SIZE] = "";
	struct mpc_reqsig sig;

	*ci = NULL;
	*body = NULL;
	if (!json_is_object(auth) || client == NULL || nonce == NULL || sig64 == NULL ||
	    m == NULL || p == NULL || !json_is_string(jbody) ||
	    !json_is_integer(json_object_get(auth, "time_ms"))) {
		snprintf(why, size, "no client signature (auth needs client, method, path, "
				    "time_ms, nonce, sig and body)");
		return MPC_EPERM;
	}
	if (strcmp(m, method) != 0 || strcmp(p, path) != 0) {
		snprintf(why, size, "the signed request is %s %s, not %s %s", m, p, method, path);
		return MPC_EPERM;
	}
	if (named == NULL || strcmp(named, client) != 0) {
		snprintf(why, size, "entry names client '%s' but the request is signed as '%s'",
			 named ? named : "", client);
		return MPC_EPERM;
	}
	if (id == NULL || strcmp(id, nonce) != 0) {
		snprintf(why, size, "%s %s is not the signed nonce %s", id_key, id ? id : "(none)",
			 nonce);
		return MPC_EPERM;
	}
	*ci = mpc_cluster_client(c, client);
	if (*ci == NULL) {
		snprintf(why, size, "client '%s' is not in the cluster config", client);
		return MPC_EPERM;
	}
	if (strlen(client) >= sizeof sig.client || strlen(nonce) >= sizeof sig.nonce ||
	    strlen(sig64) >= sizeof sig.sig) {
		snprintf(why, size, "malformed signature of client '%s'", client);
		return MPC_EPERM;
	}
	strcpy(sig.client, client);
	strcpy(sig.nonce, nonce);
	strcpy(sig.sig, sig64);
	sig.time_ms = (int64_t)json_integer_value(json_object_get(auth, "time_ms"));
	if (bound_hex != NULL) {
		char have[2 * STORE_BEGIN_HASH_BYTES + 1];
		if (store_signed_req_hash(c, auth, have) == 0 &&
		    sodium_memcmp(have, bound_hex, sizeof have - 1) == 0 &&
		    strlen(bound_hex) == sizeof have - 1)
			bound_hex = have; /* authenticated otherwise: no Ed25519 check */
		else
			bound_hex = NULL;
	}
	if (bound_hex == NULL &&
	    mpc_reqsig_verify((*ci)->sign_pk, c->id_hex, method, path, json_string_value(jbody),
			      json_string_length(jbody), &sig, err) != 0) {
		*ci = NULL;
		snprintf(why, size, "%s", err);
		return MPC_EPERM;
	}
	*body = json_loadb(json_string_value(jbody), json_string_length(jbody), 0, NULL);
	if (!json_is_object(*body)) {
		json_decref(*body);
		*body = NULL;
		snprintf(why, size, "the signed body of client '%s' is not a JSON object", client);
		return MPC_EPERM;
	}
	return 0;
}
