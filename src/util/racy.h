/* racy.h — marking reads that race with writers by design, for ThreadSanitizer.
 *
 * Two kinds of read look at bytes another thread or process may be writing this moment and
 * prove what they saw afterwards: the index's optimistic copies (validated by the bucket's
 * version) and cleaning's look for items hidden in room it is about to write (validated
 * under the stripe lock).  Between RACY_READS_BEGIN() and RACY_READS_END() TSan neither
 * reports nor records this thread's reads.  Recording them would also be wrong across
 * processes: TSan cannot see another process's locks, so a read that the other process's
 * lock ordered before a write seen here would be reported as a race. */
#ifndef SHMC_RACY_H
#define SHMC_RACY_H

#if defined(__SANITIZE_THREAD__)
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define RACY_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define RACY_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define RACY_READS_BEGIN() ((void)0)
#define RACY_READS_END() ((void)0)
#endif

#endif
