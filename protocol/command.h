/* command.h — the one table of the protocol's commands (command.c): each keyword with its
 * request code, its kind and its two handlers, the parser that reads its line (parse_text.c)
 * and the executor that runs it (exec_text.c, exec_meta.c, stats.c).  The parser, the framer, the
 * executor and the server ask this table; none spells out a list of commands itself.
 * Adding a command is a row in command.c, a proto_cmd in request.h and its two handlers. */
#ifndef SHMC_PROTO_COMMAND_H
#define SHMC_PROTO_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "binary.h"
#include "exec.h"
#include "request.h"

typedef enum proto_kind {
    PROTO_KIND_NONE,       /* PROTO_ERROR: a refused line */
    PROTO_KIND_RETRIEVAL,  /* a key list, each found key a VALUE block; streamed when long */
    PROTO_KIND_STORAGE,    /* a data block follows the line */
    PROTO_KIND_ARITHMETIC, /* incr, decr */
    PROTO_KIND_META,       /* the meta protocol's two-letter commands */
    PROTO_KIND_OTHER,
} proto_kind;

/* A command line split on spaces, as memcached's tokenize_command() splits it. */
typedef struct proto_tokens {
    const char *line;
    size_t line_len;
    size_t n; /* real tokens found, at most PROTO_MAX_TOKENS - 1 */
    const char *tok[PROTO_MAX_TOKENS];
    size_t len[PROTO_MAX_TOKENS];
} proto_tokens;

struct proto_command;

/* Fills req from the tokens of a line whose first token is the command's keyword. */
typedef void proto_parse_fn(const proto_tokens *t, proto_request *req,
                            const struct proto_command *command);
/* Runs a parsed request (see proto_execute in exec.h for data and the result). */
typedef proto_status proto_exec_fn(proto_env *env, proto_request *req, const char *data,
                                   proto_out *out);

typedef struct proto_command {
    const char *keyword;
    uint8_t len;    /* strlen(keyword) */
    proto_cmd cmd;  /* what the parser makes of it (PROTO_ERROR: always refused) */
    proto_kind kind;
    proto_parse_fn *parse;
    proto_exec_fn *execute;
} proto_command;

/* The row for a command keyword, or NULL for an unknown one. */
const proto_command *proto_command_find(const char *word, size_t n);

/* The row for a parsed request's code (never NULL; PROTO_ERROR has a row of its own). */
const proto_command *proto_command_of(proto_cmd cmd);

static inline proto_kind proto_cmd_kind(proto_cmd cmd)
{
    return proto_command_of(cmd)->kind;
}

/* The handlers the table names. */
proto_parse_fn proto_parse_retrieval, proto_parse_storage, proto_parse_arithmetic,
    proto_parse_delete, proto_parse_touch, proto_parse_flush_all, proto_parse_stats,
    proto_parse_bare, proto_parse_verbosity, proto_parse_shutdown, proto_parse_cache_memlimit,
    proto_parse_meta, proto_parse_lru_crawler, proto_parse_slabs, proto_parse_watch;
proto_exec_fn proto_exec_error, proto_exec_retrieval, proto_exec_storage,
    proto_exec_arithmetic, proto_exec_delete, proto_exec_touch, proto_exec_flush_all,
    proto_exec_stats, proto_exec_version, proto_exec_verbosity, proto_exec_quit,
    proto_exec_meta, proto_exec_lru_crawler, proto_exec_shutdown, proto_exec_watch;

/* The binary protocol's opcodes (binary.h), rows of their own table in command.c: each
 * with the extras/key/body lengths it takes, whether it is a quiet form, and its executor. */
typedef enum proto_bin_shape {
    PROTO_BIN_SHAPE_BARE,   /* no extras, key or body */
    PROTO_BIN_SHAPE_FLUSH,  /* no key; extras 0 or 4 (exptime), nothing else */
    PROTO_BIN_SHAPE_STORE,  /* extras 8 (flags, exptime), a key, a value */
    PROTO_BIN_SHAPE_KEY,    /* a key only */
    PROTO_BIN_SHAPE_ARITH,  /* extras 20 (delta, initial, exptime), a key, nothing else */
    PROTO_BIN_SHAPE_CONCAT, /* no extras, a key, a value */
    PROTO_BIN_SHAPE_STAT,   /* no extras; the key, if any, names the group */
    PROTO_BIN_SHAPE_SASL,   /* no extras, the mechanism as key, the data as value */
    PROTO_BIN_SHAPE_TOUCH,  /* extras 4 (exptime), a key */
} proto_bin_shape;

typedef proto_status proto_bin_exec_fn(proto_env *env, proto_bin_session *s,
                                       const proto_bin_request *r, proto_out *out);

typedef struct proto_bin_command {
    const char *name;
    uint8_t opcode;
    bool quiet;
    proto_bin_shape shape;
    proto_bin_exec_fn *execute;
} proto_bin_command;

/* The row for an opcode, or NULL for one memcached 1.6 does not serve. */
const proto_bin_command *proto_bin_command_of(uint8_t opcode);

proto_bin_exec_fn proto_bin_exec_get, proto_bin_exec_store, proto_bin_exec_delete,
    proto_bin_exec_arith, proto_bin_exec_quit, proto_bin_exec_flush, proto_bin_exec_noop,
    proto_bin_exec_version, proto_bin_exec_stat, proto_bin_exec_sasl_list,
    proto_bin_exec_sasl_auth;

#endif
