// Random touches' samples drawn ahead, on a core the statements leave idle.

import CSomsimRuntime
import SomsimWorkload
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The samples of a statement list's random touches (`touch … random=COUNT seed=N`), drawn ahead
/// on a thread of their own while the simulator applies the statements before them
/// (`Simulator.apply(contentsOf:)`).
///
/// A sample is a pure function of its count, its page count and its seed
/// (`RandomPages.sampleRuns`), so a sample drawn on the other thread is the very one the touch
/// would draw: the touch takes it only when all three are what it asks for, and draws its own
/// otherwise. Only the page count is not known ahead — it is the touched range's, when the touch
/// runs — so the drawing thread takes the last random touch's (a fleet's workers touch copies of
/// one mapping). Results never depend on whether a sample was taken or drawn, nor on how the two
/// threads interleave.
///
/// Performance: a fleet's workers each write tens of random pages; drawing them was a sixth of
/// the statements' time on the one core the statements use (10,000 forks, issue 12).
///
/// The hand-over, without locks: sample slots in a ring of `window` statements. The drawing
/// thread fills statement k's slot, then publishes k in the slot's word (release); the
/// simulator reads a slot only after reading k there (acquire), while it applies statement k.
/// The drawing thread fills a slot again, for statement k + `window`, only once the simulator
/// has published (release) that it applies a statement past k, so it is done with the slot.
final class SamplePrefetcher: @unchecked Sendable {
    /// Statements the drawing thread may run ahead of the simulator.
    static let window = 256
    /// The largest count drawn ahead: a few pages a touch (a fleet's workers), not the bitmap
    /// walks of a touch of millions, which would only move the draw's memory traffic.
    static let largestCount: UInt64 = 1_024

    private struct Slot {
        var count: UInt64 = 0
        var pages: UInt64 = 0
        var seed: UInt64 = 0
        /// The sample's runs from page 0 (`base` 0); empty where no page count was known. Once
        /// its touch is done with them, handed back (`giveBack`) until the slot is filled again.
        var runs: [Range<UInt64>] = []
        /// The frames of a fresh run of `pages` pages after a write of the runs
        /// (`SamplePrefetcher.freshRun`), or nil.
        var freshRun: ExtentMap<FramePage>? = nil
    }

    /// The frames a copy-on-write write of `runs` gives a fresh run of `pages` pages, as the
    /// bulk path builds them (`bulkFault`): a map of `pages` not-present frames, the runs
    /// assigned `FramePage.copied` through `pool`. Performance: a fleet's worker copies every page
    /// of its random write into its new run; built here, on the drawing thread, the simulator
    /// takes the map instead of building it (`bulkFault`, 7% of the instructions of 10,000 forks).
    /// A pure function of its arguments, but for which arrays it shares with `pool`.
    static func freshRun(pages: UInt64, runs: [Range<UInt64>], pool: inout ExtentMap<FramePage>.ValuePool) -> ExtentMap<FramePage> {
        var map = FrameGroup.freshPages(pageCount: pages)
        map.assign(sortedRanges: runs, sharingValuesFrom: &pool) { _ in FramePage.copied }
        return map
    }

    private let statements: [Located<Statement>]
    private let range: Range<Int>
    /// Words shared by the two threads: `applied` on a cache line of its own (the simulator
    /// writes it every statement), `pages` and `stop` on the next, then each slot's statement.
    private let words: UnsafeMutablePointer<Int>
    private static let wordCount = 16 + window
    private let slots: UnsafeMutablePointer<Slot>
    /// The drawing thread, while it runs.
    private var thread: pthread_t? = nil
    /// Whether the simulator waits for each sample instead of drawing it when the drawing thread
    /// is behind, the drawing thread drawing each one when the simulator is at its statement
    /// (tests: every random touch's hand-over is exercised, and which are taken is determined).
    private let waits: Bool
    /// Whether the drawing thread also builds each sample's fresh run (`freshRun`).
    private let buildsRuns: Bool
    /// The statement the simulator applies (its thread's own copy of `applied`).
    private var current = -1
    /// The page count published last (the simulator's thread only).
    private var lastPages: UInt64 = 0
    /// Random touches that took a sample drawn ahead, and those that drew their own (the
    /// simulator's thread only; for tests: the hand-over is not vacuous).
    private(set) var taken = 0
    private(set) var drawn = 0

    private var applied: UnsafeMutablePointer<Int> { words }
    private var guessedPages: UnsafeMutablePointer<Int> { words + 8 }
    private var stop: UnsafeMutablePointer<Int> { words + 9 }
    private func filled(_ slot: Int) -> UnsafeMutablePointer<Int> { words + 16 + slot }

    /// A prefetcher for the random touches among `statements[range]`, not yet started.
    init(_ statements: [Located<Statement>], range: Range<Int>, waits: Bool = false, buildsRuns: Bool = true) {
        self.statements = statements
        self.range = range
        self.waits = waits
        self.buildsRuns = buildsRuns
        // `applied` and every slot's statement -1 (none yet), `pages` and `stop` 0. (Aligned
        // to a cache line: the three lines are where the comments above say.)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.wordCount * MemoryLayout<Int>.stride, alignment: 64)
        words = raw.initializeMemory(as: Int.self, repeating: -1, count: Self.wordCount)
        (words + 8).update(repeating: 0, count: 2)
        slots = .allocate(capacity: Self.window)
        slots.initialize(repeating: Slot(), count: Self.window)
    }

    deinit {
        slots.deinitialize(count: Self.window)
        slots.deallocate()
        words.deallocate()
    }

    /// Whether `statements[range]` holds random touches enough to be worth a thread.
    static func worthwhile(_ statements: [Located<Statement>], range: Range<Int>) -> Bool {
        var found = 0
        for k in range where Self.sampled(statements[k].value) != nil {
            found += 1
            if found == 64 { return true }
        }
        return false
    }

    /// The count and seed of a random touch this prefetcher draws ahead, or nil.
    private static func sampled(_ statement: Statement) -> (count: UInt64, seed: UInt64)? {
        guard case .touch(_, _, _, _, .random(let count, let seed)) = statement, count > 0, count <= largestCount else { return nil }
        return (count, seed)
    }

    /// Starts the drawing thread: a thread of its own, not one of Dispatch's or Swift
    /// concurrency's pools, whose threads may all be busy applying statements (tests run
    /// simulators in parallel tasks), waiting for it. Where no thread can be made, nothing is
    /// drawn ahead and every touch draws its own.
    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            #if canImport(Glibc)
            let context = context!
            #endif
            let prefetcher = Unmanaged<SamplePrefetcher>.fromOpaque(context).takeRetainedValue()
            prefetcher.draw()
            return nil
        }, context)
        if status == 0 {
            self.thread = thread
        } else {
            Unmanaged<SamplePrefetcher>.fromOpaque(context).release()
        }
    }

    /// Stops the drawing thread and waits until it has.
    func finish() {
        somsim_store_release(stop, 1)
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    /// The drawing thread: each random touch's sample, in statement order, at most `window`
    /// statements ahead of the simulator.
    private func draw() {
        var stopped: Bool { somsim_load_acquire(stop) != 0 }
        // The arrays of frame values the fresh runs built here share (the simulator's own pool
        // is its thread's).
        var pool = ExtentMap<FramePage>.ValuePool()
        for k in range {
            guard let (count, seed) = Self.sampled(statements[k].value) else { continue }
            // Room: the simulator is done with this slot's statement of one window before.
            while somsim_load_acquire(applied) <= k - Self.window {
                if stopped { return }
                usleep(50)
            }
            // Waiting (tests), in lock step: the guess is then the random touch's before, always.
            while waits && somsim_load_acquire(applied) < k {
                if stopped { return }
                sched_yield()
            }
            // No guess before the first random touch has run: wait for one (unless the simulator
            // waits for this very slot), or until the simulator is past this statement.
            var pages = somsim_load_acquire(guessedPages)
            while pages == 0 && !waits && somsim_load_acquire(applied) <= k {
                if stopped { return }
                usleep(50)
                pages = somsim_load_acquire(guessedPages)
            }
            if stopped { return }
            // Too late: the simulator applies a statement past this one.
            if !waits && somsim_load_acquire(applied) > k { continue }
            let slot = k % Self.window
            let guessed = UInt64(truncatingIfNeeded: pages)
            slots[slot].count = count
            slots[slot].pages = guessed
            slots[slot].seed = seed
            slots[slot].runs = guessed == 0 ? [] : RandomPages.sampleRuns(count: min(count, guessed), of: guessed, seed: seed, base: 0)
            slots[slot].freshRun = guessed == 0 || !buildsRuns ? nil : Self.freshRun(pages: guessed, runs: slots[slot].runs, pool: &pool)
            somsim_store_release(filled(slot), k)
        }
    }

    /// The simulator's thread: it applies statement `k` now (and is done with every one before).
    func begin(_ k: Int) {
        current = k
        somsim_store_release(applied, k)
    }

    /// The simulator's thread, in a random touch of `pages` pages (from page 0) of the statement
    /// it applies: the runs `RandomPages.sampleRuns(count: min(count, pages), of: pages, seed:
    /// seed, base: 0)` where they were drawn ahead for exactly these, else nil. Either way a
    /// nonzero `pages` becomes the drawing thread's guess.
    func take(count: UInt64, pages: UInt64, seed: UInt64) -> [Range<UInt64>]? {
        defer {
            if pages != 0 && pages != lastPages {
                lastPages = pages
                somsim_store_release(guessedPages, Int(truncatingIfNeeded: pages))
            }
        }
        guard pages > 0, thread != nil, range.contains(current), Self.sampled(statements[current].value) != nil else { return nil }
        let slot = current % Self.window
        if waits {
            while somsim_load_acquire(filled(slot)) != current { sched_yield() }
        }
        guard somsim_load_acquire(filled(slot)) == current, slots[slot].count == count, slots[slot].pages == pages, slots[slot].seed == seed else {
            drawn += 1
            return nil
        }
        taken += 1
        var runs: [Range<UInt64>] = []
        swap(&runs, &slots[slot].runs)
        return runs
    }

    /// The simulator's thread, after `take` gave the current statement its runs: the frames a
    /// fresh run of the touch's page count takes from a write of them (`freshRun`), built on
    /// the drawing thread, or nil. Taken out of the slot.
    func takeFreshRun() -> ExtentMap<FramePage>? {
        guard thread != nil, range.contains(current) else { return nil }
        var built: ExtentMap<FramePage>? = nil
        swap(&built, &slots[current % Self.window].freshRun)
        return built
    }

    /// Hands the runs `take` gave the current statement back to its slot, once the touch is
    /// done with them: the drawing thread, which allocated them, frees them when it fills the
    /// slot again. Performance: freed by the simulator's thread, each array went back to the
    /// drawing thread's malloc arena under that arena's lock, while that thread allocated in it.
    /// (The slot is the drawing thread's again only once `begin` has published a later
    /// statement: this store happens before it.)
    func giveBack(_ runs: [Range<UInt64>]) {
        guard thread != nil, range.contains(current) else { return }
        slots[current % Self.window].runs = runs
    }
}
