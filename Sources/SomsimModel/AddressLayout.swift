// The address ranges of one process's mappings, sorted by start, with the widest gap of every
// subtree: the top-down placement search in O(log n) instead of a walk over every mapping.

import SomsimWorkload

/// Every mapping's [start, end) of a process, sorted by start (ranges with the same start keep
/// the order they were inserted in), inside a window [low, high).
///
/// A treap (a binary search tree balanced by random priorities, here drawn from a fixed-seed
/// generator so a run is always the same) kept in one array. Each node holds, for its subtree,
/// the number of ranges, the start of the first and the end of the last, and the widest gap
/// between two consecutive ranges of the subtree. That is what the kernel keeps in its maple tree
/// for `vm_unmapped_area` (mm/mmap.c: unmapped_area_topdown walks down to the highest gap that is
/// wide enough): here `placement` skips every subtree whose widest gap is narrower than the
/// length, and tries the rest highest first with the exact aligned fit, so it returns the same
/// address as a walk over every gap from the top down. Insert, remove, the i-th range and the
/// first range satisfying a monotone predicate are O(log n) (expected).
struct AddressLayout {
    typealias Entry = (start: UInt64, end: UInt64, name: String)

    /// (Performance: a node holds no reference, so reading and writing nodes on the paths of
    /// split and merge retains and releases nothing; the names are kept apart, in `names`.)
    private struct Node {
        var start: UInt64
        var end: UInt64
        var priority: UInt64
        var left = -1
        var right = -1
        /// Of the subtree: ranges, start of the first range, end of the last range.
        var count = 1
        var firstStart: UInt64
        var lastEnd: UInt64
        /// Of the subtree: the widest gap between two consecutive ranges, as `Self.width`.
        var widestGap: UInt64 = 0
    }

    /// The window placement searches: ranges go at or above `low` and end at or below `high`.
    let low: UInt64
    let high: UInt64
    private var nodes: [Node] = []
    /// The mapping name of each node, by node index.
    private var names: [String] = []
    private var unused: [Int] = []
    private var root = -1
    private var priorities: SplitMix64

    init(low: UInt64 = WorkloadWindow.lowAddress, high: UInt64 = WorkloadWindow.highAddress) {
        self.low = low
        self.high = high
        priorities = SplitMix64(seed: 0x5EED_1A70)
    }

    var count: Int { root < 0 ? 0 : nodes[root].count }
    var isEmpty: Bool { root < 0 }

    /// The mappings' names in address order (`SimProcess.mappingNamesByAddress`). Performance:
    /// asked of the layout, not of the process, which a read through the process table copied
    /// whole on every fork (retaining and releasing its table, layout and page tables).
    var namesInOrder: [String] {
        var names: [String] = []
        names.reserveCapacity(count)
        forEach { names.append($0.name); return true }
        return names
    }

    // MARK: Placement

    /// The highest address range of `length` bytes aligned to `alignment` that fits in the window
    /// below every range above it: Linux's top-down search (mm/mmap.c: vm_unmapped_area with
    /// VM_UNMAPPED_AREA_TOPDOWN), restricted to the window. The gaps are tried from the top down:
    /// above the last range, between consecutive ranges, below the first.
    func placement(length: UInt64, alignment: UInt64) -> UInt64? {
        guard root >= 0 else { return Self.fit(length, alignment, below: high, above: low) }
        if let address = Self.fit(length, alignment, below: high, above: nodes[root].lastEnd) { return address }
        if let address = highestFit(in: root, length, alignment) { return address }
        return Self.fit(length, alignment, below: nodes[root].firstStart, above: low)
    }

    /// The highest fit in a gap between two consecutive ranges of `t`'s subtree.
    private func highestFit(in t: Int, _ length: UInt64, _ alignment: UInt64) -> UInt64? {
        // A gap that can hold the length is at least that wide; one that is not needs no look.
        guard t >= 0, nodes[t].widestGap > length else { return nil }
        let node = nodes[t]
        if node.right >= 0 {
            if let address = highestFit(in: node.right, length, alignment) { return address }
            if let address = Self.fit(length, alignment, below: nodes[node.right].firstStart, above: node.end) { return address }
        }
        if node.left >= 0 {
            if let address = Self.fit(length, alignment, below: node.start, above: nodes[node.left].lastEnd) { return address }
            return highestFit(in: node.left, length, alignment)
        }
        return nil
    }

    /// The highest address in [floor, ceiling) where `length` bytes aligned to `alignment` fit.
    static func fit(_ length: UInt64, _ alignment: UInt64, below ceiling: UInt64, above floor: UInt64) -> UInt64? {
        guard ceiling >= floor, ceiling - floor >= length else { return nil }
        let address = (ceiling - length) / alignment * alignment
        return address >= floor ? address : nil
    }

    /// A gap's width plus one, 0 when the ranges overlap: a gap can hold `length` bytes only if
    /// its `width` is more than `length`.
    private static func width(above floor: UInt64, below ceiling: UInt64) -> UInt64 {
        ceiling >= floor ? ceiling - floor + 1 : 0
    }

    // MARK: Insert and remove

    /// Inserts [start, end) after every range whose start is at or below `start`.
    mutating func insert(start: UInt64, end: UInt64, name: String) {
        let node = Node(start: start, end: end, priority: priorities.next(), firstStart: start, lastEnd: end)
        let t: Int
        if let reused = unused.popLast() {
            nodes[reused] = node
            names[reused] = name
            t = reused
        } else {
            nodes.append(node)
            names.append(name)
            t = nodes.count - 1
        }
        root = insert(t, into: root)
    }

    /// Puts node `t` into `s`'s subtree, after every range whose start is at or below its own,
    /// and returns the subtree's root. Performance: one walk down to where `t`'s priority puts
    /// it, and a split of the subtree found there only, instead of a split of the whole tree and
    /// two merges (the same ranges in the same order: the shape of a treap does not change what
    /// any query answers).
    private mutating func insert(_ t: Int, into s: Int) -> Int {
        guard s >= 0 else { return t }
        let start = nodes[t].start
        if nodes[t].priority > nodes[s].priority {
            let (below, above) = split(s) { rangeStart, _ in rangeStart > start }
            nodes[t].left = below
            nodes[t].right = above
            update(t)
            return t
        }
        if nodes[s].start > start {
            nodes[s].left = insert(t, into: nodes[s].left)
        } else {
            nodes[s].right = insert(t, into: nodes[s].right)
        }
        update(s)
        return s
    }

    /// Removes the first range that starts at `start`, if any, and returns the end of the range
    /// below it and the start of the range above it (nil where there is none, or nothing was
    /// removed).
    mutating func remove(start: UInt64) -> (floor: UInt64?, ceiling: UInt64?) {
        let (below, rest) = split(root) { rangeStart, _ in rangeStart >= start }
        let (first, above) = splitFirst(rest)
        guard first >= 0, nodes[first].start == start else {
            root = merge(below, merge(first, above))
            return (nil, nil)
        }
        names[first] = ""
        unused.append(first)
        // Read before the merge, which changes the summaries of the nodes it joins.
        let floor = below >= 0 ? nodes[below].lastEnd : nil
        let ceiling = above >= 0 ? nodes[above].firstStart : nil
        root = merge(below, above)
        return (floor, ceiling)
    }

    /// Splits `t`'s subtree into the ranges for which `isAbove(start, end)` is false (a prefix)
    /// and those for which it is true.
    private mutating func split(_ t: Int, _ isAbove: (UInt64, UInt64) -> Bool) -> (Int, Int) {
        guard t >= 0 else { return (-1, -1) }
        if isAbove(nodes[t].start, nodes[t].end) {
            let (below, above) = split(nodes[t].left, isAbove)
            nodes[t].left = above
            update(t)
            return (below, t)
        } else {
            let (below, above) = split(nodes[t].right, isAbove)
            nodes[t].right = below
            update(t)
            return (t, above)
        }
    }

    /// Splits off the first range of `t`'s subtree: (that range's node, the rest).
    private mutating func splitFirst(_ t: Int) -> (Int, Int) {
        guard t >= 0 else { return (-1, -1) }
        guard nodes[t].left >= 0 else {
            let rest = nodes[t].right
            nodes[t].right = -1
            update(t)
            return (t, rest)
        }
        let (first, rest) = splitFirst(nodes[t].left)
        nodes[t].left = rest
        update(t)
        return (first, t)
    }

    /// Joins two subtrees, every range of `a` before every range of `b`.
    private mutating func merge(_ a: Int, _ b: Int) -> Int {
        if a < 0 { return b }
        if b < 0 { return a }
        if nodes[a].priority > nodes[b].priority {
            nodes[a].right = merge(nodes[a].right, b)
            update(a)
            return a
        } else {
            nodes[b].left = merge(a, nodes[b].left)
            update(b)
            return b
        }
    }

    /// Recomputes `t`'s subtree summary from its children's.
    private mutating func update(_ t: Int) {
        let left = nodes[t].left
        let right = nodes[t].right
        var count = 1
        var firstStart = nodes[t].start
        var lastEnd = nodes[t].end
        var widest: UInt64 = 0
        if left >= 0 {
            count += nodes[left].count
            firstStart = nodes[left].firstStart
            widest = max(nodes[left].widestGap, Self.width(above: nodes[left].lastEnd, below: nodes[t].start))
        }
        if right >= 0 {
            count += nodes[right].count
            lastEnd = nodes[right].lastEnd
            widest = max(widest, nodes[right].widestGap, Self.width(above: nodes[t].end, below: nodes[right].firstStart))
        }
        nodes[t].count = count
        nodes[t].firstStart = firstStart
        nodes[t].lastEnd = lastEnd
        nodes[t].widestGap = widest
    }

    // MARK: Queries in address order

    /// The `index`-th range in address order.
    subscript(index: Int) -> Entry {
        precondition(index >= 0 && index < count, "AddressLayout index out of range")
        var t = root
        var index = index
        while true {
            let leftCount = nodes[t].left >= 0 ? nodes[nodes[t].left].count : 0
            if index < leftCount {
                t = nodes[t].left
            } else if index == leftCount {
                return (nodes[t].start, nodes[t].end, names[t])
            } else {
                index -= leftCount + 1
                t = nodes[t].right
            }
        }
    }

    /// The index of the first range that satisfies `isAbove` (which must be false for a prefix of
    /// the ranges and true after it), `count` if none does.
    func firstIndex(where isAbove: (Entry) -> Bool) -> Int {
        var t = root
        var before = 0
        var found = count
        while t >= 0 {
            let leftCount = nodes[t].left >= 0 ? nodes[nodes[t].left].count : 0
            if isAbove((nodes[t].start, nodes[t].end, names[t])) {
                found = before + leftCount
                t = nodes[t].left
            } else {
                before += leftCount + 1
                t = nodes[t].right
            }
        }
        return found
    }

    /// Calls `body` with the ranges from the `index`-th on, in address order, while it returns
    /// true. The walk's path is kept on the stack, `pathRoom` nodes deep (a treap of n ranges is
    /// about 3 log2 n deep), deeper in an array (tests make the room small to walk that way).
    /// Performance: a fleet's forks walked their parent's layout twice each, each walk
    /// allocating its path.
    func forEach(from index: Int = 0, pathRoom: Int = 64, _ body: (Entry) -> Bool) {
        guard index < count else { return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(pathRoom, 1)) { buffer in
            var pending = PathStack(buffer: buffer)
            forEach(from: index, pending: &pending, body)
        }
    }

    /// A stack of node indices: in `buffer` while it has room, then in `overflow` (whose nodes
    /// are always the latest pushed: it holds any only while the buffer is full).
    private struct PathStack {
        let buffer: UnsafeMutableBufferPointer<Int>
        var count = 0
        var overflow: [Int] = []

        init(buffer: UnsafeMutableBufferPointer<Int>) { self.buffer = buffer }

        mutating func append(_ node: Int) {
            if count < buffer.count {
                buffer[count] = node
                count += 1
            } else {
                overflow.append(node)
            }
        }

        mutating func popLast() -> Int? {
            if let node = overflow.popLast() { return node }
            guard count > 0 else { return nil }
            count -= 1
            return buffer[count]
        }
    }

    private func forEach(from index: Int, pending: inout PathStack, _ body: (Entry) -> Bool) {
        // The path to the index-th node, keeping the nodes whose own range comes later.
        var t = root
        var index = max(index, 0)
        while t >= 0 {
            let leftCount = nodes[t].left >= 0 ? nodes[nodes[t].left].count : 0
            if index < leftCount {
                pending.append(t)
                t = nodes[t].left
            } else if index == leftCount {
                pending.append(t)
                break
            } else {
                index -= leftCount + 1
                t = nodes[t].right
            }
        }
        while let t = pending.popLast() {
            guard body((nodes[t].start, nodes[t].end, names[t])) else { return }
            var next = nodes[t].right
            while next >= 0 {
                pending.append(next)
                next = nodes[next].left
            }
        }
    }

    /// Every range in address order.
    var entries: [Entry] {
        var all: [Entry] = []
        all.reserveCapacity(count)
        forEach { all.append($0); return true }
        return all
    }
}
