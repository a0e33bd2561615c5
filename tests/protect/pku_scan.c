/* pku_scan.c — the gate is the only place in libshmc with a WRPKRU: every loaded section
 * (SHF_ALLOC: code and data) of libshmc.so and of each object in libshmc.a is searched at
 * every byte offset for WRPKRU (0F 01 EF) and XRSTOR (0F AE /5, memory operand), and the only
 * hits allowed are WRPKRUs in section "shmc_gate".  And no path returns to the caller with
 * the gate open: in libshmc.so every call of an opening gate (shmc_gate_open, shmc_gate_stage)
 * is followed by the call-site marker the gate returns to (protect/gate.h), every marker
 * follows such a call, and the gate's own code checks for the marker before its one return
 * from an opening path.  Runs on any x86-64 host (no PKU needed).
 * Usage: pku_scan libshmc.so libshmc.a */
#include "protect_test.h"

#include <elf.h>
#include <stdint.h>

struct hits {
    int gate_wrpkru;   /* in section shmc_gate */
    int other_wrpkru;  /* anywhere else */
    int xrstor;        /* anywhere */
    int gate_sections; /* how many shmc_gate sections were seen */
};

/* A planted WRPKRU in this program's own data, to prove the scan finds one. */
static const unsigned char planted_wrpkru[] __attribute__((used)) = {0x90, 0x0f, 0x01, 0xef, 0x90};

static void scan_section(const unsigned char *b, size_t n, const char *name, const char *where,
                         struct hits *h)
{
    bool gate = strcmp(name, "shmc_gate") == 0;
    for (size_t i = 0; i + 3 <= n; i++) {
        if (b[i] != 0x0f) continue;
        if (b[i + 1] == 0x01 && b[i + 2] == 0xef) {
            if (gate) {
                h->gate_wrpkru++;
            } else {
                h->other_wrpkru++;
                fprintf(stderr, "%s: WRPKRU in section %s at +%#zx\n", where, name, i);
            }
        } else if (b[i + 1] == 0xae && ((b[i + 2] >> 3) & 7) == 5 && (b[i + 2] >> 6) != 3) {
            h->xrstor++;
            fprintf(stderr, "%s: XRSTOR in section %s at +%#zx\n", where, name, i);
        }
    }
}

static bool scan_sections(const unsigned char *img, size_t size, const Elf64_Shdr *sh,
                          unsigned nsh, const Elf64_Shdr *strtab, const char *where, struct hits *h);

static const unsigned char marker[7] = {0x0f, 0x1f, 0x80, 0x53, 0x48, 0x4d, 0x43};

struct sites {
    int calls;           /* calls of an opening gate */
    int calls_marked;    /* ... followed by the marker */
    int markers;         /* markers anywhere in executable sections */
    int markers_called;  /* ... right after a call of an opening gate */
};

/* The address of symbol `name` in the image's .symtab, 0 if absent. */
static uint64_t symbol(const unsigned char *img, size_t size, const Elf64_Shdr *sh, unsigned nsh,
                       const char *name)
{
    for (unsigned i = 0; i < nsh; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= nsh) continue;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset)
            return 0;
        for (size_t k = 0; k + sizeof(Elf64_Sym) <= sh[i].sh_size; k += sizeof(Elf64_Sym)) {
            Elf64_Sym sym;
            memcpy(&sym, img + sh[i].sh_offset + k, sizeof sym);
            if (sym.st_name < str->sh_size &&
                !strncmp((const char *)img + str->sh_offset + sym.st_name, name, str->sh_size - sym.st_name))
                return sym.st_value;
        }
    }
    return 0;
}

/* Calls (E8 rel32) of the opening gates in the executable sections of a linked image, and
 * the markers that must follow them. */
static void scan_call_sites(const unsigned char *img, size_t size, const Elf64_Shdr *sh,
                            unsigned nsh, struct sites *st)
{
    uint64_t open = symbol(img, size, sh, nsh, "shmc_gate_open");
    uint64_t stage = symbol(img, size, sh, nsh, "shmc_gate_stage");
    CHECK(open && stage);
    for (unsigned i = 0; i < nsh; i++) {
        if (!(sh[i].sh_flags & SHF_EXECINSTR) || sh[i].sh_type == SHT_NOBITS) continue;
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset) continue;
        const unsigned char *b = img + sh[i].sh_offset;
        size_t n = sh[i].sh_size;
        for (size_t k = 0; k + 5 <= n; k++) {
            bool called = false;
            if (b[k] == 0xe8) {
                int32_t rel;
                memcpy(&rel, b + k + 1, 4);
                uint64_t target = sh[i].sh_addr + k + 5 + (int64_t)rel;
                called = target == open || target == stage;
            }
            if (called) {
                st->calls++;
                if (k + 5 + sizeof marker <= n && !memcmp(b + k + 5, marker, sizeof marker))
                    st->calls_marked++;
                else
                    fprintf(stderr, "call of an opening gate at %#llx without the marker\n",
                            (unsigned long long)(sh[i].sh_addr + k));
            }
            if (k + sizeof marker <= n && !memcmp(b + k, marker, sizeof marker)) {
                st->markers++;
                bool after_call = false;
                if (k >= 5 && b[k - 5] == 0xe8) {
                    int32_t rel;
                    memcpy(&rel, b + k - 4, 4);
                    uint64_t target = sh[i].sh_addr + k + (int64_t)rel;
                    after_call = target == open || target == stage;
                }
                if (after_call) st->markers_called++;
                else fprintf(stderr, "marker at %#llx not after a call of an opening gate\n",
                             (unsigned long long)(sh[i].sh_addr + k));
            }
        }
    }
}

static struct sites *want_sites; /* non-NULL: also check the gate's call sites */

/* Scan one ELF64 image (a shared object, executable or relocatable object). */
static bool scan_elf(const unsigned char *img, size_t size, const char *where, struct hits *h)
{
    if (size < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG) || img[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "%s: not an ELF64 file\n", where);
        return false;
    }
    /* archive members are only 2-byte aligned: copy the headers out before reading them */
    Elf64_Ehdr ehdr;
    memcpy(&ehdr, img, sizeof ehdr);
    const Elf64_Ehdr *eh = &ehdr;
    if (eh->e_shoff > size || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum || eh->e_shstrndx >= eh->e_shnum) {
        fprintf(stderr, "%s: bad section table\n", where);
        return false;
    }
    Elf64_Shdr *sh = malloc((size_t)eh->e_shnum * sizeof *sh + 1);
    if (!sh) return false;
    memcpy(sh, img + eh->e_shoff, (size_t)eh->e_shnum * sizeof *sh);
    const Elf64_Shdr *strtab = &sh[eh->e_shstrndx];
    bool ok = scan_sections(img, size, sh, eh->e_shnum, strtab, where, h);
    if (ok && eh->e_type == ET_DYN && want_sites) scan_call_sites(img, size, sh, eh->e_shnum, want_sites);
    free(sh);
    return ok;
}

static bool scan_sections(const unsigned char *img, size_t size, const Elf64_Shdr *sh,
                          unsigned nsh, const Elf64_Shdr *strtab, const char *where, struct hits *h)
{
    if (strtab->sh_offset > size || strtab->sh_size > size - strtab->sh_offset) return false;
    const char *names = (const char *)img + strtab->sh_offset;
    for (unsigned i = 0; i < nsh; i++) {
        if (!(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_type == SHT_NOBITS) continue;
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            sh[i].sh_name >= strtab->sh_size)
            return false;
        const char *name = names + sh[i].sh_name;
        if (!strcmp(name, "shmc_gate")) h->gate_sections++;
        scan_section(img + sh[i].sh_offset, sh[i].sh_size, name, where, h);
    }
    return true;
}

/* Scan every member of an ar archive. */
static bool scan_archive(const unsigned char *img, size_t size, const char *where, struct hits *h)
{
    if (size < 8 || memcmp(img, "!<arch>\n", 8)) return false;
    size_t at = 8;
    int members = 0;
    while (at + 60 <= size) {
        const char *hdr = (const char *)img + at;
        char len_text[11] = {0};
        memcpy(len_text, hdr + 48, 10);
        size_t len = strtoull(len_text, NULL, 10);
        at += 60;
        if (len > size - at) return false;
        char name[17] = {0};
        memcpy(name, hdr, 16);
        if (name[0] != '/') { /* "/" and "//" are the symbol table and long names */
            char member[600];
            snprintf(member, sizeof member, "%s(%.16s)", where, name);
            if (!scan_elf(img + at, len, member, h)) return false;
            members++;
        } else if (name[1] != ' ' && name[1] != '/') { /* "/123": a long name */
            char member[600];
            snprintf(member, sizeof member, "%s(member at %zu)", where, at);
            if (!scan_elf(img + at, len, member, h)) return false;
            members++;
        }
        at += len + (len & 1);
    }
    return members > 0;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void check_library(const char *path, bool archive)
{
    size_t size = 0;
    unsigned char *img = slurp(path, &size);
    CHECK(img != NULL);
    if (!img) {
        perror(path);
        return;
    }
    struct hits h = {0};
    struct sites st = {0};
    want_sites = archive ? NULL : &st;
    CHECK(archive ? scan_archive(img, size, path, &h) : scan_elf(img, size, path, &h));
    want_sites = NULL;
    if (!archive) {
        printf("%s: %d calls of an opening gate, %d with the marker; %d markers, %d after such a call\n",
               path, st.calls, st.calls_marked, st.markers, st.markers_called);
        CHECK(st.calls >= 2); /* at least one of each (more where the wrappers are inlined) */
        CHECK(st.calls_marked == st.calls);
        CHECK(st.markers == st.markers_called);
    }
    printf("%s: %d WRPKRU in shmc_gate, %d elsewhere, %d XRSTOR\n", path, h.gate_wrpkru,
           h.other_wrpkru, h.xrstor);
    CHECK(h.gate_sections == 1);
    CHECK(h.gate_wrpkru >= 3); /* close, stage, open (and the trap path's close) */
    CHECK(h.other_wrpkru == 0);
    CHECK(h.xrstor == 0);
    free(img);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s libshmc.so libshmc.a\n", argv[0]);
        return 2;
    }
    check_library(argv[1], false);
    check_library(argv[2], true);

    /* The scan finds a WRPKRU that is not in the gate: this program's planted one. */
    size_t size = 0;
    unsigned char *self = slurp("/proc/self/exe", &size);
    struct hits h = {0};
    CHECK(self && scan_elf(self, size, "pku_scan", &h));
    CHECK(h.other_wrpkru >= 1);
    free(self);
    return t_finish();
}
