/* resize.c — retiring a cache file: resizing it without losing items or splitting its users
 * (shmc_resize), removing it the same way (shmc_remove), and how an attached handle follows
 * (handle_follow).
 *
 * A file's flush word (layout.h) carries its state in its high half, beside the flush epoch:
 * a due time (live), FLUSH_DUE_FROZEN, or FLUSH_DUE_MOVED.  Every call already loads that
 * word when it begins (store_ctx_begin), so telling a retired file costs a get nothing.
 *
 * Resize, in the resizer:
 *   1. open the cache; take its retire lock (byte 2 of the file, exclusive: one resize or
 *      removal at a time; the kernel drops it if the resizer dies);
 *   2. build the new file unnamed (O_TMPFILE, or PATH.creating.*), sized as asked, with the
 *      old one's mode and owners;
 *   3. freeze: the flush word's due half becomes FROZEN in one compare-and-swap (the delayed
 *      flush it held is kept in frozen_due), then take and release each lock stripe of the
 *      old file in turn (a barrier: a writer inside one has finished).  A writer that takes
 *      a stripe from then on sees FROZEN under it and changes nothing (STORE_RETRY); a
 *      flush_all sees it in its compare-and-swap.  Reads go on in the old file, which no
 *      command changes now (segment cleaning still may move or evict an item, as before a
 *      resize: the walk's chain copies are consistent either way);
 *   4. copy every live item with the index's consistent chain copies (store_walk) into the
 *      new file, keeping its flags, cas, absolute expiry, last access and meta state
 *      (store_put_copy); the new file's cas counter starts past every old cas;
 *   5. rename the new file over the name (linked first as PATH.creating.*: a creation that
 *      the stale-creation sweep removes if the resizer dies before the rename);
 *   6. mark the old file MOVED and release the retire lock.
 * Writers are frozen from 3 to 6 (shmc_resize_info.frozen_us says how long); items written
 * before 3 are copied, writes after it wait and then land in the new file.
 *
 * A handle whose call meets MOVED at its start (handle_ctx), or whose write met FROZEN
 * under its stripe, ends the call and follows (handle_follow): it waits for the retire lock,
 * reopens the name and starts the call again there, so the application sees one cache.  An
 * in-flight call of another thread that resolved the handle before the swap finishes in the
 * old file: a read answers from the old file, which is frozen and whole; a write that had
 * not yet linked its item is started again in the new one (it sees FROZEN under its
 * stripe).  The old state is freed at once when the process has one thread, else at close.
 * A call that meets FROZEN while nobody holds the retire lock (its resizer died) follows
 * too, reads included: that settles the freeze, so no reader stays behind in a file that
 * the name no longer leads to.
 *
 * A killed resizer or remover leaves the file FROZEN with its retire lock free: whoever
 * takes the lock next (region_settle: a following handle, the next resizer) finishes the
 * work when the name leads elsewhere (the rename happened: MOVED) or undoes it (live again,
 * with its delayed flush).  Either way one whole cache is under the name: the old one, or
 * the new one, complete before it got the name.  The new file's locks were never taken by
 * anyone else; its first opener recovers it as any cache whose users left.
 *
 * Removal (shmc_remove) is the same without the copy: freeze, unlink, mark MOVED.  Handles
 * then fail to reopen the name: SHMC_REMOVED; once a new cache is made under the name, they
 * follow to it, as every other process does. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "api/entry.h"
#include "api/handle.h"
#include "protect/domain.h"
#include "protect/gate.h"
#include "store/attached.h"
#include "store/index.h"
#include "store/recover.h"
#include "store/stats.h"
#include "store/store.h"
#include "sync/proc.h"
#include "util/crashpoint.h"
#include "util/error.h"

/* How many threads this process has (/proc/self/stat's 20th field; 0: unknown). */
static long thread_count(void)
{
    uint64_t n;
    char state;
    return proc_stat_field(0, 20, &n, &state) ? (long)n : 0;
}

static void state_free(shmc_t *c)
{
    while (c) {
        shmc_t *next = c->retired;
        region_close(&c->r);
        protect_private_free(c, sizeof *c);
        c = next;
    }
}

void handle_free_retired(shmc_t *c)
{
    state_free(c->retired);
    c->retired = NULL;
}

shmc_rc handle_follow(const shmc_t *h)
{
    CANCEL_OFF();
    protect_thread_t *t = NULL;
    if (protect_domain_ready()) {
        gate_stage();
        shmc_rc rc = protect_thread_get(&t);
        if (rc != SHMC_OK) {
            gate_close(NULL);
            return rc;
        }
    }
    shmc_rc rc = SHMC_OK;
    shmc_t *c = handle_resolve(h), *c2 = NULL;
    if (!c) rc = error_set(SHMC_INVALID, "not an open cache handle (closed, or damaged)");
    uint32_t due = 0;
    if (rc == SHMC_OK) {
        gate_open(t);
        due = region_settle(&c->r, c->path);
        gate_stage();
    }
    if (rc == SHMC_OK && due == FLUSH_DUE_MOVED) {
        c2 = protect_private_alloc(sizeof *c2);
        if (!c2) rc = error_set(SHMC_SYSTEM, "out of process memory");
    }
    bool opened = false;
    if (c2) {
        memcpy(c2->path, c->path, sizeof c2->path);
        c2->protect = c->protect;
        c2->no_evict = c->no_evict;
        c2->evictions = __atomic_load_n(&c->evictions, __ATOMIC_ACQUIRE);
        rc = region_open(&c2->r, c2->path, 0, 0, 0, 0600, REGION_OPEN_ONLY);
        if (rc == SHMC_NOT_FOUND)
            rc = error_set(SHMC_REMOVED, "cache %s was removed while this handle had it open "
                                         "(shmc rm): calls fail until a cache is made under "
                                         "the name again, which the handle then uses",
                           c2->path);
        opened = rc == SHMC_OK;
        bool prot = c2->protect == SHMC_PROTECT_PKU || c2->protect == SHMC_PROTECT_SEALED;
        if (rc == SHMC_OK && prot)
            rc = protect_tag_cache(c2->r.base, c2->r.size, PROT_READ | PROT_WRITE);
        if (rc == SHMC_OK) {
            gate_open(t);
            if (c2->r.alone) rc = store_recover_alone(&c2->r);
        }
        if (rc == SHMC_OK) rc = region_attach_done(&c2->r);
        if (rc == SHMC_OK) {
            gate_stage();
            bool alone = thread_count() == 1; /* no other thread can be in a call on c */
            gate_open(t);
            handle_replace(c, c2);
            stats_attach(&c2->r, c2->id);
            if (alone) handle_free_retired(c2);
        } else {
            gate_open(t);
            if (opened) region_close(&c2->r);
            protect_private_free(c2, sizeof *c2);
        }
    }
    if (t) {
        t->in_call = 0;
        protect_thread_put(t);
    }
    gate_close(NULL);
    return rc;
}

/* ---- the resizer and the remover ---- */

/* Open path's cache for retiring it, holding its retire lock, live (not frozen or moved):
 * a dead resizer's freeze is settled first, and a cache that moved meanwhile is reopened. */
static shmc_rc open_for_retire(region_t *r, const char *path)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        shmc_rc rc = region_open(r, path, 0, 0, 0, 0600, REGION_OPEN_ONLY);
        if (rc != SHMC_OK) return rc;
        if (r->alone) rc = store_recover_alone(r);
        if (rc == SHMC_OK) rc = region_attach_done(r);
        if (rc != SHMC_OK) {
            region_close(r);
            return rc;
        }
        /* a dead resizer's freeze settled as a user would, then the lock is ours */
        uint32_t due = region_settle(r, path);
        region_retire_lock(r);
        if (due != FLUSH_DUE_MOVED) due = flush_due_of(atomic_load(&r->hdr->flush));
        if (due < FLUSH_DUE_FROZEN) return SHMC_OK;
        region_retire_unlock(r);
        region_close(r);
    }
    return error_set(SHMC_SYSTEM, "%s keeps moving: another resize is under way", path);
}

static uint64_t elapsed_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000u +
           (uint64_t)((t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Step 4: every live item of old into new. */
static shmc_rc copy_items(const region_t *old, const region_t *new, shmc_resize_info *info)
{
    thread_slot_t scratch_old, scratch_new;
    memset(&scratch_old, 0, sizeof scratch_old);
    memset(&scratch_new, 0, sizeof scratch_new);
    uint64_t on = 0, ol = 0, nn = 0, nl = 0;
    op_ctx_t co = {.slot = &scratch_old, .cas_next = &on, .cas_limit = &ol};
    op_ctx_t cn = {.slot = &scratch_new, .cas_next = &nn, .cas_limit = &nl};
    store_ctx_begin(old, &co);
    store_ctx_begin(new, &cn);
    copy_buf_t buf = {.cap = 256 * 1024};
    buf.p = malloc(buf.cap);
    if (!buf.p) return error_set(SHMC_SYSTEM, "out of memory for the copy");
    shmc_rc rc = SHMC_OK;
    for (uint64_t b = 0; b <= old->bucket_mask && rc == SHMC_OK;) {
        buf.len = 0;
        buf.full = false;
        uint64_t next = store_walk(old, &co, b, b + 1024, &buf);
        if (buf.full && next == b) {
            if (!copy_buf_grow(&buf)) {
                rc = error_set(SHMC_SYSTEM, "out of memory for the copy");
                break;
            }
            continue;
        }
        b = next;
        for (size_t at = 0; at < buf.len && rc == SHMC_OK;) {
            chain_copy_t cc;
            memcpy(&cc, buf.p + at, sizeof cc);
            const unsigned char *key = buf.p + at + sizeof cc;
            if (cc.nvalue > new->item_size_max) {
                info->too_large++;
            } else {
                rc = store_put_copy(new, &cn, key, cc.nkey, key + cc.nkey, cc.nvalue, cc.flags,
                                    cc.exptime, cc.cas, cc.atime, cc.meta, cc.fetched);
                if (rc == SHMC_NO_MEMORY) { /* larger than the new cache can hold at all */
                    info->too_large++;
                    rc = SHMC_OK;
                } else if (rc == SHMC_OK) {
                    info->items++;
                }
            }
            at += chain_copy_size(&cc);
        }
        CRASHPOINT("resize.copying");
    }
    free(buf.p);
    /* every cas handed out in the new file is above every old one, reserved blocks included */
    uint64_t want = atomic_load(&old->hdr->cas_next), have = atomic_load(&new->hdr->cas_next);
    while (have < want && !atomic_compare_exchange_weak(&new->hdr->cas_next, &have, want))
        ;
    return rc;
}

API shmc_rc shmc_resize(const char *name_or_path, uint64_t memory_limit, uint64_t item_size_max,
                        shmc_resize_info *info)
{
    CANCEL_OFF();
    error_clear();
    shmc_resize_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    char path[4096], tmp[4200];
    shmc_rc rc = region_resolve_path(name_or_path, path, sizeof path);
    if (rc != SHMC_OK) return rc;
    region_t old, new;
    rc = open_for_retire(&old, path);
    if (rc != SHMC_OK) return rc;
    if (!memory_limit) memory_limit = old.hdr->memory_limit;
    if (!item_size_max) item_size_max = old.hdr->item_size_max;
    info->memory_limit = memory_limit;
    info->item_size_max = item_size_max;
    rc = region_build(&new, path, memory_limit, item_size_max, 0, old.fd, tmp, sizeof tmp);
    if (rc != SHMC_OK) {
        region_retire_unlock(&old);
        region_close(&old);
        return rc;
    }
    CRASHPOINT("resize.built");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    region_freeze(&old); /* live: open_for_retire holds the retire lock */
    CRASHPOINT("resize.frozen");
    /* every stripe taken and given back once: a writer that held one has finished, and one
     * that takes it from now on sees FROZEN under it (one at a time: a process holding more
     * robust locks than the kernel's robust list walk covers would leave them held if it
     * died) */
    for (uint32_t i = 0; i < old.nstripes && rc == SHMC_OK; i++) {
        uint64_t repairs = 0;
        if (index_lock(&old, &old.stripes[i], &repairs)) index_unlock(&old.stripes[i]);
        else rc = error_set(SHMC_BAD_FILE, "%s: lock stripe %u is unusable", path, i);
    }
    CRASHPOINT("resize.barrier");
    if (rc == SHMC_OK) rc = copy_items(&old, &new, info);
    if (rc == SHMC_OK) {
        /* a delayed flush_all of the old cache is the new one's */
        uint64_t due = atomic_load(&old.hdr->frozen_due);
        atomic_store(&new.hdr->flush, flush_word(1, due <= FLUSH_DUE_MAX ? (uint32_t)due : 0));
        CRASHPOINT("resize.copied");
        rc = region_replace(&new, tmp, path);
    }
    if (rc == SHMC_OK) {
        region_thaw(&old, true);
        CRASHPOINT("resize.moved");
    } else {
        region_thaw(&old, false); /* the old cache stays, as it was */
        if (tmp[0]) unlink(tmp);
    }
    info->frozen_us = elapsed_us(&t0);
    region_retire_unlock(&old);
    region_close(&old);
    if (rc == SHMC_OK) {
        shmc_stats_t s;
        stats_fill(&new, &s);
        info->evicted = info->items > s.curr_items ? info->items - s.curr_items : 0;
    }
    region_close(&new);
    return rc;
}

API shmc_rc shmc_remove(const char *name_or_path)
{
    CANCEL_OFF();
    error_clear();
    char path[4096];
    shmc_rc rc = region_resolve_path(name_or_path, path, sizeof path);
    if (rc != SHMC_OK) return rc;
    region_t r;
    rc = open_for_retire(&r, path);
    if (rc == SHMC_BAD_FILE) { /* not a cache this library can use: nobody to tell */
        if (unlink(path) == 0) return SHMC_OK;
        return error_set(errno == ENOENT ? SHMC_NOT_FOUND : SHMC_SYSTEM, "remove %s: %s", path,
                         strerror(errno));
    }
    if (rc != SHMC_OK) return rc;
    region_freeze(&r);
    CRASHPOINT("remove.frozen");
    if (!region_names_file(&r, path)) {
        errno = ENOENT;
        rc = error_set(SHMC_NOT_FOUND, "%s was replaced while it was being removed", path);
    } else if (unlink(path) != 0)
        rc = error_set(errno == ENOENT ? SHMC_NOT_FOUND : SHMC_SYSTEM, "remove %s: %s", path,
                       strerror(errno));
    else CRASHPOINT("remove.unlinked");
    region_thaw(&r, rc == SHMC_OK);
    region_retire_unlock(&r);
    region_close(&r);
    return rc;
}
