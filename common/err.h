/* Project-wide error codes: one X-macro table generates the enum and mpc_strerror(). */
#ifndef MPC_COMMON_ERR_H
#define MPC_COMMON_ERR_H

#define MPC_ERRMSG_SIZE 1024 /* room for a located message plus the party that said it */

/* X(name, value, text). Functions return 0 or a negative MPC_E* code. */
#define MPC_ERR_MAP(X)                                                     \
	X(MPC_OK, 0, "success")                                            \
	X(MPC_ENOMEM, -1, "out of memory")                                 \
	X(MPC_EINVAL, -2, "invalid argument")                              \
	X(MPC_EIO, -3, "I/O error")                                        \
	X(MPC_ENOENT, -4, "not found")                                     \
	X(MPC_EEXIST, -5, "already exists")                                \
	X(MPC_ECONFIG, -6, "configuration error")                          \
	X(MPC_ECRYPTO, -7, "cryptographic failure")                        \
	X(MPC_ENOTLEADER, -8, "not the raft leader")                       \
	X(MPC_ETIMEDOUT, -9, "timed out")                                  \
	X(MPC_ECONFLICT, -10, "conflict")                                  \
	X(MPC_ECORRUPT, -11, "corrupt data")                               \
	X(MPC_ESTATE, -12, "wrong state")                                  \
	X(MPC_EPERM, -13, "permission denied")                             \
	X(MPC_EPROTO, -14, "protocol error")                               \
	X(MPC_ERAFT, -15, "raft error")                                    \
	X(MPC_EUNAVAIL, -16, "unavailable")                                \
	X(MPC_ESHUTDOWN, -17, "shutting down")                             \
	X(MPC_ERANGE, -18, "value out of range")                           \
	X(MPC_EOVERLAP, -19, "range overlaps one already handed out")      \
	X(MPC_EAUTH, -20, "request not authenticated")

enum mpc_err {
#define MPC_ERR_ENUM(name, value, text) name = value,
	MPC_ERR_MAP(MPC_ERR_ENUM)
#undef MPC_ERR_ENUM
};

/* Static text for an MPC_E* code (never NULL). */
const char *mpc_strerror(int code);

/* Writes printf-style text into buf[MPC_ERRMSG_SIZE] (raft's ErrMsgPrintf). */
void mpc_errmsg_printf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes buf with printf-style context: "ctx: <old buf>" (raft's ErrMsgWrapf). */
void mpc_errmsg_wrapf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
