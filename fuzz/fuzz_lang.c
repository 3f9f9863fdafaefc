/* Fuzz harness of the job language front end (scheduler/lang_*.c): lexer, parser, checker and IR lowering. */
#include "common/err.h"
#include "scheduler/lang.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: byte 0 = max_errors (mod 8), then the program text (any bytes).
 * The catalog is the one of tests/unit/test_sched_lang.c: pay and salaries
 * (amount int64, hours fixed 16), other.v int64, stats.total int64, wide.f
 * fixed 62; table "broken" fails the lookup with MPC_EIO. A successful
 * compile is dumped (every IR field read) and looked up by name. The
 * contract checked: 0 with an IR, or an error code with *out NULL and, for
 * MPC_EINVAL, a NUL-terminated "FILE:LINE:COL: message" within err_cap.
 */

static int schema_lookup(void *ctx, const char *table, const char *column,
			 struct sched_lang_column *out)
{
	static const struct {
		const char *table, *column;
		unsigned frac_bits;
	} cols[] = {
		{"pay", "amount", 0},	   {"pay", "hours", 16},   {"salaries", "amount", 0},
		{"salaries", "hours", 16}, {"other", "v", 0},	   {"stats", "total", 0},
		{"wide", "f", 62},
	};
	int table_exists = 0;
	(void)ctx;
	if (strcmp(table, "broken") == 0)
		return MPC_EIO;
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		if (strcmp(cols[i].table, table) != 0)
			continue;
		table_exists = 1;
		if (strcmp(cols[i].column, column) != 0)
			continue;
		out->num = cols[i].frac_bits ? SCHED_IR_FIXED : SCHED_IR_INT;
		out->frac_bits = cols[i].frac_bits;
		return 0;
	}
	out->table_exists = table_exists;
	return MPC_ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sched_lang_schema schema = {NULL, schema_lookup};
	static const struct sched_lang_arg args[] = {
		{"k", "3"}, {"rate", "0.5"}, {"bad", "abc"}, {"big", "9223372036854775807"},
		{"neg", "-0.000001"}};
	static const char *const refused[] = {"cov", "corr", NULL};
	struct sched_lang_options opt = {.schema = &schema, .args = args,
					 .n_args = sizeof args / sizeof args[0],
					 .refused = refused, .refused_reason = "(refused)"};
	struct sched_ir *ir = (struct sched_ir *)&opt; /* must be overwritten */
	char err[512];
	char *dump = NULL;
	int rc;

	if (size < 1)
		return 0;
	opt.max_errors = data[0] % 8;
	memset(err, 0x55, sizeof err);
	rc = sched_lang_compile("fuzz.mpc", (const char *)data + 1, size - 1, &opt, &ir, err,
				sizeof err);
	if (rc != 0) {
		if (ir != NULL)
			abort(); /* a failed compile leaves no IR */
		if (rc == MPC_EINVAL && (memchr(err, '\0', sizeof err) == NULL ||
					 strncmp(err, "fuzz.mpc:", 9) != 0))
			abort(); /* errors are NUL-terminated FILE:LINE:COL lines */
		return 0;
	}
	if (ir == NULL)
		abort();
	if (sched_lang_dump_ir(ir, &dump) == 0)
		free(dump);
	for (size_t i = 0; i < ir->n_names; i++)
		if (sched_ir_find_name(ir, ir->names[i].name) == NULL)
			abort();
	for (size_t i = 0; i < ir->n_regs; i++) {
		char type[128];
		sched_ir_type_format(ir, &ir->regs[i].type, type, sizeof type);
	}
	sched_ir_free(ir);
	return 0;
}
