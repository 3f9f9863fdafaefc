/* Unit tests of signed requests: the canonical string, sign/verify (common/reqsig.c), the nonce
 * cache and the request check of the API (api/auth.c). */
#include "api/auth.h"
#include "common/err.h"
#include "common/reqsig.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#define CLUSTER_ID "00112233445566778899aabbccddeeff"

static struct mpc_cluster cluster;
static struct mpc_party_conf conf;
static uint8_t alice_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t party_sk[2][crypto_sign_SECRETKEYBYTES];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, CLUSTER_ID);
	cluster.n_parties = 2;
	for (int i = 0; i < 2; i++)
		crypto_sign_keypair(cluster.parties[i].sign_pk, party_sk[i]);
	cluster.n_clients = 1;
	strcpy(cluster.clients[0].name, "alice");
	cluster.clients[0].rights = MPC_RIGHT_SUBMIT;
	crypto_sign_keypair(cluster.clients[0].sign_pk, alice_sk);
	memset(&conf, 0, sizeof conf);
	conf.party_id = 0;
	conf.cluster = &cluster;
}

TestSuite(reqsig, .init = setup);
TestSuite(api_nonce_cache);
TestSuite(api_auth, .init = setup);

Test(reqsig, canonical_string_has_every_part)
{
	char out[512];
	size_t n = mpc_reqsig_canonical(out, sizeof out, CLUSTER_ID, "POST", "/v1/jobs?x=1",
					1700000000123, "0123456789abcdef0123456789abcdef", "", 0);
	/* SHA-256 of the empty string */
	cr_assert_str_eq(out, "mpcstore-req-v2\n" CLUSTER_ID "\nPOST\n/v1/jobs?x=1\n1700000000123\n"
			      "0123456789abcdef0123456789abcdef\n"
			      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	cr_assert_eq(n, strlen(out));
	cr_assert_eq(mpc_reqsig_canonical(out, 64, CLUSTER_ID, "GET", "/v1/x", 1, "00", "", 0), 0,
		     "too small a buffer is reported, not truncated");
}

Test(reqsig, sign_then_verify_and_every_change_breaks_it)
{
	const char *body = "{\"program\":\"x\"}";
	const uint8_t *pk = cluster.clients[0].sign_pk;
	char err[MPC_ERRMSG_SIZE];
	struct mpc_reqsig s, t;
	cr_assert_eq(mpc_reqsig_sign(alice_sk, "alice", CLUSTER_ID, "POST", "/v1/jobs", body,
				     strlen(body), &s),
		     0);
	cr_assert_eq(strlen(s.nonce), MPC_REQSIG_NONCE_HEX);
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body), &s,
				       err),
		     0, "%s", err);
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "PUT", "/v1/jobs", body, strlen(body), &s,
				       err),
		     MPC_EPERM);
	cr_assert(strstr(err, "bad signature for client 'alice' (PUT /v1/jobs)") != NULL, "%s", err);
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs?a=1", body, strlen(body),
				       &s, err),
		     MPC_EPERM);
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body) - 1,
				       &s, err),
		     MPC_EPERM, "the body is covered");
	cr_assert_eq(mpc_reqsig_verify(pk, "ffffffffffffffffffffffffffffffff", "POST", "/v1/jobs",
				       body, strlen(body), &s, err),
		     MPC_EPERM, "another cluster");
	t = s;
	t.time_ms++;
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body), &t,
				       err),
		     MPC_EPERM, "the time is covered");
	t = s;
	t.nonce[0] = t.nonce[0] == 'a' ? 'b' : 'a';
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body), &t,
				       err),
		     MPC_EPERM, "the nonce is covered");
	t = s;
	strcpy(t.nonce, "XYZ");
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body), &t,
				       err),
		     MPC_EINVAL);
	t = s;
	strcpy(t.sig, "not base64!");
	cr_assert_eq(mpc_reqsig_verify(pk, CLUSTER_ID, "POST", "/v1/jobs", body, strlen(body), &t,
				       err),
		     MPC_EINVAL);
	cr_assert(strstr(err, "not a base64 64-byte Ed25519 signature") != NULL, "%s", err);
}

Test(reqsig, signer_is_a_client_or_a_party)
{
	int party;
	cr_assert_eq(mpc_reqsig_signer(&cluster, "alice", &party), cluster.clients[0].sign_pk);
	cr_assert_eq(party, -1);
	cr_assert_eq(mpc_reqsig_signer(&cluster, "party:1", &party), cluster.parties[1].sign_pk);
	cr_assert_eq(party, 1);
	cr_assert_null(mpc_reqsig_signer(&cluster, "party:2", &party));
	cr_assert_null(mpc_reqsig_signer(&cluster, "party:", &party));
	cr_assert_null(mpc_reqsig_signer(&cluster, "party:1x", &party));
	cr_assert_null(mpc_reqsig_signer(&cluster, "mallory", &party));
}

static const char *N1 = "00000000000000000000000000000001";
static const char *N2 = "00000000000000000000000000000002";

Test(api_nonce_cache, replay_within_expiry_is_refused)
{
	struct api_nonce_cache *nc = api_nonce_cache_new(1024);
	cr_assert_not_null(nc);
	cr_assert_eq(api_nonce_cache_add(nc, N1, 2000, 1000), 0);
	cr_assert_eq(api_nonce_cache_add(nc, N2, 2000, 1000), 0);
	cr_assert_eq(api_nonce_cache_add(nc, N1, 2000, 1500), MPC_EEXIST);
	cr_assert_eq(api_nonce_cache_add(nc, N1, 2000, 2000), MPC_EEXIST, "still live at expiry");
	cr_assert_eq(api_nonce_cache_add(nc, N1, 4000, 2001), 0, "forgotten after its expiry");
	cr_assert_eq(api_nonce_cache_add(nc, N1, 4000, 3000), MPC_EEXIST);
	cr_assert_eq(api_nonce_cache_add(nc, "zz", 4000, 3000), MPC_EINVAL);
	api_nonce_cache_free(nc);
}

Test(api_nonce_cache, full_window_refuses_then_frees_expired_slots)
{
	/* the smallest cache is one probe window: API_NONCE_PROBE live nonces fill it */
	struct api_nonce_cache *nc = api_nonce_cache_new(1);
	char nonce[33];
	for (int i = 0; i < API_NONCE_PROBE; i++) {
		snprintf(nonce, sizeof nonce, "%032x", i + 1);
		cr_assert_eq(api_nonce_cache_add(nc, nonce, 1000 + i, 0), 0);
	}
	snprintf(nonce, sizeof nonce, "%032x", API_NONCE_PROBE + 1);
	cr_assert_eq(api_nonce_cache_add(nc, nonce, 5000, 0), MPC_EUNAVAIL);
	/* at 1000 the first nonce has expired: its slot takes the new one */
	cr_assert_eq(api_nonce_cache_add(nc, nonce, 5000, 1000 + 1), 0);
	snprintf(nonce, sizeof nonce, "%032x", 2);
	cr_assert_eq(api_nonce_cache_add(nc, nonce, 5000, 1000), MPC_EEXIST);
	api_nonce_cache_free(nc);
}

static int check(const struct mpc_reqsig *s, const char *method, const char *path,
		 struct api_nonce_cache *nc, int64_t now, struct api_caller *who, char *err)
{
	return api_auth_check(&conf, nc, 60000, now, s, method, path, "", 0, who, err);
}

Test(api_auth, check_accepts_once_and_names_each_refusal)
{
	struct api_nonce_cache *nc = api_nonce_cache_new(1024);
	struct api_caller who;
	struct mpc_reqsig s, t;
	char err[MPC_ERRMSG_SIZE] = "";

	mpc_reqsig_sign(alice_sk, "alice", CLUSTER_ID, "GET", "/v1/jobs", "", 0, &s);
	cr_assert_eq(check(&s, "GET", "/v1/jobs", nc, s.time_ms + 59000, &who, err), 0, "%s", err);
	cr_assert_str_eq(who.sig.client, "alice");
	cr_assert_eq(who.ci, &cluster.clients[0]);
	cr_assert_eq(who.rights, MPC_RIGHT_SUBMIT);
	cr_assert_eq(check(&s, "GET", "/v1/jobs", nc, s.time_ms, &who, err), MPC_EAUTH);
	cr_assert(strstr(err, "replayed request: client 'alice'") != NULL, "%s", err);

	mpc_reqsig_sign(alice_sk, "alice", CLUSTER_ID, "GET", "/v1/jobs", "", 0, &t);
	cr_assert_eq(check(&t, "GET", "/v1/jobs", nc, t.time_ms + 61000, &who, err), MPC_EAUTH);
	cr_assert(strstr(err, "outside the replay window of +-60 s") != NULL, "%s", err);
	cr_assert_eq(check(&t, "GET", "/v1/jobs", nc, t.time_ms - 61000, &who, err), MPC_EAUTH);
	/* a stale or forged request does not burn the nonce of a good one */
	cr_assert_eq(check(&t, "GET", "/v1/jobs/1", nc, t.time_ms, &who, err), MPC_EAUTH);
	cr_assert(strstr(err, "bad signature") != NULL, "%s", err);
	cr_assert_eq(check(&t, "GET", "/v1/jobs", nc, t.time_ms, &who, err), 0, "%s", err);

	strcpy(t.client, "mallory");
	cr_assert_eq(check(&t, "GET", "/v1/jobs", nc, t.time_ms, &who, err), MPC_EAUTH);
	cr_assert(strstr(err, "unknown client 'mallory'") != NULL, "%s", err);
	api_nonce_cache_free(nc);
}

Test(api_auth, party_admin_only_reads_and_only_on_its_party)
{
	struct api_nonce_cache *nc = api_nonce_cache_new(1024);
	struct api_caller who;
	struct mpc_reqsig s;
	char err[MPC_ERRMSG_SIZE] = "";

	mpc_reqsig_sign(party_sk[0], "party:0", CLUSTER_ID, "GET", "/v1/raft", "", 0, &s);
	cr_assert_eq(check(&s, "GET", "/v1/raft", nc, s.time_ms, &who, err), 0, "%s", err);
	cr_assert_eq(who.party, 0);
	cr_assert_null(who.ci);
	cr_assert(who.rights & MPC_RIGHT_READ);
	mpc_reqsig_sign(party_sk[1], "party:1", CLUSTER_ID, "GET", "/v1/raft", "", 0, &s);
	cr_assert_eq(check(&s, "GET", "/v1/raft", nc, s.time_ms, &who, err), MPC_EPERM);
	cr_assert(strstr(err, "party 0's API refuses another party's admin calls") != NULL, "%s",
		  err);
	mpc_reqsig_sign(party_sk[0], "party:1", CLUSTER_ID, "GET", "/v1/raft", "", 0, &s);
	cr_assert_eq(check(&s, "GET", "/v1/raft", nc, s.time_ms, &who, err), MPC_EAUTH,
		     "party 0's key does not sign as party 1");
	mpc_reqsig_sign(party_sk[0], "party:0", CLUSTER_ID, "POST", "/v1/jobs", "", 0, &s);
	cr_assert_eq(check(&s, "POST", "/v1/jobs", nc, s.time_ms, &who, err), MPC_EPERM);
	cr_assert(strstr(err, "may only read (GET)") != NULL, "%s", err);
	api_nonce_cache_free(nc);
}

Test(api_auth, rights_name_client_and_right)
{
	struct api_caller who = {.rights = MPC_RIGHT_SUBMIT};
	char err[MPC_ERRMSG_SIZE] = "";
	strcpy(who.sig.client, "alice");
	cr_assert(api_auth_has(&who, MPC_RIGHT_SUBMIT, "submit jobs", err));
	cr_assert_not(api_auth_has(&who, MPC_RIGHT_READ, "list tables", err));
	cr_assert_str_eq(err, "client 'alice' lacks the 'read' right (list tables)");
	who.rights = MPC_RIGHT_ADMIN;
	cr_assert(api_auth_has(&who, MPC_RIGHT_OUTPUT, "x", err), "admin holds every right");
}
