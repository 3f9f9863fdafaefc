/* Error code table and error-message helpers. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mpc_strerror(int code)
{
	switch (code) {
#define MPC_ERR_CASE(name, value, text) \
	case value:                     \
		return text;
		MPC_ERR_MAP(MPC_ERR_CASE)
#undef MPC_ERR_CASE
	}
	return "unknown error";
}

void mpc_errmsg_printf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, MPC_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

void mpc_errmsg_wrapf(char *buf, const char *fmt, ...)
{
	char old[MPC_ERRMSG_SIZE];
	size_t n;
	va_list ap;

	memcpy(old, buf, MPC_ERRMSG_SIZE);
	old[MPC_ERRMSG_SIZE - 1] = '\0';
	va_start(ap, fmt);
	vsnprintf(buf, MPC_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (old[0] != '\0' && n + 2 < MPC_ERRMSG_SIZE)
		snprintf(buf + n, MPC_ERRMSG_SIZE - n, ": %s", old);
}
