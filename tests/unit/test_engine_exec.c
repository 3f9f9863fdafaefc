/* Unit tests for engine/exec: program parsing of bcast and trunc with a bit count, and the local bcast operation. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <string.h>

#include "common/err.h"
#include "engine/exec.h"

static const char names[2][ENGINE_REG_NAME_MAX] = {"v", "s"};
static const size_t lens[2] = {5, 1};

static int parse(const char *ops_json, struct engine_prog *p, char *msg)
{
	json_t *ops = json_loads(ops_json, 0, NULL);
	cr_assert_not_null(ops, "bad test JSON %s", ops_json);
	int rv = engine_prog_parse(ops, names, lens, 2, NULL, p, msg);
	json_decref(ops);
	return rv;
}

Test(engine_exec, bcast_makes_a_vector_without_fuel)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\", \"5\"], [\"sub\", \"d\", \"v\", \"b\"]]", &p,
			   msg),
		     0, "%s", msg);
	cr_assert_eq(p.len[2], 5);
	cr_assert_eq(p.len[3], 5);
	cr_assert_eq(p.fuel_need, 0);
	engine_prog_free(&p);
}

Test(engine_exec, bcast_rejects_vectors_and_bad_lengths)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"v\", \"5\"]]", &p, msg), MPC_EINVAL);
	cr_assert(strstr(msg, "source must have 1 element (has 5)") != NULL, "%s", msg);
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\", \"0\"]]", &p, msg), MPC_EINVAL);
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\", \"2000000000\"]]", &p, msg), MPC_EINVAL);
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\"]]", &p, msg), MPC_EINVAL);
	/* a length mismatch after a bcast is still caught */
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\", \"4\"], [\"add\", \"d\", \"v\", \"b\"]]", &p,
			   msg),
		     MPC_EINVAL);
	cr_assert(strstr(msg, "lengths 5 and 4 differ") != NULL, "%s", msg);
}

Test(engine_exec, sumsq_gives_one_element_and_takes_n_square_pairs)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"sumsq\", \"q\", \"v\"], [\"open\", \"o\", \"q\"]]", &p, msg),
		     0, "%s", msg);
	cr_assert_eq(p.ops[0].kind, ENGINE_OP_SUMSQ);
	cr_assert_eq(p.len[2], 1);
	cr_assert_eq(p.fuel_need, 5);
	engine_prog_free(&p);
	cr_assert_eq(parse("[[\"sumsq\", \"q\", \"v\", \"s\", \"s\"]]", &p, msg), MPC_EINVAL);
	cr_assert(strstr(msg, "(sumsq): wrong arguments") != NULL, "%s", msg);
}

Test(engine_exec, sumsq_takes_an_optional_one_element_center)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"sumsq\", \"q\", \"v\", \"s\"]]", &p, msg), 0, "%s", msg);
	cr_assert_eq(p.ops[0].a, 0);
	cr_assert_eq(p.ops[0].b, 1, "the center is register s");
	cr_assert_eq(p.len[2], 1);
	cr_assert_eq(p.fuel_need, 5);
	engine_prog_free(&p);
	cr_assert_eq(parse("[[\"sumsq\", \"q\", \"v\", \"v\"]]", &p, msg), MPC_EINVAL);
	cr_assert(strstr(msg, "(sumsq): the center v must be a register of 1 element") != NULL,
		  "%s", msg);
	cr_assert_eq(parse("[[\"sumsq\", \"q\", \"v\", \"nope\"]]", &p, msg), MPC_EINVAL);
	cr_assert(strstr(msg, "the center nope must be") != NULL, "%s", msg);
	/* an opened value is not shares */
	cr_assert_eq(parse("[[\"open\", \"o\", \"s\"], [\"sumsq\", \"q\", \"v\", \"o\"]]",
			   &p, msg),
		     MPC_EINVAL);
	cr_assert(strstr(msg, "o is an output, not shares") != NULL, "%s", msg);
}

Test(engine_exec, trunc_takes_an_optional_bit_count)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"trunc\", \"a\", \"v\"], [\"trunc\", \"b\", \"v\", 20]]", &p, msg), 0,
		     "%s", msg);
	cr_assert_eq(p.ops[0].bits, 0);
	cr_assert_eq(p.ops[1].bits, 20);
	cr_assert_eq(p.fuel_need, 10);
	engine_prog_free(&p);
	const char *bad[] = {"[[\"trunc\", \"a\", \"v\", 0]]", "[[\"trunc\", \"a\", \"v\", 63]]",
			     "[[\"trunc\", \"a\", \"v\", \"20\"]]",
			     "[[\"trunc\", \"a\", \"v\", 20, 1]]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(parse(bad[i], &p, msg), MPC_EINVAL, "%s accepted", bad[i]);
}

Test(engine_exec, bcast_copies_the_share)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"bcast\", \"b\", \"s\", \"5\"]]", &p, msg), 0, "%s", msg);
	struct engine_reg regs[3];
	memset(regs, 0, sizeof regs);
	regs[1].n = 1;
	regs[1].v = calloc(1, 8);
	regs[1].v[0] = 0xfedcba9876543210ull;
	regs[0].n = 5;
	regs[0].v = calloc(5, 8);
	struct engine_exec x = {.party = 0, .n_parties = 3, .chunk = 16, .f = 16};
	cr_assert_eq(engine_exec_op(&x, &p.ops[0], regs), 0);
	cr_assert_eq(regs[2].n, 5);
	for (int k = 0; k < 5; k++)
		cr_assert_eq(regs[2].v[k], 0xfedcba9876543210ull);
	for (int r = 0; r < 3; r++)
		engine_reg_clear(&regs[r]);
	engine_exec_clear(&x);
	engine_prog_free(&p);
}

Test(engine_exec, keep_is_an_output_not_an_operand)
{
	struct engine_prog p;
	char msg[MPC_ERRMSG_SIZE] = "";
	cr_assert_eq(parse("[[\"sum\", \"t\", \"v\"], [\"keep\", \"k\", \"t\"]]", &p, msg), 0, "%s",
		     msg);
	cr_assert_eq(p.ops[1].kind, ENGINE_OP_KEEP);
	cr_assert_eq(p.len[3], 1);
	cr_assert_eq(p.fuel_need, 0);
	engine_prog_free(&p);
	cr_assert_eq(parse("[[\"keep\", \"k\", \"v\"], [\"add\", \"d\", \"k\", \"v\"]]", &p, msg),
		     MPC_EINVAL);
	cr_assert(strstr(msg, "k is an output, not shares") != NULL, "%s", msg);
}
