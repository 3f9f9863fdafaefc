/* mpcfs: the client mount (fuse/mpcfs.c) and the read-only party mount (fuse/party.c). */
#ifndef MPC_FUSE_MPCFS_H
#define MPC_FUSE_MPCFS_H

#include <fuse.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>

/* Mounts the store of the party of party_conf (mpcd.conf) read-only with
 * the FUSE arguments args (mount point, -f, -o ...); returns fuse_main's status. */
int mpcfs_party_main(struct fuse_args *args, const char *party_conf);

/* Splits path at '/' (runs of '/' count as one) into part[0..n-1], NUL-terminated, for both
 * mounts' path parsers. Returns n, or -1 for more than max parts or a part over NAME_MAX. */
int mpcfs_path_split(const char *path, char part[][NAME_MAX + 1], int max);

/* j as the text of a read-only file: indented JSON and a newline (malloc'd
 * into *text, length *len). 0 or -ENOMEM. */
int mpcfs_json_text(json_t *j, char **text, size_t *len);

/* schema.json of table from its catalog record t (GET /v1/tables/NAME):
 * {table, columns, rows, version}, as text. 0 or -errno. */
int mpcfs_schema_text(const char *table, json_t *t, char **text, size_t *len);

#endif
