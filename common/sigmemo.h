/* Ed25519 signatures with a memo of the ones this process already checked or made.
 *
 * Verification is deterministic in (public key, message, signature), so a
 * triple that verified once verifies again, and one this process signed with
 * the matching secret key verifies by construction. The memo keeps the
 * BLAKE2b-256 of recent such triples: a party applying its own Prepared vote,
 * or a begin whose client signature its API already checked, skips a repeated
 * ~55 us verification. Anything not in the memo is verified in full. */
#ifndef MPC_COMMON_SIGMEMO_H
#define MPC_COMMON_SIGMEMO_H

#include <stddef.h>
#include <stdint.h>

/* crypto_sign_detached with sk (libsodium's 64-byte form); remembers the triple. */
void mpc_sigmemo_sign(uint8_t *sig, const uint8_t *msg, size_t mlen, const uint8_t *sk);

/* 0 when sig is pk's signature of msg (remembered or verified now), else -1. */
int mpc_sigmemo_verify(const uint8_t *sig, const uint8_t *msg, size_t mlen, const uint8_t *pk);

#endif
