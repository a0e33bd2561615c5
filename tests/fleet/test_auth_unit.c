/* test_auth_unit.c — server/auth.c without sockets: the authentication file's parsing, and
 * the exchange fed whole and one byte at a time (as a slow client sends it), which must give
 * the same replies and consume every byte; a credential block far over AUTH_BLOCK_MAX is
 * discarded in pieces without being buffered; a line over AUTH_LINE_MAX closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"

static int failures, passes;
#define CHECK(c)                                                                 \
    do {                                                                         \
        if (c) passes++;                                                         \
        else {                                                                   \
            failures++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);          \
        }                                                                        \
    } while (0)

/* Feed `in` in pieces of `step` bytes (0: all at once) as connection.c does: unconsumed
 * input stays and more is appended.  Returns the replies; *closed when AUTH_CLOSE came. */
static char *feed(auth_table *t, const char *in, size_t len, size_t step, bool *closed,
                  bool *authenticated)
{
    auth_session s = {0};
    proto_out out = {0};
    char *buf = malloc(len + 1);
    size_t have = 0, pos = 0, given = 0;
    *closed = false;
    while (given < len || pos < have) {
        size_t n = step && len - given > step ? step : len - given;
        memcpy(buf + have, in + given, n);
        have += n;
        given += n;
        for (;;) {
            if (s.authenticated) { pos = have; break; } /* the rest is ordinary traffic */
            size_t used;
            auth_result r = auth_consume(t, &s, buf + pos, have - pos, &out, &used);
            if (r == AUTH_CLOSE) { *closed = true; goto done; }
            if (r == AUTH_NEED_MORE) break;
            pos += used;
        }
        if (n == 0) break;
    }
done:
    *authenticated = s.authenticated;
    free(buf);
    char *text = calloc(1, out.len + 1);
    if (out.len) memcpy(text, out.buf, out.len);
    proto_out_free(&out);
    return text;
}

static void same_whole_and_bytewise(auth_table *t, const char *in, const char *want, bool auth)
{
    for (size_t step = 0; step <= 1; step++) {
        bool closed, authd;
        char *got = feed(t, in, strlen(in), step, &closed, &authd);
        if (strcmp(got, want) != 0 || authd != auth)
            fprintf(stderr, "FAIL: step %zu for %.40s:\n got %s\nwant %s\n", step, in, got, want);
        CHECK(strcmp(got, want) == 0);
        CHECK(authd == auth && !closed);
        free(got);
    }
}

int main(void)
{
    char path[] = "/dev/shm/shmc-test-auth-XXXXXX";
    int fd = mkstemp(path);
    const char users[] = "alice:secret\r\nbob:pw:with:colons\n\ncarol:\n";
    CHECK(fd >= 0 && write(fd, users, sizeof users - 1) == (ssize_t)(sizeof users - 1));
    close(fd);
    auth_table t;
    CHECK(auth_load(&t, path));
    CHECK(t.n == 3);
    CHECK(auth_check(&t, "alice", 5, "secret", 6));
    CHECK(!auth_check(&t, "alice", 5, "secre", 5));
    CHECK(!auth_check(&t, "alice", 5, "secret\r", 7));
    CHECK(auth_check(&t, "bob", 3, "pw:with:colons", 14));
    CHECK(auth_check(&t, "carol", 5, "", 0));
    CHECK(!auth_check(&t, "Alice", 5, "secret", 6));

    const char *U = "CLIENT_ERROR unauthenticated\r\n";
    char want[512];
    same_whole_and_bytewise(&t, "get a\r\nversion\r\n", "CLIENT_ERROR unauthenticated\r\n"
                                                        "CLIENT_ERROR unauthenticated\r\n", false);
    snprintf(want, sizeof want, "%sCLIENT_ERROR authentication failure\r\nSTORED\r\n", U);
    same_whole_and_bytewise(&t, "bogus\r\nset k 0 0 9\r\nalice bad\r\nset k 0 0 12\r\nalice secret\r\n",
                            want, true);
    same_whole_and_bytewise(&t, "set k 0 0 3\r\nabc\r\n",
                            "CLIENT_ERROR bad authentication token format\r\n", false);
    same_whole_and_bytewise(&t, "set k 0 0 12\r\nalice secretXY",
                            "CLIENT_ERROR bad command line termination\r\n", false);
    same_whole_and_bytewise(&t, "set k 0 0 18 noreply\r\nbob pw:with:colons\r\n", "STORED\r\n", true);
    same_whole_and_bytewise(&t, "set k 0 0 -1\r\nset k 0 0 x\r\nset k 0 0\r\n",
                            "CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n"
                            "CLIENT_ERROR unauthenticated\r\n", false);

    /* 4 MB of credentials: discarded as they come, one failure */
    size_t big = 4u << 20;
    char *in = malloc(big + 64);
    int n = snprintf(in, 64, "set k 0 0 %zu\r\n", big);
    memset(in + n, 'a', big);
    memcpy(in + n + big, "\r\nget x\r\n", 9);
    for (size_t step = 0; step <= 4096; step += 4096) {
        bool closed, authd;
        char *got = feed(&t, in, (size_t)n + big + 9, step, &closed, &authd);
        CHECK(strcmp(got, "CLIENT_ERROR authentication failure\r\n"
                          "CLIENT_ERROR unauthenticated\r\n") == 0);
        CHECK(!closed && !authd);
        free(got);
    }
    free(in);
    /* no newline in more than AUTH_LINE_MAX bytes: close; exactly that many: wait */
    char line[AUTH_LINE_MAX + 2];
    memset(line, 'x', sizeof line);
    bool closed, authd;
    char *got = feed(&t, line, AUTH_LINE_MAX, 0, &closed, &authd);
    CHECK(!closed && got[0] == '\0');
    free(got);
    got = feed(&t, line, AUTH_LINE_MAX + 1, 0, &closed, &authd);
    CHECK(closed);
    free(got);
    CHECK(atomic_load(&t.cmds) > 0 && atomic_load(&t.errors) > 0);
    auth_free(&t);

    /* files that are refused */
    const char *bad[] = {"nocolon\n", ":nouser\n", "", "\n\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        CHECK(!auth_load(&t, path));
    }
    unlink(path);
    CHECK(!auth_load(&t, path));
    printf("%d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
