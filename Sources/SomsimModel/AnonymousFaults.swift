// Anonymous faults: private pages, the zero page, copy-on-write and reuse — mm/memory.c
// (do_anonymous_page, do_wp_page, wp_page_copy).

import SomsimWorkload

extension Simulator {
    /// A fault on private anonymous pages `pages` that no large folio serves: a read maps the zero
    /// page, a write allocates small pages.
    mutating func anonymousFault(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        // The kernel decides the folio size fault by fault: a 4 KiB fallback reaches only
        // to the next aligned block that could get a large folio (measured: an unaligned
        // mapping under mthp=64K takes one 4 KiB fault, then 64 KiB folios: validation/mthp-unaligned.somw).
        let pages = pages.lowerBound..<smallFolioEnd(f.mapping, pages, f.access)
        let count = UInt64(pages.count)
        // Single-owner memory has no zero page: the pool serves every first touch.
        if f.access == .read && !f.mapping.isSingleOwner {
            // A read of untouched private anonymous memory maps the zero page
            // (mm/memory.c: do_anonymous_page); no anon_vma is made for it.
            f.mapping.pages.assign(pages, .zero)
            setPMDMapped(&f.mapping, pages, false)
            f.tally.faults += count
            mapTables(f.process, f.mapping, pages)
            return pages.upperBound
        }
        return allocatePrivate(&f, pages, fromReservation: true)
    }

    /// The bulk path of `fault`: a touch of many ranges (random or strided) that all lie in one
    /// extent of one state and one VMA of 4 KiB private anonymous memory where no large folio can
    /// be allocated. It does exactly what the page-by-page path does — the differential test in
    /// BulkTouchTests holds it to that — but with one merge pass per map instead of several
    /// lookups per page. Returns false, having changed nothing, when it does not apply.
    mutating func bulkFault(_ f: inout FaultContext, _ ranges: [Range<UInt64>]) -> Bool {
        guard bulkTouches, ranges.count >= 16, f.mapping.huge == nil, f.mapping.isPrivateAnonymousLike, !f.mapping.isSingleOwner, f.mapping.pmdMapped == nil else {
            return false
        }
        let span = ranges[0].lowerBound..<ranges[ranges.count - 1].upperBound
        let vma = f.mapping.vma.extent(containing: span.lowerBound)
        guard vma.value.allows(f.access), vma.range.upperBound >= span.upperBound else { return false }
        if !largeFolioOrders.isEmpty && Self.thpAllowed(machine.thp, vma.value) { return false }
        let extent = f.mapping.pages.extent(containing: span.lowerBound)
        let total = ranges.reduce(0) { $0 + UInt64($1.count) }
        // Near the memory limit the page-by-page path decides, step by step, what fits.
        guard roomPages() >= total else { return false }
        guard extent.range.upperBound >= span.upperBound else {
            return bulkFaultAcrossExtents(&f, ranges, span: span)
        }
        switch (extent.value, f.access) {
        case (.zero, .read), (.anon(_, true), _), (.anon(_, false), .read):
            return true  // present and accessible: no fault
        case (.none, _), (.zero, .write):
            firstTouches(&f, ranges, pages: total, span: span)
        case (.anon(let run, false), .write):
            // Reuse where this process alone maps the page, copy where others do too, dropping
            // the mapcount of each page copied (`ExtentMap.copyOnWrite`: what
            // `addMapcount(group: run, range, delta: -1)` does for each copied range).
            // Performance: the ranges ascend, so each lookup in the run (split into as many
            // extents as its pages have distinct mapcounts after thousands of workers' copies)
            // searches forward from the one before; the lookups are batched, so that their
            // cache misses in the master's run overlap.
            // (The lists' storage is the simulator's, taken out for the call and given back
            // empty: `bulkLists`.)
            var lists = BulkLists()
            swap(&lists, &bulkLists)
            defer {
                lists.empty()
                swap(&lists, &bulkLists)
            }
            lists.reserve(ranges.count)
            let anonymous = groups[run].kind == .anonymousRun
            let copiedCount: UInt64
            if bulkLookupsBatched {
                // nil: a large folio, for the page-by-page path (nothing has changed).
                guard let copied = groups[run].pages.copyOnWrite(ranges, anonymous: anonymous, reused: &lists.reused, copied: &lists.copied, deferred: &lists.deferred, guide: &lists.guide, splitsCrowded: bulkSplitsCrowdedRuns) else {
                    return false
                }
                copiedCount = copied
            } else {
                // The forward lookups, one range at a time, then the drops (tests hold the
                // batched pass to these).
                var small = true
                var copied: UInt64 = 0
                groups[run].pages.forEach(inSortedRanges: ranges) { pages, page, position in
                    if page.order > 0 { small = false }
                    if page.mapcount <= 1 {
                        lists.reused.append(pages)
                    } else {
                        lists.copied.append(pages)
                        lists.deferred.positions.append(position)
                        copied += UInt64(pages.count)
                    }
                }
                guard small else { return false }
                groups[run].pages.addCounter(-1, inSortedRanges: lists.copied, at: lists.deferred.positions) { _, page in
                    if anonymous && page.present { page.present = false }
                }
                copiedCount = copied
            }
            f.mapping.pages.assign(sortedRanges: lists.reused, to: .anon(run: run, writable: true))
            if !lists.copied.isEmpty {
                // Performance: every page of the touch copied into the run this write creates:
                // the run is made with the frames the samples' thread built from the same
                // ranges (`SamplePrefetcher.freshRun`: the same assignment to the same fresh
                // map; the copied pieces cover the touch's ranges exactly, and equal neighbours
                // merge alike), moved out of the context. (Made with frames none present, then
                // given the built ones, each worker's run allocated a map only to free it, and
                // took and let go the one boundary array all new maps start with, which the
                // samples' thread takes and lets go too for every run it builds: a reference
                // count written from both cores.)
                let created = f.tally.newRun == nil && copiedCount == total && f.freshRun?.length == f.mapping.pageCount
                let new = created ? runForTally(&f, frames: f.freshRun.take()!) : runForTally(&f)
                if created { drawnRunsTaken += 1 }
                // Performance: where the run and the mapping are each one extent before (a
                // fresh worker's first write), the mapping's page states are built on the run's
                // boundaries (`assign(alongBoundariesOf:)`): the same extents as its own merge of
                // the same ranges would give, each map's new value other than its old one.
                let oldFrame = created ? FramePage() : groups[new].pages.value(at: 0)
                let newFrame = FramePage.copied
                let oldState = f.mapping.pages.value(at: 0)
                let newState = PageState.anon(run: new, writable: true)
                let freshRun = created || groups[new].pages.extentCount == 1
                let alongRun = bulkMapsAlongRun && freshRun && f.mapping.pages.extentCount == 1
                    && oldFrame != newFrame && oldState != newState
                // Performance: a fresh worker's run holds the same two values in the same order
                // as the fresh runs before it; one array of them serves all (`shareValues`).
                if created {
                    // (The run holds the built frames already.)
                } else if freshRun, copiedCount == total, let drawn = f.freshRun, drawn.length == groups[new].pages.length,
                    oldFrame == FramePage()
                {
                    // A run this touch made before this write (a write the bulk path did not
                    // take first): the same frames, taken in place of its fresh ones.
                    groups[new].pages = drawn
                    drawnRunsTaken += 1
                } else if bulkSharesValues && freshRun {
                    groups[new].pages.assign(sortedRanges: lists.copied, sharingValuesFrom: &freshRunValues) { _ in newFrame }
                } else {
                    groups[new].pages.assign(sortedRanges: lists.copied) { _ in newFrame }
                }
                // Performance: the mapping stores its copies as its own run's (`PageMap.adopt`),
                // so that its states, like the run's frames, are the same values in the same
                // order as other fresh workers' and one array of them serves all.
                var built = false
                if alongRun && bulkSharesStates && f.mapping.pages.adopt(ownRun: new) {
                    let (storedOld, storedNew) = (f.mapping.pages.inward(oldState), f.mapping.pages.inward(newState))
                    built = f.mapping.pages.assign(alongBoundariesOf: groups[new].pages) { frames in
                        freshStates.states(for: frames, newFrame: newFrame, old: storedOld, new: storedNew)
                    }
                } else if alongRun {
                    built = f.mapping.pages.assign(alongBoundariesOf: groups[new].pages, { $0 == newFrame ? newState : oldState })
                }
                if !built {
                    f.mapping.pages.assign(sortedRanges: lists.copied, to: newState)
                    // Performance: a fresh worker's two new maps have the same boundaries; one copy
                    // of them serves both (`shareBoundaries`: issue 12, memory a worker keeps).
                    if bulkSharesBoundaries { f.mapping.pages.shareBoundaries(with: groups[new].pages) }
                }
            }
            anonPages += copiedCount
            f.tally.faults += total
            f.tally.copies += copiedCount
            f.tally.reuses += total - copiedCount
        default:
            return false
        }
        return true
    }

    /// `bulkFault`'s lists of the pages a write reuses and copies, the storage for the
    /// drops `ExtentMap.copyOnWrite` leaves to `addCounter` (on the forward path, where every
    /// copied piece was found), and the guide to the chunks of the run copied from last
    /// (`ExtentMap.ChunkGuide`: a fleet's workers all copy from their master's run).
    struct BulkLists {
        var reused: [Range<UInt64>] = []
        var copied: [Range<UInt64>] = []
        var deferred = ExtentMap<FramePage>.DeferredCounts()
        var guide = ExtentMap<FramePage>.ChunkGuide()

        mutating func reserve(_ count: Int) {
            reused.reserveCapacity(count)
            copied.reserveCapacity(count)
        }

        /// Empty, the storage kept where it is small (a huge random touch's lists are let go:
        /// they would be held for the rest of the run).
        mutating func empty() {
            reused.removeAll(keepingCapacity: reused.capacity <= Self.kept)
            copied.removeAll(keepingCapacity: copied.capacity <= Self.kept)
            deferred.ranges.removeAll(keepingCapacity: deferred.ranges.capacity <= Self.kept)
            deferred.positions.removeAll(keepingCapacity: deferred.positions.capacity <= Self.kept)
        }

        /// The most pages a list keeps room for between writes.
        static let kept = 4_096
    }

    /// The arrays of stored states fresh workers' mappings were given (`bulkSharesStates`), by
    /// the array of frames each chunk was built from. Performance: the frames of fresh runs are
    /// one shared array (`ExtentMap.shareValues`), so a mapping built from the very array the
    /// last one was, with the same states, is given the very array of states the last one was:
    /// no states built, none compared, one array for the fleet.
    struct FreshStates {
        private var last: [Int: (frames: [FramePage], newFrame: FramePage, old: PageState, new: PageState, states: [PageState])] = [:]
        /// Chunks given an array built before (for tests: the sharing is not vacuous).
        private(set) var reused = 0

        /// For each frame of `frames`, `new` where it is `newFrame`, else `old`.
        mutating func states(for frames: [FramePage], newFrame: FramePage, old: PageState, new: PageState) -> [PageState] {
            if let kept = last[frames.count], kept.newFrame == newFrame, kept.old == old, kept.new == new,
                kept.frames.withUnsafeBufferPointer({ a in frames.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } })
            {
                reused += 1
                return kept.states
            }
            let states = frames.map { $0 == newFrame ? new : old }
            // Keeping `frames` keeps its buffer: no other array can take its address meanwhile.
            last[frames.count] = (frames, newFrame, old, new, states)
            return states
        }
    }

    /// `bulkFault` where the touched ranges cross extents of several states (a random touch of a
    /// mapping that earlier touches fragmented: zero pages, written pages and untouched ones
    /// interleaved). Applies when every piece either needs no fault or takes the same first-touch
    /// fault — a read maps the zero page over untouched pages, a write allocates a new page over
    /// untouched or zero pages (mm/memory.c: do_anonymous_page, as in `anonymousFault` and
    /// `allocatePrivate`) — so the pieces are merged into each map in one pass. A write over
    /// write-protected (forked) pages needs the page-by-page copy-or-reuse decision: then it
    /// returns false, having changed nothing. The caller has checked the VMA, the folio size and
    /// the room for every page.
    private mutating func bulkFaultAcrossExtents(_ f: inout FaultContext, _ ranges: [Range<UInt64>], span: Range<UInt64>) -> Bool {
        var faulting: [Range<UInt64>] = []
        faulting.reserveCapacity(ranges.count)
        var count: UInt64 = 0
        var applies = true
        // Performance: one merge of the ranges with the extents (`forEachMerging`): the ranges of
        // a random touch are about as dense as the extents they cross.
        f.mapping.pages.forEachMerging(inSortedRanges: ranges) { pages, state in
            switch (state, f.access) {
            case (.none, _), (.zero, .write):
                // Pieces of one range in neighbouring extents (untouched, then zero) join.
                if let last = faulting.last, last.upperBound == pages.lowerBound {
                    faulting[faulting.count - 1] = last.lowerBound..<pages.upperBound
                } else {
                    faulting.append(pages)
                }
                count += UInt64(pages.count)
            case (.zero, .read), (.anon(_, true), _), (.anon(_, false), .read):
                break  // present and accessible: no fault
            case (.anon(_, false), .write), (.cache, _):
                applies = false
            }
        }
        guard applies else { return false }
        if !faulting.isEmpty { firstTouches(&f, faulting, pages: count, span: span) }
        return true
    }

    /// The first-touch faults of the bulk paths on `ranges` (ascending, `pages` pages in all,
    /// untouched or, for a write, zero pages) inside `span`, one VMA: a read maps the zero page,
    /// a write allocates new pages in the statement's run (mm/memory.c: do_anonymous_page).
    private mutating func firstTouches(_ f: inout FaultContext, _ ranges: [Range<UInt64>], pages: UInt64, span: Range<UInt64>) {
        if f.access == .read {
            f.mapping.pages.assign(sortedRanges: ranges, to: .zero)
        } else {
            let run = runForTally(&f)
            let page = FramePage(mapcount: 1, present: true, dirty: true)
            let state = PageState.anon(run: run, writable: true)
            if measureThreads > 1 && ranges.count >= parallelMergeRanges
                && ranges.count * 4 >= max(groups[run].pages.extentCount, f.mapping.pages.extentCount) {
                // Performance: a touch of very many pages merges its ranges into two maps, the
                // run's and the mapping's, each a pass over all its extents and the ranges: the
                // two passes run on two cores (each builds its map anew, so the two only read
                // what they share).
                let (runPages, mappingPages) = Self.merged(ranges, into: groups[run].pages, page, and: f.mapping.pages, state)
                groups[run].pages = runPages
                f.mapping.pages = mappingPages
            } else {
                groups[run].pages.assign(sortedRanges: ranges) { _ in page }
                f.mapping.pages.assign(sortedRanges: ranges, to: state)
            }
            markAnonVMA(f.process, &f.mapping, pages: span)
            anonPages += pages
        }
        f.tally.faults += pages
        mapTables(f.process, f.mapping, coveringTablesOf: ranges)
    }

    /// `runPages` and `mappingPages` with every range of `ranges` set to `page` and `state`, the
    /// two merges on two threads (each as `assign(sortedRanges:)` makes it, from a copy).
    private static func merged(_ ranges: [Range<UInt64>], into runPages: ExtentMap<FramePage>, _ page: FramePage, and mappingPages: PageMap, _ state: PageState) -> (ExtentMap<FramePage>, PageMap) {
        enum Merged {
            case run(ExtentMap<FramePage>)
            case mapping(PageMap)
        }
        let both = Parallel.map(count: 2, threads: 2) { half -> Merged in
            if half.lowerBound == 0 {
                var map = runPages
                map.assign(sortedRanges: ranges) { _ in page }
                return .run(map)
            }
            var map = mappingPages
            map.assign(sortedRanges: ranges, to: state)
            return .mapping(map)
        }
        guard case .run(let run) = both[0], case .mapping(let mapping) = both[1] else {
            preconditionFailure("Parallel.map returns its slices in order")
        }
        return (run, mapping)
    }

    /// Allocates new private pages for `pages` (a fault each). HugeTLB pages come from the pool:
    /// the reservation of the process that made the mapping first, then free pages no reservation
    /// holds; when there are none the fault raises SIGBUS (mm/hugetlb.c: alloc_hugetlb_folio).
    mutating func allocatePrivate(_ f: inout FaultContext, _ pages: Range<UInt64>, fromReservation: Bool, writable: Bool = true) -> UInt64 {
        var end = pages.upperBound
        if let huge = f.mapping.huge {
            end = takeHugePages(huge, &f.mapping, pages, fromReservation: fromReservation)
        } else {
            anonPages += UInt64(pages.count)
        }
        let taken = pages.lowerBound..<end
        if !taken.isEmpty {
            let run = runForTally(&f)
            groups[run].pages.assign(taken, FramePage(mapcount: 1, present: true, dirty: true))
            f.mapping.pages.assign(taken, .anon(run: run, writable: writable))
            setPMDMapped(&f.mapping, taken, false)
            // Cheap once the faulting VMA has its anon_vma (markAnonVMA looks at `taken` first).
            markAnonVMA(f.process, &f.mapping, pages: taken)
            f.tally.faults += UInt64(taken.count)
            mapTables(&f, taken)
            // Single-owner pages take their 2 MiB units from the pool (SomPool.swift).
            if f.mapping.isSingleOwner { takeSomUnits(f.process, f.mapping, taken) }
        }
        if end < pages.upperBound { f.tally.signal = .SIGBUS }
        return end
    }

    mutating func runForTally(_ f: inout FaultContext) -> GroupID {
        if let run = f.tally.newRun { return run }
        let run = newGroup(FrameGroup(kind: .anonymousRun, huge: f.mapping.huge, pageCount: f.mapping.pageCount))
        groups[run].singleOwner = f.mapping.isSingleOwner
        f.tally.newRun = run
        return run
    }

    /// `runForTally` where the tally has no run yet: the run it makes holds `frames` (as many
    /// as the mapping has pages) instead of frames none present.
    mutating func runForTally(_ f: inout FaultContext, frames: consuming ExtentMap<FramePage>) -> GroupID {
        precondition(f.tally.newRun == nil && frames.length == f.mapping.pageCount, "a new run of the mapping's pages")
        let run = newGroup(FrameGroup(kind: .anonymousRun, huge: f.mapping.huge, pages: frames))
        groups[run].singleOwner = f.mapping.isSingleOwner
        f.tally.newRun = run
        return run
    }

    /// A write to write-protected private pages: reused where no other process maps the page
    /// (mm/memory.c: wp_can_reuse_anon_folio; counted as pgreuse), copied where one does.
    mutating func writeProtected(_ f: inout FaultContext, _ pages: Range<UInt64>, run: GroupID) -> UInt64 {
        // One page (random and strided touches) needs no list of extents.
        let extents: [(range: Range<UInt64>, value: FramePage)] =
            pages.count == 1 ? [(pages, groups[run].pages.value(at: pages.lowerBound))] : groups[run].pages.extents(in: pages)
        for (range, page) in extents {
            if page.order > 0 {
                writeLargeFolio(&f, range, run: run, order: page.order)
                continue
            }
            if page.mapcount <= 1 {
                f.mapping.pages.assign(range, .anon(run: run, writable: true))
                f.tally.faults += UInt64(range.count)
                f.tally.reuses += UInt64(range.count)
                continue
            }
            if f.mapping.huge != nil {
                if let stop = copyHugePages(&f, range, run: run) { return stop }
                continue
            }
            addMapcount(group: run, range, delta: -1)
            _ = allocatePrivate(&f, range, fromReservation: false)
            f.tally.copies += UInt64(range.count)
        }
        return pages.upperBound
    }
}
