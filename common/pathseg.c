#include "common/pathseg.h"

#include <string.h>

int mpc_pathseg_split(const char *path, char *seg, size_t seg_bytes, int max, size_t *long_len)
{
	int n = 0;

	for (;;) {
		size_t len;

		while (*path == '/')
			path++;
		if (*path == '\0')
			return n;
		len = strcspn(path, "/");
		if (n == max)
			return MPC_PATHSEG_TOO_MANY;
		if (len >= seg_bytes) {
			if (long_len)
				*long_len = len;
			return MPC_PATHSEG_TOO_LONG;
		}
		memcpy(seg + (size_t)n * seg_bytes, path, len);
		seg[(size_t)n * seg_bytes + len] = '\0';
		n++;
		path += len;
	}
}
