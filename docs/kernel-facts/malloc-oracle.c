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
// With -i, each line ends with mallinfo2's arena (system_mem), fordblks (free bytes), keepcost (the
// top chunk's size) and hblkhd (bytes in mapped chunks), in hex.
//
// Build: cc -O1 -fno-builtin -o malloc-oracle malloc-oracle.c; run: ./malloc-oracle SCRIPT [-i]
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char script[16 << 20];
static char out[1 << 20];
static size_t outLength;
static uint64_t pagemapEntries[4096];
static void *pointers[4096];
static int pagemap = -1;

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
    if (argc != 2 && !(argc == 3 && strcmp(argv[2], "-i") == 0)) die("usage: malloc-oracle SCRIPT [-i]");
    int withMallinfo = argc == 3;
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
        switch (op) {
        case 'm': {
            size_t id = identifier();
            result = pointers[id] = callMalloc((size_t)number());
            break;
        }
        case 'c': {
            size_t id = identifier();
            result = pointers[id] = callCalloc(1, (size_t)number());
            break;
        }
        case 'r': {
            size_t id = identifier();
            size_t size = (size_t)number();
            result = callRealloc(pointers[id], size);
            if (result != NULL || size == 0) pointers[id] = result;
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
