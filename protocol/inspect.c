/* inspect.c — memcached's item inspection commands over shmc_walk: `lru_crawler` (metadump
 * lists every item's metadata; crawl, enable, disable, sleep and tocrawl answer as memcached
 * 1.6.18 does, shmc having no crawler to run) and `stats cachedump <class> <limit>`.  Items
 * are numbered into memcached's default slab classes by their size (slab_class.h). */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "number.h"
#include "slab_class.h"
#include "uriencode.h"

#define CACHEDUMP_MAX (2 * 1024 * 1024) /* memcached's cap on a cachedump reply */

typedef struct walk_ctx {
    proto_out *out;
    int64_t now;
    bool metadump;
    bool no_cas;                      /* -C: cas shows as 0 */
    bool classes[PROTO_SLAB_CLASSES]; /* the classes listed (all true for "all", "hash") */
    uint32_t limit;                   /* cachedump: items to show, 0 for all */
    uint32_t shown;
    size_t bytes;                     /* cachedump: reply bytes so far */
} walk_ctx;

/* memcached's safe_strtoul on one comma-separated field: the low 32 bits of a decimal. */
static bool field_u32(const char *s, size_t n, uint32_t *v)
{
    uint64_t x;
    if (!proto_parse_u64(s, n, &x)) return false;
    *v = (uint32_t)x;
    return true;
}

/* memcached's lru_crawler_crawl() class list: "all", "hash" (metadump only) or ids 1..63
 * separated by commas.  NULL when it is good, else memcached's reply. */
static const char *parse_classes(const proto_request *req, walk_ctx *w)
{
    const char *s = req->args;
    size_t n = req->nargs;
    if ((n == 3 && memcmp(s, "all", 3) == 0) || (n == 4 && memcmp(s, "hash", 4) == 0)) {
        if (n == 4 && !w->metadump) return "ERROR an unknown error happened";
        for (unsigned i = 1; i < PROTO_SLAB_CLASSES; i++) w->classes[i] = true;
        return NULL;
    }
    bool any = false;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        if (j > i) {
            uint32_t id;
            if (!field_u32(s + i, j - i, &id) || id < 1 || id >= PROTO_SLAB_CLASSES)
                return "BADCLASS invalid class id";
            w->classes[id] = any = true;
        }
        i = j + 1;
    }
    return any ? NULL : "NOTSTARTED no items to crawl";
}

static int item_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                   const shmc_item_meta *meta)
{
    (void)value;
    walk_ctx *w = ctx;
    uint64_t total = proto_item_total(nkey, meta->flags, nvalue);
    unsigned cls = proto_slab_class(total);
    if (cls >= PROTO_SLAB_CLASSES || !w->classes[cls]) return 0;
    char num[26];
    proto_out *out = w->out;
    if (w->metadump) {
        /* key=%s exp=%ld la=%llu cas=%llu fetch=%s cls=%u size=%lu\n, in absolute times */
        char enc[PROTO_URIENCODE_LEN(PROTO_KEY_MAX)];
        proto_out_add(out, "key=", 4);
        proto_out_add(out, enc, proto_uriencode(key, nkey, enc));
        proto_out_add(out, " exp=", 5);
        proto_out_add(out, num,
                      proto_i64_to_text(meta->ttl < 0 ? -1 : w->now + meta->ttl, num));
        proto_out_add(out, " la=", 4);
        proto_out_add(out, num, proto_i64_to_text(w->now - (int64_t)meta->last_access, num));
        proto_out_add(out, " cas=", 5);
        proto_out_add(out, num, proto_u64_to_text(w->no_cas ? 0 : meta->cas, num));
        proto_out_str(out, meta->fetched ? " fetch=yes" : " fetch=no");
        proto_out_add(out, " cls=", 5);
        proto_out_add(out, num, proto_u64_to_text(cls, num));
        proto_out_add(out, " size=", 6);
        proto_out_add(out, num, proto_u64_to_text(total, num));
        proto_out_add(out, "\n", 1);
        return out->failed;
    }
    /* ITEM %s [%d b; %llu s]\r\n: the value's length, the absolute expiry or 0; the key's
     * bytes as they are, up to a NUL (memcached prints it as a C string) */
    char line[PROTO_KEY_MAX + 64];
    size_t len = 0;
    const char *nul = memchr(key, 0, nkey);
    if (nul) nkey = (size_t)(nul - key);
    memcpy(line, "ITEM ", 5), len = 5;
    memcpy(line + len, key, nkey), len += nkey;
    memcpy(line + len, " [", 2), len += 2;
    len += proto_u64_to_text(nvalue, line + len);
    memcpy(line + len, " b; ", 4), len += 4;
    len += proto_i64_to_text(meta->ttl < 0 ? 0 : w->now + meta->ttl, line + len);
    memcpy(line + len, " s]\r\n", 5), len += 5;
    if (w->bytes + len + 6 > CACHEDUMP_MAX) return 1; /* 6: "END\r\n" and memcached's NUL */
    proto_out_add(out, line, len);
    w->bytes += len;
    w->shown++;
    return out->failed || (w->limit && w->shown >= w->limit);
}

static void walk(proto_env *env, walk_ctx *w, const proto_request *req, proto_out *out)
{
    w->out = out;
    w->now = (int64_t)time(NULL);
    size_t mark = out->len;
    shmc_rc rc = shmc_walk(env->cache, item_cb, w);
    if (rc != SHMC_OK) {
        out->len = mark; /* nothing half-listed: only the error */
        if (req->noreply) return;
        proto_reply_server_error(out, rc);
        return;
    }
    proto_out_add(out, "END\r\n", 5);
}

proto_status proto_exec_lru_crawler(proto_env *env, proto_request *req, const char *data,
                                    proto_out *out)
{
    (void)data;
    switch (req->crawler) {
    case PROTO_CRAWLER_ENABLE: /* memcached: starting the running crawler fails */
        proto_out_line(out, atomic_exchange(&env->lru_crawler_off, false)
                                ? "OK" : "ERROR failed to start lru crawler thread");
        return PROTO_DONE;
    case PROTO_CRAWLER_DISABLE:
        atomic_store(&env->lru_crawler_off, true);
        proto_out_line(out, "OK");
        return PROTO_DONE;
    case PROTO_CRAWLER_SET:
        proto_out_line(out, "OK");
        return PROTO_DONE;
    case PROTO_CRAWLER_CRAWL:
    case PROTO_CRAWLER_METADUMP:
        break;
    }
    if (atomic_load(&env->lru_crawler_off)) {
        proto_out_line(out, "CLIENT_ERROR lru crawler disabled");
        return PROTO_DONE;
    }
    if (req->crawler == PROTO_CRAWLER_METADUMP && env->dump_disabled) { /* -X */
        proto_out_line(out, "ERROR metadump not allowed");
        return PROTO_DONE;
    }
    walk_ctx w = {.metadump = req->crawler == PROTO_CRAWLER_METADUMP,
                  .no_cas = env->cas_disabled};
    const char *bad = parse_classes(req, &w);
    if (bad) proto_out_line(out, bad);
    else if (!w.metadump) proto_out_line(out, "OK"); /* expired items: shmc reclaims them */
    else walk(env, &w, req, out);
    return PROTO_DONE;
}

void proto_stats_cachedump(proto_env *env, const proto_request *req, const char *args,
                           size_t n, proto_out *out)
{
    if (env->dump_disabled) { /* -X */
        proto_out_line(out, "CLIENT_ERROR stats cachedump not allowed");
        return;
    }
    /* args: "<class> <limit> ..." (memcached: fewer than two is "bad command line") */
    const char *tok[2];
    size_t len[2], ntok = 0;
    for (size_t i = 0; i < n && ntok < 2;) {
        while (i < n && args[i] == ' ') i++;
        if (i == n) break;
        size_t j = i;
        while (j < n && args[j] != ' ') j++;
        tok[ntok] = args + i, len[ntok++] = j - i;
        i = j;
    }
    if (ntok < 2) {
        proto_out_line(out, "CLIENT_ERROR bad command line");
        return;
    }
    uint32_t id, limit;
    if (!field_u32(tok[0], len[0], &id) || !field_u32(tok[1], len[1], &limit)) {
        proto_out_line(out, "CLIENT_ERROR bad command line format");
        return;
    }
    if (id >= PROTO_SLAB_CLASSES) {
        proto_out_line(out, "CLIENT_ERROR Illegal slab id");
        return;
    }
    walk_ctx w = {.limit = limit};
    w.classes[id] = id > 0; /* class 0 is memcached's, always empty */
    walk(env, &w, req, out);
}
