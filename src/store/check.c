/* check.c — verify a cache file from its header to its last item, trusting nothing in it.
 *
 * The file is mapped read-only and every offset is bounds-checked, so a hostile file yields
 * violations, never a crash or a hang (every walk is bounded).  Invariants:
 *  - the header matches its configuration (done by mapping it);
 *  - every segment has a known state; the free stack and the FIFO hold exactly the FREE and
 *    SEALED segments, once each; OPEN and CLEANING segments belong to the head that names them;
 *  - every segment's written bytes parse as items and fillers;
 *  - every chained item is well formed, whole (its checksum holds), lies in a segment in use
 *    below its write offset, is in the bucket its key hashes to, and is reachable from
 *    exactly one place;
 *  - each stripe's item and byte counts equal what its chains hold;
 *  - no lock is held by a thread that no longer exists, and no change is in flight (an
 *    intent recorded or a bucket version odd) under a lock that no live thread holds.
 * A lock whose owner died in it (the kernel marks it so) is not damage: the next locker, or
 * the next open when nobody is attached, repairs what it guards.  It and what it guards are
 * reported as repairs pending, apart from the violations; so is every lock and what it
 * guards when nobody is attached and the last users died attached (the next open recovers). */
#include "store/check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "region/region.h"
#include "store/attached.h"
#include "store/index.h"
#include "store/item.h"
#include "util/error.h"
#include "util/hash.h"

enum lock_seen { LOCK_SEEN_QUIET, LOCK_SEEN_LIVE, LOCK_SEEN_DEAD };

typedef struct checker {
    const region_t *r;
    FILE *out;
    size_t violations;
    size_t pending; /* left by a lock holder that died: repaired by the next locker */
    bool recovery;  /* nobody is attached and the last users died attached: the next open
                     * re-creates every lock and repairs all that they guard */
    enum lock_seen global, *heads, *stripes;
    uint64_t written, unwritten; /* bytes of segments: holding items or fillers / free */
    uint64_t live_items, live_bytes;
    uint64_t flushed_items, flushed_bytes; /* linked, but of an earlier flush epoch */
} checker_t;

/* A finding: a violation, or (dead: under a lock whose owner died) a repair pending. */
static void finding(checker_t *k, bool dead, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finding(checker_t *k, bool dead, const char *fmt, ...)
{
    size_t n = dead ? ++k->pending : ++k->violations;
    if (!k->out || n > 100) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(k->out, dead ? "repair pending: " : "violation: ");
    vfprintf(k->out, fmt, ap);
    fputc('\n', k->out);
    va_end(ap);
}

#define violation(k, ...) finding(k, false, __VA_ARGS__)

static void check_segments(checker_t *k)
{
    const region_t *r = k->r;
    const header_t *h = r->hdr;
    uint32_t n = r->nsegments;
    unsigned char *seen = calloc(n, 1);
    if (!seen) return;
    uint32_t nfree = h->free_count, first = h->fifo_first, count = h->fifo_count;
    bool lists_dead = k->global == LOCK_SEEN_DEAD; /* the lists are rebuilt by the next holder */
    if (nfree > n) finding(k, lists_dead, "free count %u exceeds %u segments", nfree, n), nfree = 0;
    if (count > n || first >= n) finding(k, lists_dead, "FIFO first %u count %u out of range", first, count), count = 0;
    for (uint32_t i = 0; i < nfree; i++) {
        uint32_t s = r->free_stack[i];
        if (s >= n) { finding(k, lists_dead, "free stack entry %u names segment %u", i, s); continue; }
        if (seen[s]++) finding(k, lists_dead, "segment %u listed twice", s);
        if (r->segs[s].state != SEG_FREE) finding(k, lists_dead, "segment %u on the free stack is in state %u", s, r->segs[s].state);
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t s = r->fifo[(first + i) % n];
        if (s >= n) { finding(k, lists_dead, "FIFO entry %u names segment %u", i, s); continue; }
        if (seen[s]++) finding(k, lists_dead, "segment %u listed twice", s);
        if (r->segs[s].state != SEG_SEALED) finding(k, lists_dead, "segment %u in the FIFO is in state %u", s, r->segs[s].state);
    }
    for (uint32_t s = 0; s < n; s++) {
        const segmeta_t *m = &r->segs[s];
        uint32_t st = m->state, owner = m->owner;
        if (m->write_off > r->segment_size) violation(k, "segment %u write offset %u beyond its size", s, m->write_off);
        bool head_dead = lists_dead || (owner < r->nheads && k->heads[owner] == LOCK_SEEN_DEAD);
        if (st == SEG_FREE || st == SEG_SEALED) {
            if (!seen[s]) finding(k, lists_dead, "segment %u in state %u is on no list (leaked)", s, st);
        } else if (st == SEG_OPEN) {
            if (owner >= r->nheads || r->heads[owner].seg != s + 1)
                finding(k, head_dead, "open segment %u is not its head's (owner %u)", s, owner);
        } else if (st == SEG_CLEANING) {
            if (owner >= r->nheads || r->heads[owner].victim != s + 1)
                finding(k, head_dead, "segment %u being cleaned has no cleaner (owner %u)", s, owner);
        } else {
            violation(k, "segment %u has unknown state %u", s, st);
        }
        if (st == SEG_FREE) {
            k->unwritten += r->segment_size;
            continue;
        }
        /* its written bytes must parse */
        /* an open or cleaning segment whose head died mid-write: the head's repair redoes it */
        bool parse_dead = (st == SEG_OPEN || st == SEG_CLEANING) && head_dead;
        unsigned char *base = region_segment(r, s);
        uint32_t end = m->write_off <= r->segment_size ? m->write_off : r->segment_size;
        if (end % LAYOUT_UNIT) violation(k, "segment %u write offset %u is not 8-byte aligned", s, end);
        k->written += end;
        end &= ~(LAYOUT_UNIT - 1);
        k->unwritten += r->segment_size - end;
        for (uint32_t off = 0; off < end;) {
            uint32_t sz = 0;
            enum item_step step = item_step(r, base, off, end, &sz);
            if (step == STEP_STRAY) finding(k, parse_dead, "segment %u: %u stray bytes at %u", s, end - off, off);
            if (step == STEP_BAD_FILLER) finding(k, parse_dead, "segment %u: bad filler of %u bytes at %u", s, sz, off);
            if (step == STEP_OVERRUN) finding(k, parse_dead, "segment %u: item at %u overruns the written bytes", s, off);
            if (step == STEP_UNPARSABLE)
                finding(k, parse_dead, "segment %u: unparsable bytes at %u (kind 0x%02x)", s, off, base[off]);
            if (step != STEP_ITEM && step != STEP_FILLER) break;
            off += sz;
        }
    }
    for (uint32_t i = 0; i < r->nheads; i++) {
        const head_t *hd = &r->heads[i];
        bool dead = k->heads[i] == LOCK_SEEN_DEAD || lists_dead;
        if (hd->seg && (hd->seg > n || r->segs[hd->seg - 1].state != SEG_OPEN))
            finding(k, dead, "head %u names segment %u which is not open", i, hd->seg - 1);
        if (hd->victim) finding(k, dead, "head %u is in the middle of cleaning segment %u", i, hd->victim - 1);
    }
    free(seen);
}

/* Whether the lock is held by a live thread (its changes may be in flight), or what it
 * guards waits for a repair: its owner died in it, or the next open recovers everything.
 * Reports a dead owner, and a lock held by a thread that no longer exists (no kernel marked
 * it: only a recovery re-creates it). */
static enum lock_seen check_lock(checker_t *k, const robust_lock_t *l, const char *what, uint32_t i)
{
    int tid;
    switch (robust_lock_inspect(l, &tid)) {
    case LOCK_STATE_OWNER_DIED:
        finding(k, true, "%s %u: its owner died holding it", what, i);
        return LOCK_SEEN_DEAD;
    case LOCK_STATE_HELD_BY_GONE:
        finding(k, k->recovery, "%s %u: held by thread %d, which no longer exists", what, i, tid);
        return k->recovery ? LOCK_SEEN_DEAD : LOCK_SEEN_QUIET;
    case LOCK_STATE_HELD:
        return LOCK_SEEN_LIVE;
    default:
        return k->recovery ? LOCK_SEEN_DEAD : LOCK_SEEN_QUIET;
    }
}

/* Every lock's state, before the walks that read what they guard. */
static bool check_locks(checker_t *k)
{
    const region_t *r = k->r;
    k->heads = calloc(r->nheads ? r->nheads : 1, sizeof *k->heads);
    k->stripes = calloc(r->nstripes, sizeof *k->stripes);
    if (!k->heads || !k->stripes) return false;
    k->global = check_lock(k, &r->hdr->global_lock, "global lock", 0);
    for (uint32_t i = 0; i < r->nheads; i++) k->heads[i] = check_lock(k, &r->heads[i].lock, "head lock", i);
    for (uint32_t i = 0; i < r->nstripes; i++) k->stripes[i] = check_lock(k, &r->stripes[i].lock, "stripe lock", i);
    return true;
}

static void check_chains(checker_t *k)
{
    const region_t *r = k->r;
    uint64_t nunits = (uint64_t)r->data_unit_end - r->data_unit_first;
    unsigned char *visited = calloc(nunits / 8 + 1, 1);
    int64_t *items = calloc(r->nstripes, sizeof *items), *bytes = calloc(r->nstripes, sizeof *bytes);
    uint64_t *fresh = calloc(r->nstripes, sizeof *fresh);
    if (!visited || !items || !bytes || !fresh) goto out;
    uint64_t max_steps = index_max_chain(r);
    const uint32_t epoch = flush_epoch_of(atomic_load(&r->hdr->flush)); /* read once */
    for (uint64_t b = 0; b <= r->bucket_mask; b++) {
        uint64_t w = atomic_load(&r->buckets[b]);
        enum lock_seen lock = k->stripes[b & (r->nstripes - 1)];
        if ((bucket_version(w) & 1) && lock != LOCK_SEEN_LIVE)
            finding(k, lock == LOCK_SEEN_DEAD, "bucket %llu has an odd version (a writer inside)", (unsigned long long)b);
        uint64_t u = bucket_head(w);
        for (uint64_t steps = 0; u; steps++) {
            if (steps >= max_steps) { violation(k, "bucket %llu: chain longer than the cache can hold (a cycle)", (unsigned long long)b); break; }
            item_t *it = item_at(r, u);
            if (!it) { violation(k, "bucket %llu: offset %llu outside the item area", (unsigned long long)b, (unsigned long long)u); break; }
            uint64_t rel = u - r->data_unit_first;
            if (visited[rel / 8] & (1u << (rel % 8))) { violation(k, "item at %llu reachable twice", (unsigned long long)u); break; }
            visited[rel / 8] |= (unsigned char)(1u << (rel % 8));
            if (!item_is_live_kind(it->kind) || !item_fits(r, u, it->nkey, it->nvalue)) {
                violation(k, "bucket %llu: malformed item at %llu", (unsigned long long)b, (unsigned long long)u);
                break;
            }
            uint32_t seg = region_segment_of(r, u);
            uint64_t in_seg = (uint64_t)rel * LAYOUT_UNIT - (uint64_t)seg * r->segment_size;
            uint32_t st = r->segs[seg].state;
            if (st == SEG_FREE) violation(k, "item at %llu lies in free segment %u", (unsigned long long)u, seg);
            else if (in_seg + item_footprint(it->nkey, it->nvalue) > r->segs[seg].write_off)
                violation(k, "item at %llu lies beyond segment %u's written bytes", (unsigned long long)u, seg);
            if (!item_is_whole(r, it))
                violation(k, "item at %llu: checksum mismatch (its key or value is damaged)", (unsigned long long)u);
            uint64_t hash = hash_key(it->data, it->nkey, r->hash_seed);
            if (index_bucket_of(r, hash) != b || index_tag_of(hash) != it->tag)
                violation(k, "item at %llu is in bucket %llu but its key hashes elsewhere", (unsigned long long)u, (unsigned long long)b);
            uint32_t si = (uint32_t)(b & (r->nstripes - 1));
            items[si]++;
            bytes[si] += (int64_t)item_footprint(it->nkey, it->nvalue);
            if (it->epoch == r->stripes[si].epoch)
                fresh[si] += item_fresh_word(it);
            if (it->epoch == epoch) {
                k->live_items++;
                k->live_bytes += item_footprint(it->nkey, it->nvalue);
            } else {
                k->flushed_items++;
                k->flushed_bytes += item_footprint(it->nkey, it->nvalue);
            }
            u = atomic_load(&it->next);
        }
    }
    for (uint32_t i = 0; i < r->nstripes; i++) {
        const stripe_t *st = &r->stripes[i];
        if (k->stripes[i] == LOCK_SEEN_LIVE) continue; /* a writer is inside: counts mid-change */
        bool dead = k->stripes[i] == LOCK_SEEN_DEAD;
        if (st->intent_active) finding(k, dead, "stripe %u has a change in flight", i);
        if (st->items != items[i] || st->bytes != bytes[i])
            finding(k, dead, "stripe %u counts %lld items / %lld bytes; its chains hold %lld / %lld", i,
                    (long long)st->items, (long long)st->bytes, (long long)items[i], (long long)bytes[i]);
        /* the count stats read, where it is the current flush epoch's (an older epoch's is
         * zeroed by the stripe's next change) */
        if (st->epoch == epoch && st->fresh != fresh[i])
            finding(k, dead, "stripe %u counts %u items / %llu bytes since the last flush; its chains hold %u / %llu",
                    i, fresh_items_of(st->fresh), (unsigned long long)fresh_bytes_of(st->fresh),
                    fresh_items_of(fresh[i]), (unsigned long long)fresh_bytes_of(fresh[i]));
    }
out:
    free(visited);
    free(items);
    free(bytes);
    free(fresh);
}

shmc_rc check_file(const char *path, FILE *report, size_t *violations)
{
    region_t r;
    shmc_rc rc = region_map_readonly(&r, path);
    if (rc != SHMC_OK) {
        if (report) fprintf(report, "%s: %s\n", path, shmc_last_error());
        return rc;
    }
    checker_t k = {.r = &r, .out = report,
                   .recovery = !region_anyone_attached(&r) && stats_left_attached(&r)};
    if (check_locks(&k)) {
        check_segments(&k);
        check_chains(&k);
    } else {
        violation(&k, "out of memory for the check");
    }
    free(k.heads);
    free(k.stripes);
    uint64_t total = (uint64_t)r.nsegments * r.segment_size;
    if (k.written + k.unwritten != total)
        violation(&k, "segments account for %llu bytes of %llu", (unsigned long long)(k.written + k.unwritten),
                  (unsigned long long)total);
    if (report)
        fprintf(report, "%s: memory %llu bytes = %llu live in %llu items + %llu dead + %llu free\n", path,
                (unsigned long long)total, (unsigned long long)k.live_bytes, (unsigned long long)k.live_items,
                (unsigned long long)(k.written - (k.live_bytes < k.written ? k.live_bytes : k.written)),
                (unsigned long long)k.unwritten);
    if (report && k.flushed_items)
        fprintf(report, "%s: the dead bytes include %llu flushed items (%llu bytes), reclaimed as "
                        "they are met\n",
                path, (unsigned long long)k.flushed_items, (unsigned long long)k.flushed_bytes);
    if (report)
        fprintf(report, "%s: %zu violation%s (%u segments of %u bytes, %llu buckets)\n", path,
                k.violations, k.violations == 1 ? "" : "s", r.nsegments, r.segment_size,
                (unsigned long long)r.bucket_mask + 1);
    if (report && k.pending)
        fprintf(report, "%s: %zu repair%s pending, left by a process that died in a call (not "
                "damage)%s\n", path, k.pending, k.pending == 1 ? "" : "s",
                k.recovery ? "" : ": the next process to take each lock repairs what it guards "
                                  "(or, once nobody is attached, the next open recovers the "
                                  "whole cache)");
    if (report && k.recovery)
        fprintf(report, "%s: nobody is attached and the last users died attached (not damage): "
                "the next open re-creates every lock, finishes or undoes the changes in flight, "
                "rebuilds the segment lists and verifies every item\n", path);
    if (violations) *violations = k.violations;
    region_close(&r);
    return SHMC_OK;
}
