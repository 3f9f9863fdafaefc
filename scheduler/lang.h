/* The job language front end (DESIGN §7): compiles program text into a typed IR of MAP/COMBINE tasks. */
#ifndef MPC_SCHEDULER_LANG_H
#define MPC_SCHEDULER_LANG_H

#include <stddef.h>
#include <stdint.h>

/*
 * sched_lang_compile() lexes, parses and checks a program (docs/job-
 * language.md is the reference) and lowers it to a struct sched_ir: a DAG of
 * tasks the scheduler leases (DESIGN §5). It does no I/O: the text is given,
 * table columns are looked up through a callback, `arg("k")` values come from
 * a key/value list. Errors are `FILE:LINE:COL: message` lines.
 *
 * The IR in a few lines
 * ---------------------
 * - Registers (ir->regs) are single-assignment values, each with a type
 *   (secret/public, int64/fixed with f fractional bits, scalar/vector, and
 *   for vectors the table whose rows they range over).
 * - Ops (ir->ops) are in a topological order; operands are register
 *   indices. Each op belongs to one part of the job:
 *     * the PUBLIC prologue (op->task == -1): constants, row counts and
 *       arithmetic on public values only. The scheduler evaluates it itself
 *       (from the job's args and the catalog's row counts at the job's input
 *       revision) and hands the results to the tasks; no MPC involved.
 *     * a MAP task (kind SCHED_IR_MAP, one template per (stage, table)): runs
 *       once per segment of the table, each segment independently, and turns
 *       its rows into per-segment partial scalars (SUM, DOT) — e.g. Σx, Σx²,
 *       Σxy of the segment. Vectors exist only inside MAP tasks.
 *     * a COMBINE task (one per stage): adds the partials of all segments
 *       (GATHER), then scalar arithmetic: divide by a public n, one Beaver
 *       multiplication where a secret product is needed, reveal, store.
 *   A vector expression that uses a secret scalar computed by COMBINE stage
 *   s (e.g. `x - mean(x)`) runs in a MAP task of stage s + 1, so a program is
 *   MAP(0) -> COMBINE(0) -> MAP(1) -> COMBINE(1) ...; most jobs are one stage.
 * - Fuel: each task states how many Beaver triples and probabilistic
 *   truncations an instance needs, as per_row * rows_of_the_segment + fixed
 *   (COMBINE tasks have per_row = 0), so the scheduler can reserve a triple
 *   range in the lease before the task starts.
 * - sched_lang_dump_ir() prints all of it as text (used by the tests).
 */

/* Fractional bits of decimal literals and of division results. Same value
 * as ENGINE_FIXED_DEFAULT_FRAC_BITS (engine/fixed.h). */
#define SCHED_LANG_FRAC_BITS 16
/* Largest number of fractional bits a column may declare. */
#define SCHED_LANG_MAX_FRAC_BITS 62

enum sched_ir_secrecy {
	SCHED_IR_PUBLIC = 0,
	SCHED_IR_SECRET = 1,
};

enum sched_ir_num {
	SCHED_IR_INT = 0,   /* int64 */
	SCHED_IR_FIXED = 1, /* fixed-point, frac_bits fractional bits */
};

enum sched_ir_shape {
	SCHED_IR_SCALAR = 0,
	SCHED_IR_VECTOR = 1,  /* one element per row of `table` */
	SCHED_IR_PARTIAL = 2, /* one scalar per segment (MAP output); GATHER adds them */
};

/*
 * What a revealed name carries. VALUE: the value itself. SQRT (stddev): the
 * recipients receive the variance and take the square root themselves
 * (engine has no secret square root). CORR (corr): they receive cov(x, y),
 * var(x), var(y) and compute cov / sqrt(var(x) * var(y)).
 */
enum sched_ir_post {
	SCHED_IR_POST_VALUE = 0,
	SCHED_IR_POST_SQRT = 1,
	SCHED_IR_POST_CORR = 2,
};

struct sched_ir_type {
	enum sched_ir_secrecy secrecy;
	enum sched_ir_num num;
	unsigned frac_bits; /* 0 for SCHED_IR_INT */
	enum sched_ir_shape shape;
	int table; /* VECTOR/PARTIAL: index into ir->tables; -1 otherwise */
	enum sched_ir_post post; /* names of stddev/corr values: reveal only */
};

enum sched_ir_opcode {
	SCHED_IR_CONST,   /* dst = imm (public; encoded with dst's frac bits) */
	SCHED_IR_COUNT,   /* dst = rows of tables[table] at the input revision (public int) */
	SCHED_IR_LOAD,    /* dst = this segment's rows of columns[column] (secret vector); imm = column too */
	SCHED_IR_ADD,     /* dst = a + b (same frac bits; a scalar broadcasts over a vector) */
	SCHED_IR_SUB,     /* dst = a - b */
	SCHED_IR_NEG,     /* dst = -a */
	SCHED_IR_MUL,     /* dst = a * b, frac = a.frac + b.frac; Beaver when both secret */
	SCHED_IR_DIV,     /* dst = a * 2^imm / b; b public scalar (a truncating division when a is secret) */
	SCHED_IR_RESCALE, /* dst = a * 2^imm (exact; aligns frac bits) */
	SCHED_IR_TRUNC,   /* dst = a / 2^imm (probabilistic truncation, engine/fixed.h) */
	SCHED_IR_SUM,     /* dst (partial) = sum of vector a over this segment */
	SCHED_IR_DOT,     /* dst (partial) = sum of a[k]*b[k] over this segment (Beaver dot) */
	SCHED_IR_GATHER,  /* dst = sum over all segments of partial a (COMBINE) */
	SCHED_IR_REVEAL,  /* reveals[reveal] <- a (b, c for CORR) */
	SCHED_IR_STORE,   /* columns[column] <- a (secret) */
};

struct sched_ir_op {
	enum sched_ir_opcode code;
	int dst;      /* result register; -1 for REVEAL and STORE */
	int a, b, c;  /* operand registers; -1 when unused */
	int64_t imm;  /* CONST: value; DIV/RESCALE/TRUNC: shift in bits */
	int table;    /* COUNT: index into ir->tables; else -1 */
	int column;   /* LOAD/STORE: index into ir->columns; else -1 */
	int reveal;   /* REVEAL: index into ir->reveals; else -1 */
	int task;     /* index into ir->tasks; -1 = public prologue */
	unsigned line, col; /* source position of the expression */
};

struct sched_ir_reg {
	struct sched_ir_type type;
	int op; /* the op that writes it */
};

struct sched_ir_table {
	char *name;
};

struct sched_ir_column {
	int table;  /* index into ir->tables */
	char *name;
	enum sched_ir_num num;
	unsigned frac_bits;
	int is_store; /* 1: written by a store (new when the schema lacked it) */
};

struct sched_ir_reveal {
	char *name;      /* the revealed NAME, the key of the result */
	char *recipient; /* client name; NULL = public */
	enum sched_ir_post post;
	struct sched_ir_type type; /* of the value(s) sent */
};

/* A name bound by `NAME = EXPR`, with its inferred type. */
struct sched_ir_name {
	char *name;
	struct sched_ir_type type;
	int reg; /* register holding it (the first of three for CORR) */
	unsigned line, col;
};

enum sched_ir_task_kind {
	SCHED_IR_MAP = 0,
	SCHED_IR_COMBINE = 1,
};

struct sched_ir_task {
	enum sched_ir_task_kind kind;
	unsigned stage;
	int table;       /* MAP: runs once per segment of this table; COMBINE: -1 */
	int *ops;        /* indices into ir->ops, in execution order */
	size_t n_ops;
	int *columns;    /* MAP: columns it loads (indices into ir->columns) */
	size_t n_columns;
	int *inputs;     /* registers it reads that earlier parts computed (public prologue or an earlier task) */
	size_t n_inputs;
	int *deps;       /* tasks that must commit before it starts */
	size_t n_deps;
	/* Fuel per instance: per_row * rows of the segment + fixed. */
	uint64_t triples_per_row, triples_fixed;
	uint64_t truncs_per_row, truncs_fixed;
};

struct sched_ir {
	struct sched_ir_reg *regs;
	size_t n_regs;
	struct sched_ir_op *ops; /* topological order; dead ops removed */
	size_t n_ops;
	struct sched_ir_table *tables;
	size_t n_tables;
	struct sched_ir_column *columns;
	size_t n_columns;
	struct sched_ir_reveal *reveals;
	size_t n_reveals;
	struct sched_ir_name *names;
	size_t n_names;
	struct sched_ir_task *tasks; /* ordered by stage, MAP before COMBINE */
	size_t n_tasks;
	unsigned n_stages;
};

/* A column as the schema callback describes it. */
struct sched_lang_column {
	enum sched_ir_num num;
	unsigned frac_bits; /* 0 for int64, 1..62 for fixed */
	int table_exists;   /* set on MPC_ENOENT: 1 = the table exists, the column does not */
};

/* Catalog access for the checker (the front end knows no RocksDB). */
struct sched_lang_schema {
	void *ctx; /* passed to lookup unchanged */
	/*
	 * Looks up TABLE.COLUMN. Returns 0 and fills *out when it exists;
	 * MPC_ENOENT when it does not (setting out->table_exists); any other
	 * negative MPC_E* code aborts the compile with that code.
	 */
	int (*lookup)(void *ctx, const char *table, const char *column,
		      struct sched_lang_column *out);
};

/* One `mpcsub --arg key=value`; both strings NUL-terminated. */
struct sched_lang_arg {
	const char *key;
	const char *value;
};

struct sched_lang_options {
	const struct sched_lang_schema *schema; /* required */
	const struct sched_lang_arg *args;      /* may be NULL when n_args is 0 */
	size_t n_args;
	unsigned max_errors; /* error lines to collect; 0 means 1 */
	/* NULL-terminated names of functions the caller cannot run yet: a call
	 * to one is an error "FILE:LINE:COL: ... <refused_reason>". May be NULL. */
	const char *const *refused;
	const char *refused_reason;
};

/*
 * Compiles len bytes of text (any bytes; need not be NUL-terminated).
 * file_name only prefixes messages (NULL: "<input>"). On success returns 0
 * and *out owns a new IR (caller frees with sched_ir_free()). On a program
 * error returns MPC_EINVAL, *out is NULL and err (if not NULL) holds up to
 * opt->max_errors lines "FILE:LINE:COL: message", newline-separated,
 * NUL-terminated and cut to err_cap bytes. Lines and columns count from 1;
 * columns count bytes. Other errors: MPC_ENOMEM, or the schema callback's
 * code (err then says which lookup failed).
 */
int sched_lang_compile(const char *file_name, const char *text, size_t len,
		       const struct sched_lang_options *opt,
		       struct sched_ir **out, char *err, size_t err_cap);

/* Frees an IR from sched_lang_compile(); NULL is fine. */
void sched_ir_free(struct sched_ir *ir);

/* Looks a bound name up; returns NULL when the program does not define it. */
const struct sched_ir_name *sched_ir_find_name(const struct sched_ir *ir,
					       const char *name);

/* Type as text, e.g. "secret fixed(16) vector[pay]", into buf of cap bytes. */
void sched_ir_type_format(const struct sched_ir *ir,
			  const struct sched_ir_type *type, char *buf,
			  size_t cap);

/*
 * Writes the IR as text (one line per table, column, register use, op and
 * task; the format is for people and tests, not a stable interface). On 0
 * *text is a NUL-terminated string the caller frees with free(). Returns 0
 * or MPC_ENOMEM.
 */
int sched_lang_dump_ir(const struct sched_ir *ir, char **text);

#endif
