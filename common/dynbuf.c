/* Growing byte buffer for HTTP answers. */
#include "common/dynbuf.h"

#include <stdlib.h>
#include <string.h>

size_t mpc_dynbuf_write(char *p, size_t size, size_t n, void *ud)
{
	struct mpc_dynbuf *b = ud;
	size_t add = size * n;
	char *d = realloc(b->data, b->len + add + 1);
	if (d == NULL)
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	d[b->len] = '\0';
	return add;
}
