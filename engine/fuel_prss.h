/* prss fuel: non-interactive 3-party triples, square pairs, truncation masks and zero shares from pairwise keys. */
#ifndef MPC_ENGINE_FUEL_PRSS_H
#define MPC_ENGINE_FUEL_PRSS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/fuel.h"

/*
 * Pseudo-random secret sharing for 3 parties, honest majority (one passive
 * corruption): replicated secret sharing as in Araki, Furukawa, Lindell,
 * Nof, Ohara (CCS 2016) and ABY3 (Mohassel, Rindal, CCS 2018, §2.2, §5.1).
 *
 * Keys. Write K_j for the key shared by parties j-1 and j (indices mod 3).
 * Party i holds K_i (= k_{i-1,i}, "key_prev") and K_{i+1} (= k_{i,i+1},
 * "key_next"), and never K_{i+2}. In the system the keys come from the
 * crypto_kx session of each pair; here they are inputs.
 *
 * PRF. F(K, label, t) is the 64-bit word t of the AES-128-CTR keystream
 * under the key crypto_kdf_derive_from_key(K, id=label, ctx "mpcprss1"),
 * counter block = 128-bit big-endian t/2 (two words per AES block), words
 * read little-endian. So any index range is produced independently, in any
 * order, by any party, and nothing is stored. (DESIGN §4 names ChaCha20;
 * AES-128-CTR is ~4x faster with AES-NI here: 8.3 vs 1.95 GB/s, DESIGN §11.)
 *
 * Triple t. a = a_0 + a_1 + a_2 with a_j = F(K_j, "a", t), likewise b, so
 * party i knows a_i, a_{i+1}, b_i, b_{i+1}. Its additive shares are
 *   a_i,  b_i,
 *   c_i = a_i b_i + a_i b_{i+1} + a_{i+1} b_i + F(K_{i+1},"z",t) - F(K_i,"z",t).
 * The three cross-term sums cover all nine a_j b_k, and the zero sharing
 * cancels, so sum c_i = a*b, with no communication.
 *
 * Why the zero sharing matters: during Beaver openings party i-1, which
 * knows a_i, learns party i's share x_i of an operand. Every share this
 * generator hands party i therefore carries a mask from K_{i+1}, the one
 * key party i-1 lacks; shares produced by the engine keep that invariant
 * (Beaver outputs inherit it from c_i, truncation outputs get a fresh zero
 * sharing). Re-randomise with engine_prss_zeros() before handing shares to
 * a client.
 *
 * Thread safety: an engine_prss is read-only after engine_prss_new(); any
 * number of threads may call the functions below on it at once.
 */

#define ENGINE_PRSS_KEY_BYTES 32

struct engine_prss;

/*
 * Creates the generator of party `party` (0, 1 or 2) from its two pairwise
 * keys: key_prev = k_{party-1,party}, key_next = k_{party,party+1}. The
 * keys are copied (into derived subkeys; the inputs are not kept). Caller
 * frees with engine_prss_free(). Returns 0, MPC_EINVAL (bad party),
 * MPC_ENOMEM, or MPC_ECRYPTO (libsodium/OpenSSL could not initialise).
 */
int engine_prss_new(struct engine_prss **out, int party,
		    const uint8_t key_prev[ENGINE_PRSS_KEY_BYTES],
		    const uint8_t key_next[ENGINE_PRSS_KEY_BYTES]);

/* Zeroes the derived keys and frees p (NULL is allowed). */
void engine_prss_free(struct engine_prss *p);

/* This party's index. */
int engine_prss_party(const struct engine_prss *p);

/*
 * This party's shares of triples [t0, t0 + n) into a, b, c (n elements
 * each, caller-owned, no overlap). Returns 0, MPC_ERANGE (range past 2^64),
 * MPC_ENOMEM or MPC_ECRYPTO.
 */
int engine_prss_triples(const struct engine_prss *p, uint64_t t0, size_t n,
			uint64_t *a, uint64_t *b, uint64_t *c);

/*
 * Shares of square pairs (a, c = a^2) [t0, t0 + n), own index space:
 *   c_i = a_i^2 + 2 a_i a_{i+1} + F(K_{i+1},"sz",t) - F(K_i,"sz",t).
 * Errors as engine_prss_triples().
 */
int engine_prss_squares(const struct engine_prss *p, uint64_t t0, size_t n,
			uint64_t *a, uint64_t *c);

/*
 * Shares of zero: out_i = F(K_{i+1},"0",t) - F(K_i,"0",t), which sum to 0
 * over the three parties. Adding them re-randomises a sharing (e.g. of an
 * output before each party seals its share to a client). Own index space.
 * Errors as engine_prss_triples().
 */
int engine_prss_zeros(const struct engine_prss *p, uint64_t t0, size_t n,
		      uint64_t *out);

/*
 * Truncation material [t0, t0 + n) for engine_fixed_trunc() with receiver
 * r and f fractional bits (engine/fixed.h has the protocol). With
 * rho = F(K_{r+2},"tr",t), sigma = F(K_{r+2},"ts",t) (K_{r+2} is the key of
 * the two parties other than r) and a zero sharing zeta from label "tz":
 *   party r:   send_mask = 0,            share_base = zeta_r
 *   party r+1: send_mask = sigma,        share_base = zeta_{r+1} - (rho >> f)
 *   party r+2: send_mask = rho - sigma,  share_base = zeta_{r+2}
 * Own index space. Returns 0, MPC_EINVAL (r not in 0..2, f > 62),
 * MPC_ERANGE, MPC_ENOMEM or MPC_ECRYPTO.
 */
int engine_prss_trunc(const struct engine_prss *p, int receiver, unsigned f,
		      uint64_t t0, size_t n, uint64_t *send_mask,
		      uint64_t *share_base);

/*
 * Fills gen to use p as a fuel generator (name "prss", 3 parties, all
 * kinds). p must stay valid until gen is no longer used; gen does not own p.
 */
void engine_prss_fuel_gen(struct engine_fuel_gen *gen, struct engine_prss *p);

#endif
