/* Strict INI parser: [section] headers, key = value lines, # or ; comments; errors name file:line. */
#ifndef MPC_COMMON_INI_H
#define MPC_COMMON_INI_H

#include <stddef.h>

/* Called once per key. Returns 0, or a negative MPC_E* code after writing a
 * message (without file:line, which the parser adds) into errmsg. */
typedef int (*ini_handler)(void *ctx, const char *section, const char *key,
			   const char *value, char *errmsg);

/* Parses path, calling handler per key in file order. On error returns a
 * negative MPC_E* code and writes "path:line: message" into errmsg
 * (MPC_ERRMSG_SIZE bytes). Lines may not exceed 4095 bytes. */
int ini_parse_file(const char *path, ini_handler handler, void *ctx, char *errmsg);

/* Same, over an in-memory text; name is used in messages. */
int ini_parse_string(const char *name, const char *text, ini_handler handler,
		     void *ctx, char *errmsg);

#endif
