@testable import SomsimModel
import SomsimWorkload
import Testing

/// `MappingTable` (a process's mappings in dense slots) must answer as the `[String: Mapping]`
/// it replaced: random sequences of every operation the simulator uses (add or replace through
/// the subscript and `insert`, remove by setting nil and by `removeValue`, change in place,
/// `withMapping`, faults' `take` and `putBack`, up to three out at once, with operations between
/// them) are applied to
/// both, and after each one every name's lookup, `contains`, `count`, the set of mappings
/// `values` iterates and the union of the mappings of any cut into `part`s, iterated and
/// visited in place (`visit`), are compared. Seeds are fixed; a failure names its seed and step.
@Suite struct MappingTableTests {
    static func mapping(_ name: String, start: UInt64) -> Mapping {
        Mapping(
            name: name, start: start, options: MmapOptions(), pageCount: 1, object: nil,
            pages: PageMap(length: 1, value: .none), vma: ExtentMap(length: 1, value: VMAFlags()),
            reservation: nil)
    }

    /// What a table holds, as (name, start) pairs sorted by name.
    static func contents(_ mappings: some Sequence<Mapping>) -> [String] {
        mappings.map { "\($0.name)@\($0.start)" }.sorted()
    }

    static func check(_ table: MappingTable, _ reference: [String: Mapping], names: [String], _ context: String) {
        #expect(table.count == reference.count, "count: \(context)")
        #expect(table.isEmpty == reference.isEmpty, "isEmpty: \(context)")
        for name in names {
            #expect(table[name]?.start == reference[name]?.start, "\(name): \(context)")
            #expect(table.contains(name) == (reference[name] != nil), "contains \(name): \(context)")
        }
        let expected = contents(reference.values)
        #expect(contents(table.values) == expected, "values: \(context)")
        #expect(table.keys.sorted() == reference.keys.sorted(), "keys: \(context)")
        // Any cut of the slots into parts holds every mapping once, iterated or visited.
        for parts in [2, 3, 7] where table.slotCount > 0 {
            var union: [Mapping] = []
            var visited: [Mapping] = []
            for k in 0..<parts {
                let range = (table.slotCount * k / parts)..<(table.slotCount * (k + 1) / parts)
                union.append(contentsOf: table.part(range))
                table.part(range).visit { visited.append($0) }
            }
            #expect(contents(union) == expected, "\(parts) parts: \(context)")
            #expect(contents(visited) == expected, "\(parts) parts visited: \(context)")
        }
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func tableIsTheDictionary(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Few names, so that names come and go and slots are freed and reused.
        let names = (0..<(4 + Int(rng.next(below: 40)))).map { "m\($0)" }
        var table = MappingTable()
        var reference: [String: Mapping] = [:]
        if seed % 4 == 0 { table.reserveCapacity(Int(rng.next(below: 64))) }
        // Up to three mappings out at once (a name may be out twice: set again while out, then
        // taken again), put back in any order.
        var taken: [(name: String, mapping: Mapping, slot: MappingTable.Slot)] = []
        var nextStart: UInt64 = 1
        for step in 0..<400 {
            let name = names[Int(rng.next(below: UInt64(names.count)))]
            nextStart += 1
            let operation = rng.next(below: taken.isEmpty ? 8 : 9)
            switch operation {
            case 0, 1:
                // Add or replace: through the subscript, or `insert` (an mmap's).
                if operation == 0 {
                    table[name] = Self.mapping(name, start: nextStart)
                } else {
                    table.insert(Self.mapping(name, start: nextStart))
                }
                reference[name] = Self.mapping(name, start: nextStart)
            case 2:
                table[name] = nil
                reference[name] = nil
            case 3:
                #expect(table.removeValue(forKey: name)?.start == reference.removeValue(forKey: name)?.start, "removeValue \(name): seed \(seed), step \(step)")
            case 4:
                // Changed in place, through the subscript (what `mappings[name]!.field = …` does).
                if reference[name] != nil {
                    table[name]!.start = nextStart
                    reference[name]!.start = nextStart
                } else {
                    table[name]?.start = nextStart
                }
            case 5:
                let got = table.withMapping(name) { m -> UInt64 in
                    m.start += 1000
                    return m.start
                }
                reference[name]?.start += 1000
                #expect(got == reference[name]?.start, "withMapping \(name): seed \(seed), step \(step)")
            case 6, 7:
                // A fault takes its mapping out (as the dictionary's removeValue did).
                guard taken.count < 3 else { break }
                let out = table.take(name)
                let expected = reference.removeValue(forKey: name)
                #expect(out?.mapping.start == expected?.start, "take \(name): seed \(seed), step \(step)")
                if let out { taken.append((name, out.mapping, out.slot)) }
            default:
                // The fault puts it back, changed (as the dictionary's setValue did).
                var (name, mapping, slot) = taken.remove(at: Int(rng.next(below: UInt64(taken.count))))
                mapping.start = nextStart
                table.putBack(mapping, at: slot)
                reference[name] = mapping
            }
            Self.check(table, reference, names: names, "seed \(seed), step \(step), operation \(operation) on \(name)")
        }
    }
}
