/* request.h — one parsed memcached request (text or meta protocol) and the parser's API.
 *
 * The parser is pure: it reads one command line (without its "\r\n") and fills a
 * proto_request whose pointers point into that line.  It does no I/O and never touches a
 * cache; the caller frames the byte stream (frame.h) and executes requests (exec.h). */
#ifndef SHMC_PROTO_REQUEST_H
#define SHMC_PROTO_REQUEST_H

#include <shmc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_MAX SHMC_KEY_MAX /* longest key on the wire, as memcached's KEY_MAX_LENGTH */
#define PROTO_MAX_TOKENS 24        /* memcached tokenizes at most this many (incl. terminator) */
#define PROTO_META_TOKENS_MAX 20   /* memcached's MFLAG_MAX_OPT_LENGTH: tokens incl. terminator */
#define PROTO_OPAQUE_MAX 32        /* longest O(opaque) token, flag letter included */
#define PROTO_VALUE_LEN_MAX (2147483647 - 2) /* memcached's largest <bytes> (INT_MAX - 2) */

typedef enum proto_cmd {
    PROTO_ERROR = 0, /* the line was refused: reply `error` (and swallow a data block) */
    PROTO_GET,       /* get / bget */
    PROTO_GETS,
    PROTO_GAT,
    PROTO_GATS,
    PROTO_SET,
    PROTO_ADD,
    PROTO_REPLACE,
    PROTO_APPEND,
    PROTO_PREPEND,
    PROTO_CAS,
    PROTO_DELETE,
    PROTO_INCR,
    PROTO_DECR,
    PROTO_TOUCH,
    PROTO_FLUSH_ALL,
    PROTO_STATS,
    PROTO_VERSION,
    PROTO_VERBOSITY,
    PROTO_QUIT,
    PROTO_MG,
    PROTO_MS,
    PROTO_MD,
    PROTO_MA,
    PROTO_MN,
    PROTO_ME,
    PROTO_LRU_CRAWLER, /* lru_crawler crawl|metadump|enable|disable|sleep|tocrawl */
    PROTO_SHUTDOWN,    /* exptime: 0 now, 1 graceful, -1 an unknown mode */
    PROTO_WATCH,       /* flags: what to watch (watch.h's PROTO_WATCH_*) */
    PROTO_CMD_COUNT /* not a command: how many codes there are */
} proto_cmd;

/* lru_crawler's subcommands, as the parser accepted them. */
typedef enum proto_crawler {
    PROTO_CRAWLER_CRAWL,
    PROTO_CRAWLER_METADUMP,
    PROTO_CRAWLER_ENABLE,
    PROTO_CRAWLER_DISABLE,
    PROTO_CRAWLER_SET, /* sleep, tocrawl: a valid setting (accepted, not kept) */
} proto_crawler;

/* One flag of a meta command as the client sent it: its letter and the token after it. */
typedef struct proto_mflag {
    char flag;
    uint8_t ntoken;
    const char *token;
} proto_mflag;

/* The meta flags of mg/ms/md/ma/me, in request order, plus what they ask for. */
typedef struct proto_meta {
    unsigned nflags;
    proto_mflag flags[PROTO_META_TOKENS_MAX];
    bool base64;       /* b: the key was base64 on the wire */
    bool value;        /* v */
    bool quiet;        /* q */
    bool has_ttl;      /* T(ttl) */
    bool vivify;       /* N(ttl) */
    bool has_cas;      /* C(cas) */
    bool invalidate;   /* I */
    bool has_initial;  /* J(n) */
    bool has_recache;  /* R(ttl) */
    bool no_bump;      /* u */
    char mode;         /* M(mode): 0 when absent */
    int64_t ttl;
    int64_t vivify_ttl;
    int64_t recache;   /* R(ttl): seconds */
    uint64_t cas;
    uint32_t client_flags; /* F(flags) */
    uint64_t delta;        /* D(delta), default 1 */
    uint64_t initial;      /* J(initial), default 0 */
} proto_meta;

typedef struct proto_request {
    proto_cmd cmd;
    bool noreply;
    /* The reply line for PROTO_ERROR (without "\r\n"); never sent when `noreply`. */
    const char *error;
    /* Single-key commands: the key (for meta with 'b': decoded into keybuf). */
    const char *key;
    size_t nkey;
    /* Retrieval commands: the rest of the line after the command (and gat's exptime):
     * space-separated keys, walked with proto_next_key(). */
    const char *keys;
    size_t keys_len;
    size_t key_pos; /* where execution of the keys resumes after a pause */
    bool partial;   /* a streamed chunk of a long key list: more keys follow, no "END" yet */
    uint32_t flags;
    int64_t exptime; /* storage/touch/gat exptime; flush_all delay; verbosity level;
                        shutdown mode */
    uint64_t cas;    /* cas command's <cas unique> */
    uint64_t delta;  /* incr/decr */
    /* A data block of `vlen` bytes plus "\r\n" follows the line (storage commands, ms, and
     * refused storage lines whose length was readable: that block is swallowed). */
    bool has_value;
    size_t vlen;
    /* stats: the arguments after "stats" (may be empty); lru_crawler crawl|metadump: the
     * class list ("all", "hash" or ids separated by commas). */
    const char *args;
    size_t nargs;
    proto_crawler crawler; /* lru_crawler: which subcommand */
    int cfd;               /* the client's descriptor, for watch lines (set by the server) */
    bool watching;         /* watch: accepted, the connection becomes a log stream */
    bool pipelined;        /* earlier requests of the same input batch wait for their replies
                              (set by the server; memcached refuses a watch then) */
    /* Meta commands only (the parser clears it for them alone, keeping text commands cheap). */
    proto_meta meta;
    char keybuf[PROTO_KEY_MAX + 1];
} proto_request;

/* Parse one command line (without the trailing "\r\n" or "\n").  Always fills *req; a line
 * that memcached would refuse becomes PROTO_ERROR with memcached's reply text.  The request
 * keeps pointers into `line`, which must outlive it. */
void proto_parse(const char *line, size_t len, proto_request *req);

/* Walk the space-separated keys of a retrieval: the next key at or after *pos in
 * text[0..len), or false when only spaces remain.  *pos moves past the key. */
bool proto_next_key(const char *text, size_t len, size_t *pos, const char **key,
                    size_t *nkey);

/* Parse the meta flags tokens[0..n) of a mg/ms/md/ma line into req->meta (used by
 * proto_parse; exposed for tests).  Returns NULL on success, else memcached's error text. */
const char *proto_parse_meta_flags(proto_request *req, const char *const *tokens,
                                   const size_t *lens, size_t n);

#endif
