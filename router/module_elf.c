/*
 * module_elf.c - a sanity check of a module file before dlopen.
 *
 * dlopen maps the file's segments as its program headers describe them.
 * If the file is shorter than they say - a .so caught half-written while
 * the linker rewrites it during `make` - the mapping is made anyway, and
 * the first touch of a page past the end of the file kills the whole
 * server with SIGBUS. So module.c first checks that the file is a shared
 * object for this machine and that everything the headers point at lies
 * inside the file. This is no defence against a hostile file (a module
 * runs inside the server and is trusted code), only against an
 * unfinished one.
 */
#include "router.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* True if [off, off + len) lies within size bytes, without overflow. */
static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static bool header_ok(const ElfW(Ehdr) *eh, uint64_t size, char *why,
                      size_t why_size)
{
    const char *bad = NULL;
    if (eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 ||
        eh->e_ident[EI_MAG2] != ELFMAG2 || eh->e_ident[EI_MAG3] != ELFMAG3)
        bad = "not an ELF file";
    else if (eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
        bad = "ELF class of another machine";
    else if (eh->e_type != ET_DYN)
        bad = "not a shared object";
    else if (eh->e_phentsize != sizeof(ElfW(Phdr)) ||
             !inside(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)), size))
        bad = "program headers outside the file (truncated?)";
    else if (eh->e_shoff != 0 &&
             !inside(eh->e_shoff, (uint64_t)eh->e_shnum * eh->e_shentsize, size))
        bad = "section headers outside the file (truncated?)";
    if (bad != NULL)
        snprintf(why, why_size, "%s", bad);
    return bad == NULL;
}

int rt_module_elf_check(int fd, char *why, size_t why_size)
{
    struct stat st;
    ElfW(Ehdr) eh;
    if (fstat(fd, &st) != 0 ||
        pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) {
        snprintf(why, why_size, "file too short for an ELF header");
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!header_ok(&eh, size, why, why_size))
        return -1;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        ElfW(Phdr) ph;
        off_t at = (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph);
        if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph) {
            snprintf(why, why_size, "cannot read program header %u", i);
            return -1;
        }
        if ((ph.p_type == PT_LOAD || ph.p_type == PT_DYNAMIC) &&
            !inside(ph.p_offset, ph.p_filesz, size)) {
            snprintf(why, why_size, "segment %u outside the file (truncated?)", i);
            return -1;
        }
    }
    return 0;
}
