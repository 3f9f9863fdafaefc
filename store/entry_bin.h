/* Compact binary Raft entries: the frame around proposals and the fixed layout of the commit entry (docs/architecture.md §4.1). */
#ifndef MPC_STORE_ENTRY_BIN_H
#define MPC_STORE_ENTRY_BIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Entries of older versions are JSON texts; they start with '{' (or a
 * blank). A binary entry starts with a byte that no JSON text starts with
 * (0xB1 and 0xB2 are UTF-8 continuation bytes, never the first byte of a
 * valid text), so the FSM dispatches on the first byte and old logs apply
 * exactly as before.
 *
 * Frame (what the leader appends to the log; integers little-endian):
 *   u8 0xB1, u8 version (1), u8 kind (1: one entry, 2: a batch), u8 0,
 *   u32 count (kind 1: 1; kind 2: 1..STORE_FSM_BATCH_MAX), u64 ts (the
 *   leader's stamp, ms), then count times { u32 len, len bytes of a
 *   sub-entry }, then 0..7 zero bytes (canonical/raft's 8-byte multiples).
 * A sub-entry is a JSON text or a binary commit record:
 *   u8 0xB2, u8 version (1), u8 flags (1: client, 2: auth; others 0),
 *   str8 txn, [str8 client], [auth: str8 client, str8 method, str8 path,
 *   i64 time_ms, str8 nonce, str8 sig, str32 body], u8 nvotes
 *   (<= MPC_MAX_PARTIES), per vote: u8 mask (bits 0..7: party, rows, bytes,
 *   keep_until_ms, digest, sig, begin, macs), i64 for each present integer,
 *   str8 for each present string, [u8 count, count times str8: macs].
 *   strN = uN length, then that many bytes (UTF-8, no NUL). The record ends
 *   exactly at its length. It decodes to the JSON object
 *   {"op":"commit","txn":...,"client":...,"auth":{...},"votes":[...]}, the
 *   same tree the JSON entry parses to: the apply that follows is the same
 *   code. The signed begin's body and every signed vote field are carried as
 *   their exact bytes.
 */

#define STORE_ENTRY_FRAME_MAGIC  0xB1
#define STORE_ENTRY_COMMIT_MAGIC 0xB2
#define STORE_ENTRY_BIN_VERSION  1
#define STORE_ENTRY_FRAME_ONE    1
#define STORE_ENTRY_FRAME_BATCH  2
#define STORE_ENTRY_FRAME_HEADER 16

/* 1 when buf (len bytes) is a binary frame (by its first byte). */
int store_entry_is_frame(const void *buf, size_t len);

/* 1 when a proposal (len bytes) is a binary commit record. */
int store_entry_is_commit_bin(const void *buf, size_t len);

/* Encodes the commit entry e in the fixed layout: *out (caller frees with
 * free()) and *len. MPC_EINVAL when e is not a commit with votes in exactly
 * the layout's fields and types (the caller proposes JSON instead: every
 * commit stays proposable), MPC_ENOMEM. */
int store_entry_commit_encode(json_t *e, char **out, size_t *len);

/* Decodes one sub-entry (a binary commit record or a JSON text): a new
 * reference, or NULL with the reason in why (size bytes). Deterministic:
 * the same bytes give the same tree or the same refusal on every party. */
json_t *store_entry_sub_decode(const void *buf, size_t len, char *why, size_t size);

/* A checked frame: every length is within the buffer, the padding is zero. */
struct store_entry_frame {
	int kind;
	uint32_t count;
	uint64_t ts;
	const uint8_t *next; /* the next sub-entry's length field */
	uint32_t left;       /* sub-entries not yet taken */
};

/* Checks the whole frame buf (len bytes) and sets f. 0, or MPC_EINVAL with
 * the reason in why (size bytes): nothing of the frame is applied then. */
int store_entry_frame_open(const void *buf, size_t len, struct store_entry_frame *f, char *why,
			   size_t size);

/* The next sub-entry of an opened frame: 1 with *sub and *sub_len, 0 at
 * its end. */
int store_entry_frame_next(struct store_entry_frame *f, const void **sub, size_t *sub_len);

/* Bytes a frame of n sub-entries of lens[] takes, padded to 8. */
size_t store_entry_frame_size(size_t n, const size_t *lens);

/* Writes the frame into out (store_entry_frame_size bytes, zero-filled
 * padding); kind STORE_ENTRY_FRAME_ONE needs n == 1. */
void store_entry_frame_write(void *out, int kind, uint64_t ts, size_t n, const char *const *subs,
			     const size_t *lens);

#endif
