/* command.c — the command table (command.h), in memcached 1.6's keywords: the classic text
 * commands of doc/protocol.txt, the meta commands, then lru_crawler.  Rows whose keyword is an
 * alias or is always refused come after the row that owns the request code. */
#include "command.h"

#include <string.h>

#define ROW(word, code, k, p, e) \
    {.keyword = word, .len = sizeof(word) - 1, .cmd = code, .kind = k, .parse = p, .execute = e}

/* Indexed by proto_cmd for proto_command_of; the aliases and refusals follow. */
static const proto_command commands[] = {
    [PROTO_ERROR] = ROW("", PROTO_ERROR, PROTO_KIND_NONE, NULL, proto_exec_error),
    [PROTO_GET] = ROW("get", PROTO_GET, PROTO_KIND_RETRIEVAL, proto_parse_retrieval,
                      proto_exec_retrieval),
    [PROTO_GETS] = ROW("gets", PROTO_GETS, PROTO_KIND_RETRIEVAL, proto_parse_retrieval,
                       proto_exec_retrieval),
    [PROTO_GAT] = ROW("gat", PROTO_GAT, PROTO_KIND_RETRIEVAL, proto_parse_retrieval,
                      proto_exec_retrieval),
    [PROTO_GATS] = ROW("gats", PROTO_GATS, PROTO_KIND_RETRIEVAL, proto_parse_retrieval,
                       proto_exec_retrieval),
    [PROTO_SET] = ROW("set", PROTO_SET, PROTO_KIND_STORAGE, proto_parse_storage,
                      proto_exec_storage),
    [PROTO_ADD] = ROW("add", PROTO_ADD, PROTO_KIND_STORAGE, proto_parse_storage,
                      proto_exec_storage),
    [PROTO_REPLACE] = ROW("replace", PROTO_REPLACE, PROTO_KIND_STORAGE, proto_parse_storage,
                          proto_exec_storage),
    [PROTO_APPEND] = ROW("append", PROTO_APPEND, PROTO_KIND_STORAGE, proto_parse_storage,
                         proto_exec_storage),
    [PROTO_PREPEND] = ROW("prepend", PROTO_PREPEND, PROTO_KIND_STORAGE, proto_parse_storage,
                          proto_exec_storage),
    [PROTO_CAS] = ROW("cas", PROTO_CAS, PROTO_KIND_STORAGE, proto_parse_storage,
                      proto_exec_storage),
    [PROTO_DELETE] = ROW("delete", PROTO_DELETE, PROTO_KIND_OTHER, proto_parse_delete,
                         proto_exec_delete),
    [PROTO_INCR] = ROW("incr", PROTO_INCR, PROTO_KIND_ARITHMETIC, proto_parse_arithmetic,
                       proto_exec_arithmetic),
    [PROTO_DECR] = ROW("decr", PROTO_DECR, PROTO_KIND_ARITHMETIC, proto_parse_arithmetic,
                       proto_exec_arithmetic),
    [PROTO_TOUCH] = ROW("touch", PROTO_TOUCH, PROTO_KIND_OTHER, proto_parse_touch,
                        proto_exec_touch),
    [PROTO_FLUSH_ALL] = ROW("flush_all", PROTO_FLUSH_ALL, PROTO_KIND_OTHER,
                            proto_parse_flush_all, proto_exec_flush_all),
    [PROTO_STATS] = ROW("stats", PROTO_STATS, PROTO_KIND_OTHER, proto_parse_stats,
                        proto_exec_stats),
    [PROTO_VERSION] = ROW("version", PROTO_VERSION, PROTO_KIND_OTHER, proto_parse_bare,
                          proto_exec_version),
    [PROTO_VERBOSITY] = ROW("verbosity", PROTO_VERBOSITY, PROTO_KIND_OTHER,
                            proto_parse_verbosity, proto_exec_verbosity),
    [PROTO_QUIT] = ROW("quit", PROTO_QUIT, PROTO_KIND_OTHER, proto_parse_bare, proto_exec_quit),
    [PROTO_MG] = ROW("mg", PROTO_MG, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_MS] = ROW("ms", PROTO_MS, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_MD] = ROW("md", PROTO_MD, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_MA] = ROW("ma", PROTO_MA, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_MN] = ROW("mn", PROTO_MN, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_ME] = ROW("me", PROTO_ME, PROTO_KIND_META, proto_parse_meta, proto_exec_meta),
    [PROTO_LRU_CRAWLER] = ROW("lru_crawler", PROTO_LRU_CRAWLER, PROTO_KIND_OTHER,
                              proto_parse_lru_crawler, proto_exec_lru_crawler),
    [PROTO_SHUTDOWN] = ROW("shutdown", PROTO_SHUTDOWN, PROTO_KIND_OTHER, proto_parse_shutdown,
                           proto_exec_shutdown),
    [PROTO_WATCH] = ROW("watch", PROTO_WATCH, PROTO_KIND_OTHER, proto_parse_watch,
                        proto_exec_watch),
    /* aliases and refusals */
    ROW("bget", PROTO_GET, PROTO_KIND_RETRIEVAL, proto_parse_retrieval, proto_exec_retrieval),
    ROW("cache_memlimit", PROTO_ERROR, PROTO_KIND_OTHER, proto_parse_cache_memlimit,
        proto_exec_error),
    ROW("slabs", PROTO_ERROR, PROTO_KIND_OTHER, proto_parse_slabs, proto_exec_error),
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

_Static_assert(PROTO_CMD_COUNT <= NCOMMANDS, "every proto_cmd has its row");

const proto_command *proto_command_find(const char *word, size_t n)
{
    for (size_t i = 1; i < NCOMMANDS; i++)
        if (commands[i].len == n && memcmp(commands[i].keyword, word, n) == 0)
            return &commands[i];
    return NULL;
}

const proto_command *proto_command_of(proto_cmd cmd)
{
    return &commands[(unsigned)cmd < PROTO_CMD_COUNT ? cmd : PROTO_ERROR];
}

/* The binary protocol's opcodes, indexed by opcode: those memcached 1.6.18 serves.  A quiet
 * form answers only errors (and, for gets, hits). */
#define BIN(op, q, sh, e) [op] = {.name = #op, .opcode = op, .quiet = q, .shape = sh, .execute = e}
static const proto_bin_command bin_commands[256] = {
    BIN(PROTO_BIN_GET, false, PROTO_BIN_SHAPE_KEY, proto_bin_exec_get),
    BIN(PROTO_BIN_GETQ, true, PROTO_BIN_SHAPE_KEY, proto_bin_exec_get),
    BIN(PROTO_BIN_GETK, false, PROTO_BIN_SHAPE_KEY, proto_bin_exec_get),
    BIN(PROTO_BIN_GETKQ, true, PROTO_BIN_SHAPE_KEY, proto_bin_exec_get),
    BIN(PROTO_BIN_TOUCH, false, PROTO_BIN_SHAPE_TOUCH, proto_bin_exec_get),
    BIN(PROTO_BIN_GAT, false, PROTO_BIN_SHAPE_TOUCH, proto_bin_exec_get),
    BIN(PROTO_BIN_GATQ, true, PROTO_BIN_SHAPE_TOUCH, proto_bin_exec_get),
    BIN(PROTO_BIN_GATK, false, PROTO_BIN_SHAPE_TOUCH, proto_bin_exec_get),
    BIN(PROTO_BIN_GATKQ, true, PROTO_BIN_SHAPE_TOUCH, proto_bin_exec_get),
    BIN(PROTO_BIN_SET, false, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_SETQ, true, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_ADD, false, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_ADDQ, true, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_REPLACE, false, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_REPLACEQ, true, PROTO_BIN_SHAPE_STORE, proto_bin_exec_store),
    BIN(PROTO_BIN_APPEND, false, PROTO_BIN_SHAPE_CONCAT, proto_bin_exec_store),
    BIN(PROTO_BIN_APPENDQ, true, PROTO_BIN_SHAPE_CONCAT, proto_bin_exec_store),
    BIN(PROTO_BIN_PREPEND, false, PROTO_BIN_SHAPE_CONCAT, proto_bin_exec_store),
    BIN(PROTO_BIN_PREPENDQ, true, PROTO_BIN_SHAPE_CONCAT, proto_bin_exec_store),
    BIN(PROTO_BIN_DELETE, false, PROTO_BIN_SHAPE_KEY, proto_bin_exec_delete),
    BIN(PROTO_BIN_DELETEQ, true, PROTO_BIN_SHAPE_KEY, proto_bin_exec_delete),
    BIN(PROTO_BIN_INCREMENT, false, PROTO_BIN_SHAPE_ARITH, proto_bin_exec_arith),
    BIN(PROTO_BIN_INCREMENTQ, true, PROTO_BIN_SHAPE_ARITH, proto_bin_exec_arith),
    BIN(PROTO_BIN_DECREMENT, false, PROTO_BIN_SHAPE_ARITH, proto_bin_exec_arith),
    BIN(PROTO_BIN_DECREMENTQ, true, PROTO_BIN_SHAPE_ARITH, proto_bin_exec_arith),
    BIN(PROTO_BIN_QUIT, false, PROTO_BIN_SHAPE_BARE, proto_bin_exec_quit),
    BIN(PROTO_BIN_QUITQ, true, PROTO_BIN_SHAPE_BARE, proto_bin_exec_quit),
    BIN(PROTO_BIN_FLUSH, false, PROTO_BIN_SHAPE_FLUSH, proto_bin_exec_flush),
    BIN(PROTO_BIN_FLUSHQ, true, PROTO_BIN_SHAPE_FLUSH, proto_bin_exec_flush),
    BIN(PROTO_BIN_NOOP, false, PROTO_BIN_SHAPE_BARE, proto_bin_exec_noop),
    BIN(PROTO_BIN_VERSION, false, PROTO_BIN_SHAPE_BARE, proto_bin_exec_version),
    BIN(PROTO_BIN_STAT, false, PROTO_BIN_SHAPE_STAT, proto_bin_exec_stat),
    BIN(PROTO_BIN_SASL_LIST_MECHS, false, PROTO_BIN_SHAPE_BARE, proto_bin_exec_sasl_list),
    BIN(PROTO_BIN_SASL_AUTH, false, PROTO_BIN_SHAPE_SASL, proto_bin_exec_sasl_auth),
    BIN(PROTO_BIN_SASL_STEP, false, PROTO_BIN_SHAPE_SASL, proto_bin_exec_sasl_auth),
};

const proto_bin_command *proto_bin_command_of(uint8_t opcode)
{
    return bin_commands[opcode].execute ? &bin_commands[opcode] : NULL;
}
