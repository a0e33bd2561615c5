/* binary.h — memcached's binary protocol (its protocol_binary.h and doc/protocol-binary.txt):
 * the 24-byte header, the opcodes memcached 1.6 serves, the status codes, and one
 * connection's progress through a stream of binary requests.
 *
 * Framing (parse_binary.c) is pure; execution (exec_binary.c) runs each request through the
 * public libshmc API and encodes memcached 1.6.18's replies byte for byte.  The opcodes are
 * rows of the command table (command.c, proto_bin_command_of). */
#ifndef SHMC_PROTO_BINARY_H
#define SHMC_PROTO_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"

#define PROTO_BIN_HEADER_LEN 24
#define PROTO_BIN_REQ 0x80 /* a request's magic byte */
#define PROTO_BIN_RES 0x81 /* a response's */
#define PROTO_BIN_SASL_MECH_MAX 32 /* memcached's MAX_SASL_MECH_LEN */

enum proto_bin_opcode {
    PROTO_BIN_GET = 0x00, PROTO_BIN_SET = 0x01, PROTO_BIN_ADD = 0x02, PROTO_BIN_REPLACE = 0x03,
    PROTO_BIN_DELETE = 0x04, PROTO_BIN_INCREMENT = 0x05, PROTO_BIN_DECREMENT = 0x06,
    PROTO_BIN_QUIT = 0x07, PROTO_BIN_FLUSH = 0x08, PROTO_BIN_GETQ = 0x09, PROTO_BIN_NOOP = 0x0a,
    PROTO_BIN_VERSION = 0x0b, PROTO_BIN_GETK = 0x0c, PROTO_BIN_GETKQ = 0x0d,
    PROTO_BIN_APPEND = 0x0e, PROTO_BIN_PREPEND = 0x0f, PROTO_BIN_STAT = 0x10,
    PROTO_BIN_SETQ = 0x11, PROTO_BIN_ADDQ = 0x12, PROTO_BIN_REPLACEQ = 0x13,
    PROTO_BIN_DELETEQ = 0x14, PROTO_BIN_INCREMENTQ = 0x15, PROTO_BIN_DECREMENTQ = 0x16,
    PROTO_BIN_QUITQ = 0x17, PROTO_BIN_FLUSHQ = 0x18, PROTO_BIN_APPENDQ = 0x19,
    PROTO_BIN_PREPENDQ = 0x1a, PROTO_BIN_VERBOSITY = 0x1b, PROTO_BIN_TOUCH = 0x1c,
    PROTO_BIN_GAT = 0x1d, PROTO_BIN_GATQ = 0x1e, PROTO_BIN_SASL_LIST_MECHS = 0x20,
    PROTO_BIN_SASL_AUTH = 0x21, PROTO_BIN_SASL_STEP = 0x22, PROTO_BIN_GATK = 0x23,
    PROTO_BIN_GATKQ = 0x24,
};

enum proto_bin_status {
    PROTO_BIN_SUCCESS = 0x00,
    PROTO_BIN_KEY_ENOENT = 0x01,
    PROTO_BIN_KEY_EEXISTS = 0x02,
    PROTO_BIN_E2BIG = 0x03,
    PROTO_BIN_EINVAL = 0x04,
    PROTO_BIN_NOT_STORED = 0x05,
    PROTO_BIN_DELTA_BADVAL = 0x06,
    PROTO_BIN_AUTH_ERROR = 0x20,
    PROTO_BIN_AUTH_CONTINUE = 0x21,
    PROTO_BIN_UNKNOWN_COMMAND = 0x81,
    PROTO_BIN_ENOMEM = 0x82,
};

/* A request header, in host order (opaque is kept as sent: it is echoed, never read). */
typedef struct proto_bin_header {
    uint8_t magic, opcode, extlen, datatype;
    uint16_t keylen, vbucket;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
} proto_bin_header;

/* One request whose header, extras and key (and, for the opcodes that carry one, value)
 * are in the buffer; the pointers point into it. */
typedef struct proto_bin_request {
    proto_bin_header h;
    const unsigned char *ext;
    const char *key;
    const char *value;
    size_t nvalue;
    bool quiet; /* a quiet opcode: success and misses are not answered */
} proto_bin_request;

/* SASL as the server provides it (-S; libsasl2 lives in server/): each returns one of these,
 * with *out and *nout a reply the call owns until its next call on the same connection. */
typedef enum proto_sasl_rc { PROTO_SASL_OK, PROTO_SASL_CONTINUE, PROTO_SASL_FAIL } proto_sasl_rc;
typedef struct proto_sasl_ops {
    proto_sasl_rc (*list_mechs)(void *conn, const char **out, unsigned *nout);
    proto_sasl_rc (*start)(void *conn, const char *mech, const char *data, unsigned n,
                           const char **out, unsigned *nout);
    proto_sasl_rc (*step)(void *conn, const char *data, unsigned n, const char **out,
                          unsigned *nout);
    void (*counted)(void *conn, bool failed); /* one auth_cmds (and auth_errors) more */
} proto_sasl_ops;

/* One connection's binary-protocol state. */
typedef struct proto_bin_session {
    uint64_t swallow;            /* bytes of a refused body still to discard */
    const proto_sasl_ops *sasl;  /* NULL: no SASL (-S not given) */
    void *sasl_conn;             /* the connection's SASL context, for sasl's calls */
    bool authenticated;          /* with sasl: a SASL exchange succeeded */
    bool sasl_started;
    int cfd;                     /* the client's descriptor, for watch lines (set by the server) */
} proto_bin_session;

/* Decode the header at p (PROTO_BIN_HEADER_LEN bytes). */
void proto_bin_parse_header(const unsigned char *p, proto_bin_header *h);

/* What the framer makes of a header (parse_binary.c), before any of its body is read. */
typedef enum proto_bin_frame {
    PROTO_BIN_FRAME_OK,            /* well formed: run it */
    PROTO_BIN_FRAME_BAD_MAGIC,     /* not a request: close without a reply */
    PROTO_BIN_FRAME_SHORT_BODY,    /* key and extras longer than the body: UNKNOWN_COMMAND,
                                      close */
    PROTO_BIN_FRAME_KEY_TOO_LONG,  /* over 250 bytes: EINVAL, close */
    PROTO_BIN_FRAME_BAD_LENGTHS,   /* lengths the opcode does not take: EINVAL, close */
    PROTO_BIN_FRAME_UNKNOWN,       /* no such opcode: UNKNOWN_COMMAND, its body discarded */
} proto_bin_frame;

proto_bin_frame proto_bin_check(const proto_bin_header *h);

/* Whether the opcode's value (the body after extras and key) is read before it runs. */
bool proto_bin_has_value(uint8_t opcode);

/* Run what input p[0..len) holds, one request (or one piece of a discarded body) a call.
 * PROTO_DONE: *consumed bytes were used (0 with *need set: the request needs *need bytes
 * at p before it can run); PROTO_CLOSE: close the connection once out is sent. */
proto_status proto_bin_execute(proto_env *env, proto_bin_session *s, const char *p,
                               size_t len, size_t *consumed, size_t *need, proto_out *out);

#endif
