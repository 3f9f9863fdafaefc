/* Reading this party's shares: one helper for raw chunks and seed records (see shares.h).
 *
 * A party that receives a seed chunk (common/chunkbox.h) stores its 48-byte
 * seed message instead of the shares it expands to; the shares are expanded
 * here, at read, with the same function the client used (AES-256-CTR,
 * ~0.6 ms per 4 MiB). Only this file turns a seed record into shares, so
 * every reader (catalog column reads: the engine's inputs, mpcstore-tool
 * dump, mpcfs --party; the scheduler's settle) sees the same bytes. */
#include "store/shares.h"
#include "common/chunkbox.h"
#include "common/err.h"
#include "store/staging.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_OFFSET 16

int store_share_seed_parse(const uint8_t *msg, size_t mlen, const uint8_t **seed, uint64_t *skip,
			   uint64_t *len)
{
	const uint8_t *s;
	uint64_t k;

	if (mpc_chunkseed_unpack(msg, mlen, &s, &k, len) != 0)
		return -1;
	if (seed != NULL)
		*seed = s;
	if (skip != NULL)
		*skip = k;
	return store_chunk_len_ok(*len) ? 0 : -2;
}

size_t store_share_seed_key(char *out, const char *txn, uint64_t offset)
{
	return (size_t)snprintf(out, 128, "%s/%016" PRIx64 STORE_SHARE_SEED_SUFFIX, txn, offset);
}

struct shares_scan {
	size_t plen; /* "<txn>/" */
	store_shares_fn fn;
	void *ctx;
	char *errmsg;
	uint8_t *buf; /* expanded seed chunks; zeroed and freed by store_shares_scan */
	size_t cap;
};

/* Offset of key "<txn>/<16 hex>[/seed]"; -1 when the rest is of another form. */
static int parse_offset(const char *rest, size_t rlen, uint64_t *offset, int *seed)
{
	static const size_t slen = sizeof STORE_SHARE_SEED_SUFFIX - 1;
	char hex[HEX_OFFSET + 1];
	if (rlen == HEX_OFFSET)
		*seed = 0;
	else if (rlen == HEX_OFFSET + slen &&
		 memcmp(rest + HEX_OFFSET, STORE_SHARE_SEED_SUFFIX, slen) == 0)
		*seed = 1;
	else
		return -1;
	for (size_t i = 0; i < HEX_OFFSET; i++)
		if (!((rest[i] >= '0' && rest[i] <= '9') || (rest[i] >= 'a' && rest[i] <= 'f')))
			return -1;
	memcpy(hex, rest, HEX_OFFSET);
	hex[HEX_OFFSET] = '\0';
	*offset = strtoull(hex, NULL, 16);
	return 0;
}

static int scan_one(void *vctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct shares_scan *s = vctx;
	const uint8_t *seed;
	uint64_t offset, skip, len;
	int is_seed;

	if (parse_offset(key + s->plen, klen - s->plen, &offset, &is_seed) != 0) {
		mpc_errmsg_printf(s->errmsg, "shares: key '%.*s' is not <txn>/<offset>[%s]",
				  (int)(klen < 96 ? klen : 96), key, STORE_SHARE_SEED_SUFFIX);
		return MPC_ECORRUPT;
	}
	if (!is_seed) {
		if (vlen % 8 != 0) {
			mpc_errmsg_printf(s->errmsg,
					  "shares: chunk '%.*s' has %zu bytes, not whole words",
					  (int)klen, key, vlen);
			return MPC_ECORRUPT;
		}
		return s->fn(s->ctx, offset, (const uint8_t *)val, vlen);
	}
	if (store_share_seed_parse((const uint8_t *)val, vlen, &seed, &skip, &len) != 0) {
		mpc_errmsg_printf(s->errmsg,
				  "shares: seed record '%.*s' is corrupt (%zu bytes, or a length "
				  "that is not a multiple of 8 up to %u)",
				  (int)klen, key, vlen, STORE_CHUNK_MAX);
		return MPC_ECORRUPT;
	}
	if (len > s->cap) {
		/* the buffer holds shares: zeroed before it goes */
		uint8_t *b = malloc(len);
		if (b == NULL) {
			mpc_errmsg_printf(s->errmsg,
					  "shares: seed record '%.*s': out of memory for "
					  "%" PRIu64 " bytes",
					  (int)klen, key, len);
			return MPC_ENOMEM;
		}
		if (s->buf != NULL) {
			sodium_memzero(s->buf, s->cap);
			free(s->buf);
		}
		s->buf = b;
		s->cap = len;
	}
	if (mpc_chunkseed_expand(seed, skip, s->buf, len) != 0) {
		mpc_errmsg_printf(s->errmsg, "shares: seed record '%.*s': expansion failed",
				  (int)klen, key);
		return MPC_ECRYPTO;
	}
	return s->fn(s->ctx, offset, s->buf, len);
}

int store_shares_scan(struct store_db *db, const rocksdb_snapshot_t *snap, const char *txn,
		      store_shares_fn fn, void *ctx, char *errmsg)
{
	char prefix[128], local[MPC_ERRMSG_SIZE];
	struct shares_scan s = {0};
	int rv;

	if (errmsg == NULL)
		errmsg = local;
	s.plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", txn);
	if (s.plen >= sizeof prefix) {
		mpc_errmsg_printf(errmsg, "shares: txn id of %zu bytes is too long", strlen(txn));
		return MPC_EINVAL;
	}
	s.fn = fn;
	s.ctx = ctx;
	s.errmsg = errmsg;
	rv = store_db_scan(db, STORE_CF_SHARES, snap, prefix, s.plen, scan_one, &s);
	if (s.buf != NULL) {
		sodium_memzero(s.buf, s.cap);
		free(s.buf);
	}
	return rv;
}

static int any_key(void *ctx, const char *key, size_t klen, const char *val, size_t vlen)
{
	(void)ctx;
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	return 1;
}

int store_shares_present(struct store_db *db, const char *txn)
{
	char prefix[128];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", txn);
	return plen < sizeof prefix &&
	       store_db_scan(db, STORE_CF_SHARES, NULL, prefix, plen, any_key, NULL) == 1;
}
