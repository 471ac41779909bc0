// A mapping's page states, with the pages of its own run stored under a placeholder so that
// maps built alike hold equal values.

/// The page states of one mapping (`Mapping.pages`): an `ExtentMap<PageState>` that every reader
/// and writer sees as it is, except that the pages of the mapping's own run (`ownRun`) are
/// stored as pages of a placeholder run, `PageMap.own`, and given back as `ownRun`'s.
///
/// Performance (issue 12: 100,000 workers in 300 MB): a fresh worker's random write leaves its
/// mapping alternating two states, the master's pages and its own copies, over ~129 extents.
/// The copies name the worker's own run, so no two workers' arrays of states were equal, and
/// each worker kept 1 KiB of them. Stored under the placeholder they are equal, and fresh
/// workers hold one array of them (`ExtentMap.shareValues`, `Simulator.bulkSharesStates`).
///
/// `ownRun` is set once, on a map of one extent (`adopt(ownRun:)`), and stays: a copy of the map
/// (a forked child's, a remapped mapping's) carries it, so the stored values mean the same run
/// wherever they go. A map without one stores every state as it is.
struct PageMap {
    /// The states as stored: `ownRun`'s pages under `PageMap.own`.
    private(set) var stored: ExtentMap<PageState>
    /// The run whose pages are stored under `PageMap.own`, if any.
    private(set) var ownRun: GroupID? = nil

    /// The placeholder run, never a group's.
    static let own = GroupID(index: -1)

    init(length: UInt64, value: PageState, chunkCapacity: Int = 128) {
        stored = ExtentMap(length: length, value: value, chunkCapacity: chunkCapacity)
    }

    /// Makes `run` the map's own run. Only a map of one extent whose state is not `run`'s can
    /// take one, and only once: returns false otherwise, having changed nothing.
    @discardableResult
    mutating func adopt(ownRun run: GroupID) -> Bool {
        guard ownRun == nil, stored.extentCount == 1 else { return false }
        if case .anon(run, _) = stored.value(at: 0) { return false }
        ownRun = run
        return true
    }

    /// The state a stored value stands for, for a map whose own run is `ownRun`.
    @inline(__always) static func outward(_ state: PageState, _ ownRun: GroupID) -> PageState {
        if case .anon(Self.own, let writable) = state { return .anon(run: ownRun, writable: writable) }
        return state
    }

    /// How a state is stored in a map whose own run is `ownRun`.
    @inline(__always) static func inward(_ state: PageState, _ ownRun: GroupID) -> PageState {
        if case .anon(ownRun, let writable) = state { return .anon(run: Self.own, writable: writable) }
        return state
    }

    /// The state a stored value stands for.
    @inline(__always) func outward(_ state: PageState) -> PageState {
        guard let ownRun else { return state }
        return Self.outward(state, ownRun)
    }

    /// How a state is stored.
    @inline(__always) func inward(_ state: PageState) -> PageState {
        guard let ownRun else { return state }
        return Self.inward(state, ownRun)
    }

    // MARK: The map's interface, values translated

    var length: UInt64 { stored.length }
    var extentCount: Int { stored.extentCount }
    var chunkCount: Int { stored.chunkCount }

    @inline(__always) func value(at index: UInt64) -> PageState { outward(stored.value(at: index)) }

    @inline(__always) func forEach(in range: Range<UInt64>, _ body: (Range<UInt64>, PageState) throws -> Void) rethrows {
        guard let ownRun else { return try stored.forEach(in: range, body) }
        try stored.forEach(in: range) { try body($0, Self.outward($1, ownRun)) }
    }

    @inline(__always) func forEachMerging(inSortedRanges ranges: [Range<UInt64>], _ body: (Range<UInt64>, PageState) throws -> Void) rethrows {
        guard let ownRun else { return try stored.forEachMerging(inSortedRanges: ranges, body) }
        try stored.forEachMerging(inSortedRanges: ranges) { try body($0, Self.outward($1, ownRun)) }
    }

    @inline(__always) func forEachExtent(inChunks range: Range<Int>, _ body: (UInt64, UInt64, PageState) throws -> Void) rethrows {
        guard let ownRun else { return try stored.forEachExtent(inChunks: range, body) }
        try stored.forEachExtent(inChunks: range) { try body($0, $1, Self.outward($2, ownRun)) }
    }

    func sequence(in range: Range<UInt64>) -> LazyMapSequence<ExtentMap<PageState>.ExtentSequence, (Range<UInt64>, PageState)> {
        let ownRun = ownRun
        return stored.sequence(in: range).lazy.map { range, state in (range, ownRun.map { Self.outward(state, $0) } ?? state) }
    }

    func extent(containing index: UInt64) -> (range: Range<UInt64>, value: PageState) {
        let (range, value) = stored.extent(containing: index)
        return (range, outward(value))
    }

    func extents(in range: Range<UInt64>) -> [(range: Range<UInt64>, value: PageState)] {
        let list = stored.extents(in: range)
        guard ownRun != nil else { return list }
        return list.map { ($0.range, outward($0.value)) }
    }

    @inline(__always) mutating func assign(_ range: Range<UInt64>, _ value: PageState) {
        stored.assign(range, inward(value))
    }

    /// `ExtentMap.assign(sortedRanges:_:)` of one state for every range. Performance: the
    /// closure here is a literal the compiler specializes the merge for; a caller's closure
    /// passed through this wrapper was called indirectly for every range (RandomTouches:
    /// 1,419.6 M instructions against 1,381.0 M).
    @inline(__always) mutating func assign(sortedRanges ranges: [Range<UInt64>], to value: PageState) {
        let state = inward(value)
        stored.assign(sortedRanges: ranges) { _ in state }
    }

    @discardableResult
    mutating func assign<Other>(alongBoundariesOf other: ExtentMap<Other>, _ value: (Other) -> PageState) -> Bool {
        let ownRun = ownRun
        return stored.assign(alongBoundariesOf: other) { page in
            let state = value(page)
            return ownRun.map { Self.inward(state, $0) } ?? state
        }
    }

    /// `ExtentMap.assign(alongBoundariesOf:chunkValues:)`, the values returned as stored
    /// (`inward`): the caller stores them as they are.
    @discardableResult
    mutating func assign<Other>(alongBoundariesOf other: ExtentMap<Other>, storedChunkValues: ([Other]) -> [PageState]) -> Bool {
        stored.assign(alongBoundariesOf: other, chunkValues: storedChunkValues)
    }

    @discardableResult
    mutating func shareBoundaries<Other>(with other: ExtentMap<Other>) -> Bool {
        stored.shareBoundaries(with: other)
    }

    @inline(__always) mutating func modify(_ range: Range<UInt64>, _ transform: (Range<UInt64>, inout PageState) -> Void) {
        guard let ownRun else { return stored.modify(range, transform) }
        stored.modify(range) { range, state in
            var value = Self.outward(state, ownRun)
            transform(range, &value)
            state = Self.inward(value, ownRun)
        }
    }

    mutating func grow(to newLength: UInt64, value: PageState) {
        stored.grow(to: newLength, value: inward(value))
    }

    func truncated(to newLength: UInt64) -> PageMap {
        var map = self
        map.stored = stored.truncated(to: newLength)
        return map
    }
}
