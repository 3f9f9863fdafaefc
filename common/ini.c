/* Strict INI parser: rejects anything it does not understand, naming file:line. */
#include "common/ini.h"
#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

int ini_parse_string(const char *name, const char *text, ini_handler handler,
		     void *ctx, char *errmsg)
{
	char section[256] = "";
	char line[4096];
	char msg[MPC_ERRMSG_SIZE];
	const char *p = text;
	int lineno = 0;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *s, *eq, *key, *value;
		int rv;

		lineno++;
		if (len >= sizeof line) {
			mpc_errmsg_printf(errmsg, "%s:%d: line longer than %zu bytes",
					  name, lineno, sizeof line - 1);
			return MPC_ECONFIG;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : p + len;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (end == NULL || end[1] != '\0') {
				mpc_errmsg_printf(errmsg, "%s:%d: malformed section header '%s'",
						  name, lineno, s);
				return MPC_ECONFIG;
			}
			*end = '\0';
			s = trim(s + 1);
			if (!valid_name(s) || strlen(s) >= sizeof section) {
				mpc_errmsg_printf(errmsg, "%s:%d: invalid section name '%s'",
						  name, lineno, s);
				return MPC_ECONFIG;
			}
			strcpy(section, s);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			mpc_errmsg_printf(errmsg, "%s:%d: expected 'key = value', got '%s'",
					  name, lineno, s);
			return MPC_ECONFIG;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (!valid_name(key)) {
			mpc_errmsg_printf(errmsg, "%s:%d: invalid key '%s'", name, lineno, key);
			return MPC_ECONFIG;
		}
		if (section[0] == '\0') {
			mpc_errmsg_printf(errmsg, "%s:%d: key '%s' outside any [section]",
					  name, lineno, key);
			return MPC_ECONFIG;
		}
		msg[0] = '\0';
		rv = handler(ctx, section, key, value, msg);
		if (rv != 0) {
			mpc_errmsg_printf(errmsg, "%s:%d: %s", name, lineno,
					  msg[0] ? msg : mpc_strerror(rv));
			return rv;
		}
	}
	return 0;
}

int ini_parse_file(const char *path, ini_handler handler, void *ctx, char *errmsg)
{
	FILE *f = fopen(path, "r");
	char *text;
	long size;
	int rv;

	if (f == NULL) {
		mpc_errmsg_printf(errmsg, "%s: %s", path, strerror(errno));
		return MPC_ECONFIG;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || size > (1 << 24)) {
		fclose(f);
		mpc_errmsg_printf(errmsg, "%s: cannot read (or larger than 16 MiB)", path);
		return MPC_ECONFIG;
	}
	text = malloc((size_t)size + 1);
	if (text == NULL) {
		fclose(f);
		return MPC_ENOMEM;
	}
	if (fread(text, 1, (size_t)size, f) != (size_t)size) {
		free(text);
		fclose(f);
		mpc_errmsg_printf(errmsg, "%s: short read", path);
		return MPC_ECONFIG;
	}
	fclose(f);
	text[size] = '\0';
	if (strlen(text) != (size_t)size) {
		free(text);
		mpc_errmsg_printf(errmsg, "%s: contains a NUL byte", path);
		return MPC_ECONFIG;
	}
	rv = ini_parse_string(path, text, handler, ctx, errmsg);
	free(text);
	return rv;
}
