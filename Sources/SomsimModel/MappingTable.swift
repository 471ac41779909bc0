// A process's mappings by name: dense slots with an index of names, read and changed in place.

/// The mappings of one process, by name: a dictionary's interface (`mappings[name]`, `values`,
/// `removeValue(forKey:)`, `count`) over mappings kept in dense slots.
///
/// Performance (issue 12, alloc-mix: one process, 205,813 mappings): a `[String: Mapping]`
/// kept every 248-byte `Mapping` in a bucket of a table sized to a power of two (2^19 buckets,
/// about 138 MB, most of it first touched while the workload ran, and page faults for the
/// simulator's own memory were the largest single cost). Every touch took its mapping out of the
/// dictionary and put it back: a removal that shifts the 248-byte values of the following
/// buckets back, and an insertion that hashes the name again. Here a name's hash finds a 4-byte
/// slot number (a table of about 10 MB); the mappings lie one after the other in slot order,
/// about 41 MB for alloc-mix (a `Mapping` is 200 bytes since its rare fields are boxed); a
/// mapping taken out for a fault (`take`) leaves its slot reserved for its name, and goes back
/// there without a second hash (`putBack`).
///
/// Iteration (`values`) visits the mappings in slot order, which is no order the results may
/// depend on: as a dictionary's order was, it is not the address order (`mappingNamesByAddress`
/// is), and every caller that needs an order sorts.
struct MappingTable {
    /// A mapping's place in the table, as `take` returns it for `putBack`.
    struct Slot {
        fileprivate let index: Int32
    }

    /// The slot of each name: every mapping's, and a taken mapping's until it is put back.
    private var slotOf: [String: Int32] = [:]
    /// The mappings; nil in a free slot, and in the slot of a mapping taken out.
    private var slots: ContiguousArray<Mapping?> = []
    /// Free slots, reused before the table grows.
    private var free: [Int32] = []
    /// The slots of the mappings taken out and not put back yet (a fault's, usually none or
    /// one): they stay reserved for their names whatever is set or removed under those names
    /// meanwhile. The first is kept inline (-1: none), the others in `takenMore`. Performance:
    /// an array here was 48 bytes of heap a process once it had taken a mapping (issue 12:
    /// 100,000 workers in 300 MB).
    private var takenFirst: Int32 = -1
    private var takenMore: [Int32] = []
    /// How many mappings the table holds (a taken mapping is not held).
    private(set) var count = 0
    /// The name last looked up or added, and its slot (while it has one: `release` forgets
    /// it). Performance: alloc-mix's `mmap M`, `madvise M`, `touch M` ask for M five times
    /// (the madvise's lookup and fault, the touch's fault, the next mmap's merge with it); two
    /// short names compare for far less than one is hashed (SipHash), as the checker's
    /// `lastMapping` found.
    private var last: (name: String, slot: Int32)? = nil

    init() {}

    var isEmpty: Bool { count == 0 }

    mutating func reserveCapacity(_ capacity: Int) {
        slotOf.reserveCapacity(capacity)
        slots.reserveCapacity(capacity)
    }

    /// Whether the table holds a mapping named `name` (asked without copying it out).
    func contains(_ name: String) -> Bool {
        guard let s = cachedSlot(name) else { return false }
        return slots[Int(s)] != nil
    }

    /// The mapping named `name`, or nil. Setting nil removes it; setting a mapping adds or
    /// replaces it; changing it (`mappings[name]!.field = …`) changes it in place.
    subscript(name: String) -> Mapping? {
        get {
            guard let s = cachedSlot(name) else { return nil }
            return slots[Int(s)]
        }
        set {
            if let s = lookUp(name) {
                store(newValue, at: Int(s), name: name)
            } else if let newValue {
                add(newValue, name: name)
            }
        }
        _modify {
            if let s = lookUp(name) {
                let i = Int(s)
                let held = slots[i] != nil
                yield &slots[i]
                settle(at: i, held: held, name: name)
            } else {
                var value: Mapping? = nil
                yield &value
                if let value { add(value, name: name) }
            }
        }
    }

    /// Removes the mapping named `name` and returns it (nil when the table holds none: nothing
    /// changes then, as with a dictionary, also for the name of a mapping taken out).
    @discardableResult
    mutating func removeValue(forKey name: String) -> Mapping? {
        guard let s = lookUp(name) else { return nil }
        let i = Int(s)
        guard let mapping = slots[i].take() else { return nil }
        count -= 1
        release(i, name: name)
        return mapping
    }

    /// Takes the mapping named `name` out of the table, leaving its slot reserved for it: until
    /// it is put back (`putBack`), the table holds no mapping of that name (as if removed).
    mutating func take(_ name: String) -> (mapping: Mapping, slot: Slot)? {
        guard let s = lookUp(name), let mapping = slots[Int(s)].take() else { return nil }
        count -= 1
        if takenFirst < 0 { takenFirst = s } else { takenMore.append(s) }
        return (mapping, Slot(index: s))
    }

    /// Puts a mapping taken out by `take` back into its slot (replacing whatever the table was
    /// given under its name meanwhile, as setting the name would; a removal of the name
    /// meanwhile left the slot reserved).
    mutating func putBack(_ mapping: consuming Mapping, at slot: Slot) {
        let i = Int(slot.index)
        if takenFirst == slot.index {
            takenFirst = -1
        } else if let k = takenMore.lastIndex(of: slot.index) {
            takenMore.remove(at: k)
        }
        if slots[i] == nil { count += 1 }
        slots[i] = consume mapping
    }

    /// What `body` returns of mapping `name`, which it reads or changes in place; nil when the
    /// table holds no such mapping.
    mutating func withMapping<R>(_ name: String, _ body: (inout Mapping) -> R) -> R? {
        guard let s = lookUp(name) else { return nil }
        let i = Int(s)
        guard slots[i] != nil else { return nil }
        return body(&slots[i]!)
    }

    /// The names of the mappings the table holds, in slot order.
    var keys: [String] { values.map(\.name) }

    /// The mappings, in slot order.
    var values: Values { Values(slots: slots[...]) }

    /// Mappings in slot order (those of a run of slots: `parts`).
    struct Values: Sequence {
        fileprivate let slots: ArraySlice<Mapping?>

        struct Iterator: IteratorProtocol {
            fileprivate let slots: ArraySlice<Mapping?>
            fileprivate var position: Int

            mutating func next() -> Mapping? {
                while position < slots.endIndex {
                    defer { position += 1 }
                    if let mapping = slots[position] { return mapping }
                }
                return nil
            }
        }

        func makeIterator() -> Iterator { Iterator(slots: slots, position: slots.startIndex) }
        var underestimatedCount: Int { 0 }

        /// `body` of each mapping in slot order, lent in place: `body` must only read it.
        /// Performance: `for mapping in values` copies each mapping out (200 bytes; retaining and
        /// then releasing its name and every extent map's arrays), twice per mapping in a measure
        /// of alloc-mix's 205,813; a value lent inout is read where it lies (exclusive access lets
        /// the compiler pass it on without a copy).
        func visit(_ body: (inout Mapping) -> Void) {
            slots.withUnsafeBufferPointer { held in
                guard let base = held.baseAddress else { return }
                // Never written through: `body` only reads (its contract).
                let slots = UnsafeMutablePointer(mutating: base)
                for i in 0..<held.count where slots[i] != nil {
                    body(&slots[i]!)
                }
            }
        }
    }

    /// How many slots the table has (held, taken or free): `part(_:)` cuts them.
    var slotCount: Int { slots.count }

    /// Empties every slot, each name keeping its slot (the index of names is kept, shared):
    /// a forked child's table before its fork stores the child's own mapping in each of its
    /// parent's slots (`Simulator.fork`). Performance: storing into the parent's slots, shared,
    /// copied them first, every mapping of the parent retained only to be released when the
    /// child's replaced it.
    mutating func emptySlots() {
        // Performance: a new array, reserved and appended to. `ContiguousArray(repeating:count:)`
        // and `ContiguousArray(unsafeUninitializedCapacity:)` both allocate through a function
        // of the standard library that is never inlined nor specialized
        // (`_allocateBufferUninitialized`), which looks the storage type's generic metadata up
        // on every call: a thousand instructions, a ninth of a fleet's fork, and a hash table's
        // reader count written from both threads while the samples' thread allocates too.
        // `reserveCapacity` is specialized here, its metadata cached.
        let n = slots.count
        var empty = ContiguousArray<Mapping?>()
        empty.reserveCapacity(n)
        for _ in 0..<n { empty.append(nil) }
        slots = empty
        count = 0
    }

    /// The mappings of slots `range`, in slot order.
    func part(_ range: Range<Int>) -> Values { Values(slots: slots[range]) }

    // MARK: Slots

    /// The slot of `name` (from the last lookup when it was of `name`).
    private func cachedSlot(_ name: String) -> Int32? {
        if let last, last.name == name { return last.slot }
        return slotOf[name]
    }

    /// The slot of `name`, remembered for the next lookup.
    private mutating func lookUp(_ name: String) -> Int32? {
        if let last, last.name == name { return last.slot }
        guard let s = slotOf[name] else { return nil }
        last = (name, s)
        return s
    }

    private mutating func add(_ mapping: consuming Mapping, name: String) {
        count += 1
        let s: Int32
        if let free = free.popLast() {
            s = free
            slots[Int(s)] = consume mapping
        } else {
            s = Int32(slots.count)
            slots.append(consume mapping)
        }
        slotOf[name] = s
        last = (name, s)
    }

    /// Adds `mapping` under its name, or replaces the mapping of that name: what setting
    /// `self[mapping.name]` does. Performance: an mmap's new name is hashed once (the setter
    /// looks the name up, then inserts it: twice).
    mutating func insert(_ mapping: consuming Mapping) {
        let slot = free.last ?? Int32(slots.count)
        if let existing = slotOf.updateValue(slot, forKey: mapping.name) {
            // The name was there (a replacement, or a taken mapping's slot): keep its slot.
            slotOf[mapping.name] = existing
            let name = mapping.name
            store(consume mapping, at: Int(existing), name: name)
            return
        }
        count += 1
        last = (mapping.name, slot)
        if slot == free.last {
            free.removeLast()
            slots[Int(slot)] = consume mapping
        } else {
            slots.append(consume mapping)
        }
    }

    /// Stores `value` in slot `i`, named `name`.
    private mutating func store(_ value: consuming Mapping?, at i: Int, name: String) {
        let held = slots[i] != nil
        slots[i] = consume value
        settle(at: i, held: held, name: name)
    }

    /// Counts the change of slot `i` (named `name`) from held (`held`) or not to what it holds
    /// now; a mapping removed frees its slot and name, unless the slot is a taken mapping's.
    private mutating func settle(at i: Int, held: Bool, name: String) {
        let holds = slots[i] != nil
        if holds == held { return }
        if holds {
            count += 1
        } else {
            count -= 1
            release(i, name: name)
        }
    }

    private mutating func release(_ i: Int, name: String) {
        // A taken mapping's slot stays its name's until it is put back.
        if takenFirst == Int32(i) || (!takenMore.isEmpty && takenMore.contains(Int32(i))) { return }
        slotOf[name] = nil
        last = nil
        free.append(Int32(i))
    }
}
