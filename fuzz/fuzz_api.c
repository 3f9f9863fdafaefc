/* Fuzz harness of the REST request parsing (api/request.c) and the party-to-party MAC check (api/peer.c). */
#include "api/peer.h"
#include "api/request.h"
#include "common/conf.h"
#include "common/err.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: byte 0 picks a target of the table below, the rest is its data.
 * A target checks the contract of one parser of untrusted request bytes;
 * a new verifier (e.g. of client request signatures) is one more function
 * and one more row, with its seeds in fuzz/corpus/api/ (first byte = row).
 */

static struct mpc_cluster cluster;
static struct mpc_party_conf conf; /* this is party 0 */
static uint8_t box_sk[3][crypto_box_SECRETKEYBYTES];

static void setup(void)
{
	uint8_t seed[crypto_box_SEEDBYTES];
	if (sodium_init() < 0)
		abort();
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	for (int i = 0; i < 3; i++) {
		memset(seed, 0x10 + i, sizeof seed);
		crypto_box_seed_keypair(cluster.parties[i].box_pk, box_sk[i], seed);
	}
	conf.party_id = 0;
	conf.cluster = &cluster;
	conf.box_sk = box_sk[0];
	if (api_peer_init(&conf) != 0)
		abort();
}

/* URL paths: segments are non-empty, hold no '/', fit, and at most API_PATH_SEGS. */
static void t_path(const uint8_t *d, size_t n)
{
	char seg[API_PATH_SEGS][API_SEG_BYTES], err[MPC_ERRMSG_SIZE], *url = malloc(n + 1);
	int segs = -1, rc;
	if (url == NULL)
		return;
	memcpy(url, d, n);
	url[n] = '\0';
	rc = api_path_split(url, seg, &segs, err);
	if (rc != 0 && rc != MPC_EINVAL && rc != MPC_ENOENT)
		abort();
	for (int i = 0; rc == 0 && i < segs; i++)
		if (seg[i][0] == '\0' || strchr(seg[i], '/') != NULL || strstr(url, seg[i]) == NULL)
			abort();
	if (segs < 0 || segs > API_PATH_SEGS)
		abort();
	free(url);
}

/* POST /v1/txns bodies: an accepted one becomes a begin entry of the given txn. */
static void t_begin(const uint8_t *d, size_t n)
{
	static const char txn[] = "0123456789abcdef0123456789abcdef";
	char err[MPC_ERRMSG_SIZE] = "", *text;
	json_t *e = (json_t *)&conf;
	int rc = api_txn_begin_entry((const char *)d, n, txn, "alice", &e, err);
	if (rc != 0) {
		if (e != NULL || err[0] == '\0')
			abort();
		return;
	}
	if (strcmp(json_string_value(json_object_get(e, "op")), "begin") != 0 ||
	    strcmp(json_string_value(json_object_get(e, "txn")), txn) != 0 ||
	    !json_is_string(json_object_get(e, "table")) ||
	    strcmp(json_string_value(json_object_get(e, "client")), "alice") != 0)
		abort();
	text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS); /* as proposed */
	if (text == NULL)
		abort();
	free(text);
	json_decref(e);
}

/* POST /v1/jobs bodies: an accepted one has every field the job_submit entry needs. */
static void t_submit(const uint8_t *d, size_t n)
{
	struct api_submit sub;
	char err[MPC_ERRMSG_SIZE] = "";
	int rc = api_submit_parse((const char *)d, n, "alice", &sub, err);
	if (rc != 0) {
		if (sub.body != NULL || err[0] == '\0')
			abort();
		return;
	}
	if (sub.client == NULL || strcmp(sub.client, "alice") != 0 || sub.program == NULL || sub.file == NULL || sub.name == NULL ||
	    sub.queue == NULL || !json_is_object(sub.args) || strlen(sub.program) != sub.program_len ||
	    sub.program_len > API_PROGRAM_MAX)
		abort();
	api_submit_clear(&sub);
}

/*
 * POST /v1/internal/propose: byte 0 = sending party (mod 5, so ids outside
 * the cluster too), byte 1 = what to present: 0 the right MAC of the body,
 * 1 the right MAC with one hex digit changed, else the 64 bytes that follow
 * as the MAC (forged). Then the body. Only the right MAC of a party of the
 * cluster passes. The right MAC is computed here from the scheme documented
 * in api/peer.c, independently of it.
 */
static void t_peer_mac(const uint8_t *d, size_t n)
{
	uint8_t shared[crypto_scalarmult_BYTES], key[crypto_generichash_BYTES];
	uint8_t mac[crypto_generichash_BYTES];
	char hex[2 * sizeof mac + 1], ctx[128];
	int party, mode, rc;
	size_t clen;

	if (n < 2)
		return;
	party = d[0] % 5;
	mode = d[1];
	d += 2;
	n -= 2;
	if (mode > 1) {
		if (n < 64)
			return;
		memcpy(hex, d, 64);
		hex[64] = '\0';
		d += 64;
		n -= 64;
		if (api_peer_verify(party, (const char *)d, n, hex) == 0)
			abort(); /* a forged MAC */
		return;
	}
	if (party < 3) {
		clen = (size_t)snprintf(ctx, sizeof ctx, "mpcstore-party-mac|%s|%d|%d", cluster.id_hex,
					0, party);
		if (crypto_scalarmult(shared, box_sk[party], cluster.parties[0].box_pk) != 0)
			abort();
		crypto_generichash(key, sizeof key, (const uint8_t *)ctx, clen, shared, sizeof shared);
		crypto_generichash(mac, sizeof mac, d, n, key, sizeof key);
	} else {
		memset(mac, 0, sizeof mac);
	}
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	if (mode == 1)
		hex[n % 64] = hex[n % 64] == '0' ? '1' : '0';
	rc = api_peer_verify(party, (const char *)d, n, hex);
	if ((rc == 0) != (party < 3 && mode == 0))
		abort();
}

static const struct {
	const char *name;
	void (*run)(const uint8_t *d, size_t n);
} targets[] = {
	{"path", t_path},
	{"begin", t_begin},
	{"submit", t_submit},
	{"peer_mac", t_peer_mac},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (cluster.n_parties == 0)
		setup();
	if (size < 1)
		return 0;
	targets[data[0] % (sizeof targets / sizeof targets[0])].run(data + 1, size - 1);
	return 0;
}
