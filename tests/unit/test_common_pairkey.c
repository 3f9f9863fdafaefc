/* Unit tests of the pairwise party MAC keys (common/pairkey.h). */
#include "common/err.h"
#include "common/pairkey.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

static struct mpc_cluster cluster;
static uint8_t box_sk[3][crypto_box_SECRETKEYBYTES];
static struct mpc_pairkeys keys[3];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	memset(&cluster, 0, sizeof cluster);
	strcpy(cluster.id_hex, "00112233445566778899aabbccddeeff");
	cluster.n_parties = 3;
	for (int i = 0; i < 3; i++)
		crypto_box_keypair(cluster.parties[i].box_pk, box_sk[i]);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mpc_pairkeys_derive(&keys[i], &cluster, i, box_sk[i]), 0);
}

static void teardown(void)
{
	for (int i = 0; i < 3; i++)
		mpc_pairkeys_free(&keys[i]);
}

TestSuite(common_pairkey, .init = setup, .fini = teardown);

Test(common_pairkey, both_parties_of_a_pair_derive_the_same_key)
{
	char tag[MPC_PAIRKEY_TAG_HEX + 1];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			mpc_pairkeys_tag(&keys[i], j, "vote", 4, tag);
			cr_assert_eq(mpc_pairkeys_check(&keys[j], i, "vote", 4, tag), 0,
				     "party %d's tag for %d", i, j);
		}
}

Test(common_pairkey, tag_of_another_pair_or_message_is_refused)
{
	char tag[MPC_PAIRKEY_TAG_HEX + 1];
	mpc_pairkeys_tag(&keys[0], 1, "vote", 4, tag);
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 0, "vote", 4, tag), 0);
	cr_assert_eq(mpc_pairkeys_check(&keys[2], 0, "vote", 4, tag), -1, "pair 0-2's key differs");
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 2, "vote", 4, tag), -1);
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 0, "votE", 4, tag), -1);
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 0, "vote", 4, "00"), -1, "short tag");
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 3, "vote", 4, tag), -1, "unknown party");
	cr_assert_eq(mpc_pairkeys_check(NULL, 0, "vote", 4, tag), -1, "no keys");
	tag[5] = tag[5] == 'a' ? 'b' : 'a';
	cr_assert_eq(mpc_pairkeys_check(&keys[1], 0, "vote", 4, tag), -1);
}

Test(common_pairkey, keys_of_another_cluster_differ)
{
	struct mpc_pairkeys other;
	char tag[MPC_PAIRKEY_TAG_HEX + 1];
	mpc_pairkeys_tag(&keys[0], 1, "vote", 4, tag);
	strcpy(cluster.id_hex, "ffeeddccbbaa99887766554433221100");
	cr_assert_eq(mpc_pairkeys_derive(&other, &cluster, 1, box_sk[1]), 0);
	cr_assert_eq(mpc_pairkeys_check(&other, 0, "vote", 4, tag), -1);
	mpc_pairkeys_free(&other);
	mpc_pairkeys_free(&other); /* twice is fine */
}

Test(common_pairkey, low_order_public_key_is_refused)
{
	struct mpc_pairkeys bad;
	memset(cluster.parties[2].box_pk, 0, 32); /* the identity point */
	cr_assert_eq(mpc_pairkeys_derive(&bad, &cluster, 0, box_sk[0]), MPC_ECRYPTO);
	cr_assert_null(bad.key);
}
