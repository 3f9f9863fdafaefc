/* The one logger of the daemon: levelled lines to stderr. Libraries never print; mpcd's modules log here. */
#ifndef MPC_COMMON_LOG_H
#define MPC_COMMON_LOG_H

enum mpc_log_level { MPC_LOG_DEBUG, MPC_LOG_INFO, MPC_LOG_WARN, MPC_LOG_ERROR };

/* Sets the minimum level written and a tag put on every line (copied). */
void mpc_log_init(enum mpc_log_level level, const char *tag);
/* Parses "debug|info|warn|error"; returns 0 or MPC_EINVAL. */
int mpc_log_parse_level(const char *s, enum mpc_log_level *out);
int mpc_log_enabled(enum mpc_log_level level);
void mpc_log(enum mpc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) mpc_log(MPC_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) mpc_log(MPC_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) mpc_log(MPC_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) mpc_log(MPC_LOG_ERROR, __VA_ARGS__)

#endif
