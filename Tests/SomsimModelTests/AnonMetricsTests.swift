import SomsimModel
import SomsimWorkload
import Testing

/// `pss_anon_bytes` (smaps_rollup's Pss_Anon) and `anon_huge_pages_bytes` (AnonHugePages), by
/// hand from fs/proc/task_mmu.c (smaps_account, smaps_page_accumulate, smaps_pmd_entry; Linux
/// 6.18, CONFIG_PAGE_MAPCOUNT) and docs/kernel-facts/smapsanon.c.
@Suite struct AnonMetricsTests {
    @Test func aTHPSharedByForkHalvesPssAnonAndEachProcessMapsItWithAPMD() throws {
        let report = try simulate(
            """
            machine thp=always
            spawn parent
            parent mmap a 2M
            parent touch a write
            measure written
            parent fork child
            measure forked
            child touch a write length=4K
            measure copied
            """)
        let written = report.measure("written").process("parent")
        #expect((written.pssAnonBytes, written.anonHugePagesBytes) == (2 * MiB, 2 * MiB))
        for name in ["parent", "child"] {
            let p = report.measure("forked").process(name)
            // 512 pages of mapcount 2: 512 × (4096 << 12) / 2 >> 12 = 1 MiB; one PMD each.
            #expect((p.pssAnonBytes, p.anonHugePagesBytes) == (1 * MiB, 2 * MiB), "\(name)")
        }
        // The child's write splits its PMD and copies one page: 511 pages stay shared (2048 bytes
        // each) and each process has one page of its own (the copy; the original, now the
        // parent's alone): 511 × 2048 + 4096 = 1,050,624 in both (smapsanon.c b: 2050 kB for
        // two THPs, 1026 + 1024). Only the parent still maps the THP with a PMD entry.
        let parent = report.measure("copied").process("parent"), child = report.measure("copied").process("child")
        #expect((parent.pssAnonBytes, parent.anonHugePagesBytes) == (1_050_624, 2 * MiB))
        #expect((child.pssAnonBytes, child.anonHugePagesBytes) == (1_050_624, 0))
        #expect(child.pssBytes == child.pssAnonBytes)
    }

    @Test func pssAnonTruncatesEachPageAsTheKernelDoes() throws {
        let report = try simulate("spawn a\na mmap m 12K\na touch m write\na fork b\na fork c\nmeasure shared")
        // 3 pages of mapcount 3: each adds (4096 << 12) / 3 = 5,592,405; 3 × 5,592,405 >> 12 = 4095,
        // not 4096.
        for name in ["a", "b", "c"] {
            let p = report.measure("shared").process(name)
            #expect((p.pssBytes, p.pssAnonBytes, p.anonHugePagesBytes) == (4095, 4095, 0), "\(name)")
        }
    }

    @Test func shmemIsNotAnonymousButAPrivateFileMappingsCopiesAre() throws {
        let report = try simulate(
            """
            spawn p
            p mmap s 64K shared
            p mmap f 64K shared file=data
            p mmap q 64K file=data
            p touch s write
            p touch f write
            p touch q read
            measure read
            p touch q write length=16K
            measure copied
            """)
        let read = report.measure("read").process("p")
        // Shared anonymous memory and a tmpfs file are shmem (not PageAnon): Pss = s 64 + the 16
        // file pages mapped by `f` and `q` (32 + 32) = 128 KiB, Pss_Anon 0 (smapsanon.c e, f).
        #expect((read.pssBytes, read.pssAnonBytes) == (128 * KiB, 0))
        let copied = report.measure("copied").process("p")
        // 4 copies (anonymous, mapcount 1) replace 4 page-cache pages in `q`, which `f` alone
        // maps now: Pss = s 64 + f (16 + 12 × 2) + q (16 + 12 × 2) = 144 KiB, of it anonymous 16.
        #expect((copied.pssBytes, copied.pssAnonBytes) == (144 * KiB, 16 * KiB))
        #expect(copied.anonHugePagesBytes == 0)
    }

    @Test func mTHPTheHugeZeroPageAndPTEMappedTHPsAreNotAnonHugePages() throws {
        let mthp = try simulate("machine thp=always mthp=64K\nspawn p\np mmap a 1M\np touch a write length=128K\nmeasure m")
        #expect((mthp.measure("m").process("p").pssAnonBytes, mthp.measure("m").process("p").anonHugePagesBytes) == (128 * KiB, 0))
        let zero = try simulate("machine thp=always\nspawn p\np mmap a 2M\np touch a read\nmeasure m")
        #expect((zero.measure("m").process("p").rssBytes, zero.measure("m").process("p").anonHugePagesBytes) == (0, 0))
        // munmap of the first 1 MiB splits the PMD: the THP's other half stays, PTE-mapped.
        let split = try simulate("machine thp=always\nspawn p\np mmap a 4M\np touch a write\np munmap a length=1M\nmeasure m")
        let p = split.measure("m").process("p")
        #expect((p.rssBytes, p.pssAnonBytes, p.anonHugePagesBytes) == (3 * MiB, 3 * MiB, 2 * MiB))
    }
}
