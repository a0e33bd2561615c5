/* cli.h — what the shmc command's subcommands share: the table row, the parsed arguments,
 * the exit statuses and a few helpers.  A new subcommand is one function and one row of the
 * table in shmc.c. */
#ifndef SHMC_TOOLS_CLI_H
#define SHMC_TOOLS_CLI_H

#include <shmc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (shmc --help and shmc(1) list them). */
enum {
    EXIT_OK_ = 0,          /* done */
    EXIT_MISS = 1,         /* miss, not stored, cas mismatch; check: violations */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_REFUSED_FILE = 3, /* not a usable cache file, or a damaged dump */
    EXIT_NO_CACHE = 4,     /* no such cache */
    EXIT_EXISTS = 5,       /* create: the cache exists already */
    /* 6 was "busy" while rm refused attached caches; it tells them now (rm.c) */
    EXIT_REJECTED = 7,     /* the cache refused the request: bad key, too large, ... */
    EXIT_SYSTEM = 8,       /* a system call failed: permission, space, ... */
    EXIT_UNSUPPORTED = 9,  /* not supported on this machine */
};

/* Long-only options, indexed after the letters. */
enum { OPT_MODE = 128, OPT_GROUP, OPT_EXIST_OK, OPT_FORCE, OPT_JSON, OPT_COUNT };

#define CLI_MAX_POS 8

typedef struct cli_command cli_command;
typedef struct cli_args {
    const cli_command *cmd;
    const char *pos[CLI_MAX_POS]; /* the positional arguments, CACHE first */
    int npos;
    const char *opt[OPT_COUNT];   /* an option's value ("" for a flag); NULL: not given */
    int verbose;                  /* -v, counted */
    bool json;                    /* --json */
} cli_args;

struct cli_command {
    const char *name;
    const char *synopsis;  /* after "shmc NAME"; names every option the command takes */
    int min_pos, max_pos;  /* positional arguments allowed */
    const char *summary;   /* one line, for shmc --help */
    const char *options;   /* the option lines of shmc NAME --help */
    int (*run)(cli_args *a);
};

/* The exit status for a library result. */
int cli_status(shmc_rc rc);
/* Print "shmc: what: why" on stderr (the library's detail, else the code's text); return
 * cli_status(rc). */
int cli_fail(const char *what, shmc_rc rc);
/* Print "no such cache" for cache (with the library's reason when a removed cache is still
 * in use; hint: how to make one); EXIT_NO_CACHE. */
int cli_no_cache(const char *cache, bool hint);
/* Open an existing cache; on failure print why and return the exit status (0: opened). */
int cli_open(const char *cache, shmc_t **out);
/* Print the command's synopsis on stderr; EXIT_USAGE. */
int cli_usage(const cli_args *a);
bool cli_u64(const char *s, uint64_t *out);
bool cli_i64(const char *s, int64_t *out);
/* s[0..n) as a JSON string literal. */
void cli_json_string(FILE *f, const char *s, size_t n);
/* lead (e.g. ", \"path\": "), then the C string s as a JSON string literal, on stdout. */
void cli_json_str(const char *lead, const char *s);


/* Subcommands with a file of their own. */
int cmd_ls(cli_args *a);
int cmd_rm(cli_args *a);
int cmd_resize(cli_args *a);  /* resize.c */
int cmd_top(cli_args *a);
int cmd_dump(cli_args *a);    /* dump.c */
int cmd_restore(cli_args *a);

#endif
