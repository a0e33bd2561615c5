/* proto_check.h — counting checks for the protocol unit tests, which link only the pure
 * shmc_protocol library (testutil.h would pull in libshmc for its cache checker). */
#ifndef SHMC_PROTO_CHECK_H
#define SHMC_PROTO_CHECK_H

#include <stdio.h>
#include <string.h>

static int pc_passed, pc_failed;

#define PCHECK(cond)                                                                      \
    do {                                                                                  \
        if (cond) {                                                                       \
            pc_passed++;                                                                  \
        } else {                                                                          \
            pc_failed++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                 \
    } while (0)

/* Two C strings (either may be NULL) are equal. */
#define PCHECK_STR(got, want)                                                             \
    do {                                                                                  \
        const char *g_ = (got), *w_ = (want);                                             \
        if ((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0)) {            \
            pc_passed++;                                                                  \
        } else {                                                                          \
            pc_failed++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                        \
        }                                                                                 \
    } while (0)

static int pc_finish(void)
{
    printf("%d passed, %d failed\n", pc_passed, pc_failed);
    return pc_failed ? 1 : 0;
}

#endif
