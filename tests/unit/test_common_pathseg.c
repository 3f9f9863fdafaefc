#include "common/pathseg.h"

#include <criterion/criterion.h>
#include <string.h>

Test(pathseg, splits_and_skips_empty_segments)
{
	char seg[4][8];
	cr_assert_eq(mpc_pathseg_split("//v1/jobs//42/", &seg[0][0], 8, 4, NULL), 3);
	cr_assert_str_eq(seg[0], "v1");
	cr_assert_str_eq(seg[1], "jobs");
	cr_assert_str_eq(seg[2], "42");
	cr_assert_eq(mpc_pathseg_split("/", &seg[0][0], 8, 4, NULL), 0);
	cr_assert_eq(mpc_pathseg_split("", &seg[0][0], 8, 4, NULL), 0);
}

Test(pathseg, refuses_too_many_and_too_long)
{
	char seg[2][8];
	size_t len = 0;
	cr_assert_eq(mpc_pathseg_split("a/b/c", &seg[0][0], 8, 2, NULL), MPC_PATHSEG_TOO_MANY);
	cr_assert_eq(mpc_pathseg_split("a/b/", &seg[0][0], 8, 2, NULL), 2);
	cr_assert_eq(mpc_pathseg_split("a/12345678", &seg[0][0], 8, 2, &len),
		     MPC_PATHSEG_TOO_LONG);
	cr_assert_eq(len, 8);
	cr_assert_eq(mpc_pathseg_split("1234567", &seg[0][0], 8, 2, NULL), 1);
	cr_assert_str_eq(seg[0], "1234567");
}
