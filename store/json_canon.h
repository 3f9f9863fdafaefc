/* The replicated records' JSON text (compact, sorted keys) written without jansson's dump machinery. */
#ifndef MPC_STORE_JSON_CANON_H
#define MPC_STORE_JSON_CANON_H

#include <jansson.h>
#include <stddef.h>

/* The text of j, byte for byte what json_dumps(j, JSON_COMPACT |
 * JSON_SORT_KEYS) gives (jansson 2.14: keys in strcmp order, strings with
 * '"', '\\' and control characters escaped — \b \f \n \r \t, else
 * \u00XX upper-case —, UTF-8 passed through, integers in decimal): the
 * replicated records must be the same bytes on every party and as written
 * by earlier versions. *out (NUL-terminated; caller frees with free()) and
 * *len. MPC_EINVAL for a tree holding a real, a key with a NUL byte or
 * nesting deeper than 32 (the caller uses json_dumps then), MPC_ENOMEM. */
int store_json_canon(json_t *j, char **out, size_t *len);

#endif
