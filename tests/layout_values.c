/* layout_values.c — prints the LAYOUT_V_* lines of src/region/layout.h for the layout as the
 * sources now define it: after a change to the counters or to a structure of the file, bump
 * LAYOUT_VERSION and paste these (docs/architecture.md, "How to add a counter").  Built
 * without layout.h's version assertions, which such a change trips. */
#define SHMC_LAYOUT_UNCHECKED
#include <stddef.h>
#include <stdio.h>

#include "region/layout.h"

int main(void)
{
    printf("#define LAYOUT_V_COUNTERS %uu\n", (unsigned)C_COUNT);
    printf("#define LAYOUT_V_COUNTER_SIG %uu\n", (unsigned)LAYOUT_COUNTER_SIG);
    printf("#define LAYOUT_V_HEADER %zuu\n", sizeof(header_t));
    printf("#define LAYOUT_V_RETIRED %zuu\n", offsetof(header_t, retired));
    printf("#define LAYOUT_V_THREAD_SLOT %zuu\n", sizeof(thread_slot_t));
    printf("#define LAYOUT_V_PROC_SLOT %zuu\n", sizeof(proc_slot_t));
    printf("#define LAYOUT_V_STRIPE %zuu\n", sizeof(stripe_t));
    printf("#define LAYOUT_V_HEAD %zuu\n", sizeof(head_t));
    printf("#define LAYOUT_V_SEGMETA %zuu\n", sizeof(segmeta_t));
    printf("#define LAYOUT_V_ITEM_HEADER %uu\n", (unsigned)LAYOUT_ITEM_HEADER);
    return 0;
}
