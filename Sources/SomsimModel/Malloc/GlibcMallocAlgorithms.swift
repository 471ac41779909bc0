// The functions of glibc 2.36 malloc/malloc.c, ported one by one (see GlibcMalloc.swift).
// Chunk p's words: prev_size at p, size at p+8, fd at p+16, bk at p+24, fd_nextsize at p+32,
// bk_nextsize at p+40; the user pointer is p+16 (chunk2mem). A tcache entry's next is at p+16,
// its key at p+24.

extension GlibcMalloc {
    typealias G = GlibcMalloc

    // MARK: tcache

    /// Address of tcache->counts[idx] (uint16_t).
    func tcacheCountAddress(_ idx: UInt64) -> UInt64 { tcache! + 2 * idx }
    /// Address of tcache->entries[idx].
    func tcacheEntryAddress(_ idx: UInt64) -> UInt64 { tcache! + 128 + 8 * idx }

    /// tcache->counts[idx] (a load).
    func tcacheCount<H: MallocHost>(_ idx: UInt64, _ h: inout H) -> Int {
        G.load(&h, tcacheCountAddress(idx), 2)
        return tcacheEntries[Int(idx)].count
    }

    /// tcache_put.
    mutating func tcachePut<H: MallocHost>(_ chunk: UInt64, _ idx: UInt64, _ h: inout H) {
        let e = chunk + 16
        G.store(&h, e + 8)  // e->key = tcache_key
        G.load(&h, tcacheEntryAddress(idx))  // tcache->entries[tc_idx]
        G.store(&h, e)  // e->next = PROTECT_PTR (&e->next, ...)
        G.store(&h, tcacheEntryAddress(idx))  // tcache->entries[tc_idx] = e
        G.load(&h, tcacheCountAddress(idx), 2)  // ++(tcache->counts[tc_idx])
        G.store(&h, tcacheCountAddress(idx), 2)
        tcacheEntries[Int(idx)].append(e)
        forgetLinks(chunk)
    }

    /// tcache_get: returns the user pointer.
    mutating func tcacheGet<H: MallocHost>(_ idx: UInt64, _ h: inout H) -> UInt64 {
        G.load(&h, tcacheEntryAddress(idx))  // e = tcache->entries[tc_idx]
        let e = tcacheEntries[Int(idx)].removeLast()
        G.load(&h, e)  // REVEAL_PTR (e->next)
        G.store(&h, tcacheEntryAddress(idx))
        G.load(&h, tcacheCountAddress(idx), 2)  // --(tcache->counts[tc_idx])
        G.store(&h, tcacheCountAddress(idx), 2)
        G.store(&h, e + 8)  // e->key = 0
        return e
    }

    /// tcache_init: the tcache_perthread_struct is the arena's first chunk, cleared by memset.
    mutating func tcacheInit<H: MallocHost>(_ h: inout H) {
        guard let victim = intMalloc(G.tcacheStructSize, &h) else { return }
        tcache = victim
        G.store(&h, victim, G.tcacheStructSize)  // memset (tcache, 0, sizeof)
    }

    /// MAYBE_INIT_TCACHE.
    mutating func maybeInitTcache<H: MallocHost>(_ h: inout H) {
        if tcache == nil { tcacheInit(&h) }
    }

    // MARK: __libc_malloc, __libc_free, __libc_realloc, __libc_calloc

    /// __libc_malloc.
    mutating func libcMalloc<H: MallocHost>(_ bytes: UInt64, _ h: inout H) -> UInt64? {
        let tbytes = G.checkedRequest2size(bytes)
        if tbytes == 0 { return nil }
        let tcIdx = G.csize2tidx(tbytes)
        maybeInitTcache(&h)
        if tcIdx < G.tcacheMaxBins, tcache != nil, tcacheCount(tcIdx, &h) > 0 {
            return tcacheGet(tcIdx, &h)
        }
        return intMalloc(bytes, &h)
    }

    /// __libc_free (mem != NULL).
    mutating func libcFree<H: MallocHost>(_ mem: UInt64, _ h: inout H) {
        let p = mem - G.chunkHdrSz
        let sizeNomask = sizeNomask(p, &h)
        if sizeNomask & G.isMmappedBit != 0 {
            // The dynamic brk/mmap threshold.
            if !noDynThreshold && sizeNomask > mmapThreshold && sizeNomask <= G.defaultMmapThresholdMax {
                mmapThreshold = sizeNomask & ~G.sizeBits
                trimThreshold = 2 * mmapThreshold
            }
            munmapChunk(p, &h)
        } else {
            maybeInitTcache(&h)
            intFree(p, haveLock: false, &h)
        }
    }

    /// __libc_realloc.
    mutating func libcRealloc<H: MallocHost>(_ oldmem: UInt64?, _ bytes: UInt64, _ h: inout H) -> UInt64? {
        if bytes == 0, let oldmem {
            libcFree(oldmem, &h)
            return nil
        }
        guard let oldmem else { return libcMalloc(bytes, &h) }
        let oldp = oldmem - G.chunkHdrSz
        let oldHead = sizeNomask(oldp, &h)
        let oldsize = oldHead & ~G.sizeBits
        let isMapped = oldHead & G.isMmappedBit != 0
        if !isMapped { maybeInitTcache(&h) }
        let nb = G.checkedRequest2size(bytes)
        if nb == 0 { return nil }
        if isMapped {
            if let newp = mremapChunk(oldp, nb, &h) { return newp + G.chunkHdrSz }
            if oldsize - G.sizeSz >= nb { return oldmem }  // do nothing
            guard let newmem = libcMalloc(bytes, &h) else { return nil }
            G.load(&h, oldmem, oldsize - G.chunkHdrSz)  // memcpy (newmem, oldmem, oldsize - CHUNK_HDR_SZ)
            G.store(&h, newmem, oldsize - G.chunkHdrSz)
            munmapChunk(oldp, &h)
            return newmem
        }
        return intRealloc(oldp, oldsize, nb, &h)
    }

    /// __libc_calloc. A chunk carved from the old top is cleared only up to the old top's size:
    /// the rest is fresh from sbrk, already zero. Mapped chunks are not cleared.
    ///
    /// Debian 12's libc.so.6 is built as if MORECORE_CLEARS were 2: its __libc_calloc (objdump at
    /// 0x99820, single-threaded path) keeps oldtopsize = chunksize (top) for the main arena, without
    /// the source's `# if MORECORE_CLEARS < 2` raise to sbrk_base + max_system_mem - oldtop. The
    /// oracle confirms it: after a trim, re-grown pages below the old maximum stay untouched.
    mutating func libcCalloc<H: MallocHost>(_ bytes: UInt64, _ h: inout H) -> UInt64? {
        if bytes > UInt64(Int64.max) { return nil }  // __builtin_mul_overflow into ptrdiff_t
        maybeInitTcache(&h)
        let oldtop = top
        let oldtopsize = chunksize(top, &h)
        guard let mem = intMalloc(bytes, &h) else { return nil }
        let p = mem - G.chunkHdrSz
        let head = sizeNomask(p, &h)
        var csz = head & ~G.sizeBits
        if head & G.isMmappedBit != 0 { return mem }
        if p == oldtop && csz > oldtopsize { csz = oldtopsize }
        let clearsize = csz - G.sizeSz
        let nclears = clearsize / 8
        if nclears > 9 {
            G.store(&h, mem, clearsize)  // memset (d, 0, clearsize)
        } else {
            var words: UInt64 = 3
            if nclears > 4 { words += 2 }
            if nclears > 6 { words += 2 }
            if nclears > 8 { words += 2 }
            G.store(&h, mem, 8 * words)
        }
        return mem
    }

    // MARK: _int_malloc

    /// Splits `remainderSize` bytes off the end of `victim` (of nb) into the unsorted bin: the
    /// common tail of _int_malloc's large-bin and binmap paths.
    mutating func splitIntoUnsorted<H: MallocHost>(
        _ victim: UInt64, _ nb: UInt64, _ remainderSize: UInt64, advertise: Bool, _ h: inout H
    ) {
        let remainder = victim + nb
        let bck = G.unsortedBin
        let fwd = fd(bck, &h)
        _ = bk(fwd, &h)  // fwd->bk != bck check
        setBk(remainder, bck, &h)
        setFd(remainder, fwd, &h)
        setFd(bck, remainder, &h)
        setBk(fwd, remainder, &h)
        if advertise { lastRemainder = remainder }
        if !G.inSmallbinRange(remainderSize) {
            setFdNext(remainder, 0, &h)
            setBkNext(remainder, 0, &h)
        }
        setHead(victim, nb | G.prevInuse, &h)
        setHead(remainder, remainderSize | G.prevInuse, &h)
        setFoot(remainder, remainderSize, &h)
    }

    /// _int_malloc (av = main_arena): the user pointer, nil on failure.
    mutating func intMalloc<H: MallocHost>(_ bytes: UInt64, _ h: inout H) -> UInt64? {
        let nb = G.checkedRequest2size(bytes)
        if nb == 0 { return nil }
        var idx: UInt64

        // Fastbins.
        if nb <= maxFast {
            let fIdx = G.fastbinIndex(nb)
            if let victim = fastbins[fIdx].last {
                _ = fd(victim, &h)  // *fb = REVEAL_PTR (victim->fd)
                fastbins[fIdx].removeLast()
                _ = chunksize(victim, &h)  // fastbin_index (chunksize (victim)) check
                let tcIdx = G.csize2tidx(nb)
                if tcache != nil && tcIdx < G.tcacheMaxBins {
                    while tcacheCount(tcIdx, &h) < G.tcacheFillCount, let tcVictim = fastbins[fIdx].last {
                        _ = fd(tcVictim, &h)
                        fastbins[fIdx].removeLast()
                        tcachePut(tcVictim, tcIdx, &h)
                    }
                }
                forgetLinks(victim)
                return victim + G.chunkHdrSz
            }
        }

        // Small bins.
        if G.inSmallbinRange(nb) {
            idx = G.smallbinIndex(nb)
            let bin = idx
            let victim = bkLink[bin]!
            if victim != bin {
                let bck = bk(victim, &h)
                _ = fd(bck, &h)  // bck->fd != victim check
                setInuseBitAtOffset(victim, nb, &h)
                setBk(bin, bck, &h)
                setFd(bck, bin, &h)
                let tcIdx = G.csize2tidx(nb)
                if tcache != nil && tcIdx < G.tcacheMaxBins {
                    while tcacheCount(tcIdx, &h) < G.tcacheFillCount {
                        let tcVictim = bkLink[bin]!
                        if tcVictim == bin { break }
                        let bck2 = bk(tcVictim, &h)
                        setInuseBitAtOffset(tcVictim, nb, &h)
                        setBk(bin, bck2, &h)
                        setFd(bck2, bin, &h)
                        tcachePut(tcVictim, tcIdx, &h)
                    }
                }
                forgetLinks(victim)
                return victim + G.chunkHdrSz
            }
        } else {
            idx = G.largebinIndex(nb)
            if haveFastchunks { mallocConsolidate(&h) }
        }

        let tcIdx = G.csize2tidx(nb)
        let tcacheNb: UInt64 = (tcache != nil && tcIdx < G.tcacheMaxBins) ? nb : 0
        var returnCached = false

        while true {
            var iters = 0
            // The unsorted bin.
            while true {
                let victim = bkLink[G.unsortedBin]!
                if victim == G.unsortedBin { break }
                let bck = bk(victim, &h)
                var size = chunksize(victim, &h)
                let next = victim + size
                _ = sizeNomask(next, &h)  // invalid next size check
                _ = prevSize(next, &h)  // mismatching next->prev_size check
                _ = fd(bck, &h)  // bck->fd != victim
                _ = fd(victim, &h)  // victim->fd != unsorted_chunks (av)

                if G.inSmallbinRange(nb) && bck == G.unsortedBin && victim == lastRemainder && size > nb + G.minSize {
                    // Split the last remainder and reattach it.
                    let remainderSize = size - nb
                    let remainder = victim + nb
                    setBk(G.unsortedBin, remainder, &h)
                    setFd(G.unsortedBin, remainder, &h)
                    lastRemainder = remainder
                    setBk(remainder, G.unsortedBin, &h)
                    setFd(remainder, G.unsortedBin, &h)
                    if !G.inSmallbinRange(remainderSize) {
                        setFdNext(remainder, 0, &h)
                        setBkNext(remainder, 0, &h)
                    }
                    setHead(victim, nb | G.prevInuse, &h)
                    setHead(remainder, remainderSize | G.prevInuse, &h)
                    setFoot(remainder, remainderSize, &h)
                    forgetLinks(victim)
                    return victim + G.chunkHdrSz
                }

                // Remove from the unsorted list.
                _ = fd(bck, &h)  // corrupted unsorted chunks 3
                setBk(G.unsortedBin, bck, &h)
                setFd(bck, G.unsortedBin, &h)

                if size == nb {
                    setInuseBitAtOffset(victim, size, &h)
                    if tcacheNb != 0 && tcacheCount(tcIdx, &h) < G.tcacheFillCount {
                        tcachePut(victim, tcIdx, &h)
                        returnCached = true
                        continue
                    }
                    forgetLinks(victim)
                    return victim + G.chunkHdrSz
                }

                // Place the chunk in its bin.
                let victimIndex: UInt64
                var bckBin: UInt64
                var fwd: UInt64
                if G.inSmallbinRange(size) {
                    victimIndex = G.smallbinIndex(size)
                    bckBin = victimIndex
                    fwd = fd(bckBin, &h)
                } else {
                    victimIndex = G.largebinIndex(size)
                    bckBin = victimIndex
                    fwd = fd(bckBin, &h)
                    if fwd != bckBin {
                        size |= G.prevInuse
                        let smallest = bk(bckBin, &h)
                        if size < sizeNomask(smallest, &h) {
                            fwd = bckBin
                            bckBin = smallest
                            let first = fd(fwd, &h)
                            setFdNext(victim, first, &h)
                            setBkNext(victim, bkNext(first, &h), &h)
                            let vbkn = bkNext(victim, &h)
                            setFdNext(vbkn, victim, &h)
                            setBkNext(first, victim, &h)
                        } else {
                            while size < sizeNomask(fwd, &h) {
                                fwd = fdNext(fwd, &h)
                            }
                            if size == sizeNomask(fwd, &h) {
                                fwd = fd(fwd, &h)  // always insert in the second position
                            } else {
                                setFdNext(victim, fwd, &h)
                                setBkNext(victim, bkNext(fwd, &h), &h)
                                _ = fdNext(bkNext(fwd, &h), &h)  // nextsize check
                                setBkNext(fwd, victim, &h)
                                let vbkn = bkNext(victim, &h)
                                setFdNext(vbkn, victim, &h)
                            }
                            bckBin = bk(fwd, &h)
                            _ = fd(bckBin, &h)  // bck->fd != fwd check
                        }
                    } else {
                        setFdNext(victim, victim, &h)
                        setBkNext(victim, victim, &h)
                    }
                }
                markBin(victimIndex)
                setBk(victim, bckBin, &h)
                setFd(victim, fwd, &h)
                setBk(fwd, victim, &h)
                setFd(bckBin, victim, &h)

                iters += 1
                if iters >= 10000 { break }
            }

            if returnCached { return tcacheGet(tcIdx, &h) }

            // A large request: the smallest chunk that fits in its own bin.
            if !G.inSmallbinRange(nb) {
                let bin = idx
                var victim = fdLink[bin]!
                if victim != bin && sizeNomask(victim, &h) >= nb {
                    victim = bkNext(victim, &h)
                    var size = chunksize(victim, &h)
                    while size < nb {
                        victim = bkNext(victim, &h)
                        size = chunksize(victim, &h)
                    }
                    if victim != bkLink[bin]! {
                        let vsize = sizeNomask(victim, &h)
                        let vfd = fd(victim, &h)
                        if vsize == sizeNomask(vfd, &h) { victim = vfd }
                    }
                    let remainderSize = size - nb
                    unlinkChunk(victim, &h)
                    if remainderSize < G.minSize {
                        setInuseBitAtOffset(victim, size, &h)
                    } else {
                        splitIntoUnsorted(victim, nb, remainderSize, advertise: false, &h)
                    }
                    forgetLinks(victim)
                    return victim + G.chunkHdrSz
                }
            }

            // The binmap: the next non-empty bin, best fit.
            idx += 1
            var bin = idx
            var block = Int(idx >> 5)
            var map = binmap[block]
            var bit = UInt32(1) << UInt32(idx & 31)
            var found: (victim: UInt64, size: UInt64)?
            scan: while true {
                if bit > map || bit == 0 {
                    repeat {
                        block += 1
                        if block >= 4 { break scan }
                        map = binmap[block]
                    } while map == 0
                    bin = UInt64(block << 5)
                    bit = 1
                }
                while bit & map == 0 {
                    bin += 1
                    bit = bit &<< 1
                }
                let victim = bkLink[bin]!
                if victim == bin {
                    map &= ~bit
                    binmap[block] = map
                    bin += 1
                    bit = bit &<< 1
                } else {
                    found = (victim, chunksize(victim, &h))
                    break scan
                }
            }
            if let (victim, size) = found {
                let remainderSize = size - nb
                unlinkChunk(victim, &h)
                if remainderSize < G.minSize {
                    setInuseBitAtOffset(victim, size, &h)
                } else {
                    splitIntoUnsorted(victim, nb, remainderSize, advertise: G.inSmallbinRange(nb), &h)
                }
                forgetLinks(victim)
                return victim + G.chunkHdrSz
            }

            // use_top.
            let victim = top
            let size = chunksize(victim, &h)
            if size >= nb + G.minSize {
                let remainderSize = size - nb
                let remainder = victim + nb
                top = remainder
                setHead(victim, nb | G.prevInuse, &h)
                setHead(remainder, remainderSize | G.prevInuse, &h)
                return victim + G.chunkHdrSz
            } else if haveFastchunks {
                mallocConsolidate(&h)
                idx = G.inSmallbinRange(nb) ? G.smallbinIndex(nb) : G.largebinIndex(nb)
            } else {
                return sysmalloc(nb, &h)
            }
        }
    }

    /// unlink_chunk.
    mutating func unlinkChunk<H: MallocHost>(_ p: UInt64, _ h: inout H) {
        let psize = chunksize(p, &h)
        _ = prevSize(p + psize, &h)  // corrupted size vs. prev_size check
        let fdp = fd(p, &h)
        let bkp = bk(p, &h)
        _ = bk(fdp, &h)  // fd->bk != p
        _ = fd(bkp, &h)  // bk->fd != p
        setBk(fdp, bkp, &h)
        setFd(bkp, fdp, &h)
        if !G.inSmallbinRange(sizeNomask(p, &h)) && fdNext(p, &h) != 0 {
            let pfdn = fdNextsize[p] ?? 0
            let pbkn = bkNext(p, &h)
            _ = bkNext(pfdn, &h)  // p->fd_nextsize->bk_nextsize != p
            _ = fdNext(pbkn, &h)  // p->bk_nextsize->fd_nextsize != p
            // A bin header's fd_nextsize is the next bin's fd: never NULL.
            let fdFdNextIsNull = G.isBin(fdp) ? false : fdNext(fdp, &h) == 0
            if fdFdNextIsNull {
                if fdNext(p, &h) == p {
                    setFdNext(fdp, fdp, &h)
                    setBkNext(fdp, fdp, &h)
                } else {
                    setFdNext(fdp, fdNext(p, &h), &h)
                    setBkNext(fdp, bkNext(p, &h), &h)
                    setBkNext(fdNext(p, &h), fdp, &h)
                    setFdNext(bkNext(p, &h), fdp, &h)
                }
            } else {
                let newBkn = bkNext(p, &h)
                setBkNext(fdNext(p, &h), newBkn, &h)
                let newFdn = fdNext(p, &h)
                setFdNext(bkNext(p, &h), newFdn, &h)
            }
        }
    }

    // MARK: _int_free, malloc_consolidate

    /// _int_free (av = main_arena).
    mutating func intFree<H: MallocHost>(_ pIn: UInt64, haveLock: Bool, _ h: inout H) {
        var p = pIn
        let head = sizeNomask(p, &h)
        var size = head & ~G.sizeBits

        let tcIdx = G.csize2tidx(size)
        if tcache != nil && tcIdx < G.tcacheMaxBins {
            G.load(&h, p + 24)  // e->key == tcache_key (double-free check)
            if tcacheCount(tcIdx, &h) < G.tcacheFillCount {
                tcachePut(p, tcIdx, &h)
                return
            }
        }

        if size <= maxFast {
            _ = sizeNomask(p + size, &h)  // invalid next size (fast) check
            haveFastchunks = true
            let idx = G.fastbinIndex(size)
            let old = fastbins[idx].last
            G.store(&h, p + 16)  // p->fd = PROTECT_PTR (&p->fd, old)
            fastbins[idx].append(p)
            forgetLinks(p)
            if haveLock, let old { _ = chunksize(old, &h) }  // invalid fastbin entry check
        } else if head & G.isMmappedBit == 0 {
            let nextchunk = p + size
            if contiguous { _ = chunksize(top, &h) }  // double free or corruption (out)
            _ = sizeNomask(nextchunk, &h)  // prev_inuse (nextchunk)
            let nextsize = chunksize(nextchunk, &h)

            // Consolidate backward.
            if head & G.prevInuse == 0 {
                let prevsize = prevSize(p, &h)
                size += prevsize
                let absorbed = p
                p -= prevsize
                _ = chunksize(p, &h)
                unlinkChunk(p, &h)
                forgetChunk(absorbed)
            }

            if nextchunk != top {
                let nextinuse = inuseBitAtOffset(nextchunk, nextsize, &h)
                if !nextinuse {
                    unlinkChunk(nextchunk, &h)
                    size += nextsize
                    forgetChunk(nextchunk)
                } else {
                    clearInuseBitAtOffset(nextchunk, 0, &h)
                }
                let bck = G.unsortedBin
                let fwd = fd(bck, &h)
                _ = bk(fwd, &h)  // corrupted unsorted chunks check
                setFd(p, fwd, &h)
                setBk(p, bck, &h)
                if !G.inSmallbinRange(size) {
                    setFdNext(p, 0, &h)
                    setBkNext(p, 0, &h)
                }
                setFd(bck, p, &h)
                setBk(fwd, p, &h)
                setHead(p, size | G.prevInuse, &h)
                setFoot(p, size, &h)
            } else {
                size += nextsize
                setHead(p, size | G.prevInuse, &h)
                top = p
                forgetChunk(nextchunk)
                forgetLinks(p)
            }

            if size >= G.fastbinConsolidationThreshold {
                if haveFastchunks { mallocConsolidate(&h) }
                if chunksize(top, &h) >= trimThreshold {
                    _ = systrim(topPad, &h)
                }
            }
        } else {
            munmapChunk(p, &h)
        }
    }

    /// malloc_consolidate.
    mutating func mallocConsolidate<H: MallocHost>(_ h: inout H) {
        haveFastchunks = false
        for fIdx in 0..<G.nFastbins {
            let chunks = fastbins[fIdx]
            if chunks.isEmpty { continue }
            fastbins[fIdx] = []
            for var p in chunks.reversed() {
                _ = chunksize(p, &h)  // fastbin_index (chunksize (p)) check
                _ = fd(p, &h)  // nextp = REVEAL_PTR (p->fd)
                let head = sizeNomask(p, &h)
                var size = head & ~G.sizeBits
                let nextchunk = p + size
                let nextsize = chunksize(nextchunk, &h)

                if head & G.prevInuse == 0 {
                    let prevsize = prevSize(p, &h)
                    size += prevsize
                    let absorbed = p
                    p -= prevsize
                    _ = chunksize(p, &h)
                    unlinkChunk(p, &h)
                    forgetChunk(absorbed)
                }

                if nextchunk != top {
                    let nextinuse = inuseBitAtOffset(nextchunk, nextsize, &h)
                    if !nextinuse {
                        size += nextsize
                        unlinkChunk(nextchunk, &h)
                        forgetChunk(nextchunk)
                    } else {
                        clearInuseBitAtOffset(nextchunk, 0, &h)
                    }
                    let firstUnsorted = fd(G.unsortedBin, &h)
                    setFd(G.unsortedBin, p, &h)
                    setBk(firstUnsorted, p, &h)
                    if !G.inSmallbinRange(size) {
                        setFdNext(p, 0, &h)
                        setBkNext(p, 0, &h)
                    }
                    setHead(p, size | G.prevInuse, &h)
                    setBk(p, G.unsortedBin, &h)
                    setFd(p, firstUnsorted, &h)
                    setFoot(p, size, &h)
                } else {
                    size += nextsize
                    setHead(p, size | G.prevInuse, &h)
                    top = p
                    forgetChunk(nextchunk)
                    forgetLinks(p)
                }
            }
        }
    }

    // MARK: _int_realloc

    /// _int_realloc (oldp not mapped): the user pointer, nil on failure.
    mutating func intRealloc<H: MallocHost>(_ oldp: UInt64, _ oldsize: UInt64, _ nb: UInt64, _ h: inout H) -> UInt64? {
        _ = sizeNomask(oldp, &h)  // invalid old size check
        let next = oldp + oldsize
        let nextsize = chunksize(next, &h)
        var newp: UInt64
        var newsize: UInt64

        if oldsize >= nb {
            newp = oldp
            newsize = oldsize
        } else {
            if next == top && oldsize + nextsize >= nb + G.minSize {
                // Expand forward into top.
                newsize = oldsize + nextsize
                setHeadSize(oldp, nb, &h)
                top = oldp + nb
                setHead(top, (newsize - nb) | G.prevInuse, &h)
                if next != top { forgetChunk(next) }
                return oldp + G.chunkHdrSz
            } else if next != top && !inuseBitAtOffset(next, nextsize, &h) && oldsize + nextsize >= nb {
                // Expand forward into the next free chunk.
                newsize = oldsize + nextsize
                newp = oldp
                unlinkChunk(next, &h)
                forgetChunk(next)
            } else {
                // Allocate, copy, free.
                guard let newmem = intMalloc(nb - G.mallocAlignMask, &h) else { return nil }
                newp = newmem - G.chunkHdrSz
                newsize = chunksize(newp, &h)
                if newp == next {
                    newsize += oldsize
                    newp = oldp
                    forgetChunk(next)
                } else {
                    let oldmem = oldp + G.chunkHdrSz
                    let sz = chunksize(oldp, &h) - G.chunkHdrSz + G.sizeSz  // memsize (oldp)
                    G.load(&h, oldmem, sz)  // memcpy (newmem, oldmem, sz)
                    G.store(&h, newmem, sz)
                    intFree(oldp, haveLock: true, &h)
                    return newmem
                }
            }
        }

        let remainderSize = newsize - nb
        if remainderSize < G.minSize {
            setHeadSize(newp, newsize, &h)
            setInuseBitAtOffset(newp, newsize, &h)
        } else {
            let remainder = newp + nb
            setHeadSize(newp, nb, &h)
            setHead(remainder, remainderSize | G.prevInuse, &h)
            setInuseBitAtOffset(remainder, remainderSize, &h)
            intFree(remainder, haveLock: true, &h)
        }
        return newp + G.chunkHdrSz
    }

    // MARK: sysmalloc, systrim, munmap_chunk, mremap_chunk

    /// sysmalloc_mmap: a chunk of its own mapping; the user pointer, nil on MAP_FAILED.
    mutating func sysmallocMmap<H: MallocHost>(_ nb: UInt64, _ h: inout H) -> UInt64? {
        let size = G.alignUp(nb &+ G.sizeSz, G.pageSize)
        if size <= nb { return nil }
        guard let mm = h.mmap(length: size) else { return nil }
        setPrevSize(mm, 0, &h)
        setHead(mm, size | G.isMmappedBit, &h)
        nMmaps += 1
        mmappedMem &+= size
        mmapped[mm] = size
        return mm + G.chunkHdrSz
    }

    /// sysmalloc_mmap_fallback: memory for top when MORECORE failed; nil on failure. Updates `size`.
    ///
    /// glibc 2.36 calls it as `sysmalloc_mmap_fallback (&size, nb, old_size, pagesize,
    /// MMAP_AS_MORECORE_SIZE, 0, av)` against the parameters `(s, nb, old_size, minsize, pagesize,
    /// ...)`: the two are swapped, so the size is rounded up to 1 MiB while the arena is contiguous
    /// (the first fallback) and is at least one page (measured: a second fallback maps nb + top_pad
    /// + MINSIZE rounded to a page, not 1 MiB).
    mutating func sysmallocMmapFallback<H: MallocHost>(
        _ size: inout Int64, _ nb: UInt64, _ oldSize: UInt64, _ h: inout H
    ) -> UInt64? {
        let minsize = G.pageSize
        let pagesize = G.mmapAsMorecoreSize
        var s = UInt64(bitPattern: size)
        if contiguous { s = G.alignUp(s &+ oldSize, pagesize) }
        if s < minsize { s = minsize }
        if s <= nb { return nil }
        guard let mbrk = h.mmap(length: s) else { return nil }
        contiguous = false
        size = Int64(bitPattern: s)
        return mbrk
    }

    /// sysmalloc (av = main_arena): the user pointer, nil on ENOMEM.
    mutating func sysmalloc<H: MallocHost>(_ nb: UInt64, _ h: inout H) -> UInt64? {
        if nb >= mmapThreshold && nMmaps < nMmapsMax {
            if let mm = sysmallocMmap(nb, &h) { return mm }
        }

        let oldTop = top
        let oldSizeInitial = chunksize(oldTop, &h)
        var oldSize = oldSizeInitial
        let oldEnd = oldTop &+ oldSize

        var brk: UInt64?
        var sndBrk: UInt64?

        var size = Int64(bitPattern: nb &+ topPad &+ G.minSize)
        if contiguous { size = size &- Int64(bitPattern: oldSize) }
        size = Int64(bitPattern: G.alignUp(UInt64(bitPattern: size), G.pageSize))

        if size > 0 {
            brk = morecore(size, &h)
        }

        if brk == nil {
            if let mbrk = sysmallocMmapFallback(&size, nb, oldSize, &h) {
                brk = mbrk
                sndBrk = mbrk &+ UInt64(bitPattern: size)
            }
        }

        if let brk {
            if sbrkBase == 0 { sbrkBase = brk }
            systemMem &+= UInt64(bitPattern: size)

            if brk == oldEnd && sndBrk == nil {
                setHead(oldTop, (UInt64(bitPattern: size) &+ oldSize) | G.prevInuse, &h)
            } else if contiguous && oldSize != 0 && brk < oldEnd {
                // "break adjusted to free malloc space": glibc aborts. A foreign sbrk shrank the
                // heap; the model refuses the request instead.
                return nil
            } else {
                var correction: Int64 = 0
                var alignedBrk = brk
                if contiguous {
                    if oldSize != 0 { systemMem &+= brk &- oldEnd }
                    let frontMisalign = (brk &+ G.chunkHdrSz) & G.mallocAlignMask
                    if frontMisalign > 0 {
                        correction = Int64(bitPattern: 16 - frontMisalign)
                        alignedBrk &+= UInt64(bitPattern: correction)
                    }
                    correction &+= Int64(bitPattern: oldSize)
                    let endMisalign = brk &+ UInt64(bitPattern: size) &+ UInt64(bitPattern: correction)
                    correction &+= Int64(bitPattern: G.alignUp(endMisalign, G.pageSize) &- endMisalign)
                    sndBrk = morecore(correction, &h)
                    if sndBrk == nil {
                        correction = 0
                        sndBrk = morecore(0, &h)
                    }
                } else {
                    if sndBrk == nil { sndBrk = morecore(0, &h) }
                }

                if let sndBrk {
                    top = alignedBrk
                    setHead(top, (sndBrk &- alignedBrk &+ UInt64(bitPattern: correction)) | G.prevInuse, &h)
                    systemMem &+= UInt64(bitPattern: correction)

                    if oldSize != 0 {
                        // Double fencepost at the old top.
                        oldSize = (oldSize - 2 * G.chunkHdrSz) & ~G.mallocAlignMask
                        setHead(oldTop, oldSize | G.prevInuse, &h)
                        setHead(oldTop + oldSize, G.chunkHdrSz | G.prevInuse, &h)
                        setHead(oldTop + oldSize + G.chunkHdrSz, G.chunkHdrSz | G.prevInuse, &h)
                        if oldSize >= G.minSize {
                            intFree(oldTop, haveLock: true, &h)
                        }
                    }
                }
            }
        }

        if systemMem > maxSystemMem { maxSystemMem = systemMem }

        let p = top
        let topSize = chunksize(p, &h)
        if topSize >= nb + G.minSize {
            let remainderSize = topSize - nb
            let remainder = p + nb
            top = remainder
            setHead(p, nb | G.prevInuse, &h)
            setHead(remainder, remainderSize | G.prevInuse, &h)
            return p + G.chunkHdrSz
        }
        return nil
    }

    /// systrim: gives the top's whole pages above `pad` back with a negative sbrk.
    mutating func systrim<H: MallocHost>(_ pad: UInt64, _ h: inout H) -> Bool {
        let topSize = chunksize(top, &h)
        let topArea = Int64(bitPattern: topSize) &- Int64(bitPattern: G.minSize) &- 1
        if UInt64(bitPattern: topArea) <= pad { return false }  // long compared with size_t
        let extra = Int64(bitPattern: (UInt64(bitPattern: topArea) &- pad) & ~(G.pageSize - 1))
        if extra == 0 { return false }
        guard let currentBrk = morecore(0, &h), currentBrk == top &+ topSize else { return false }
        _ = morecore(0 &- extra, &h)
        guard let newBrk = morecore(0, &h) else { return false }
        let released = currentBrk &- newBrk
        if released != 0 {
            systemMem &-= released
            setHead(top, (topSize &- released) | G.prevInuse, &h)
            return true
        }
        return false
    }

    /// munmap_chunk.
    mutating func munmapChunk<H: MallocHost>(_ p: UInt64, _ h: inout H) {
        let size = chunksize(p, &h)
        let offset = prevSize(p, &h)
        let block = p - offset
        let totalSize = offset + size
        nMmaps -= 1
        mmappedMem &-= totalSize
        mmapped[block] = nil
        forgetChunk(p)
        h.munmap(address: block, length: totalSize)
    }

    /// mremap_chunk: the chunk after mremap, nil when mremap failed.
    mutating func mremapChunk<H: MallocHost>(_ pIn: UInt64, _ nb: UInt64, _ h: inout H) -> UInt64? {
        let offset = prevSize(pIn, &h)
        let size = chunksize(pIn, &h)
        let block = pIn - offset
        let totalSize = offset + size
        let newSize = G.alignUp(nb &+ offset &+ G.sizeSz, G.pageSize)
        if totalSize == newSize { return pIn }
        guard let cp = h.mremap(address: block, oldLength: totalSize, newLength: newSize) else { return nil }
        let p = cp + offset
        let head = sizeWord[pIn]
        let prev = prevSizeWord[pIn]
        forgetChunk(pIn)
        mmapped[block] = nil
        mmapped[cp] = newSize
        sizeWord[p] = head
        prevSizeWord[p] = prev
        _ = prevSize(p, &h)  // assert (prev_size (p) == offset)
        setHead(p, (newSize - offset) | G.isMmappedBit, &h)
        mmappedMem = mmappedMem &+ newSize &- size &- offset
        return p
    }
}
