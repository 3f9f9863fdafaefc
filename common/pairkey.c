/* Pairwise MAC keys between parties (see pairkey.h). */
#include "common/pairkey.h"
#include "common/err.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int mpc_pairkeys_derive(struct mpc_pairkeys *pk, const struct mpc_cluster *c, int party_id,
			const uint8_t *box_sk)
{
	uint8_t shared[crypto_scalarmult_BYTES];
	char ctx[128];

	pk->n = 0;
	pk->key = sodium_malloc((size_t)c->n_parties * sizeof *pk->key);
	if (pk->key == NULL)
		return MPC_ENOMEM;
	for (int j = 0; j < c->n_parties; j++) {
		int lo = party_id < j ? party_id : j;
		int hi = party_id < j ? j : party_id;
		size_t n = (size_t)snprintf(ctx, sizeof ctx, "mpcstore-party-mac|%s|%d|%d",
					    c->id_hex, lo, hi);
		if (crypto_scalarmult(shared, box_sk, c->parties[j].box_pk) != 0) {
			sodium_memzero(shared, sizeof shared);
			sodium_free(pk->key); /* zeroes */
			pk->key = NULL;
			return MPC_ECRYPTO;
		}
		crypto_generichash(pk->key[j], sizeof pk->key[j], (const uint8_t *)ctx, n, shared,
				   sizeof shared);
	}
	sodium_memzero(shared, sizeof shared);
	pk->n = c->n_parties;
	return 0;
}

void mpc_pairkeys_free(struct mpc_pairkeys *pk)
{
	sodium_free(pk->key); /* zeroes; NULL is fine */
	pk->key = NULL;
	pk->n = 0;
}

void mpc_pairkeys_tag(const struct mpc_pairkeys *pk, int party, const void *msg, size_t len,
		      char *hex)
{
	uint8_t tag[MPC_PAIRKEY_BYTES];
	crypto_generichash(tag, sizeof tag, msg, len, pk->key[party], sizeof pk->key[party]);
	sodium_bin2hex(hex, MPC_PAIRKEY_TAG_HEX + 1, tag, sizeof tag);
}

int mpc_pairkeys_check(const struct mpc_pairkeys *pk, int party, const void *msg, size_t len,
		       const char *hex)
{
	char want[MPC_PAIRKEY_TAG_HEX + 1];
	if (pk == NULL || pk->key == NULL || party < 0 || party >= pk->n || hex == NULL ||
	    strlen(hex) != MPC_PAIRKEY_TAG_HEX)
		return -1;
	mpc_pairkeys_tag(pk, party, msg, len, want);
	return sodium_memcmp(want, hex, MPC_PAIRKEY_TAG_HEX) == 0 ? 0 : -1;
}
