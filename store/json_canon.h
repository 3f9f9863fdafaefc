/* The replicated records' JSON text (compact, sorted keys) written without jansson's dump machinery. */
#ifndef MPC_STORE_JSON_CANON_H
#define MPC_STORE_JSON_CANON_H

#include <jansson.h>
#include <stddef.h>

/* The text of j, byte for byte what json_dumps(j, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY) gives (jansson 2.14: keys in its order —
 * memcmp of the common prefix, the shorter first —, strings with '"', '\\'
 * and control characters escaped — \b \f \n \r \t, else \u00XX upper-case —,
 * UTF-8 passed through, integers in decimal; reals and trees deeper than
 * jansson parses are written by json_dumps itself), without its per-token
 * callbacks and per-object key arrays. The replicated records (the store's
 * txn, table, segment and upload records, the scheduler's job records) must
 * be the same bytes on every party and as written by earlier versions.
 * *out (NUL-terminated; caller frees with free()) and *len. MPC_EINVAL for a
 * string that is not UTF-8 (json_dumps gives NULL for it too), MPC_ENOMEM. */
int store_json_canon(json_t *j, char **out, size_t *len);

#endif
