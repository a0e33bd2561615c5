/* protect_domain.c — the protection domain and its gates, below the public API (runs in
 * QEMU: needs PKU).  Keys denied in every thread (created before or after the domain, and
 * after fork), each gate state reaching exactly what it should, a jump straight to a gate's
 * WRPKRU leaving the cache closed, an opening gate returning outside libshmc trapping
 * closed, and a signal inside the gate running its handler with the gate closed. */
#include "protect_test.h"

#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "protect/domain.h"
#include "protect/gate.h"
#include "protect/pku.h"

static unsigned char *cache; /* a mapping tagged with the cache key */
static const size_t cache_len = 64 << 10;

static bool cache_denied_in(uint32_t pkru)
{
    return pt_denies(pkru, shmc_protect_domain_page.d.cache_key);
}

static bool private_denied_in(uint32_t pkru)
{
    return pt_denies(pkru, shmc_protect_domain_page.d.private_key);
}

/* ---- threads ---- */

struct thread_view {
    pthread_barrier_t *probed; /* non-NULL: probe for PKU (pku_available) first, then wait */
    pthread_barrier_t *go;     /* NULL: probe at once */
    uint32_t pkru;
    struct fault read_cache, write_cache, read_private;
    unsigned char *private_of_main;
};

static void *probe_thread(void *arg)
{
    struct thread_view *v = arg;
    if (v->probed) {
        CHECK(pku_available());
        pthread_barrier_wait(v->probed);
    }
    if (v->go) pthread_barrier_wait(v->go);
    v->pkru = pt_rdpkru();
    v->read_cache = pt_probe(cache + 100, 0);
    v->write_cache = pt_probe(cache + 200, 1);
    v->read_private = pt_probe(v->private_of_main, 0);
    return NULL;
}

static void check_thread_denied(const struct thread_view *v, const char *which)
{
    int key = shmc_protect_domain_page.d.cache_key;
    printf("%s thread: pkru %#x, read %d/%d write %d\n", which, v->pkru, v->read_cache.code,
           v->read_cache.pkey, v->write_cache.code);
    CHECK(cache_denied_in(v->pkru) && private_denied_in(v->pkru));
    CHECK(v->read_cache.code == SEGV_PKUERR && v->read_cache.pkey == key);
    CHECK(v->write_cache.code == SEGV_PKUERR && v->write_cache.pkey == key);
    CHECK(v->read_private.code == SEGV_PKUERR &&
          v->read_private.pkey == shmc_protect_domain_page.d.private_key);
}

/* ---- jumping into the gates ---- */

static void *find_wrpkru(const void *fn)
{
    for (const unsigned char *p = fn; p + 3 <= shmc_gate_end; p++)
        if (p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xef) return (void *)p;
    return NULL;
}

/* Call the instruction at `at` with EAX = pkru (ECX = EDX = 0), as a jump there would. */
static void call_into(void *at, uint32_t pkru)
{
    __asm__ volatile("xor %%ecx, %%ecx\n\t"
                     "xor %%edx, %%edx\n\t"
                     "call *%1"
                     : "+a"(pkru)
                     : "r"(at)
                     : "rcx", "rdx", "r10", "r11", "memory", "cc");
}

/* In a child: jump to shmc_gate_open's WRPKRU with EAX = 0 (everything allowed) and a return
 * address outside libshmc.  The gate must close and trap; the SIGILL handler reads the PKRU
 * saved in its frame (the trapping context's). */
static void on_sigill(int sig, siginfo_t *si, void *ucv)
{
    (void)sig, (void)si;
    uint32_t saved = pt_saved_pkru(ucv);
    _exit(cache_denied_in(saved) && private_denied_in(saved) ? 42 : 43);
}

static int open_gate_returning_outside(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO};
        sigaction(SIGILL, &sa, NULL);
        void *at = find_wrpkru((const void *)shmc_gate_open);
        __asm__ volatile("push $0x1000\n\t" /* a return address in no code at all */
                         "xor %%eax, %%eax\n\t"
                         "xor %%ecx, %%ecx\n\t"
                         "xor %%edx, %%edx\n\t"
                         "jmp *%0"
                         :
                         : "r"(at)
                         : "rax", "rcx", "rdx", "memory");
        _exit(44); /* not reached */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int stage_returning_outside(void *at)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO};
        sigaction(SIGILL, &sa, NULL);
        call_into(at, 0);
        _exit(44);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- asynchronous cancellation anywhere, the gate's own instructions included ---- */

static volatile unsigned long spins;

static void *spin_through_gates(void *arg)
{
    (void)arg;
    int old;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    for (;;) {
        gate_open(NULL);
        gate_stage();
        gate_close(NULL);
        spins++;
    }
    return NULL;
}

/* Cancel threads that spend their time in the gates: each must end cleanly, wherever in the
 * gate code the cancellation lands. */
static int cancel_in_gates(int rounds)
{
    int cancelled = 0;
    for (int i = 0; i < rounds; i++) {
        pthread_t t;
        spins = 0;
        pthread_create(&t, NULL, spin_through_gates, NULL);
        while (spins < 200 + (unsigned long)i * 37) sched_yield();
        pthread_cancel(t);
        void *ret = NULL;
        if (pthread_join(t, &ret) == 0 && ret == PTHREAD_CANCELED) cancelled++;
    }
    return cancelled;
}

/* ---- a signal inside the gate ---- */

static volatile uint32_t handler_pkru;
static volatile int handler_ran;

static void on_usr1(int sig)
{
    (void)sig;
    handler_pkru = pt_rdpkru();
    handler_ran = 1;
}

int main(void)
{
    t_setup("protect_domain");
    pt_catch_faults();

    /* A thread that exists before the keys do, and is the one that probes for PKU: the
     * probe's key number comes back as one of ours, and must stay denied in that thread. */
    pthread_barrier_t go, probed;
    pthread_barrier_init(&go, NULL, 2);
    pthread_barrier_init(&probed, NULL, 2);
    struct thread_view before = {.go = &go, .probed = &probed};
    pthread_t early;
    pthread_create(&early, NULL, probe_thread, &before);
    pthread_barrier_wait(&probed);

    CHECK_RC(protect_domain_init(), SHMC_OK);
    if (!protect_domain_ready()) {
        fprintf(stderr, "no protection domain: %s\n", shmc_last_error());
        pthread_barrier_wait(&go);
        pthread_join(early, NULL);
        return t_finish();
    }
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    CHECK_RC(protect_domain_init(), SHMC_OK); /* idempotent */
    CHECK(d->cache_key > 0 && d->private_key > 0 && d->cache_key != d->private_key);
    CHECK(cache_denied_in(pt_rdpkru()) && private_denied_in(pt_rdpkru()));
    /* The description is read-only: a stray write cannot disarm the gates. */
    CHECK(pt_probe((void *)&d->all_deny, 1).code == SEGV_ACCERR);

    cache = mmap(NULL, cache_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(cache != MAP_FAILED);
    CHECK_RC(protect_tag_cache(cache, cache_len, PROT_READ | PROT_WRITE), SHMC_OK);

    /* this thread's private record (its staging buffer's owner) */
    protect_thread_t *me = NULL;
    gate_stage();
    CHECK_RC(protect_thread_get(&me), SHMC_OK);
    if (me) protect_thread_put(me);
    gate_close(NULL);
    CHECK(me != NULL);
    if (!me) return t_finish();

    /* closed */
    struct fault f = pt_probe(cache, 0);
    CHECK(f.code == SEGV_PKUERR && f.pkey == d->cache_key);
    CHECK(pt_probe(cache + cache_len - 1, 1).code == SEGV_PKUERR);

    /* open: cache and private memory */
    gate_open(NULL);
    cache[0] = 'x';
    unsigned char *priv = protect_private_buf(me, 100);
    CHECK(priv != NULL);
    priv[0] = 'p';
    gate_close(NULL);
    CHECK(pt_probe(cache, 0).code == SEGV_PKUERR);
    f = pt_probe(priv, 0);
    CHECK(f.code == SEGV_PKUERR && f.pkey == d->private_key);

    /* staged: private memory only */
    gate_stage();
    CHECK(priv[0] == 'p');
    f = pt_probe(cache, 0);
    CHECK(f.code == SEGV_PKUERR && f.pkey == d->cache_key);
    gate_open(NULL);
    CHECK(cache[0] == 'x');
    gate_stage(); /* open -> staged closes the cache */
    CHECK(pt_probe(priv, 1).code == 0);
    CHECK(cache_denied_in(pt_rdpkru()) && !private_denied_in(pt_rdpkru()));
    CHECK(pt_probe(cache, 0).code == SEGV_PKUERR);
    /* the fault's handler ran with the kernel's default PKRU, and jumping out of it kept
     * that: everything but key 0 is denied now, as after a longjmp out of a call */
    CHECK(cache_denied_in(pt_rdpkru()) && private_denied_in(pt_rdpkru()));
    gate_close(NULL);

    /* a larger private buffer replaces the first, still under the key */
    gate_stage();
    unsigned char *big = protect_private_buf(me, 3 << 20);
    CHECK(big != NULL);
    big[(3 << 20) - 1] = 1;
    gate_close(NULL);
    CHECK(pt_probe(big + 5, 0).code == SEGV_PKUERR);
    gate_stage();
    unsigned char *shared = protect_private_alloc(5000);
    gate_close(NULL);
    CHECK(shared != NULL);
    CHECK(pt_probe(shared + 4999, 0).code == SEGV_PKUERR);
    gate_stage();
    protect_private_free(shared, 5000);
    gate_close(NULL);

    /* the other bits of PKRU are left alone */
    uint32_t others = pt_rdpkru() & ~d->all_deny;
    gate_open(NULL);
    CHECK((pt_rdpkru() & ~d->all_deny) == others);
    gate_close(NULL);
    CHECK((pt_rdpkru() & ~d->all_deny) == others);

    /* threads from before and after */
    before.private_of_main = big;
    pthread_barrier_wait(&go);
    pthread_join(early, NULL);
    check_thread_denied(&before, "earlier");
    struct thread_view after = {.private_of_main = big};
    pthread_t late;
    pthread_create(&late, NULL, probe_thread, &after);
    pthread_join(late, NULL);
    check_thread_denied(&after, "later");
    /* a thread started while this one is inside the gate (the library never does this, but
     * the key must not leak through inheritance into anything it did) */
    gate_open(NULL);
    struct thread_view inside = {.private_of_main = big};
    pthread_t child;
    pthread_create(&child, NULL, probe_thread, &inside);
    pthread_join(child, NULL);
    gate_close(NULL);
    printf("thread created inside the gate: pkru %#x (inherits its creator's)\n", inside.pkru);
    CHECK(!cache_denied_in(inside.pkru)); /* documented: why no caller code runs in the gate */

    /* fork: the child has the same keys, denied */
    pid_t pid = fork();
    if (pid == 0) {
        struct fault cf = pt_probe(cache, 0);
        _exit(cf.code == SEGV_PKUERR && cf.pkey == d->cache_key ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a jump straight to the closing WRPKRU with everything allowed leaves it closed */
    void *close_wrpkru = find_wrpkru((const void *)shmc_gate_close);
    void *stage_wrpkru = find_wrpkru((const void *)shmc_gate_stage);
    CHECK(close_wrpkru != NULL && stage_wrpkru != NULL);
    if (close_wrpkru && stage_wrpkru) {
        call_into(close_wrpkru, 0);
        CHECK(cache_denied_in(pt_rdpkru()) && private_denied_in(pt_rdpkru()));
        CHECK(pt_probe(cache, 0).code == SEGV_PKUERR);
        /* staging entered at its WRPKRU, returning to no call site of libshmc: closes, traps */
        CHECK(stage_returning_outside(stage_wrpkru) == 42);
    }
    /* an opening gate that would return outside libshmc closes and traps */
    CHECK(open_gate_returning_outside() == 42);

    CHECK(cancel_in_gates(40) == 40);
    CHECK(cache_denied_in(pt_rdpkru()));

    /* a signal inside the gate: the handler runs closed; the call resumes open */
    signal(SIGUSR1, on_usr1);
    gate_open(NULL);
    raise(SIGUSR1);
    uint32_t resumed = pt_rdpkru();
    CHECK(cache[0] == 'x');
    gate_close(NULL);
    CHECK(handler_ran);
    printf("pkru in the handler %#x, after it %#x\n", handler_pkru, resumed);
    CHECK(cache_denied_in(handler_pkru) && private_denied_in(handler_pkru));
    CHECK(!cache_denied_in(resumed));

    /* the gates do nothing harmful when called closed twice */
    gate_close(NULL);
    gate_close(NULL);
    CHECK(cache_denied_in(pt_rdpkru()));
    munmap(cache, cache_len);
    return t_finish();
}
