/* region.c — create, validate and map the cache file.
 *
 * Creation is atomic: the file is built unnamed (O_TMPFILE; a temporary name where the
 * filesystem lacks it) and link()ed into place, so no process ever sees a half-written
 * header, and of two racing creators exactly one wins while the other attaches to the
 * winner's file.  Its memory is reserved before it gets its name (posix_fallocate), so no
 * write into the mapping can ever fault for want of space.  Two byte-range locks
 * (open-file-description locks, released by the kernel when a process dies) order attaching: byte 0 is held
 * exclusively from open until attach, byte 1 is held shared by every attached process.  An
 * opener that can take byte 1 exclusively knows nobody else is attached, so it may repair
 * and re-initialise the locks a crash left behind. */
#include "region/region.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/crashpoint.h"

enum { LOCK_BYTE_OPEN = 0, LOCK_BYTE_ATTACHED = 1, LOCK_BYTE_RETIRE = 2 };
/* Bytes OVERFLOW_BASE + k: one held by each attached handle beyond the process table.  A
 * lock may lie past the end of the file; the kernel drops it when its holder dies. */
#define OVERFLOW_BASE ((off_t)1 << 40)

static int byte_lock(int fd, int64_t byte, short type, bool wait)
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

/* The region's pointers and immutable values, from h: a header that was validated, in
 * private memory (never the live mapping, which another process could change after the
 * check). */
static void set_pointers(region_t *r, const header_t *h)
{
    r->hdr = (header_t *)r->base;
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
    r->data_unit_first = h->off_data / LAYOUT_UNIT;
    r->data_unit_end = h->file_size / LAYOUT_UNIT;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void region_prefault_segment(const region_t *r, uint32_t seg)
{
    (void)madvise(region_segment(r, seg), r->segment_size, MADV_POPULATE_WRITE);
}

/* ---- huge pages: random gets touch pages all over the file, so each 2 MiB page the kernel
 * maps whole saves TLB misses.  tmpfs mounted with huge=always or within_size (or advise,
 * asked for below) maps a file with them where the mapping is 2 MiB-aligned; hugetlbfs holds
 * nothing but huge pages, and only whole ones: there the file is rounded up to one, and the
 * bytes past the layout's end are never used. ---- */
#define HUGE_ALIGN ((uint64_t)2 << 20)
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* The length the file of a cache of `size` bytes has (and is mapped with) on fd's filesystem. */
static uint64_t fs_length(int fd, uint64_t size)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0 || (uint32_t)fs.f_type != HUGETLBFS_MAGIC || fs.f_bsize <= 0)
        return size;
    uint64_t page = (uint64_t)fs.f_bsize;
    return (size + page - 1) / page * page;
}

/* mmap at a 2 MiB boundary: a reservation one huge page longer, the file mapped over its
 * first aligned address, the rest given back. */
static void *map_aligned(int fd, uint64_t size, int prot)
{
    unsigned char *area = size < HUGE_ALIGN ? MAP_FAILED
                          : mmap(NULL, size + HUGE_ALIGN, PROT_NONE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) return mmap(NULL, size, prot, MAP_SHARED, fd, 0);
    uintptr_t at = ((uintptr_t)area + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
    uintptr_t end = at + ((size + 4095) & ~(uint64_t)4095), area_end = (uintptr_t)area + size + HUGE_ALIGN;
    void *p = mmap((void *)at, size, prot, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        munmap(area, size + HUGE_ALIGN);
        errno = e;
        return MAP_FAILED;
    }
    if (at > (uintptr_t)area) munmap(area, at - (uintptr_t)area);
    if (area_end > end) munmap((void *)end, area_end - end);
    return p;
}

/* Map the file that the validated header h describes. */
static shmc_rc map_fd(region_t *r, int fd, const header_t *h, int prot)
{
    uint64_t size = fs_length(fd, h->file_size);
    void *p = map_aligned(fd, size, prot);
    if (p == MAP_FAILED) return error_set(SHMC_SYSTEM, "mmap of %llu bytes: %s",
                                          (unsigned long long)size, strerror(errno));
    /* where the filesystem grants huge pages on request (tmpfs with huge=advise, or
     * shmem_enabled=advise), ask */
    (void)madvise(p, size, MADV_HUGEPAGE);
    r->base = p;
    r->size = size;
    r->fd = fd;
    set_pointers(r, h);
    return SHMC_OK;
}

/* Initialise a new file's structures: every lock, the free list, the shared words.  The
 * zero bytes of a fresh file are already the empty state of everything else. */
static shmc_rc init_new(region_t *r, const header_t *tmpl)
{
    header_t *h = (header_t *)r->base;
    memcpy(h, tmpl, sizeof *h);
    set_pointers(r, tmpl);
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

/* Reserve every byte of the file's memory now, so that no store into the mapping can ever
 * fault for want of a page (SIGBUS): a filesystem that cannot hold the cache says so here,
 * as an error, instead of killing whichever process writes first.  On a file that already
 * has blocks this only fills its holes.  A file others may be using (in_use) gets only the
 * kernel's fallocate: glibc's fallback for filesystems without it writes zero bytes, which
 * could land over a concurrent store. */
static shmc_rc reserve_space(int fd, const char *path, uint64_t size, bool in_use)
{
    struct stat st;
    struct statvfs vfs;
    uint64_t held = fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
    uint64_t avail = fstatvfs(fd, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
    int e;
    do e = in_use ? (fallocate(fd, 0, 0, (off_t)size) == 0 ? 0 : errno)
                  : posix_fallocate(fd, 0, (off_t)size);
    while (e == EINTR);
    if (e == 0) return SHMC_OK;
    shmc_rc rc;
    if ((e == ENOSPC || e == EDQUOT || e == EFBIG) && !held)
        rc = error_set(SHMC_SYSTEM,
                       "cache %s needs %llu bytes; its filesystem has %llu free (%s): see "
                       "README, Sizing /dev/shm",
                       path, (unsigned long long)size, (unsigned long long)avail, strerror(e));
    else if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        rc = error_set(SHMC_SYSTEM,
                       "cache %s needs %llu bytes (%llu more than the file holds); its filesystem "
                       "has %llu free (%s): see README, Sizing /dev/shm",
                       path, (unsigned long long)size,
                       (unsigned long long)(size > held ? size - held : 0),
                       (unsigned long long)avail, strerror(e));
    else
        rc = error_set(SHMC_SYSTEM, "reserve %llu bytes for %s: %s", (unsigned long long)size,
                       path, strerror(e));
    errno = e;
    return rc;
}

/* The directory part of path into dir[cap], and where its file name starts. */
static const char *split_path(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        return path;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1; /* "/name" */
    snprintf(dir, cap, "%.*s", (int)(n < cap ? n : cap - 1), path);
    return slash + 1;
}

/* Remove PATH.creating.* files that a creator killed mid-way left behind (a creator holds
 * the open lock on its file from the moment it exists, see create_file).  A file is stale
 * only when that lock can be taken — which no pid, pid namespace or pid reuse can fool —
 * and it is older than STALE_AGE_S, for the microseconds between a creator's open() and
 * its lock. */
#define STALE_AGE_S 2
static void sweep_stale_creations(const char *path)
{
    char dir[4096], prefix[4200];
    const char *base = split_path(path, dir, sizeof dir);
    int plen = snprintf(prefix, sizeof prefix, "%s.creating.", base);
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    for (struct dirent *de; (de = readdir(d));) {
        if (strncmp(de->d_name, prefix, (size_t)plen) != 0) continue;
        int fd = openat(dirfd(d), de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) continue; /* another user's, or gone already */
        struct stat st, again;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= STALE_AGE_S &&
            now - st.st_ctime >= STALE_AGE_S && byte_lock(fd, LOCK_BYTE_OPEN, F_WRLCK, false) == 0 &&
            fstatat(dirfd(d), de->d_name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
            again.st_ino == st.st_ino && again.st_dev == st.st_dev)
            unlinkat(dirfd(d), de->d_name, 0);
        close(fd); /* and with it the lock */
    }
    closedir(d);
}

/* A new file for path, not yet visible under any name where the filesystem allows
 * (O_TMPFILE: a creator killed now leaves nothing behind), else under PATH.creating.PID.NONCE
 * in *tmp.  Either way the caller holds its open lock before anything else happens to it. */
static int create_unlinked(const char *path, unsigned mode, char *tmp, size_t cap)
{
    char dir[4096];
    split_path(path, dir, sizeof dir);
    tmp[0] = '\0';
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 07777);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        uint64_t nonce;
        if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = (uint64_t)clock();
        snprintf(tmp, cap, "%s.creating.%d.%llx", path, (int)getpid(), (unsigned long long)nonce);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    }
    if (fd < 0) {
        int e = errno;
        error_set(SHMC_SYSTEM, "create %s: %s", tmp[0] ? tmp : path, strerror(e));
        tmp[0] = '\0';
        errno = e;
        return -1;
    }
    /* lock before anything else, so that openers of the new name wait for our attach, and
     * so that sweep_stale_creations knows this file has a live creator */
    byte_lock(fd, LOCK_BYTE_OPEN, F_WRLCK, true);
    return fd;
}

/* Give the new file its name: fails with EEXIST if a racing creator's file got there first. */
static int publish(int fd, const char *tmp, const char *path)
{
    if (tmp[0]) return link(tmp, path);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* A file made unnamed keeps that name in its mapping (/proc/PID/maps shows "/#N (deleted)"),
 * which misleads every tool that looks for the cache's mappings: once the file is linked,
 * map it again through its name.  The locks stay on r->fd.  If the name no longer leads to
 * this file (removed at once by someone else), the first mapping is kept. */
static void remap_by_name(region_t *r, const char *path, const header_t *h)
{
    struct stat mine, named;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    if (fstat(fd, &named) == 0 && fstat(r->fd, &mine) == 0 && named.st_ino == mine.st_ino &&
        named.st_dev == mine.st_dev) {
        void *p = map_aligned(fd, r->size, PROT_READ | PROT_WRITE);
        if (p != MAP_FAILED) {
            (void)madvise(p, r->size, MADV_HUGEPAGE);
            munmap(r->base, r->size);
            r->base = p;
            set_pointers(r, h);
        }
    }
    close(fd); /* the mapping holds the file */
}

/* A new file's header: its layout, a random hash seed, its creation time, its checksum. */
static shmc_rc header_template(header_t *tmpl, uint64_t memory_limit, uint64_t item_size_max,
                               unsigned hash_power)
{
    shmc_rc rc = layout_compute(tmpl, memory_limit, item_size_max, hash_power);
    if (rc != SHMC_OK) return rc;
    if (getrandom(&tmpl->hash_seed, sizeof tmpl->hash_seed, 0) != sizeof tmpl->hash_seed)
        tmpl->hash_seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    tmpl->create_time = (uint64_t)time(NULL);
    tmpl->check = layout_checksum(tmpl);
    return SHMC_OK;
}

/* A new cache file for path as tmpl describes it, initialised and mapped into r, not yet
 * under its name (tmp[cap]: its temporary name, or "" where it has none): of mode, and of
 * like's owners where like is given and we may.  On failure nothing is left behind. */
static shmc_rc build_unnamed(region_t *r, const char *path, const header_t *tmpl, unsigned mode,
                             const struct stat *like, char *tmp, size_t cap)
{
    int fd = create_unlinked(path, mode, tmp, cap);
    if (fd < 0) return SHMC_SYSTEM;
    uint64_t length = fs_length(fd, tmpl->file_size);
    shmc_rc rc;
    if (fchmod(fd, mode & 07777) < 0 || ftruncate(fd, (off_t)length) < 0) {
        int e = errno;
        rc = error_set(SHMC_SYSTEM, "size %s: %s", tmp[0] ? tmp : path, strerror(e));
    } else {
        if (like && fchown(fd, like->st_uid, like->st_gid) < 0 &&
            fchown(fd, (uid_t)-1, like->st_gid) < 0) {
            /* not ours to give away: it stays the resizer's (a mode that lets them in does) */
        }
        rc = reserve_space(fd, path, length, false);
        if (rc != SHMC_OK && like) { /* a resize: the old file stays until the new one is done */
            char why[512];
            snprintf(why, sizeof why, "%s", shmc_last_error());
            error_set(rc, "a resize holds both files until it is done: %s", why);
        }
    }
    if (rc == SHMC_OK) rc = map_fd(r, fd, tmpl, PROT_READ | PROT_WRITE);
    if (rc == SHMC_OK) rc = init_new(r, tmpl);
    if (rc != SHMC_OK) {
        if (r->base) munmap(r->base, r->size);
        r->base = NULL;
        r->fd = -1;
        close(fd);
        if (tmp[0]) unlink(tmp);
        tmp[0] = '\0';
    }
    return rc;
}

static shmc_rc create_file(region_t *r, const char *path, uint64_t memory_limit,
                           uint64_t item_size_max, unsigned hash_power, unsigned mode,
                           bool *lost_race)
{
    header_t tmpl;
    shmc_rc rc = header_template(&tmpl, memory_limit, item_size_max, hash_power);
    if (rc != SHMC_OK) return rc;

    char tmp[4200];
    rc = build_unnamed(r, path, &tmpl, mode, NULL, tmp, sizeof tmp);
    if (rc != SHMC_OK) return rc;
    int fd = r->fd;
    CRASHPOINT("create.initialised");
    if (publish(fd, tmp, path) < 0) {
        int e = errno;
        munmap(r->base, r->size);
        r->base = NULL;
        close(fd);
        if (tmp[0]) unlink(tmp);
        /* EEXIST: a racing creator won; ENOENT on a named temporary file: it was taken for
         * a stale one (only after we stopped for seconds before locking it): start over */
        if (e == EEXIST || (tmp[0] && e == ENOENT)) {
            *lost_race = true;
            return SHMC_OK;
        }
        errno = e;
        return error_set(SHMC_SYSTEM, "link %s: %s", path, strerror(e));
    }
    CRASHPOINT("create.linked");
    if (tmp[0]) unlink(tmp);
    else remap_by_name(r, path, &tmpl);
    r->alone = true;
    return SHMC_OK;
}

/* The validated header of the file open on fd (path names it in messages), and its stat. */
static shmc_rc read_header(int fd, const char *path, struct stat *st, header_t *h)
{
    if (fstat(fd, st) < 0) return error_set(SHMC_SYSTEM, "stat %s: %s", path, strerror(errno));
    if (S_ISDIR(st->st_mode)) return error_set(SHMC_BAD_FILE, "%s is a directory, not a cache file", path);
    if (!S_ISREG(st->st_mode)) return error_set(SHMC_BAD_FILE, "%s is not a regular file", path);
    if ((uint64_t)st->st_size < sizeof *h)
        return error_set(SHMC_BAD_FILE, "%s is too short (%lld bytes) to be a cache", path,
                         (long long)st->st_size);
    ssize_t n = pread(fd, h, sizeof *h, 0);
    if (n != (ssize_t)sizeof *h)
        return error_set(SHMC_SYSTEM, "read %s: %s", path, n < 0 ? strerror(errno) : "short read");
    /* hugetlbfs rounds the file up to whole huge pages */
    return layout_validate(h, (uint64_t)st->st_size == fs_length(fd, h->file_size)
                                  ? h->file_size : (uint64_t)st->st_size);
}

static shmc_rc open_existing(region_t *r, int fd, const char *path, uint64_t memory_limit,
                             uint64_t item_size_max)
{
    struct stat st;
    header_t h;
    shmc_rc rc = read_header(fd, path, &st, &h);
    if (rc != SHMC_OK) return rc;
    uint64_t length = fs_length(fd, h.file_size); /* hugetlbfs: whole huge pages */
    if ((memory_limit && memory_limit != h.memory_limit) ||
        (item_size_max && item_size_max != h.item_size_max))
        return error_set(SHMC_BAD_FILE,
                         "%s was created with memory_limit %llu, item_size_max %llu; asked for "
                         "%llu, %llu",
                         path, (unsigned long long)h.memory_limit,
                         (unsigned long long)h.item_size_max, (unsigned long long)memory_limit,
                         (unsigned long long)item_size_max);
    /* a file with holes (copied sparse, or made before space was reserved at creation)
     * gets its memory now, or is refused: never a SIGBUS later */
    if ((uint64_t)st.st_blocks * 512 < h.file_size) {
        rc = reserve_space(fd, path, length, true);
        if (rc != SHMC_OK) return rc;
    }
    byte_lock(fd, LOCK_BYTE_OPEN, F_WRLCK, true);
    CRASHPOINT("attach.open_locked");
    rc = map_fd(r, fd, &h, PROT_READ | PROT_WRITE);
    if (rc != SHMC_OK) return rc;
    /* the header may have changed between pread and the lock only if another creator
     * replaced the file's contents, which link() prevents; re-check the mapped copy (the
     * region's pointers come from h, the copy that was validated) */
    rc = layout_validate(r->hdr, h.file_size);
    if (rc == SHMC_OK && memcmp(r->hdr, &h, offsetof(header_t, check) + sizeof h.check) != 0)
        rc = error_set(SHMC_BAD_FILE, "%s changed while it was being opened (its header)", path);
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
                    uint64_t item_size_max, unsigned hash_power, unsigned mode,
                    enum region_open_how how)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    sweep_stale_creations(path);
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && how == REGION_CREATE_ONLY) {
            close(fd);
            return error_set(SHMC_EXISTS, "cache %s exists already", path);
        }
        if (fd >= 0) {
            shmc_rc rc = open_existing(r, fd, path, memory_limit, item_size_max);
            if (rc != SHMC_OK) close(fd);
            return rc;
        }
        if (errno == EISDIR) return error_set(SHMC_BAD_FILE, "%s is a directory, not a cache file", path);
        if (errno != ENOENT) return error_set(SHMC_SYSTEM, "open %s: %s", path, strerror(errno));
        /* a removed file that live processes still use: a new one would split its users */
        int user = region_removed_user(path);
        if (user)
            return error_set(how == REGION_OPEN_ONLY ? SHMC_NOT_FOUND : SHMC_BAD_FILE,
                             "%s was removed while process %d%s still uses it: a new cache under "
                             "that name would split its users; stop it (or reopen it) first",
                             path, user, user == (int)getpid() ? " (this one)" : "");
        if (how == REGION_OPEN_ONLY) return error_set(SHMC_NOT_FOUND, "no such cache: %s", path);
        bool lost = false;
        shmc_rc rc = create_file(r, path, memory_limit ? memory_limit : 64u << 20,
                                 item_size_max ? item_size_max : 1u << 20, hash_power, mode,
                                 &lost);
        if (rc != SHMC_OK || !lost) return rc;
        if (how == REGION_CREATE_ONLY)
            return error_set(SHMC_EXISTS, "cache %s was created by another process first", path);
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

uint64_t region_overflow_claim(region_t *r)
{
    for (uint64_t k = 0; k < REGION_OVERFLOW_MAX; k++)
        if (byte_lock(r->fd, (int64_t)(OVERFLOW_BASE + (off_t)k), F_WRLCK, false) == 0) {
            r->overflow_byte = k + 1;
            return k + 1;
        }
    return 0;
}

uint64_t region_overflow_count(const region_t *r, uint64_t upto)
{
    uint64_t n = 0;
    if (upto > REGION_OVERFLOW_MAX) upto = REGION_OVERFLOW_MAX;
    for (uint64_t k = 0; k < upto; k++) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                           .l_start = OVERFLOW_BASE + (off_t)k, .l_len = 1};
        /* our own description's lock never conflicts with itself: count it by name */
        if (r->overflow_byte == k + 1 || (fcntl(r->fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK))
            n++;
    }
    return n;
}

bool region_anyone_attached(const region_t *r)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE_ATTACHED, .l_len = 1};
    return fcntl(r->fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

shmc_rc region_map_readonly(region_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    /* O_NONBLOCK: a FIFO or device under the name must not block the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return error_set(errno == ENOENT ? SHMC_NOT_FOUND : SHMC_SYSTEM, "open %s: %s",
                                 path, strerror(errno));
    struct stat st;
    header_t h;
    shmc_rc rc = read_header(fd, path, &st, &h);
    /* Reading a hole of a tmpfs file through a mapping allocates a page, and raises SIGBUS
     * when the filesystem is full: a reader maps only a file whose memory is all there. */
    if (rc == SHMC_OK && (uint64_t)st.st_blocks * 512 < h.file_size)
        rc = error_set(SHMC_BAD_FILE,
                       "%s has holes (%llu of its %llu bytes allocated): opening it with "
                       "shmc_open completes it, where its filesystem has room",
                       path, (unsigned long long)st.st_blocks * 512,
                       (unsigned long long)h.file_size);
    if (rc == SHMC_OK) rc = map_fd(r, fd, &h, PROT_READ);
    /* the pointers and sizes come from the validated private copy h, so a header changed
     * now or later cannot point anywhere; one changed before the map is refused, clearly */
    if (rc == SHMC_OK && memcmp(r->hdr, &h, offsetof(header_t, check) + sizeof h.check) != 0) {
        munmap(r->base, r->size);
        r->base = NULL;
        rc = error_set(SHMC_BAD_FILE, "%s changed while it was being opened (its header)", path);
    }
    if (rc != SHMC_OK) {
        close(fd);
        r->fd = -1;
        return rc;
    }
    return SHMC_OK;
}

void region_close(region_t *r)
{
    if (r->base) munmap(r->base, r->size);
    if (r->fd >= 0) close(r->fd);
    r->base = NULL;
    r->fd = -1;
}

/* ---- retiring a file: resize and removal (api/resize.c has the design) ---- */

shmc_rc region_build(region_t *r, const char *path, uint64_t memory_limit,
                     uint64_t item_size_max, unsigned hash_power, int like_fd, char *tmp,
                     size_t cap)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    header_t tmpl;
    shmc_rc rc = header_template(&tmpl, memory_limit, item_size_max, hash_power);
    if (rc != SHMC_OK) return rc;
    struct stat like;
    if (fstat(like_fd, &like) < 0) return error_set(SHMC_SYSTEM, "stat %s: %s", path, strerror(errno));
    /* the new file is the old one's in all but size: its mode, and its owners where we may */
    return build_unnamed(r, path, &tmpl, like.st_mode & 07777, &like, tmp, cap);
}

shmc_rc region_replace(region_t *r, const char *tmp, const char *path)
{
    char named[4200];
    if (tmp[0]) {
        snprintf(named, sizeof named, "%s", tmp);
    } else { /* O_TMPFILE: a name of its own first (swept as a creation if we die now) */
        uint64_t nonce;
        if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = (uint64_t)clock();
        snprintf(named, sizeof named, "%s.creating.%d.%llx", path, (int)getpid(),
                 (unsigned long long)nonce);
        if (publish(r->fd, "", named) < 0)
            return error_set(SHMC_SYSTEM, "link %s: %s", named, strerror(errno));
    }
    CRASHPOINT("resize.linked");
    if (rename(named, path) < 0) {
        int e = errno;
        unlink(named);
        errno = e;
        return error_set(SHMC_SYSTEM, "rename %s to %s: %s", named, path, strerror(e));
    }
    CRASHPOINT("resize.renamed");
    header_t h = *r->hdr; /* the mapping it lies in is replaced */
    remap_by_name(r, path, &h);
    return SHMC_OK;
}

bool region_names_file(const region_t *r, const char *path)
{
    struct stat mine, named;
    return stat(path, &named) == 0 && fstat(r->fd, &mine) == 0 && named.st_ino == mine.st_ino &&
           named.st_dev == mine.st_dev;
}

bool region_retire_held(const region_t *r)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE_RETIRE, .l_len = 1};
    return fcntl(r->fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

void region_retire_lock(const region_t *r) { byte_lock(r->fd, LOCK_BYTE_RETIRE, F_WRLCK, true); }

void region_retire_unlock(const region_t *r)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE_RETIRE, .l_len = 1};
    fcntl(r->fd, F_OFD_SETLK, &fl);
}

bool region_freeze(const region_t *r)
{
    header_t *h = r->hdr;
    uint64_t w = atomic_load(&h->flush);
    do {
        if (flush_due_of(w) >= FLUSH_DUE_FROZEN) return false;
        atomic_store(&h->frozen_due, flush_due_of(w));
    } while (!atomic_compare_exchange_weak(&h->flush, &w, flush_word(flush_epoch_of(w), FLUSH_DUE_FROZEN)));
    return true;
}

void region_thaw(const region_t *r, bool moved)
{
    header_t *h = r->hdr;
    uint64_t w = atomic_load(&h->flush), due = atomic_load(&h->frozen_due);
    if (due > FLUSH_DUE_MAX) due = 0;
    while (flush_due_of(w) == FLUSH_DUE_FROZEN &&
           !atomic_compare_exchange_weak(&h->flush, &w,
                                         flush_word(flush_epoch_of(w),
                                                    moved ? FLUSH_DUE_MOVED : (uint32_t)due)))
        ;
}

uint32_t region_settle(const region_t *r, const char *path)
{
    region_retire_lock(r);
    uint32_t due = flush_due_of(atomic_load(&r->hdr->flush));
    if (due == FLUSH_DUE_FROZEN) { /* its resizer or remover died: finish or undo its work */
        region_thaw(r, !region_names_file(r, path));
        due = flush_due_of(atomic_load(&r->hdr->flush));
    } else if (due == FLUSH_DUE_MOVED && region_names_file(r, path)) {
        /* a file is marked moved only once the name leads elsewhere: this mark is damage
         * (a hostile or corrupted header), and the file is live */
        uint64_t w = atomic_load(&r->hdr->flush);
        while (flush_due_of(w) == FLUSH_DUE_MOVED &&
               !atomic_compare_exchange_weak(&r->hdr->flush, &w, flush_word(flush_epoch_of(w), 0)))
            ;
        due = flush_due_of(atomic_load(&r->hdr->flush));
    }
    region_retire_unlock(r);
    return due;
}
