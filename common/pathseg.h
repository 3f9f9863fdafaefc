/* Splitting of '/'-separated paths into bounded segments: REST URLs (api/)
 * and mount paths (fuse/) share it. */
#ifndef MPC_COMMON_PATHSEG_H
#define MPC_COMMON_PATHSEG_H

#include <stddef.h>

#define MPC_PATHSEG_TOO_MANY (-1) /* more than max segments */
#define MPC_PATHSEG_TOO_LONG (-2) /* a segment of seg_bytes bytes or more */

/* Splits path at '/' into at most max segments, segment i stored
 * NUL-terminated at seg + i * seg_bytes. Empty segments (leading, trailing
 * or doubled '/') are skipped. Returns the number of segments, or
 * MPC_PATHSEG_TOO_MANY, or MPC_PATHSEG_TOO_LONG with *long_len (if not NULL)
 * set to the length of the offending segment. */
int mpc_pathseg_split(const char *path, char *seg, size_t seg_bytes, int max, size_t *long_len);

#endif
