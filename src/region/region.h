/* region.h — one process's mapping of a cache file: where each area lives in this address
 * space, and the bounds every offset read from the file is checked against. */
#ifndef SHMC_REGION_H
#define SHMC_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "region/layout.h"

typedef struct region {
    unsigned char *base;
    uint64_t size;
    int fd;
    header_t *hdr;
    thread_slot_t *threads;
    proc_slot_t *procs;
    stripe_t *stripes;
    head_t *heads;
    segmeta_t *segs;
    _Atomic uint32_t *free_stack;
    _Atomic uint32_t *fifo;
    _Atomic uint64_t *bitmaps;
    _Atomic uint64_t *buckets;
    unsigned char *data;
    /* copies of the immutable configuration, so the hot path reads no shared line */
    uint64_t bucket_mask, item_size_max, hash_seed;
    uint32_t nstripes, nheads, nsegments, segment_size, bitmap_words, nthread_slots, nproc_slots;
    uint64_t data_unit_first, data_unit_end; /* item offsets must fall in [first, end) */
    bool alone; /* no other process had the file open: recovery is ours to run */
    _Atomic uint64_t overflow_token; /* this process, when its handle is in attached_overflow */
    uint64_t overflow_byte;          /* 1 + the overflow lock byte this handle holds; 0: none */
} region_t;

/* Resolve name_or_path ($SHMC_DIR or /dev/shm for plain names) into out[cap]. */
shmc_rc region_resolve_path(const char *name_or_path, char *out, size_t cap);

/* Open or create the file and map it.  On success the caller holds the open lock (no other
 * process is between open and attach) and must call region_attach_done next; r->alone says
 * whether every other user is gone, in which case it runs recovery first.
 * memory_limit / item_size_max of 0 accept the file's own; hash_power 0 is automatic.
 * how: REGION_OPEN_OR_CREATE, REGION_OPEN_ONLY (missing: SHMC_NOT_FOUND) or
 * REGION_CREATE_ONLY (existing: SHMC_EXISTS). */
enum region_open_how { REGION_OPEN_OR_CREATE, REGION_OPEN_ONLY, REGION_CREATE_ONLY };
shmc_rc region_open(region_t *r, const char *path, uint64_t memory_limit,
                    uint64_t item_size_max, unsigned hash_power, unsigned mode,
                    enum region_open_how how);
/* Mark this process attached (shared lock) and release the open lock. */
shmc_rc region_attach_done(region_t *r);
/* Attached handles beyond the process table each hold one lock byte of the file (past its
 * end), which the kernel releases when the process dies or closes the file: so they are
 * counted exactly, killed ones included.  Claim returns 1 + the byte's index (0: none of
 * REGION_OVERFLOW_MAX free); count tells how many of the first `upto` bytes are held. */
#define REGION_OVERFLOW_MAX (1u << 16) /* so a damaged high-water mark costs stats little */
uint64_t region_overflow_claim(region_t *r);
uint64_t region_overflow_count(const region_t *r, uint64_t upto);
/* Whether any process holds the attached lock now (works on a read-only mapping too). */
bool region_anyone_attached(const region_t *r);
/* A process other than this one that still maps the file once named `path`, now removed
 * (`rm`, or `shmc rm --force`); 0 when none is seen (processes of other users are seen only
 * by root, through /proc/PID/maps). */
int region_removed_user(const char *path);
/* ---- retiring a file (api/resize.c): byte 2 of the file is held by whoever freezes it,
 * released (by the kernel, too) only once the freeze is undone or the file marked moved. ---- */
/* A new file for path, configured as given, initialised, mapped, and not yet under the name
 * (unnamed, or at tmp[cap] where the filesystem lacks O_TMPFILE), with like_fd's mode and
 * owners.  The caller holds its open lock until region_close. */
shmc_rc region_build(region_t *r, const char *path, uint64_t memory_limit,
                     uint64_t item_size_max, unsigned hash_power, int like_fd, char *tmp,
                     size_t cap);
/* Put a built file under path in one step (rename over whatever is there). */
shmc_rc region_replace(region_t *r, const char *tmp, const char *path);
/* Whether path leads to r's file now. */
bool region_names_file(const region_t *r, const char *path);
void region_retire_lock(const region_t *r);
/* Whether a process holds the retire lock now (a resize or removal is alive). */
bool region_retire_held(const region_t *r);
void region_retire_unlock(const region_t *r);
/* Mark the file FROZEN (false: it is frozen or moved already); thaw: back to live (the
 * delayed flush it had), or moved. */
bool region_freeze(const region_t *r);
void region_thaw(const region_t *r, bool moved);
/* Wait until no resize or removal of r's file is under way; finish (moved) or undo one
 * whose process died, by whether path still leads to the file (a file marked moved that
 * the name still leads to is damage: made live again).  Returns the flush word's
 * due half afterwards (FLUSH_DUE_MOVED: follow the name). */
uint32_t region_settle(const region_t *r, const char *path);
/* Map an existing file read-only for inspection (the checker); no locks taken. */
shmc_rc region_map_readonly(region_t *r, const char *path);
void region_close(region_t *r);

static inline void *region_at(const region_t *r, uint64_t unit)
{
    return r->base + (uint64_t)unit * LAYOUT_UNIT;
}

static inline uint64_t region_unit_of(const region_t *r, const void *p)
{
    return (uint64_t)(((const unsigned char *)p - r->base) / LAYOUT_UNIT);
}

static inline unsigned char *region_segment(const region_t *r, uint32_t seg)
{
    return r->data + (uint64_t)seg * r->segment_size;
}

/* Map every page of segment seg into this process now, writable: one system call where
 * writing into it would otherwise take a page fault per 4 KiB (a no-op where the kernel
 * cannot, before Linux 5.14). */
void region_prefault_segment(const region_t *r, uint32_t seg);

/* How many bytes of the mapping [base, base + size) of this process the kernel maps with
 * huge pages now (/proc/self/smaps: 2 MiB tmpfs/file pages and hugetlbfs pages).  Populate
 * first maps every page of the file into this process, readable (a no-op before Linux 5.14),
 * so that the count says what the file's pages allow, not which ones this process touched. */
void region_populate_read(const region_t *r);
shmc_rc region_huge_bytes(const void *base, uint64_t size, uint64_t *huge);

/* The segment holding unit u (u must be within the data area). */
static inline uint32_t region_segment_of(const region_t *r, uint64_t unit)
{
    return (uint32_t)((unit - r->data_unit_first) * LAYOUT_UNIT / r->segment_size);
}

#endif
