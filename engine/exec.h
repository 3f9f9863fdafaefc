/* Programs of the networked engine: parsing, fuel needs, and executing one operation over the party mesh. */
#ifndef MPC_ENGINE_EXEC_H
#define MPC_ENGINE_EXEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "engine/fuel.h"
#include "engine/ledger.h"
#include "engine/mesh.h"

/*
 * A program is a list of operations on named vector registers of shares
 * (docs/engine.md has the JSON form). Inputs are registers given at start;
 * every other register is written once by one operation. Linear
 * operations are local; mul, fmul, square, sumsq, dot and open open through one
 * party per chunk (the "king": the others send it their shares, it returns
 * the opened values: 64 wire bytes per multiplication instead of 96
 * all-to-all); the king of exchange round r is party r mod n, so the
 * cipher work rotates. trunc opens to one party (engine/fixed.h). Vectors
 * are processed in chunks of `chunk` elements, one exchange per chunk,
 * with up to 4 chunks in flight (exec.c "pipelined openings"), so scratch
 * memory is O(chunk) whatever the length.
 *
 * Fuel: every operation that needs correlated randomness takes the next
 * indices of the session's triple range (a cursor), so the same operation
 * uses the same indices on every party and on every replay after a
 * resume; fuel_need() is the total a program takes.
 */

/* Elements per chunk when the spec names none: 1 MiB of masked shares per multiplication message. */
#define ENGINE_EXEC_DEFAULT_CHUNK ((size_t)1 << 16)

enum engine_op_kind {
	ENGINE_OP_ADD,
	ENGINE_OP_SUB,
	ENGINE_OP_NEG,
	ENGINE_OP_MULC,	  /* dst = a * k (public ring constant) */
	ENGINE_OP_ADDC,	  /* dst = a + k */
	ENGINE_OP_MUL,	  /* Beaver, element-wise */
	ENGINE_OP_FMUL,	  /* Beaver then truncation by f bits (fixed point) */
	ENGINE_OP_SQUARE, /* square pairs */
	ENGINE_OP_DOT,	  /* inner product -> 1 element */
	ENGINE_OP_SUM,	  /* local sum -> 1 element */
	ENGINE_OP_TRUNC,  /* divide by 2^bits (bits 0: the session's f), probabilistic (engine/fixed.h) */
	ENGINE_OP_OPEN,	  /* open to all parties: a public output */
	ENGINE_OP_REVEAL, /* re-randomise, seal each party's shares to a client */
	ENGINE_OP_BCAST,  /* dst = k copies of the 1-element a (local) */
	ENGINE_OP_KEEP,	  /* this party's shares of a, sealed to its own box key (an output) */
	ENGINE_OP_SUMSQ,  /* sum of squares -> 1 element, square pairs (n opened words, not 2n) */
};

enum engine_reg_kind { ENGINE_REG_SHARE, ENGINE_REG_PUBLIC, ENGINE_REG_SEALED };

#define ENGINE_REG_NAME_MAX 32

struct engine_op {
	enum engine_op_kind kind;
	int dst, a, b;	/* register indices (-1: unused) */
	uint64_t k;	/* constant of mulc/addc; length of bcast */
	unsigned bits;	/* trunc: shift (0: the session's f) */
	int client;	/* reveal: index into cluster->clients */
};

struct engine_prog {
	int n_ops, n_regs, n_inputs; /* registers 0 .. n_inputs-1 are inputs */
	struct engine_op *ops;
	char (*names)[ENGINE_REG_NAME_MAX];
	size_t *len; /* element count of each register */
	uint64_t fuel_need;
};

struct engine_reg {
	enum engine_reg_kind kind;
	size_t n;
	uint64_t *v;	 /* n elements (share or public), or NULL */
	uint8_t *sealed; /* ENGINE_REG_SEALED: crypto_box_seal output */
	size_t sealed_len;
};

/*
 * Parses ops (JSON array of ["op", dst, src...]) over the named inputs
 * (names[n_inputs], lengths len[n_inputs]) into p. Client names of reveal
 * are looked up in c. Caller frees with engine_prog_free(). Returns 0 or
 * MPC_EINVAL with errmsg.
 */
int engine_prog_parse(json_t *ops, const char (*input_names)[ENGINE_REG_NAME_MAX],
		      const size_t *input_len, int n_inputs, const struct mpc_cluster *c,
		      struct engine_prog *p, char *errmsg);
void engine_prog_free(struct engine_prog *p);

/* Frees the data of a register (zeroing shares) and resets it. */
void engine_reg_clear(struct engine_reg *r);

/* Execution context of one session on one party. */
struct engine_exec {
	/* set by the caller */
	struct engine_mesh *mesh;
	struct engine_fuel_gen *fuel;
	struct engine_ledger *ledger; /* counts produced fuel; may be NULL */
	const struct mpc_cluster *cluster;
	int party, n_parties;
	uint64_t wire_session; /* session id | epoch << 32 */
	const struct engine_mesh_watch *watch;
	int timeout_ms;
	size_t chunk;
	unsigned f;
	/* progress (checkpointed) */
	uint32_t xchg;	 /* exchange counter = wire round */
	uint64_t cursor; /* next fuel index */
	/* optional pre-generated triples [pre_t0, pre_t0 + pre_n) */
	uint64_t pre_t0, pre_n;
	uint64_t *pre_a, *pre_b, *pre_c;
	/* statistics */
	uint64_t mults, fuel_ns;
	/* scratch, private */
	uint64_t *scratch;
	size_t scratch_chunk;
};

/* Runs op on regs. Returns 0; a mesh error (MPC_EUNAVAIL, MPC_ESTATE,
 * MPC_ETIMEDOUT, MPC_ESHUTDOWN: the caller resynchronises); MPC_ENOMEM;
 * MPC_EPROTO; a fuel error. */
int engine_exec_op(struct engine_exec *x, const struct engine_op *op, struct engine_reg *regs);

/* Pre-generates triples [t0, t0 + n) (fuel "ready" before the online phase). */
int engine_exec_pregen(struct engine_exec *x, uint64_t t0, uint64_t n);

/* Frees scratch and pre-generated fuel (zeroed). */
void engine_exec_clear(struct engine_exec *x);

#endif
