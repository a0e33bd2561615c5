/* main.c — shmcd: open (or create) a shmc cache file and serve it over memcached's text
 * and meta protocols, so network clients and local library users share the same items.
 *
 * The main thread binds the listeners, starts the workers, then accepts connections and
 * waits for signals (through a signalfd), as memcached 1.6 handles them: SIGTERM and SIGINT
 * stop the server, SIGUSR1 stops it gracefully ("shutdown graceful" raises it; the cache
 * file keeps its items either way, so both stops are the same here), SIGHUP reloads the TLS
 * certificates under -Z and is otherwise ignored.  On a stop it closes the listeners and
 * every connection, detaches from the cache, removes the pid file and exits 0. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "auth.h"
#include "listener.h"
#include "perm.h"
#include "server.h"
#include "conn_table.h"
#include "tls.h"
#include "worker.h"

void server_log(server_t *srv, unsigned level, const char *fmt, ...)
{
    if (atomic_load_explicit(&srv->verbosity, memory_order_relaxed) < level) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void hook_stats(void *arg, proto_server_stats *s)
{
    server_t *srv = arg;
    s->uptime = (uint64_t)(time(NULL) - srv->started);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->rusage_user = ru.ru_utime;
        s->rusage_system = ru.ru_stime;
    }
    s->max_connections = srv->opt.max_conns;
    s->curr_connections = atomic_load(&srv->curr_conns);
    s->total_connections = atomic_load(&srv->total_conns);
    s->rejected_connections = atomic_load(&srv->rejected_conns);
    s->malloc_fails = atomic_load(&srv->malloc_fails);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        s->bytes_read += atomic_load_explicit(&w->bytes_read, memory_order_relaxed);
        s->bytes_written += atomic_load_explicit(&w->bytes_written, memory_order_relaxed);
        s->connection_structures += atomic_load(&w->conn_structures);
        s->conn_yields += atomic_load_explicit(&w->conn_yields, memory_order_relaxed);
        s->idle_kicks += atomic_load_explicit(&w->idle_kicks, memory_order_relaxed);
    }
    s->read_buf_count = atomic_load_explicit(&srv->rbuf_count, memory_order_relaxed);
    s->read_buf_bytes = atomic_load_explicit(&srv->rbuf_bytes, memory_order_relaxed);
    s->read_buf_oom = atomic_load_explicit(&srv->read_buf_oom, memory_order_relaxed);
    s->threads = srv->nworkers;
    s->idle_timeout_on = srv->opt.idle_timeout > 0;
    if (srv->auth) {
        s->auth_cmds = atomic_load(&srv->auth->cmds);
        s->auth_errors = atomic_load(&srv->auth->errors);
    }
    s->auth_cmds += atomic_load(&srv->sasl.cmds);
    s->auth_errors += atomic_load(&srv->sasl.errors);
}

/* Load the -Z certificates and the -Y file before serving; false after saying why. */
static bool security_start(server_t *srv)
{
    static auth_table auth;
    if (srv->opt.sec.tls && !(srv->tls = tls_server_new(&srv->opt.sec))) return false;
    if (srv->opt.sec.auth_file) {
        if (!auth_load(&auth, srv->opt.sec.auth_file)) return false;
        srv->auth = &auth;
    }
    if (srv->opt.sasl && !shmcd_sasl_init(srv->opt.verbosity)) return false;
    return true;
}

static void security_stop(server_t *srv)
{
    tls_server_free(srv->tls);
    srv->tls = NULL;
    if (srv->auth) auth_free(srv->auth);
    srv->auth = NULL;
    if (srv->opt.sasl) shmcd_sasl_done();
}

static shmc_rc hook_settings(void *arg, proto_setting_fn emit, void *ctx)
{
    server_t *srv = arg;
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(srv->env.cache, &st);
    if (rc != SHMC_OK) return rc;
    shmcd_live live = {.verbosity = atomic_load(&srv->verbosity),
                       .limit_maxbytes = st.limit_maxbytes,
                       .item_size_max = st.item_size_max,
                       .hash_buckets = st.hash_buckets,
                       .detail_enabled = atomic_load(&srv->env.detail_enabled)};
    shmcd_settings(&srv->opt, &live, emit, ctx);
    return SHMC_OK;
}

static void hook_verbosity(void *arg, unsigned level)
{
    server_t *srv = arg;
    atomic_store(&srv->verbosity, level);
}

/* An existing cache of another size than -m/-I asks for: resized with --resize (shmc_resize:
 * its items kept, its other users following), else refused, saying how.  false: refused or
 * failed, message printed. */
static bool resize_if_asked(const shmcd_options *opt)
{
    shmc_info_t info;
    if (shmc_info(opt->cache, &info) != SHMC_OK) return true; /* missing: it is created */
    uint64_t m = opt->memory_mib ? (uint64_t)opt->memory_mib << 20 : 0;
    uint64_t item = opt->item_size_max;
    if ((!m || m == info.memory_limit) && (!item || item == info.item_size_max)) return true;
    if (!opt->resize) {
        fprintf(stderr,
                "shmcd: cache '%s' has -m %llum -I %llu; asked for -m %llum -I %llu: start with "
                "--resize to resize it (keeping its items; its other users follow), or without "
                "-m/-I to serve it as it is\n",
                opt->cache, (unsigned long long)(info.memory_limit >> 20),
                (unsigned long long)info.item_size_max,
                (unsigned long long)((m ? m : info.memory_limit) >> 20),
                (unsigned long long)(item ? item : info.item_size_max));
        return false;
    }
    shmc_resize_info r;
    shmc_rc rc = shmc_resize(opt->cache, m, item, &r);
    if (rc != SHMC_OK) {
        fprintf(stderr, "shmcd: cannot resize cache '%s': %s (%s)\n", opt->cache,
                shmc_strerror(rc), shmc_last_error());
        return false;
    }
    fprintf(stderr, "shmcd: resized cache '%s' to -m %llum -I %llu: %llu items kept, %llu over "
                    "the item size limit left out, %llu evicted\n",
            opt->cache, (unsigned long long)(r.memory_limit >> 20),
            (unsigned long long)r.item_size_max, (unsigned long long)r.items,
            (unsigned long long)r.too_large, (unsigned long long)r.evicted);
    return true;
}

/* "shutdown" (-A): the signal memcached raises, sent to the process, so that the main
 * thread's signalfd reads it (each thread has every handled signal blocked). */
static void hook_shutdown(void *arg, bool graceful)
{
    server_t *srv = arg;
    server_log(srv, 1, "shmcd: shutdown%s command received", graceful ? " graceful" : "");
    kill(getpid(), graceful ? SIGUSR1 : SIGINT);
}

static shmc_t *open_cache(const shmcd_options *opt)
{
    if (!resize_if_asked(opt)) return NULL;
    shmc_config cfg;
    shmc_config_init(&cfg);
    /* 0: take an existing file's own limits; a new file gets the library's defaults */
    cfg.memory_limit = opt->memory_mib ? opt->memory_mib << 20 : 0;
    cfg.item_size_max = opt->item_size_max;
    if (opt->cache_mode) cfg.mode = opt->cache_mode;
    if (opt->no_evict) cfg.flags |= SHMC_OPEN_NO_EVICT;
    cfg.hash_power = opt->hash_power; /* a new cache's; an existing one keeps its own */
    shmc_t *cache = NULL;
    shmc_rc rc = perm_open(&cache, opt->cache, &cfg,
                           opt->cache_group_given ? opt->cache_gid : (gid_t)-1, NULL);
    if (rc != SHMC_OK) {
        const char *detail = shmc_last_error();
        fprintf(stderr, "shmcd: cannot open cache '%s': %s%s%s%s\n", opt->cache,
                shmc_strerror(rc), detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
        if (rc == SHMC_SYSTEM) fprintf(stderr, "shmcd: system error: %s\n", strerror(errno));
        return NULL;
    }
    return cache;
}

static bool drop_privileges(const char *user)
{
    if (!user || getuid() != 0) return true;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "shmcd: no such user '%s'\n", user);
        return false;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "shmcd: cannot become user '%s': %s\n", user, strerror(errno));
        return false;
    }
    return true;
}

static bool write_pidfile(const char *path)
{
    if (!path) return true;
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        fprintf(stderr, "shmcd: cannot write pid file %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* SIGHUP: memcached ignores it; shmcd stays up too, and under -Z loads its certificate, key
 * and CA files again (systemd's ExecReload), as memcached's refresh_certs command does. */
static void reload(server_t *srv)
{
    if (!srv->tls) {
        server_log(srv, 1, "shmcd: SIGHUP received: nothing to reload");
        return;
    }
    if (tls_server_reload(srv->tls))
        fprintf(stderr, "shmcd: SIGHUP: TLS certificates reloaded\n");
    else
        fprintf(stderr, "shmcd: SIGHUP: TLS certificates not reloaded, the old ones stay in use\n");
}

/* Accept connections until SIGTERM, SIGINT or SIGUSR1 arrives. */
static void serve(server_t *srv, listeners_t *ls, int sigfd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        fprintf(stderr, "shmcd: epoll_create1: %s\n", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sigfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &ev);
    for (size_t i = 0; i < ls->n; i++) {
        ev.data.fd = ls->fds[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, ls->fds[i], &ev);
    }
    for (;;) {
        struct epoll_event events[SHMCD_MAX_LISTENERS + 1];
        int n = epoll_wait(ep, events, SHMCD_MAX_LISTENERS + 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "shmcd: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == sigfd) {
                struct signalfd_siginfo si;
                if (read(sigfd, &si, sizeof si) != (ssize_t)sizeof si) continue;
                if (si.ssi_signo == SIGHUP) {
                    reload(srv);
                    continue;
                }
                if (si.ssi_signo == SIGUSR1) server_log(srv, 1, "Gracefully stopping");
                else server_log(srv, 1, "Signal handled: %s.", strsignal((int)si.ssi_signo));
                close(ep);
                return;
            }
            for (size_t k = 0; k < ls->n; k++)
                if (ls->fds[k] == events[i].data.fd)
                    listener_accept(srv, ls->fds[k], ls->plain[k]);
        }
    }
    close(ep);
}

int main(int argc, char **argv)
{
    static server_t srv;
    switch (shmcd_parse_options(argc, argv, &srv.opt)) {
    case SHMCD_OPT_EXIT: return 0;
    case SHMCD_OPT_ERROR: shmcd_free_options(&srv.opt); return 64;
    case SHMCD_OPT_FATAL: shmcd_free_options(&srv.opt); return 1;
    case SHMCD_OPT_RUN: break;
    }
    atomic_store(&srv.verbosity, srv.opt.verbosity);
    srv.started = time(NULL);

    /* SIGTERM/SIGINT/SIGUSR1/SIGHUP go to the signalfd; every thread inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGUSR1);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
    if (sigfd < 0) {
        fprintf(stderr, "shmcd: signalfd: %s\n", strerror(errno));
        return 1;
    }

    if (!security_start(&srv)) return 1;
    listeners_t ls;
    int lrc = listeners_open(&ls, &srv.opt);
    if (lrc) return lrc;
    shmc_t *cache = open_cache(&srv.opt);
    if (!cache) {
        listeners_close(&ls);
        return 1;
    }
    proto_hooks hooks = {.server_stats = hook_stats, .settings = hook_settings,
                         .set_verbosity = hook_verbosity, .conns = conn_table_list,
                         .shutdown = hook_shutdown, .arg = &srv};
    for (size_t i = 0; i < ls.n; i++) conn_table_add_listener(ls.fds[i]);
    shmc_rc rc = proto_env_init(&srv.env, cache, &hooks);
    if (rc != SHMC_OK) {
        fprintf(stderr, "shmcd: cannot read the cache's settings: %s\n", shmc_strerror(rc));
        shmc_close(cache);
        listeners_close(&ls);
        return 1;
    }
    srv.env.dump_disabled = srv.opt.no_dump;
    srv.env.flush_disabled = srv.opt.flush_disabled;
    srv.env.watch_disabled = srv.opt.watch_disabled;
    srv.env.cas_disabled = srv.opt.cas_disabled;
    srv.env.shutdown_enabled = srv.opt.shutdown_enabled;
    if (srv.opt.prefix_delimiter) {
        srv.env.prefix_delimiter = srv.opt.prefix_delimiter;
        atomic_store(&srv.env.detail_enabled, true);
    }
    if (!drop_privileges(srv.opt.user)) return 1;
    if (srv.opt.daemonize && daemon(1, srv.opt.verbosity > 0) != 0) {
        fprintf(stderr, "shmcd: daemon: %s\n", strerror(errno));
        return 1;
    }
    if (!write_pidfile(srv.opt.pidfile)) return 1;

    srv.nworkers = srv.opt.threads;
    srv.workers = calloc(srv.nworkers, sizeof *srv.workers);
    if (!srv.workers) {
        fprintf(stderr, "shmcd: out of memory\n");
        if (srv.opt.pidfile) unlink(srv.opt.pidfile);
        return 1;
    }
    for (unsigned i = 0; i < srv.nworkers; i++) {
        if (!worker_start(&srv.workers[i], &srv, i)) {
            fprintf(stderr, "shmcd: cannot start worker %u: %s\n", i, strerror(errno));
            for (unsigned j = 0; j < i; j++) worker_stop(&srv.workers[j]);
            if (srv.opt.pidfile) unlink(srv.opt.pidfile);
            return 1;
        }
    }
    server_log(&srv, 1, "shmcd %s serving cache '%s' (%u threads, port %d%s%s)",
               PROTO_VERSION_STRING, srv.opt.cache, srv.nworkers, srv.opt.port,
               srv.opt.unix_path ? ", socket " : "", srv.opt.unix_path ? srv.opt.unix_path : "");

    serve(&srv, &ls, sigfd);

    listeners_close(&ls);
    for (unsigned i = 0; i < srv.nworkers; i++) worker_stop(&srv.workers[i]);
    free(srv.workers);
    proto_env_destroy(&srv.env);
    shmc_close(cache);
    security_stop(&srv);
    if (srv.opt.pidfile) unlink(srv.opt.pidfile);
    shmcd_free_options(&srv.opt);
    close(sigfd);
    return 0;
}
