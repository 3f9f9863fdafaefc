/* Levelled logger writing whole lines to stderr (one write per line, safe across threads). */
#include "common/log.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum mpc_log_level log_min = MPC_LOG_INFO;
static char log_tag[64] = "mpc";

void mpc_log_init(enum mpc_log_level level, const char *tag)
{
	log_min = level;
	if (tag != NULL)
		snprintf(log_tag, sizeof log_tag, "%s", tag);
}

int mpc_log_parse_level(const char *s, enum mpc_log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum mpc_log_level)i;
			return 0;
		}
	}
	return MPC_EINVAL;
}

int mpc_log_enabled(enum mpc_log_level level)
{
	return level >= log_min;
}

void mpc_log(enum mpc_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s %s ",
			      ts.tv_nsec / 1000000, log_tag, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing sensible to do if stderr is gone */
	}
}
