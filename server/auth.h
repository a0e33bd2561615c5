/* auth.h — memcached's ASCII authentication (-Y FILE).  The file holds "user:password"
 * lines.  Until a connection authenticates, its only accepted request is a "set" whose data
 * block is "user password"; the reply is STORED on success, and every other request gets
 * "CLIENT_ERROR unauthenticated" and reaches no item (a refused storage command's data block
 * is then read as the next command line, as memcached reads it).  The exchange copies memcached
 * 1.6.18's byte for byte (its proto_text.c, try_read_command_asciiauth). */
#ifndef SHMCD_AUTH_H
#define SHMCD_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/outbuf.h"

/* A data block longer than this cannot hold a known user and password: it is discarded as
 * it arrives (never buffered) and answered "CLIENT_ERROR authentication failure". */
#define AUTH_BLOCK_MAX 65536
/* A command line before authentication: more than this with no '\n' closes the connection
 * (memcached 1.6.18 does so above 2048 bytes; measured, tests/fleet/test_auth.py). */
#define AUTH_LINE_MAX 2048

typedef struct auth_table {
    struct auth_entry *entries;
    size_t n;
    char *data;
    _Atomic uint64_t cmds, errors; /* memcached's auth_cmds, auth_errors */
} auth_table;

/* Read FILE; false after printing why (unreadable, a line without ':'). */
bool auth_load(auth_table *t, const char *path);
void auth_free(auth_table *t);
bool auth_check(const auth_table *t, const char *user, size_t ulen, const char *pass,
                size_t plen);

/* One connection's progress through the exchange. */
typedef struct auth_session {
    bool authenticated;
    bool in_block;   /* a "set" line was read; its data block (and "\r\n") comes next */
    bool discarding; /* that block is over AUTH_BLOCK_MAX */
    uint64_t block;  /* its length including "\r\n"; while discarding, what is left */
} auth_session;

typedef enum auth_result {
    AUTH_NEED_MORE, /* nothing consumed: read more input */
    AUTH_CONSUMED,  /* *consumed bytes used (replies in out); call again with the rest */
    AUTH_CLOSE,     /* close the connection (a line too long) */
} auth_result;

/* Run the unauthenticated protocol over input p[0..avail). */
auth_result auth_consume(auth_table *t, auth_session *s, const char *p, size_t avail,
                         proto_out *out, size_t *consumed);

#endif
