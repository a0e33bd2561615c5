/* frame.h — where one request ends in a byte stream: command lines, data blocks, and the
 * limits memcached puts on them.  Pure functions over a buffer; the server owns the I/O. */
#ifndef SHMC_PROTO_FRAME_H
#define SHMC_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"

/* memcached closes a connection whose buffered input holds no '\n' in more than this many
 * bytes, unless the line is a multi-get ("get "/"gets "), whose key list may be long. */
#define PROTO_LINE_MAX 2048

typedef enum proto_frame {
    PROTO_FRAME_NEED_MORE, /* no complete line yet */
    PROTO_FRAME_LINE,      /* a line: *line_len bytes, *consumed with its "\r\n" */
    PROTO_FRAME_TOO_LONG,  /* no '\n' within PROTO_LINE_MAX bytes: close, no reply */
    PROTO_FRAME_LONG_GET,  /* a get/gets line longer than PROTO_LINE_MAX: stream its keys */
} proto_frame;

proto_frame proto_frame_line(const char *buf, size_t len, size_t *line_len, size_t *consumed);

/* Whether a data block of vlen bytes at data is followed by "\r\n" (else memcached answers
 * "CLIENT_ERROR bad data chunk"). */
static inline bool proto_data_terminated(const char *data, size_t vlen)
{
    return data[vlen] == '\r' && data[vlen + 1] == '\n';
}

/* For PROTO_FRAME_LONG_GET: parse the command (and gat's exptime) at the start of buf into
 * *req (a retrieval whose keys are to come) and set *keys_off to where the keys start.
 * False when that prefix is not complete or not valid (then *req may be PROTO_ERROR). */
bool proto_parse_get_prefix(const char *buf, size_t len, proto_request *req, size_t *keys_off);

/* The length of the prefix of text[0..len) made of whole keys (up to its last space), so
 * a partial key at the end waits for more bytes. */
size_t proto_whole_keys_len(const char *text, size_t len);

#endif
