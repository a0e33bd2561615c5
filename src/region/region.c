/* region.c — create, validate and map the cache file.
 *
 * Creation is atomic: the file is built under a temporary name and link()ed into place, so
 * no process ever sees a half-written header, and of two racing creators exactly one wins
 * while the other attaches to the winner's file.  Two byte-range locks (open-file-description
 * locks, released by the kernel when a process dies) order attaching: byte 0 is held
 * exclusively from open until attach, byte 1 is held shared by every attached process.  An
 * opener that can take byte 1 exclusively knows nobody else is attached, so it may repair
 * and re-initialise the locks a crash left behind. */
#include "region/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/crashpoint.h"

enum { LOCK_BYTE_OPEN = 0, LOCK_BYTE_ATTACHED = 1 };

static int byte_lock(int fd, int byte, short type, bool wait)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    int rc;
    do rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    while (rc < 0 && errno == EINTR);
    return rc;
}

shmc_rc region_resolve_path(const char *name_or_path, char *out, size_t cap)
{
    if (!name_or_path || !*name_or_path) return error_set(SHMC_INVALID, "empty cache name");
    int n;
    if (strchr(name_or_path, '/')) {
        n = snprintf(out, cap, "%s", name_or_path);
    } else {
        if (!strcmp(name_or_path, ".") || !strcmp(name_or_path, ".."))
            return error_set(SHMC_INVALID, "cache name '%s' is not a file name", name_or_path);
        const char *dir = getenv("SHMC_DIR");
        if (!dir || !*dir) dir = "/dev/shm";
        n = snprintf(out, cap, "%s/%s", dir, name_or_path);
    }
    if (n < 0 || (size_t)n >= cap) return error_set(SHMC_INVALID, "cache path too long");
    return SHMC_OK;
}

static void set_pointers(region_t *r)
{
    header_t *h = (header_t *)r->base;
    r->hdr = h;
    r->threads = (thread_slot_t *)(r->base + h->off_threads);
    r->procs = (proc_slot_t *)(r->base + h->off_procs);
    r->stripes = (stripe_t *)(r->base + h->off_stripes);
    r->heads = (head_t *)(r->base + h->off_heads);
    r->segs = (segmeta_t *)(r->base + h->off_segs);
    r->free_stack = (_Atomic uint32_t *)(r->base + h->off_free);
    r->fifo = (_Atomic uint32_t *)(r->base + h->off_fifo);
    r->bitmaps = (_Atomic uint64_t *)(r->base + h->off_bitmaps);
    r->buckets = (_Atomic uint64_t *)(r->base + h->off_buckets);
    r->data = r->base + h->off_data;
    r->bucket_mask = ((uint64_t)1 << h->hash_power) - 1;
    r->item_size_max = h->item_size_max;
    r->hash_seed = h->hash_seed;
    r->nstripes = h->nstripes;
    r->nheads = h->nheads;
    r->nsegments = h->nsegments;
    r->segment_size = h->segment_size;
    r->bitmap_words = h->bitmap_words;
    r->nthread_slots = h->nthread_slots;
    r->nproc_slots = h->nproc_slots;
    r->data_unit_first = (uint32_t)(h->off_data / LAYOUT_UNIT);
    r->data_unit_end = (uint32_t)(h->file_size / LAYOUT_UNIT);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void region_prefault_segment(const region_t *r, uint32_t seg)
{
    (void)madvise(region_segment(r, seg), r->segment_size, MADV_POPULATE_WRITE);
}

static shmc_rc map_fd(region_t *r, int fd, uint64_t size, int prot)
{
    void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return error_set(SHMC_SYSTEM, "mmap of %llu bytes: %s",
                                          (unsigned long long)size, strerror(errno));
    /* random gets touch pages all over the file: where its filesystem grants huge pages on
     * request (tmpfs with huge=advise, or shmem_enabled=advise), ask, for fewer TLB misses */
    (void)madvise(p, size, MADV_HUGEPAGE);
    r->base = p;
    r->size = size;
    r->fd = fd;
    set_pointers(r);
    return SHMC_OK;
}

/* Initialise a new file's structures: every lock, the free list, the shared words.  The
 * zero bytes of a fresh file are already the empty state of everything else. */
static shmc_rc init_new(region_t *r, const header_t *tmpl)
{
    header_t *h = (header_t *)r->base;
    memcpy(h, tmpl, sizeof *h);
    set_pointers(r);
    if (robust_lock_init(&h->global_lock)) return error_set(SHMC_SYSTEM, "mutex init failed");
    for (uint32_t i = 0; i < r->nstripes; i++)
        if (robust_lock_init(&r->stripes[i].lock)) return error_set(SHMC_SYSTEM, "mutex init failed");
    for (uint32_t i = 0; i < r->nheads; i++)
        if (robust_lock_init(&r->heads[i].lock)) return error_set(SHMC_SYSTEM, "mutex init failed");
    for (uint32_t i = 0; i < r->nsegments; i++) r->free_stack[i] = r->nsegments - 1 - i;
    h->free_count = r->nsegments;
    h->cas_next = 1;
    h->flush = flush_word(1, 0);
    return SHMC_OK;
}

static shmc_rc create_file(region_t *r, const char *path, uint64_t memory_limit,
                           uint64_t item_size_max, unsigned hash_power, unsigned mode,
                           bool *lost_race)
{
    header_t tmpl;
    shmc_rc rc = layout_compute(&tmpl, memory_limit, item_size_max, hash_power);
    if (rc != SHMC_OK) return rc;
    if (getrandom(&tmpl.hash_seed, sizeof tmpl.hash_seed, 0) != sizeof tmpl.hash_seed)
        tmpl.hash_seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    tmpl.create_time = (uint64_t)time(NULL);
    tmpl.check = layout_checksum(&tmpl);

    char tmp[4200];
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = (uint64_t)clock();
    snprintf(tmp, sizeof tmp, "%s.creating.%d.%llx", path, (int)getpid(), (unsigned long long)nonce);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (fd < 0) return error_set(SHMC_SYSTEM, "create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode & 07777) < 0 || ftruncate(fd, (off_t)tmpl.file_size) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return error_set(SHMC_SYSTEM, "size %s: %s", tmp, strerror(e));
    }
    rc = map_fd(r, fd, tmpl.file_size, PROT_READ | PROT_WRITE);
    if (rc == SHMC_OK) rc = init_new(r, &tmpl);
    if (rc != SHMC_OK) {
        if (r->base) munmap(r->base, r->size);
        r->base = NULL;
        close(fd);
        unlink(tmp);
        return rc;
    }
    CRASHPOINT("create.initialised");
    /* lock before publishing, so that openers of the new name wait for our attach */
    byte_lock(fd, LOCK_BYTE_OPEN, F_WRLCK, true);
    if (link(tmp, path) < 0) {
        int e = errno;
        munmap(r->base, r->size);
        r->base = NULL;
        close(fd);
        unlink(tmp);
        if (e == EEXIST) {
            *lost_race = true;
            return SHMC_OK;
        }
        errno = e;
        return error_set(SHMC_SYSTEM, "link %s: %s", path, strerror(e));
    }
    CRASHPOINT("create.linked");
    unlink(tmp);
    r->alone = true;
    return SHMC_OK;
}

static shmc_rc open_existing(region_t *r, int fd, const char *path, uint64_t memory_limit,
                             uint64_t item_size_max)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return error_set(SHMC_SYSTEM, "stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return error_set(SHMC_BAD_FILE, "%s is not a regular file", path);
    if ((uint64_t)st.st_size < sizeof(header_t))
        return error_set(SHMC_BAD_FILE, "%s is too short (%lld bytes) to be a cache", path,
                         (long long)st.st_size);
    header_t h;
    ssize_t n = pread(fd, &h, sizeof h, 0);
    if (n != (ssize_t)sizeof h) return error_set(SHMC_SYSTEM, "read %s: %s", path, strerror(errno));
    shmc_rc rc = layout_validate(&h, (uint64_t)st.st_size);
    if (rc != SHMC_OK) return rc;
    if ((memory_limit && memory_limit != h.memory_limit) ||
        (item_size_max && item_size_max != h.item_size_max))
        return error_set(SHMC_BAD_FILE,
                         "%s was created with memory_limit %llu, item_size_max %llu; asked for "
                         "%llu, %llu",
                         path, (unsigned long long)h.memory_limit,
                         (unsigned long long)h.item_size_max, (unsigned long long)memory_limit,
                         (unsigned long long)item_size_max);
    byte_lock(fd, LOCK_BYTE_OPEN, F_WRLCK, true);
    CRASHPOINT("attach.open_locked");
    rc = map_fd(r, fd, h.file_size, PROT_READ | PROT_WRITE);
    if (rc != SHMC_OK) return rc;
    /* the header may have changed between pread and the lock only if another creator
     * replaced the file's contents, which link() prevents; re-check the mapped copy */
    rc = layout_validate(r->hdr, h.file_size);
    if (rc != SHMC_OK) {
        munmap(r->base, r->size);
        r->base = NULL;
        r->fd = -1;
        return rc;
    }
    r->alone = byte_lock(fd, LOCK_BYTE_ATTACHED, F_WRLCK, false) == 0;
    return SHMC_OK;
}

shmc_rc region_open(region_t *r, const char *path, uint64_t memory_limit,
                    uint64_t item_size_max, unsigned hash_power, unsigned mode)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            shmc_rc rc = open_existing(r, fd, path, memory_limit, item_size_max);
            if (rc != SHMC_OK) close(fd);
            return rc;
        }
        if (errno != ENOENT) return error_set(SHMC_SYSTEM, "open %s: %s", path, strerror(errno));
        bool lost = false;
        shmc_rc rc = create_file(r, path, memory_limit ? memory_limit : 64u << 20,
                                 item_size_max ? item_size_max : 1u << 20, hash_power, mode,
                                 &lost);
        if (rc != SHMC_OK || !lost) return rc;
        /* another process created it first: attach to theirs */
    }
    return error_set(SHMC_SYSTEM, "open %s: the file keeps appearing and vanishing", path);
}

shmc_rc region_attach_done(region_t *r)
{
    int rc = byte_lock(r->fd, LOCK_BYTE_ATTACHED, F_RDLCK, true);
    CRASHPOINT("attach.attached");
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE_OPEN, .l_len = 1};
    fcntl(r->fd, F_OFD_SETLK, &fl);
    if (rc < 0) return error_set(SHMC_SYSTEM, "lock cache file: %s", strerror(errno));
    return SHMC_OK;
}

shmc_rc region_map_readonly(region_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(errno == ENOENT ? SHMC_BAD_FILE : SHMC_SYSTEM, "open %s: %s",
                                 path, strerror(errno));
    struct stat st;
    header_t h;
    shmc_rc rc = SHMC_OK;
    if (fstat(fd, &st) < 0) rc = error_set(SHMC_SYSTEM, "stat %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = error_set(SHMC_BAD_FILE, "%s is not a regular file", path);
    else if ((uint64_t)st.st_size < sizeof h) rc = error_set(SHMC_BAD_FILE, "%s is too short", path);
    else if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) rc = error_set(SHMC_SYSTEM, "read %s", path);
    else rc = layout_validate(&h, (uint64_t)st.st_size);
    if (rc == SHMC_OK) rc = map_fd(r, fd, h.file_size, PROT_READ);
    if (rc != SHMC_OK) {
        close(fd);
        return rc;
    }
    /* the immutable copies come from the validated private header, not the live mapping */
    return SHMC_OK;
}

void region_close(region_t *r)
{
    if (r->base) munmap(r->base, r->size);
    if (r->fd >= 0) close(r->fd);
    r->base = NULL;
    r->fd = -1;
}
