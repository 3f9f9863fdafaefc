/* Unit tests of the job language front end: DESIGN §7 programs compile, every error class names FILE:LINE:COL, IR shape and fuel, garbage input. */
#include "scheduler/lang.h"
#include "common/err.h"
#include "tests/unit/test_rng.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test catalog: pay and salaries (amount int64, hours fixed 16), other.v, stats.total int64; table "broken" fails with MPC_EIO. */
static int schema_lookup(void *ctx, const char *table, const char *column,
			 struct sched_lang_column *out)
{
	static const struct {
		const char *table, *column;
		unsigned frac_bits;
	} cols[] = {
		{"pay", "amount", 0},	   {"pay", "hours", 16},
		{"salaries", "amount", 0}, {"salaries", "hours", 16},
		{"other", "v", 0},	   {"stats", "total", 0},
	};
	(*(int *)ctx)++;
	if (strcmp(table, "broken") == 0)
		return MPC_EIO;
	int table_exists = 0;
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
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

static int lookups;
static const struct sched_lang_schema schema = {&lookups, schema_lookup};
static const struct sched_lang_arg args[] = {{"k", "3"}, {"rate", "0.5"}, {"bad", "abc"}, {"bonus", "250"}};

static char err[4096];

static int compile_n(const char *text, unsigned max_errors, struct sched_ir **ir)
{
	struct sched_lang_options opt = {.schema = &schema, .args = args, .n_args = 4,
					  .max_errors = max_errors};
	return sched_lang_compile("t.mpc", text, strlen(text), &opt, ir, err, sizeof(err));
}

static struct sched_ir *compile_ok(const char *text)
{
	struct sched_ir *ir = NULL;
	int rc = compile_n(text, 1, &ir);
	cr_assert_eq(rc, 0, "compile failed (%d): %s", rc, err);
	cr_assert_not_null(ir);
	return ir;
}

/* Compiles text expecting exactly the one error line `want`. */
static void expect_error(const char *text, const char *want)
{
	struct sched_ir *ir = (struct sched_ir *)1;
	int rc = compile_n(text, 1, &ir);
	cr_assert_eq(rc, MPC_EINVAL, "rc %d for:\n%s", rc, text);
	cr_assert_null(ir);
	cr_assert_str_eq(err, want, "for:\n%s", text);
}

/* Compiles text expecting an error starting with `prefix`. */
static void expect_error_prefix(const char *text, const char *prefix)
{
	struct sched_ir *ir = NULL;
	int rc = compile_n(text, 1, &ir);
	cr_assert_eq(rc, MPC_EINVAL, "rc %d for:\n%s", rc, text);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s', want prefix '%s'", err,
		  prefix);
}

static void expect_type(const struct sched_ir *ir, const char *name, const char *want)
{
	const struct sched_ir_name *n = sched_ir_find_name(ir, name);
	cr_assert_not_null(n, "name %s missing", name);
	char buf[128];
	sched_ir_type_format(ir, &n->type, buf, sizeof(buf));
	cr_assert_str_eq(buf, want, "type of %s", name);
}

/* Opcodes of a task as a string like "load sum dot". */
static void task_ops(const struct sched_ir *ir, int task, char *buf, size_t cap)
{
	static const char *names[] = {"const", "count", "load", "add", "sub", "neg",
				      "mul", "div", "rescale", "trunc", "sum", "dot",
				      "gather", "reveal", "store"};
	buf[0] = '\0';
	for (size_t i = 0; i < ir->n_ops; i++) {
		if (ir->ops[i].task != task)
			continue;
		size_t len = strlen(buf);
		snprintf(buf + len, cap - len, "%s%s", len ? " " : "", names[ir->ops[i].code]);
	}
}

/* Task task's ops (task_ops) are want, e.g. "load sum". */
static void expect_task_ops(const struct sched_ir *ir, int task, const char *want)
{
	char ops[256];
	task_ops(ir, task, ops, sizeof(ops));
	cr_assert_str_eq(ops, want);
}

static const char *design_example =
	"# mean and spread of salaries, revealed to everyone\n"
	"x = load salaries.amount            # a secret column (vector)\n"
	"n = count(x)                        # public: row counts are not secret\n"
	"m = mean(x)\n"
	"v = var(x)                          # sample variance (n-1), as R and MPyC\n"
	"w = sum(x * load salaries.hours) / n\n"
	"reveal m, v, n to public\n"
	"reveal w to alice                   # only client alice can reconstruct w\n"
	"store stats.mean_salary = m         # secret result kept in a table\n";

static const char *acceptance =
	"x = load pay.amount\n"
	"h = load pay.hours\n"
	"n = count(x)\n"
	"s = sum(x)\n"
	"m = mean(x)\n"
	"v = var(x)\n"
	"mh = mean(h)\n"
	"d = dot(x, h)\n"
	"reveal n, s, m, v, mh, d to public\n";

Test(sched_lang, design_example_compiles)
{
	struct sched_ir *ir = compile_ok(design_example);
	expect_type(ir, "x", "secret int vector[salaries]");
	expect_type(ir, "n", "public int scalar");
	expect_type(ir, "m", "secret fixed(16) scalar");
	expect_type(ir, "v", "secret fixed(16) scalar");
	expect_type(ir, "w", "secret fixed(16) scalar");
	cr_assert_eq(ir->n_reveals, 4);
	cr_assert_str_eq(ir->reveals[3].name, "w");
	cr_assert_str_eq(ir->reveals[3].recipient, "alice");
	cr_assert_null(ir->reveals[0].recipient);
	int stores = 0;
	for (size_t i = 0; i < ir->n_ops; i++)
		if (ir->ops[i].code == SCHED_IR_STORE) {
			const struct sched_ir_column *c = &ir->columns[ir->ops[i].column];
			cr_assert_str_eq(c->name, "mean_salary");
			cr_assert_str_eq(ir->tables[c->table].name, "stats");
			cr_assert(c->is_store);
			cr_assert_eq(c->frac_bits, 16);
			stores++;
		}
	cr_assert_eq(stores, 1);
	/* MAP Σx, Σx·hours; COMBINE the means; MAP the centered Σd², Σd
	 * (var, second stage); COMBINE. */
	cr_assert_eq(ir->n_tasks, 4);
	cr_assert_eq(ir->tasks[0].kind, SCHED_IR_MAP);
	cr_assert_eq(ir->tasks[0].triples_per_row, 1);
	cr_assert_eq(ir->tasks[0].n_columns, 2);
	cr_assert_eq(ir->tasks[1].kind, SCHED_IR_COMBINE);
	cr_assert_eq(ir->tasks[2].kind, SCHED_IR_MAP);
	cr_assert_eq(ir->tasks[2].triples_per_row, 1);
	cr_assert_eq(ir->tasks[3].kind, SCHED_IR_COMBINE);
	cr_assert_eq(ir->tasks[3].triples_fixed, 1);
	sched_ir_free(ir);
}

Test(sched_lang, acceptance_program_compiles)
{
	struct sched_ir *ir = compile_ok(acceptance);
	expect_type(ir, "x", "secret int vector[pay]");
	expect_type(ir, "h", "secret fixed(16) vector[pay]");
	expect_type(ir, "n", "public int scalar");
	expect_type(ir, "s", "secret int scalar");
	expect_type(ir, "m", "secret fixed(16) scalar");
	expect_type(ir, "v", "secret fixed(16) scalar");
	expect_type(ir, "mh", "secret fixed(16) scalar");
	expect_type(ir, "d", "secret fixed(16) scalar");
	cr_assert_eq(ir->n_reveals, 6);
	/* var is centered: a second MAP stage over x - mean(x) */
	cr_assert_eq(ir->n_stages, 2);
	cr_assert_eq(ir->n_tasks, 4);
	expect_task_ops(ir, 0, "load load sum sum dot");
	expect_task_ops(ir, 2, "load sub dot sum");
	expect_task_ops(ir, -1, "count const sub reveal");
	/* x·h per row, then (x - m)² per row; one secret product (Σd)² in COMBINE. */
	cr_assert_eq(ir->tasks[0].triples_per_row, 1);
	cr_assert_eq(ir->tasks[0].triples_fixed, 0);
	cr_assert_eq(ir->tasks[1].triples_fixed, 0);
	cr_assert_eq(ir->tasks[2].triples_per_row, 1);
	cr_assert_eq(ir->tasks[3].triples_fixed, 1);
	char *text = NULL;
	cr_assert_eq(sched_lang_dump_ir(ir, &text), 0);
	cr_assert(strstr(text, "task 0 map stage 0 table pay triples 1/row+0") != NULL, "%s", text);
	cr_assert(strstr(text, "task 2 map stage 1 table pay triples 1/row+0") != NULL, "%s", text);
	cr_assert(strstr(text, "reveal d to public") != NULL, "%s", text);
	free(text);
	sched_ir_free(ir);
}

Test(sched_lang, mean_ir_is_map_sum_then_combine_divide)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nm = mean(x)\nreveal m to public\n");
	cr_assert_eq(ir->n_tasks, 2);
	expect_task_ops(ir, 0, "load sum");
	expect_task_ops(ir, 1, "gather div reveal");
	expect_task_ops(ir, -1, "count");
	cr_assert_eq(ir->tasks[0].kind, SCHED_IR_MAP);
	cr_assert_str_eq(ir->tables[ir->tasks[0].table].name, "pay");
	cr_assert_eq(ir->tasks[0].n_columns, 1);
	cr_assert_eq(ir->tasks[1].kind, SCHED_IR_COMBINE);
	cr_assert_eq(ir->tasks[1].n_deps, 1);
	cr_assert_eq(ir->tasks[1].deps[0], 0);
	/* No multiplication of secrets: no triples; one truncating division. */
	cr_assert_eq(ir->tasks[0].triples_per_row + ir->tasks[0].triples_fixed, 0);
	cr_assert_eq(ir->tasks[1].triples_per_row + ir->tasks[1].triples_fixed, 0);
	cr_assert_eq(ir->tasks[1].truncs_fixed, 1);
	sched_ir_free(ir);
}

Test(sched_lang, var_ir_is_two_pass_centered)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nv = var(x)\nreveal v to public\n");
	cr_assert_eq(ir->n_stages, 2);
	cr_assert_eq(ir->n_tasks, 4);
	expect_task_ops(ir, 0, "load sum");
	/* the mean of an int64 column is an integer (its column's bits) */
	expect_task_ops(ir, 1, "gather div");
	expect_task_ops(ir, 2, "load sub dot sum");
	expect_task_ops(ir, 3, "gather gather mul div sub div reveal");
	cr_assert_eq(ir->tasks[2].triples_per_row, 1);
	cr_assert_eq(ir->tasks[3].triples_fixed, 1);
	cr_assert_eq(ir->tasks[3].n_deps, 2);
	char *text = NULL;
	cr_assert_eq(sched_lang_dump_ir(ir, &text), 0);
	cr_assert(strstr(text, "div r3 r1 <<0  ; secret int scalar") != NULL, "%s", text);
	cr_assert(strstr(text, "dot r6 r6  ; secret int partial[pay]") != NULL, "%s", text);
	free(text);
	sched_ir_free(ir);

	/* Fixed-point input: the centered Σd² keeps 32 bits (no truncation per
	 * segment); the result has 16 bits (imm -16: one division by 2^16 n). */
	ir = compile_ok("h = load pay.hours\nv = pvar(h)\nreveal v to public\n");
	expect_task_ops(ir, 2, "load sub dot sum");
	cr_assert_eq(ir->tasks[2].truncs_per_row, 0);
	expect_type(ir, "v", "secret fixed(16) scalar");
	cr_assert_eq(sched_lang_dump_ir(ir, &text), 0);
	cr_assert(strstr(text, "dot r6 r6  ; secret fixed(32) partial[pay]") != NULL, "%s", text);
	cr_assert(strstr(text, "<<-16  ; secret fixed(16) scalar") != NULL, "%s", text);
	free(text);
	sched_ir_free(ir);
}

Test(sched_lang, cov_of_int_and_fixed_is_centered_without_truncation)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nh = load pay.hours\n"
					 "c = cov(x, h)\nk = corr(x, h)\nreveal c, k to public\n");
	expect_type(ir, "c", "secret fixed(16) scalar");
	cr_assert_eq(ir->n_stages, 2);
	cr_assert_eq(ir->n_tasks, 4);
	expect_task_ops(ir, 0, "load load sum sum");
	expect_task_ops(ir, 1, "gather gather div div");
	/* dx·dy, dx², dy² per row; nothing truncated in the MAP */
	expect_task_ops(ir, 2, "load sub load sub dot sum sum dot dot");
	cr_assert_eq(ir->tasks[2].triples_per_row, 3);
	cr_assert_eq(ir->tasks[2].truncs_per_row, 0);
	/* (Σdx)(Σdy), (Σdx)², (Σdy)² */
	cr_assert_eq(ir->tasks[3].triples_fixed, 3);
	char *text = NULL;
	cr_assert_eq(sched_lang_dump_ir(ir, &text), 0);
	cr_assert(strstr(text, "dot r10 r12  ; secret fixed(16) partial[pay]") != NULL, "%s", text);
	cr_assert(strstr(text, "reveal corr k to public") != NULL, "%s", text);
	free(text);
	sched_ir_free(ir);
}

Test(sched_lang, dot_ir_is_one_triple_per_row)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nh = load pay.hours\n"
					 "d = dot(x, h)\nreveal d to bob\n");
	expect_task_ops(ir, 0, "load load dot");
	expect_task_ops(ir, 1, "gather reveal");
	cr_assert_eq(ir->tasks[0].triples_per_row, 1);
	cr_assert_eq(ir->tasks[0].truncs_fixed, 0); /* int · fixed: no truncation */
	cr_assert_eq(ir->tasks[1].triples_fixed, 0);
	sched_ir_free(ir);
	/* sum(x * h) is the same Beaver dot; x * h then sum costs the same triples. */
	ir = compile_ok("x = load pay.amount\nh = load pay.hours\nd = sum(x * h)\nreveal d to bob\n");
	expect_task_ops(ir, 0, "load load dot");
	sched_ir_free(ir);
	ir = compile_ok("x = load pay.amount\nh = load pay.hours\ny = x * h\nd = sum(y)\n"
			"reveal d to bob\n");
	expect_task_ops(ir, 0, "load load mul sum");
	cr_assert_eq(ir->tasks[0].triples_per_row, 1);
	sched_ir_free(ir);
}

Test(sched_lang, secret_scalar_in_vector_expression_adds_a_stage)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nm = mean(x)\n"
					 "ss = sum((x - m) * (x - m))\nreveal ss to public\n");
	cr_assert_eq(ir->n_stages, 2);
	cr_assert_eq(ir->n_tasks, 4);
	cr_assert_eq(ir->tasks[2].kind, SCHED_IR_MAP);
	cr_assert_eq(ir->tasks[2].stage, 1);
	expect_task_ops(ir, 2, "load rescale sub dot trunc"); /* the column is re-loaded */
	int dep_on_combine0 = 0;
	for (size_t i = 0; i < ir->tasks[2].n_deps; i++)
		dep_on_combine0 |= ir->tasks[2].deps[i] == 1;
	cr_assert(dep_on_combine0);
	expect_type(ir, "ss", "secret fixed(16) scalar");
	sched_ir_free(ir);
}

Test(sched_lang, dead_code_is_dropped_and_public_values_stay_in_prologue)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nv = var(x)\nn = count(x)\n"
					 "k = arg(\"k\") * 2 + n\nreveal k to public\n");
	cr_assert_eq(ir->n_tasks, 0);
	expect_type(ir, "k", "public int scalar");
	expect_type(ir, "v", "secret fixed(16) scalar");
	expect_task_ops(ir, -1, "count const const mul add reveal");
	sched_ir_free(ir);
	ir = compile_ok("r = arg(\"rate\")\nreveal r to public\n");
	expect_type(ir, "r", "public fixed(16) scalar");
	cr_assert_eq(ir->ops[0].imm, 32768);
	sched_ir_free(ir);
}

Test(sched_lang, stddev_and_corr_are_reveal_only)
{
	struct sched_ir *ir = compile_ok("x = load pay.amount\nh = load pay.hours\n"
					 "s = stddev(x)\nr = corr(x, h)\nreveal s, r to carol\n");
	expect_type(ir, "s", "secret fixed(16) scalar sqrt-on-reveal");
	cr_assert_eq(ir->reveals[0].post, SCHED_IR_POST_SQRT);
	cr_assert_eq(ir->reveals[1].post, SCHED_IR_POST_CORR);
	int corr_ops = 0;
	for (size_t i = 0; i < ir->n_ops; i++)
		if (ir->ops[i].code == SCHED_IR_REVEAL && ir->ops[i].c >= 0)
			corr_ops++;
	cr_assert_eq(corr_ops, 1);
	sched_ir_free(ir);
	expect_error("x = load pay.amount\ns = stddev(x)\ny = s * 2\n",
		     "t.mpc:3:5: stddev(...) is only computed when it is revealed (its square root is "
		     "taken by the recipients): assign it to a name and reveal it, do not use it in "
		     "arithmetic");
	expect_error_prefix("x = load pay.amount\nstore stats.sd = stddev(x)\n",
			    "t.mpc:2:18: stddev(...) cannot be stored");
	expect_error_prefix("x = load pay.amount\nh = load pay.hours\nc = corr(x, h) + 1\n",
			    "t.mpc:3:5: corr(...) is only computed when it is revealed");
}

Test(sched_lang, error_unknown_table_and_column)
{
	expect_error("x = load nope.amount\n", "t.mpc:1:10: unknown table 'nope'");
	expect_error("x = load pay.nope\n", "t.mpc:1:14: unknown column 'nope' in table 'pay'");
	expect_error("y = 1\nz = sum(load  pay . wrong)\n",
		     "t.mpc:2:21: unknown column 'wrong' in table 'pay'");
}

Test(sched_lang, error_unknown_function_and_arity)
{
	expect_error_prefix("x = load pay.amount\ny = median(x)\n",
			    "t.mpc:2:5: unknown function 'median'");
	expect_error("x = load pay.amount\ny = sum(x, x)\n",
		     "t.mpc:2:5: sum expects 1 argument, got 2");
	expect_error("x = load pay.amount\ny = cov(x)\n",
		     "t.mpc:2:5: cov expects 2 arguments, got 1");
	expect_error("y = count()\n", "t.mpc:1:5: count expects 1 argument, got 0");
}

Test(sched_lang, error_dot_of_scalar_and_vector_mismatch)
{
	expect_error("x = load pay.amount\ns = sum(x)\nd = dot(s, x)\n",
		     "t.mpc:3:9: dot: argument 1 is a secret int scalar; expected a vector (a column "
		     "or an element-wise expression of columns)");
	expect_error_prefix("x = load pay.amount\nn = count(2)\n",
			    "t.mpc:2:11: count: argument 1 is a public int scalar; expected a vector");
	expect_error_prefix("x = load pay.amount\ny = load other.v\nz = x + y\n",
			    "t.mpc:3:7: vector length mismatch: a vector of table pay and one of "
			    "table other");
	expect_error_prefix("x = load pay.amount\ny = load other.v\nd = dot(x, y)\n",
			    "t.mpc:3:5: vector length mismatch");
	expect_error_prefix("x = load pay.amount\nd = sum(x * load other.v)\n",
			    "t.mpc:2:11: vector length mismatch");
}

Test(sched_lang, error_secret_divisor_and_division_by_zero)
{
	expect_error_prefix("x = load pay.amount\nm = sum(x) / sum(x)\n",
			    "t.mpc:2:14: division by a secret value: the divisor must be public");
	expect_error_prefix("x = load pay.amount\ny = 1 / x\n",
			    "t.mpc:2:9: division by a secret vector");
	expect_error("x = load pay.amount\ny = x / 0\n", "t.mpc:2:9: division by zero");
	struct sched_ir *ir = compile_ok("x = load pay.amount\nn = count(x)\ny = sum(x) / (n - 1)\n"
					 "z = x / 2.5\nreveal y to public\nstore out.z = z\n");
	expect_type(ir, "z", "secret fixed(16) vector[pay]");
	sched_ir_free(ir);
}

Test(sched_lang, error_undefined_and_duplicate_names)
{
	expect_error("y = z + 1\n", "t.mpc:1:5: undefined name 'z'");
	expect_error("x = 1\nreveal x, q to public\n", "t.mpc:2:11: reveal of undefined name 'q'");
	expect_error("x = load pay.amount\nx = 1\n",
		     "t.mpc:2:1: 'x' is already defined at line 1 (a name is assigned once)");
	expect_error("sum = 1\n", "t.mpc:1:1: 'sum' is reserved (a function) and cannot be assigned");
	expect_error("x = 1\nreveal x to public\nreveal x to public\n",
		     "t.mpc:3:8: 'x' is already revealed to public at line 2");
	expect_error("x = load pay.amount\ny = sum\n", "t.mpc:2:5: sum is a function: call it as sum(...)");
}

Test(sched_lang, error_syntax_says_what_was_expected)
{
	expect_error("x = 1 +\n", "t.mpc:1:8: expected an expression, got end of line");
	expect_error("x = (1 + 2", "t.mpc:1:11: expected ')', got end of input");
	expect_error("x = 1\nreveal x public\n", "t.mpc:2:10: expected ',' or 'to', got 'public'");
	expect_error("x = 1 2\n", "t.mpc:1:7: expected end of line (one statement per line), got '2'");
	expect_error("x = 1 $ 2\n", "t.mpc:1:7: unexpected character '$'");
	expect_error("load pay.amount\n",
		     "t.mpc:1:1: expected a statement (NAME = EXPR, reveal or store), got 'load'");
	expect_error("x = load pay\n", "t.mpc:1:13: expected '.' and a column name (TABLE.COLUMN), got end of line");
	expect_error("store t.c 5\n", "t.mpc:1:11: expected '=' after store TABLE.COLUMN, got '5'");
	expect_error("x 3\n", "t.mpc:1:3: expected '=' after a name (NAME = EXPR), got '3'");
	expect_error("x = 1.\n", "t.mpc:1:5: malformed number: expected a digit after '.'");
	expect_error("x = arg(\"k)\n",
		     "t.mpc:1:9: unterminated string: expected '\"' before the end of the line");
	expect_error("x = 99999999999999999999\n", "t.mpc:1:5: number 99999999999999999999 is out of range");
	expect_error("reveal x to\n", "t.mpc:1:12: expected 'public' or a client name after 'to', got end of line");
}

Test(sched_lang, error_args)
{
	expect_error("k = arg(\"missing\")\n",
		     "t.mpc:1:9: missing argument \"missing\" (pass it with mpcsub --arg missing=VALUE)");
	expect_error("k = arg(\"bad\")\n", "t.mpc:1:9: argument \"bad\" = \"abc\" is not a number");
	expect_error("k = arg(k)\n", "t.mpc:1:9: arg expects a string: arg(\"KEY\")");
	expect_error("k = sum(\"x\")\n",
		     "t.mpc:1:9: a string is only allowed as the argument of arg(\"KEY\")");
}

Test(sched_lang, error_store_rules)
{
	expect_error("x = load pay.amount\nstore stats.n = count(x)\n",
		     "t.mpc:2:17: store keeps secret shares but this value is public; use reveal "
		     "for public results");
	expect_error("x = load pay.amount\nstore stats.total = mean(x)\n",
		     "t.mpc:2:21: stats.total is an int64 column but the value is secret fixed(16) "
		     "scalar (its fraction would be lost)");
	expect_error("x = load pay.amount\nstore s.a = sum(x)\nstore s.a = sum(x)\n",
		     "t.mpc:3:7: s.a is already stored at line 2");
	expect_error_prefix("x = load pay.amount\nstore s.a = sum(x)\nstore s.b = x\n",
			    "t.mpc:3:13: stores into table s must all be scalars");
	struct sched_ir *ir = compile_ok("x = load pay.amount\nstore stats.total = sum(x)\n"
					 "store copy.x2 = x * 2\n");
	cr_assert_eq(ir->n_tasks, 2);
	sched_ir_free(ir);
}

Test(sched_lang, schema_failure_is_reported_with_its_code)
{
	struct sched_ir *ir = NULL;
	int rc = compile_n("x = load broken.c\n", 1, &ir);
	cr_assert_eq(rc, MPC_EIO);
	cr_assert_null(ir);
	cr_assert_str_eq(err, "t.mpc:1:10: schema lookup of broken.c failed: I/O error");
}

Test(sched_lang, collects_up_to_max_errors)
{
	struct sched_ir *ir = NULL;
	const char *text = "a = q\nb = 1 +\nc = w\nd = e\n";
	/* Syntax errors first (checking needs a whole program). */
	cr_assert_eq(compile_n(text, 5, &ir), MPC_EINVAL);
	cr_assert_str_eq(err, "t.mpc:2:8: expected an expression, got end of line");
	cr_assert_eq(compile_n("a = q\nb = 1\nc = w\nd = e\n", 2, &ir), MPC_EINVAL);
	cr_assert_str_eq(err, "t.mpc:1:5: undefined name 'q'\nt.mpc:3:5: undefined name 'w'");
	cr_assert_eq(compile_n("a = 1 +\nb = (\nc = $\n", 5, &ir), MPC_EINVAL);
	cr_assert_str_eq(err, "t.mpc:1:8: expected an expression, got end of line\n"
			      "t.mpc:2:6: expected an expression, got end of line\n"
			      "t.mpc:3:5: unexpected character '$'");
	/* A poisoned name does not cascade. */
	cr_assert_eq(compile_n("a = q\nb = a + 1\nreveal b to public\n", 5, &ir), MPC_EINVAL);
	cr_assert_str_eq(err, "t.mpc:1:5: undefined name 'q'");
}

Test(sched_lang, error_buffer_is_cut_not_overrun)
{
	char small[16];
	memset(small, 'X', sizeof(small));
	struct sched_lang_options opt = {.schema = &schema, .max_errors = 1};
	struct sched_ir *ir = NULL;
	const char *text = "y = undefined_name_that_is_long\n";
	cr_assert_eq(sched_lang_compile("t.mpc", text, strlen(text), &opt, &ir, small, 10),
		     MPC_EINVAL);
	cr_assert_eq(strlen(small), 9);
	cr_assert_eq(small[10], 'X');
	cr_assert_eq(sched_lang_compile(NULL, "y = z", 5, &opt, &ir, NULL, 0), MPC_EINVAL);
}

Test(sched_lang, empty_and_comment_only_programs_compile)
{
	struct sched_ir *ir = compile_ok("");
	cr_assert_eq(ir->n_tasks, 0);
	sched_ir_free(ir);
	ir = compile_ok("# nothing\n\n   # still nothing\r\n");
	sched_ir_free(ir);
	/* Text need not be NUL-terminated: only len bytes are read. */
	struct sched_lang_options opt = {.schema = &schema, .max_errors = 1};
	cr_assert_eq(sched_lang_compile("t.mpc", "x = 1\nreveal x to public\n!!!", 25, &opt, &ir,
					err, sizeof(err)),
		     0, "%s", err);
	sched_ir_free(ir);
}

Test(sched_lang, deep_nesting_is_an_error_not_a_crash)
{
	size_t depth = 100000;
	char *text = malloc(2 * depth + 16);
	cr_assert_not_null(text);
	size_t n = 0;
	n += (size_t)sprintf(text, "x = ");
	for (size_t i = 0; i < depth; i++)
		text[n++] = '(';
	text[n++] = '1';
	for (size_t i = 0; i < depth; i++)
		text[n++] = ')';
	text[n] = '\0';
	expect_error(text, "t.mpc:1:205: expression nested too deeply (more than 200 levels)");
	memset(text, '-', 2 * depth);
	memcpy(text, "x = ", 4);
	text[2 * depth] = '1';
	text[2 * depth + 1] = '\0';
	expect_error_prefix(text, "t.mpc:1:");
	free(text);
}

/* A chain of operators builds a tree as deep as it is long; the checker used
 * to recurse down it until the stack overflowed (found by fuzz/fuzz_lang). */
Test(sched_lang, long_operator_chain_is_an_error_not_a_crash)
{
	size_t terms = 200000;
	char *text = malloc(2 * terms + 64);
	cr_assert_not_null(text);
	size_t n = (size_t)sprintf(text, "x = load pay.amount\ny = sum(x");
	for (size_t i = 0; i < terms; i++)
		n += (size_t)sprintf(text + n, "%s", i % 2 ? "+x" : "*x");
	sprintf(text + n, ")\nreveal y to public\n");
	expect_error_prefix(text, "t.mpc:2:");
	cr_assert(strstr(err, "expression too long (more than 200 levels") != NULL, "got '%s'", err);
	/* a chain within the budget compiles */
	n = (size_t)sprintf(text, "x = load pay.amount\ny = sum(x");
	for (size_t i = 0; i < 150; i++)
		n += (size_t)sprintf(text + n, "+x");
	sprintf(text + n, ")\nreveal y to public\n");
	sched_ir_free(compile_ok(text));
	free(text);
}

/* Names are looked up linearly: 20000 statements took 2 s to compile (and a
 * 1 MiB program minutes, on every party at apply); at most 4096 now. */
Test(sched_lang, too_many_statements_is_an_error)
{
	char *text = malloc(5000 * 16 + 64);
	cr_assert_not_null(text);
	size_t n = 0;
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(text + n, "v%d = %d\n", i, i);
	expect_error(text, "t.mpc:4097:1: more than 4096 statements in one program");
	n = 0;
	for (int i = 0; i < 4095; i++)
		n += (size_t)sprintf(text + n, "v%d = %d\n", i, i);
	sprintf(text + n, "reveal v7 to public\n");
	sched_ir_free(compile_ok(text));
	free(text);
}

/* The shipped examples compile against the test catalog (pay, salaries). */
Test(sched_lang, examples_compile)
{
	static const char *files[] = {"examples/stats.mpc", "examples/salaries.mpc"};
	const char *top = getenv("top_srcdir");
	for (size_t i = 0; i < 2; i++) {
		char path[1024], text[8192];
		snprintf(path, sizeof(path), "%s/%s", top ? top : ".", files[i]);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		struct sched_ir *ir = compile_ok(text);
		cr_assert_gt(ir->n_tasks, 1, "%s", path);
		sched_ir_free(ir);
	}
}

static uint64_t rng_state = TEST_RNG_SEED;

static int fuzz_ok, fuzz_rejected;

static void compile_any(const char *text, size_t len)
{
	struct sched_lang_options opt = {.schema = &schema, .args = args, .n_args = 4,
					  .max_errors = 1 + (unsigned)(test_rng_next(&rng_state) % 4)};
	struct sched_ir *ir = NULL;
	int rc = sched_lang_compile("fuzz.mpc", text, len, &opt, &ir, err, sizeof(err));
	cr_assert(rc == 0 || rc == MPC_EINVAL, "rc %d", rc);
	if (rc == 0) {
		char *dump = NULL;
		cr_assert_eq(sched_lang_dump_ir(ir, &dump), 0);
		free(dump);
		sched_ir_free(ir);
		fuzz_ok++;
	} else {
		fuzz_rejected++;
		cr_assert_null(ir);
		cr_assert(strncmp(err, "fuzz.mpc:", 9) == 0, "%s", err);
	}
}

Test(sched_lang, garbage_and_mutated_programs_never_crash)
{
	static const char *seeds[] = {
		NULL, /* design_example */
		NULL, /* acceptance */
		"x = load pay.amount\nh = load pay.hours\nm = mean(x)\nc = sum((x - m) * (h - "
		"mean(h)))\ns = stddev(h)\nr = corr(x, h)\nreveal c, s, r to bob\nstore o.v = x * "
		"arg(\"rate\") - -1.5\n",
	};
	static const char alphabet[] = "xyzmn=+-*/()., \n#\"0123456789.loadrevealstoretopublic"
				       "sumcountmeanvarpvarstddevcovcorrdotargpay.amountpay.hours";
	seeds[0] = design_example;
	seeds[1] = acceptance;
	char buf[1024];
	for (int iter = 0; iter < 1500; iter++) {
		size_t len;
		int mode = iter % 4;
		if (mode == 0) { /* random bytes */
			len = test_rng_next(&rng_state) % 200;
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)test_rng_next(&rng_state);
		} else if (mode == 1) { /* random tokens of the language */
			len = test_rng_next(&rng_state) % 300;
			for (size_t i = 0; i < len; i++)
				buf[i] = alphabet[test_rng_next(&rng_state) % (sizeof(alphabet) - 1)];
		} else { /* a valid program with flips, deletions and insertions */
			const char *seed = seeds[test_rng_next(&rng_state) % 3];
			len = strlen(seed);
			memcpy(buf, seed, len);
			int edits = 1 + (int)(test_rng_next(&rng_state) % 6);
			for (int e = 0; e < edits && len > 0; e++) {
				size_t at = test_rng_next(&rng_state) % len;
				switch (test_rng_next(&rng_state) % 4) {
				case 0:
					buf[at] = (char)test_rng_next(&rng_state);
					break;
				case 1:
					buf[at] = alphabet[test_rng_next(&rng_state) % (sizeof(alphabet) - 1)];
					break;
				case 2:
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
					break;
				default:
					if (len + 1 < sizeof(buf)) {
						memmove(buf + at + 1, buf + at, len - at);
						buf[at] = alphabet[test_rng_next(&rng_state) % (sizeof(alphabet) - 1)];
						len++;
					}
					break;
				}
			}
			if (mode == 3)
				len = test_rng_next(&rng_state) % (len + 1); /* cut anywhere */
		}
		compile_any(buf, len);
	}
	/* Both paths were exercised: some mutants still compile. */
	cr_assert_gt(fuzz_ok, 20, "%d", fuzz_ok);
	cr_assert_gt(fuzz_rejected, 500, "%d", fuzz_rejected);
}

Test(sched_lang, refused_functions_are_located_errors)
{
	static const char *const refused[] = {"cov", NULL};
	char err[512];
	struct sched_ir *ir = NULL;
	const char *prog = "x = load salaries.amount\nh = load salaries.hours\nc = cov(x, h)\n";
	struct sched_lang_options opt = {.schema = &schema, .max_errors = 1};
	opt.refused = refused;
	opt.refused_reason = "is not run here";
	cr_assert_eq(sched_lang_compile("t.mpc", prog, strlen(prog), &opt, &ir, err, sizeof err),
		     MPC_EINVAL);
	cr_assert_null(ir);
	cr_assert(strstr(err, "t.mpc:3:5: cov() is not run here") != NULL, "%s", err);
}
