/* pku_sealed_planted.c — a program whose own code holds a WRPKRU (planted in .text below,
 * never executed) cannot open a cache sealed: the scan finds it in the program's file and
 * the open fails with SHMC_UNSUPPORTED naming it.  The same program opens the cache with
 * SHMC_PROTECT_PKU (sealing is what refuses).  Runs in QEMU: needs PKU. */
#include "protect_test.h"

#include "protect/seal.h"

__asm__(".pushsection .text\n"
        ".globl planted_wrpkru\n"
        ".type planted_wrpkru, @function\n"
        "planted_wrpkru:\n"
        "    xor %ecx, %ecx\n"
        "    xor %edx, %edx\n"
        "    wrpkru\n"
        "    ret\n"
        ".popsection\n");
extern const unsigned char planted_wrpkru[];

static int at_plant;

static void note(void *ctx, const struct seal_finding *f)
{
    (void)ctx;
    printf("finding: %s at %#lx (%s+%#llx)\n", seal_kind_name(f->kind), (unsigned long)f->addr,
           f->mapping, (unsigned long long)f->offset);
    if (f->kind == SEAL_WRPKRU && f->addr == (uintptr_t)planted_wrpkru + 4) at_plant++;
}

int main(void)
{
    t_setup("pku_sealed_planted");
    CHECK(seal_scan(note, NULL) == 1);
    CHECK(at_plant == 1);

    shmc_config cfg = t_config(2 << 20, 64 << 10);
    cfg.protect = SHMC_PROTECT_SEALED;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("c"), &cfg), SHMC_UNSUPPORTED);
    printf("sealed open: %s\n", shmc_last_error());
    CHECK(strstr(shmc_last_error(), "WRPKRU") != NULL);
    CHECK(strstr(shmc_last_error(), "pku_sealed_planted") != NULL);
    CHECK(c == NULL);

    cfg.protect = SHMC_PROTECT_PKU;
    CHECK_RC(shmc_open(&c, t_path("c"), &cfg), SHMC_OK);
    CHECK_RC(shmc_set(c, "k", 1, "v", 1, 0, 0), SHMC_OK);
    shmc_close(c);
    t_check_file(t_path("c"));
    return t_finish();
}
