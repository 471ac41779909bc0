// malloc-oracle: runs a script of malloc/calloc/realloc/free/mallopt calls on the real glibc
// (Debian 12: glibc 2.36) and prints, after every call, where the result lies and the state of
// every heap page. GlibcMallocOracleTests runs the same script through GlibcMalloc and compares.
//
// The program allocates nothing before the script: no stdio (output goes through a static buffer
// and write(2)), the script is read with open/read into a static buffer, and /proc/self/pagemap
// with pread. So its heap is fresh: the first malloc sees an empty main arena.
//
// Script (one call per line; IDs 0..4095 name pointers, an unset ID is NULL):
//   m ID SIZE      ID = malloc(SIZE)
//   c ID SIZE      ID = calloc(1, SIZE)
//   r ID SIZE      ID = realloc(ID, SIZE)   (ID keeps its old pointer when realloc fails)
//   f ID           free(ID); ID = NULL
//   o PARAM VALUE  mallopt(PARAM, VALUE)   (PARAM as in malloc.h: -1 trim, -2 top pad,
//                                             -3 mmap threshold, -4 mmap max, 1 mxfast)
//   b OFFSET       map one PROT_NONE page at initial break + OFFSET (MAP_FIXED_NOREPLACE): brk
//                  cannot grow to within a page of it, so sbrk fails and glibc falls back to mmap
// Output: a first line `init brkoff=HEX` (the initial break's offset in its page), then one line
// per call:
//   N ret=R brk=HEX heap=RLE
// R is `null`, `-` (free), `=V` (mallopt's or b's result), `h+HEX/SZ` (offset of the pointer from
// the initial break, chunk size from the header), `mmap/SZ/RLE` (a mapped chunk: its chunk size and
// the states of its mapping's pages), or `x/SZ` (a chunk outside the heap that is not mapped on its
// own: carved from the top glibc mapped when sbrk failed; its address is the kernel's choice). brk is the break's offset from the initial break. RLE is the
// state of each page from the initial break's page up to the break, run-length coded: W = present
// and exclusively mapped (a written private page), Z = present and not exclusive (the shared zero
// page: only read), U = not present; e.g. `W2U31`.
//
// With -w, each line then has ` flt=N wr=LIST`: the minor faults the call took (getrusage) and
// the pages it wrote. Before each call the oracle registers the heap and every live mapped chunk
// with a userfaultfd in write-protect mode with UFFD_FEATURE_WP_ASYNC (Linux 6.7; this kernel has
// no CONFIG_MEM_SOFT_DIRTY, so soft-dirty cannot be used) and write-protects them (UFFDIO_WRITEPROTECT);
// the kernel resolves a write to a protected page by itself, clearing the PTE's uffd-wp bit
// (pagemap bit 57), and counts it as a fault. A page the call wrote is then present, exclusive and
// not protected (pages of a VMA created during the call, a brk extension or a new mapping, are
// never protected: all of theirs are new). LIST is `-` or comma-separated runs: `hA` or `hA-B`
// (heap pages from the initial break's page), `ID:A` or `ID:A-B` (pages of the mapped chunk held
// by ID, from its mapping's start), `ID:*` (the mapped chunk of a realloc of a mapped chunk: it is
// left unprotected, see below, so its writes cannot be told). Pages unmapped by the call,
// and the mapping sysmalloc falls back to when sbrk fails, are not shown. Then ` maps=ID:RLE,...`
// (or `maps=-`): the page states of every live mapped chunk, by ID. Faults count every
// first touch of a page (a read maps the zero page: one; a write after it: another), every first
// write to a page present before the call (the write-protection fault), and nothing for reads of
// present pages. A read of an untouched page shows as Z in the page states; one later written in
// the same call shows only in the fault count.
//
// With -i, each line ends with mallinfo2's arena (system_mem), fordblks (free bytes), keepcost (the
// top chunk's size) and hblkhd (bytes in mapped chunks), in hex.
//
// Build: cc -O1 -fno-builtin -o malloc-oracle malloc-oracle.c; run: ./malloc-oracle SCRIPT [-i] [-w]
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

static char script[16 << 20];
static char out[1 << 20];
static size_t outLength;
static uint64_t pagemapEntries[4096];
static void *pointers[4096];
static int pagemap = -1;
static int uffd = -1;

// Calls through volatile pointers: the compiler may not fold or drop them.
static void *(*volatile callMalloc)(size_t) = malloc;
static void *(*volatile callCalloc)(size_t, size_t) = calloc;
static void *(*volatile callRealloc)(void *, size_t) = realloc;
static void (*volatile callFree)(void *) = free;
static int (*volatile callMallopt)(int, int) = mallopt;

static void flush(void) {
    size_t done = 0;
    while (done < outLength) {
        ssize_t n = write(1, out + done, outLength - done);
        if (n <= 0) _exit(3);
        done += (size_t)n;
    }
    outLength = 0;
}

static void put(const char *s) {
    size_t n = strlen(s);
    if (outLength + n + 64 > sizeof out) flush();
    memcpy(out + outLength, s, n);
    outLength += n;
}

static void putChar(char c) {
    if (outLength + 64 > sizeof out) flush();
    out[outLength++] = c;
}

static void putHex(uint64_t v) {
    char digits[17];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n) putChar(digits[--n]);
}

static void putDec(uint64_t v) {
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) putChar(digits[--n]);
}

static void die(const char *why) {
    put("error ");
    put(why);
    putChar('\n');
    flush();
    _exit(2);
}

// The states of pages [first, first + count), run-length coded.
static void putPages(uint64_t firstPage, uint64_t count) {
    char run = 0;
    uint64_t runLength = 0;
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done;
        if (n > 4096) n = 4096;
        ssize_t got = pread(pagemap, pagemapEntries, n * 8, (off_t)((firstPage + done) * 8));
        if (got != (ssize_t)(n * 8)) die("pagemap");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t e = pagemapEntries[i];
            char state = !(e >> 63 & 1) ? 'U' : (e >> 56 & 1) ? 'W' : 'Z';
            if (state != run && runLength) {
                putChar(run);
                putDec(runLength);
                runLength = 0;
            }
            run = state;
            runLength++;
        }
        done += n;
    }
    if (runLength) {
        putChar(run);
        putDec(runLength);
    }
}

// With -w: write-protects the present pages of [address, address + length) through the
// userfaultfd. Only present pages are registered (a run of them is one VMA for the kernel): in a
// registered VMA a write to a page never touched takes two faults (measured: calloc's memset over
// 16 untouched heap pages took 32), where an unregistered VMA, like the process the model stands
// for, takes one. So the range is first unregistered, then each run of present pages registered.
static void protect(uintptr_t address, uint64_t length) {
    if (length == 0) return;
    struct uffdio_range whole = {.start = address, .len = length};
    if (ioctl(uffd, UFFDIO_UNREGISTER, &whole) != 0) die("UFFDIO_UNREGISTER");
    uint64_t firstPage = address / 4096, count = length / 4096;
    uint64_t runStart = 0;
    int inRun = 0;
    for (uint64_t done = 0; done < count || inRun;) {
        uint64_t n = count - done;
        if (n > 4096) n = 4096;
        if (n && pread(pagemap, pagemapEntries, n * 8, (off_t)((firstPage + done) * 8)) != (ssize_t)(n * 8)) die("pagemap");
        for (uint64_t i = 0; i <= n; i++) {
            if (i == n && done + n < count) break;
            int present = i < n && (pagemapEntries[i] >> 63 & 1);
            uint64_t page = firstPage + done + i;
            if (present && !inRun) {
                runStart = page;
                inRun = 1;
            } else if (!present && inRun) {
                struct uffdio_register reg = {.range = {.start = runStart * 4096, .len = (page - runStart) * 4096},
                                              .mode = UFFDIO_REGISTER_MODE_WP};
                if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) die("UFFDIO_REGISTER");
                struct uffdio_writeprotect wp = {.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
                if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) die("UFFDIO_WRITEPROTECT");
                inRun = 0;
            }
        }
        done += n;
        if (n == 0) break;
    }
}

static int writtenListed;

// Prints the pages of [firstPage, firstPage + count) the call wrote (present, exclusive, uffd-wp
// bit clear) as runs `PREFIXa` or `PREFIXa-b`, page numbers from firstPage.
static void putWritten(const char *prefix, uint64_t firstPage, uint64_t count) {
    int64_t runStart = -1;
    for (uint64_t done = 0; done <= count;) {
        uint64_t n = count - done;
        if (n > 4096) n = 4096;
        if (n && pread(pagemap, pagemapEntries, n * 8, (off_t)((firstPage + done) * 8)) != (ssize_t)(n * 8)) die("pagemap");
        for (uint64_t i = 0; i <= n; i++) {
            int written = 0;
            if (i < n) {
                uint64_t e = pagemapEntries[i];
                written = (e >> 63 & 1) && (e >> 56 & 1) && !(e >> 57 & 1);
            } else if (done + n < count) {
                break;
            }
            uint64_t page = done + i;
            if (written && runStart < 0) runStart = (int64_t)page;
            if (!written && runStart >= 0) {
                putChar(writtenListed++ ? ',' : '=');
                put(prefix);
                putDec((uint64_t)runStart);
                if (page - 1 != (uint64_t)runStart) {
                    putChar('-');
                    putDec(page - 1);
                }
                runStart = -1;
            }
        }
        done += n;
        if (n == 0) break;
    }
}

// The mapping of a live mapped chunk: its start, or 0 (a heap chunk or a fallback top's).
static uintptr_t mappedBlock(void *pointer, uint64_t *length) {
    uint64_t head = ((uint64_t *)pointer)[-1];
    if (!(head & 2)) return 0;
    uint64_t offset = ((uint64_t *)pointer)[-2];
    *length = offset + (head & ~(uint64_t)7);
    return (uintptr_t)pointer - 16 - offset;
}

static char maps[1 << 16];

// Touches the stack 64 KiB below this frame: the calls' frames find their pages present.
static void __attribute__((noinline)) touchStack(void) {
    volatile char pad[65536];
    for (size_t i = 0; i < sizeof pad; i += 4096) pad[i] = 0;
}

// With -w, before the script: reads every page of every readable mapping (libc's and ld.so's text:
// the first run of a malloc function otherwise faults its code in) and writes every page of every
// private writable one (libc's, ld.so's and the oracle's data and bss) with the byte it holds, then
// touches the stack below (special mappings, [stack], [vdso], [vvar], are left alone). Then a
// call's faults are the heap's and the chunks' only (measured: without this, the first malloc
// call took one more fault).
static void touchWritableMappings(void) {
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) die("cannot open /proc/self/maps");
    size_t length = 0;
    for (;;) {
        ssize_t n = read(fd, maps + length, sizeof maps - 1 - length);
        if (n < 0) die("cannot read /proc/self/maps");
        if (n == 0) break;
        length += (size_t)n;
        if (length == sizeof maps - 1) die("/proc/self/maps too long");
    }
    close(fd);
    maps[length] = 0;
    for (const char *line = maps; *line;) {
        uint64_t start = 0, end = 0;
        const char *c = line;
        for (; *c != '-'; c++) start = start * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
        for (c++; *c != ' '; c++) end = end * 16 + (uint64_t)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
        c++;
        int readable = c[0] == 'r';
        int writablePrivate = readable && c[1] == 'w' && c[3] == 'p';
        const char *eol = c;
        while (*eol && *eol != '\n') eol++;
        // Special mappings ([stack], [vvar], [vdso], ...) are left alone.
        const char *name = eol;
        while (name > c && name[-1] != ' ') name--;
        int special = *name == '[';
        for (uint64_t a = start; readable && !special && a < end; a += 4096) {
            volatile char *byte = (volatile char *)a;
            char value = *byte;
            if (writablePrivate) *byte = value;
        }
        line = *eol ? eol + 1 : eol;
    }
    touchStack();
}

static const char *cursor;

static void skipSpaces(void) {
    while (*cursor == ' ' || *cursor == '\t') cursor++;
}

static int64_t number(void) {
    skipSpaces();
    int negative = 0;
    if (*cursor == '-') {
        negative = 1;
        cursor++;
    }
    if (*cursor < '0' || *cursor > '9') die("number expected");
    uint64_t v = 0;
    while (*cursor >= '0' && *cursor <= '9') v = v * 10 + (uint64_t)(*cursor++ - '0');
    return negative ? -(int64_t)v : (int64_t)v;
}

static size_t identifier(void) {
    int64_t id = number();
    if (id < 0 || id >= 4096) die("id out of range");
    return (size_t)id;
}

int main(int argc, char **argv) {
    // No transparent huge pages of any size for this process (MMF_DISABLE_THP: every order, the
    // huge zero page too): the model's recording host has 4 KiB pages, and the oracle's result
    // must not depend on the machine's THP settings, which a `validate` running beside it changes.
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) die("prctl PR_SET_THP_DISABLE");
    int withMallinfo = 0, withWrites = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0) withMallinfo = 1;
        else if (strcmp(argv[i], "-w") == 0) withWrites = 1;
        else die("usage: malloc-oracle SCRIPT [-i] [-w]");
    }
    if (argc < 2) die("usage: malloc-oracle SCRIPT [-i] [-w]");
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) die("cannot open script");
    size_t length = 0;
    for (;;) {
        ssize_t n = read(fd, script + length, sizeof script - 1 - length);
        if (n < 0) die("cannot read script");
        if (n == 0) break;
        length += (size_t)n;
        if (length == sizeof script - 1) die("script too long");
    }
    close(fd);
    script[length] = 0;
    pagemap = open("/proc/self/pagemap", O_RDONLY);
    if (pagemap < 0) die("cannot open /proc/self/pagemap");

    if (withWrites) {
        uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (uffd < 0) die("userfaultfd");
        struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC};
        if (ioctl(uffd, UFFDIO_API, &api) != 0) die("UFFDIO_API with UFFD_FEATURE_WP_ASYNC (Linux 6.7)");
        touchWritableMappings();
    }

    uintptr_t initialBreak = (uintptr_t)sbrk(0);
    uint64_t firstPage = initialBreak / 4096;
    put("init brkoff=");
    putHex(initialBreak % 4096);
    putChar('\n');

    cursor = script;
    uint64_t index = 0;
    while (*cursor) {
        skipSpaces();
        char op = *cursor;
        if (op == '\n') {
            cursor++;
            continue;
        }
        if (op == '#') {
            while (*cursor && *cursor != '\n') cursor++;
            continue;
        }
        cursor++;
        void *result = NULL;
        int showPointer = 1;
        int malloptResult = 0;
        // With -w: the realloc's old mapped chunk (to tell a move or resize by mremap), the
        // protection of the heap and the live mapped chunks, and the fault count before the call.
        const char *peek = cursor;
        uintptr_t oldBlock = 0;
        uint64_t oldLength = 0;
        struct rusage usageBefore, usageAfter;
        if (withWrites) {
            if (op == 'r') {
                int64_t id = 0;
                while (*peek == ' ' || *peek == '\t') peek++;
                while (*peek >= '0' && *peek <= '9') id = id * 10 + (*peek++ - '0');
                if (id >= 0 && id < 4096 && pointers[id]) oldBlock = mappedBlock(pointers[id], &oldLength);
            }
            uintptr_t breakNow = (uintptr_t)sbrk(0);
            protect(firstPage * 4096, (breakNow + 4095) / 4096 * 4096 - firstPage * 4096);
            for (size_t id = 0; id < 4096; id++) {
                uint64_t length;
                uintptr_t block = pointers[id] ? mappedBlock(pointers[id], &length) : 0;
                if (!block) continue;
                if (block != oldBlock) {
                    protect(block, length);
                } else {
                    // The mapped chunk realloc gets stays unregistered: mremap of a registered VMA
                    // failed here (glibc then copied the chunk: 120 pages read and written), and
                    // a PTE it moves keeps the write protection (one more fault).
                    struct uffdio_range whole = {.start = block, .len = length};
                    if (ioctl(uffd, UFFDIO_UNREGISTER, &whole) != 0) die("UFFDIO_UNREGISTER");
                }
            }
            getrusage(RUSAGE_SELF, &usageBefore);
        }
        size_t target = 4096;
        switch (op) {
        case 'm': {
            size_t id = identifier();
            result = pointers[id] = callMalloc((size_t)number());
            target = id;
            break;
        }
        case 'c': {
            size_t id = identifier();
            result = pointers[id] = callCalloc(1, (size_t)number());
            target = id;
            break;
        }
        case 'r': {
            size_t id = identifier();
            size_t size = (size_t)number();
            result = callRealloc(pointers[id], size);
            if (result != NULL || size == 0) pointers[id] = result;
            target = id;
            break;
        }
        case 'f': {
            size_t id = identifier();
            callFree(pointers[id]);
            pointers[id] = NULL;
            showPointer = 0;
            break;
        }
        case 'o': {
            int parameter = (int)number();
            int value = (int)number();
            malloptResult = callMallopt(parameter, value);
            showPointer = 2;
            break;
        }
        case 'b': {
            uintptr_t offset = (uintptr_t)number();
            void *page = mmap((void *)(initialBreak + offset), 4096, PROT_NONE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            malloptResult = page == (void *)(initialBreak + offset);
            showPointer = 2;
            break;
        }
        default:
            die("unknown operation");
        }
        if (withWrites) getrusage(RUSAGE_SELF, &usageAfter);
        while (*cursor && *cursor != '\n') cursor++;

        uintptr_t currentBreak = (uintptr_t)sbrk(0);
        putDec(index++);
        put(" ret=");
        if (showPointer == 0) {
            putChar('-');
        } else if (showPointer == 2) {
            putChar('=');
            putDec((uint64_t)(uint32_t)malloptResult);
        } else if (result == NULL) {
            put("null");
        } else {
            uint64_t head = ((uint64_t *)result)[-1];
            uint64_t size = head & ~(uint64_t)7;
            if (!(head & 2) && ((uintptr_t)result < initialBreak || (uintptr_t)result >= currentBreak)) {
                put("x/");
                putHex(size);
            } else if (head & 2) {
                uint64_t offset = ((uint64_t *)result)[-2];
                uintptr_t block = (uintptr_t)result - 16 - offset;
                put("mmap/");
                putHex(size);
                putChar('/');
                putPages(block / 4096, (offset + size) / 4096);
            } else {
                put("h+");
                putHex((uint64_t)((uintptr_t)result - initialBreak));
                putChar('/');
                putHex(size);
            }
        }
        put(" brk=");
        putHex((uint64_t)(currentBreak - initialBreak));
        put(" heap=");
        putPages(firstPage, (currentBreak + 4095) / 4096 - firstPage);
        if (withWrites) {
            put(" flt=");
            putDec((uint64_t)(usageAfter.ru_minflt - usageBefore.ru_minflt));
            put(" wr");
            writtenListed = 0;
            putWritten("h", firstPage, (currentBreak + 4095) / 4096 - firstPage);
            for (size_t id = 0; id < 4096; id++) {
                uint64_t length;
                uintptr_t block = pointers[id] ? mappedBlock(pointers[id], &length) : 0;
                if (!block) continue;
                char prefix[24];
                int n = 0;
                char digits[8];
                int d = 0;
                size_t v = id;
                do {
                    digits[d++] = (char)('0' + v % 10);
                    v /= 10;
                } while (v);
                while (d) prefix[n++] = digits[--d];
                prefix[n++] = ':';
                prefix[n] = 0;
                if (id == target && oldBlock) {
                    putChar(writtenListed++ ? ',' : '=');
                    put(prefix);
                    putChar('*');
                    continue;
                }
                putWritten(prefix, block / 4096, length / 4096);
            }
            if (!writtenListed) put("=-");
            // The states of every live mapped chunk's pages: with the heap's, every page that
            // became a zero-page mapping (an untouched page read) in this call.
            put(" maps");
            int chunksListed = 0;
            for (size_t id = 0; id < 4096; id++) {
                uint64_t length;
                uintptr_t block = pointers[id] ? mappedBlock(pointers[id], &length) : 0;
                if (!block) continue;
                putChar(chunksListed++ ? ',' : '=');
                putDec(id);
                putChar(':');
                putPages(block / 4096, length / 4096);
            }
            if (!chunksListed) put("=-");
        }
        if (withMallinfo) {
            // mallinfo2 reads only chunk words glibc wrote before: it changes no page's state.
            struct mallinfo2 info = mallinfo2();
            put(" arena=");
            putHex(info.arena);
            put(" free=");
            putHex(info.fordblks);
            put(" top=");
            putHex(info.keepcost);
            put(" hblkhd=");
            putHex(info.hblkhd);
        }
        putChar('\n');
    }
    flush();
    return 0;
}
