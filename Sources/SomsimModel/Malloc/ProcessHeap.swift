// The allocator inside a process: the brk heap, the allocator's own mmaps, the workload's objects
// — mm/mmap.c (SYSCALL brk, do_brk_flags), mm/vma.c (do_vmi_align_munmap), and glibc 2.36
// (misc/sbrk.c, sysdeps/unix/sysv/linux/brk.c) through GlibcMalloc.swift, whose every request
// and memory access the simulator answers as the kernel would (`MallocHost`).

import SomsimWorkload

/// One process's allocator: glibc's state and the workload's objects. A forked child gets a copy
/// of both, as it gets a copy of the memory they live in.
struct ProcessAllocator: Equatable {
    var glibc: GlibcMalloc
    /// The workload's objects by name: what the last malloc, calloc or realloc returned (nil for
    /// NULL) and the size it asked for.
    var objects: [String: HeapObject] = [:]
}

struct HeapObject: Equatable {
    var pointer: UInt64?
    var bytes: UInt64
}

extension MachineSpec {
    /// The allocator's mallopt settings, as `machine` gives them.
    var mallocSettings: GlibcMalloc.Settings {
        GlibcMalloc.Settings(mmapThreshold: mallocMmapThreshold, trimThreshold: mallocTrimThreshold, topPad: mallocTopPad)
    }
}

extension Simulator {
    /// The name of the brk heap among a process's mappings (no workload name has brackets).
    static let heapMapping = "[heap]"

    /// Runs one allocator statement in process `p`. Returns the errno and detail of an error
    /// event (a NULL from malloc, calloc or realloc: ENOMEM), or nil.
    mutating func runAllocator(_ p: ProcessID, _ statement: Statement, line: Int) -> (Errno, String)? {
        // An object the process does not hold (statements built in code skip the checker): an
        // error event, and the allocator is left as it is.
        // Nor a name it holds already for malloc and calloc (EEXIST, as for a mapping name).
        switch statement {
        case .realloc(_, let name, _), .free(_, let name), .objectAccess(_, let name, _, _):
            if processes[p].allocator?.objects[name] == nil { return (.EINVAL, "no object named \(UserText.quoted(name)): the statement is ignored") }
        case .malloc(_, let name, _, _):
            if processes[p].allocator?.objects[name] != nil {
                return (.EEXIST, "process \(UserText.quoted(processes[p].name)) already has an object named \(UserText.quoted(name)): the statement is ignored")
            }
        default:
            break
        }
        var allocator = processes[p].allocator ?? ProcessAllocator(glibc: GlibcMalloc(settings: machine.mallocSettings))
        // Out of the process while it runs: the simulator is its host (and may kill the process).
        processes[p].allocator = nil
        allocatorProcess = p
        allocatorLine = line
        allocatorReadAbsent = [:]
        allocatorWroteAbsent = [:]
        defer {
            allocatorProcess = nil
            allocatorReadAbsent = [:]
            allocatorWroteAbsent = [:]
        }
        var event: (Errno, String)? = nil
        switch statement {
        case .malloc(_, let name, let bytes, let zeroed):
            let pointer = zeroed ? allocator.glibc.calloc(bytes, host: &self) : allocator.glibc.malloc(bytes, host: &self)
            allocator.objects[name] = HeapObject(pointer: pointer, bytes: bytes)
            outcome.pointer = pointer ?? 0
            if pointer == nil { event = (.ENOMEM, "\(zeroed ? "calloc" : "malloc") returned NULL: the object is a null pointer") }
        case .realloc(_, let name, let bytes):
            let old = allocator.objects[name]!
            let pointer = allocator.glibc.realloc(old.pointer, bytes, host: &self)
            outcome.pointer = pointer ?? 0
            if let pointer {
                allocator.objects[name] = HeapObject(pointer: pointer, bytes: bytes)
            } else if bytes == 0 && old.pointer != nil {
                // realloc(p, 0) frees p and returns NULL (REALLOC_ZERO_BYTES_FREES).
                allocator.objects[name] = HeapObject(pointer: nil, bytes: 0)
            } else {
                event = (.ENOMEM, "realloc returned NULL: the object is left as it was")
            }
        case .free(_, let name):
            let old = allocator.objects.removeValue(forKey: name)!
            allocator.glibc.free(old.pointer, host: &self)
        case .objectAccess(_, let name, let access, let range):
            let object = allocator.objects[name]!
            let offset = range.offsetBytes
            let length = range.lengthBytes ?? (object.bytes >= offset ? object.bytes - offset : 0)
            if length > 0 {
                // A NULL object is address 0: nothing is mapped there (SIGSEGV).
                self.access(address: (object.pointer ?? 0) &+ offset, length: length, write: access == .write)
            }
        default:
            break
        }
        guard processes[p].alive else { return event }
        // Pages read (the zero page) or written while unmapped, and unmapped again before the
        // statement ended — a trimmed heap, a chunk unmapped after realloc copied it, a top whose
        // new header systrim gives back at once — took a fault that no frame shows afterwards.
        for (name, ranges) in allocatorReadAbsent.merging(allocatorWroteAbsent, uniquingKeysWith: +) {
            let mapping = processes[p].mappings[name]
            for range in ranges {
                guard let mapping else {
                    outcome.unseenFaults += UInt64(range.count)
                    continue
                }
                let end = min(range.upperBound, mapping.pageCount)
                if range.upperBound > end { outcome.unseenFaults += range.upperBound - max(range.lowerBound, end) }
                guard range.lowerBound < end else { continue }
                for (pages, state) in mapping.pages.extents(in: range.lowerBound..<end) where state == .none { outcome.unseenFaults += UInt64(pages.count) }
            }
        }
        processes[p].allocator = allocator
        outcome.programBreak = processes[p].programBreak
        return event
    }

    /// brk(2) to `requested`: the break after the call (the old one when the kernel refuses), as
    /// SYSCALL_DEFINE1(brk) gives it. Below the heap's start: refused. The same page-rounded end:
    /// only the value moves. Shrinking always succeeds and unmaps the pages above the new end
    /// (do_vmi_align_munmap: page tables freed as munmap frees them). Growing needs the range up
    /// to the new end plus a page free of other mappings (the `next` check) and the overcommit
    /// charge (do_brk_flags: security_vm_enough_memory_mm); the heap's VMA grows in place
    /// (vma_expand), or is made at the heap's start on the first growth.
    mutating func brk(_ p: ProcessID, to requested: UInt64) -> UInt64 {
        let start = WorkloadWindow.heapAddress
        let pageBytes = constants.pageBytes
        let original = processes[p].programBreak
        func pageEnd(_ a: UInt64) -> UInt64? {
            let (sum, wraps) = a.addingReportingOverflow(pageBytes - 1)
            return wraps ? nil : sum / pageBytes * pageBytes
        }
        guard requested >= start, let newEnd = pageEnd(requested), let oldEnd = pageEnd(original) else { return original }
        let name = Self.heapMapping
        if newEnd == oldEnd {
            processes[p].programBreak = requested
            return requested
        }
        if requested < original {
            guard processes[p].mappings[name] != nil else { return original }
            processes[p].programBreak = requested
            let pages = (newEnd - start) / pageBytes
            if pages == 0 {
                munmap(p, name)
            } else {
                let count = processes[p].mappings[name]!.pageCount
                unmapPages(p, name, pages..<count)
                resize(p, name, to: pages)
            }
            return requested
        }
        let (limit, wraps) = newEnd.addingReportingOverflow(pageBytes)
        guard !wraps, limit <= processes[p].layout.high else { return original }
        if processes[p].mappingNames(meeting: oldEnd..<limit).contains(where: { $0 != name }) { return original }
        if overcommitRefuses(length: newEnd - oldEnd, options: MmapOptions()) { return original }
        let pages = (newEnd - start) / pageBytes
        if processes[p].mappings[name] != nil {
            resize(p, name, to: pages)
        } else {
            let mapping = Mapping(
                name: name, start: start, options: MmapOptions(), pageCount: pages, object: nil,
                pages: PageMap(length: pages, value: .none), vma: ExtentMap(length: pages, value: VMAFlags()), reservation: nil)
            processes[p].mappings[name] = mapping
            liveMappings += 1
            processes[p].insertLayout(start: start, end: mapping.end, name: name)
        }
        processes[p].programBreak = requested
        return requested
    }
}

extension Simulator: MallocHost {
    /// glibc's sbrk (misc/sbrk.c): the old break, after brk(2) moved it to old + increment;
    /// nil (ENOMEM) when the sum wraps or the kernel left the break below what was asked
    /// (__brk: `__curbrk < addr`).
    public mutating func sbrk(_ increment: Int64) -> UInt64? {
        guard let p = allocatorProcess, processes[p].alive else { return nil }
        let old = processes[p].programBreak
        if increment == 0 { return old }
        let requested: UInt64
        if increment > 0 {
            let (sum, wraps) = old.addingReportingOverflow(UInt64(increment))
            if wraps { return nil }
            requested = sum
        } else {
            let decrement = increment.magnitude
            if old < decrement { return nil }
            requested = old - decrement
        }
        return brk(p, to: requested) >= requested ? old : nil
    }

    /// An anonymous private mapping of the allocator's, placed as any mmap is (`[malloc-N]`).
    public mutating func mmap(length: UInt64) -> UInt64? {
        guard let p = allocatorProcess, processes[p].alive else { return nil }
        let name = "[malloc-\(processes[p].allocatorMappings)]"
        processes[p].allocatorMappings += 1
        guard mmap(p, name: name, length: length, options: MmapOptions(), line: allocatorLine, recording: false) == nil else { return nil }
        return processes[p].mappings[name]?.start
    }

    public mutating func munmap(address: UInt64, length: UInt64) {
        guard let p = allocatorProcess, processes[p].alive, length > 0 else { return }
        for name in processes[p].mappingNames(meeting: address..<(address &+ length)) {
            guard let m = processes[p].mappings[name] else { continue }
            if m.start >= address && m.end <= address &+ length {
                munmap(p, name)
            } else {
                let from = (max(m.start, address) - m.start) / m.pageBytes
                let to = (min(m.end, address &+ length) - m.start + m.pageBytes - 1) / m.pageBytes
                unmapPages(p, name, from..<to)
            }
        }
    }

    public mutating func mremap(address: UInt64, oldLength: UInt64, newLength: UInt64) -> UInt64? {
        guard let p = allocatorProcess, processes[p].alive else { return nil }
        guard let name = processes[p].mappingNames(meeting: address..<(address + 1)).first,
            let m = processes[p].mappings[name], m.start == address, m.pageCount * m.pageBytes == oldLength
        else { return nil }
        guard mremap(p, name, length: newLength, mayMove: true, line: allocatorLine, recording: false) == nil else { return nil }
        return processes[p].mappings[name]?.start
    }

    /// A load or store of the allocator (or of a `write`/`read` statement): every page the bytes
    /// reach is accessed in address order, taking the faults a program's access would. Bytes no
    /// mapping holds raise SIGSEGV.
    public mutating func access(address: UInt64, length: UInt64, write: Bool) {
        guard let p = allocatorProcess, processes[p].alive, length > 0 else { return }
        let (end, wraps) = address.addingReportingOverflow(length)
        let bytes = address..<(wraps ? UInt64.max : end)
        var position = bytes.lowerBound
        for name in processes[p].mappingNames(meeting: bytes) {
            guard processes[p].alive, let m = processes[p].mappings[name] else { return }
            if m.start > position { break }
            let from = (position - m.start) / m.pageBytes
            let to = (min(m.end, bytes.upperBound) - m.start + m.pageBytes - 1) / m.pageBytes
            if write {
                // Pages read while unmapped in this statement and holding the zero page still:
                // this write takes their second fault.
                for read in allocatorReadAbsent[name] ?? [] {
                    let low = max(read.lowerBound, from), high = min(read.upperBound, to)
                    guard low < high else { continue }
                    let both = low..<high
                    for (pages, state) in m.pages.extents(in: both) where state == .zero { outcome.unseenFaults += UInt64(pages.count) }
                }
                for (pages, state) in m.pages.extents(in: from..<to) where state == .none { allocatorWroteAbsent[name, default: []].append(pages) }
            } else {
                for (pages, state) in m.pages.extents(in: from..<to) where state == .none { allocatorReadAbsent[name, default: []].append(pages) }
            }
            fault(p, name, pages: [from..<to], access: write ? .write : .read)
            position = min(m.end, bytes.upperBound)
        }
        if processes[p].alive && position < bytes.upperBound {
            kill(p, signal: .SIGSEGV)
        }
    }
}

extension Simulator {
    /// The address ranges of process `name`'s allocator memory: the heap up to its page-rounded
    /// break, and each mapping the allocator made, in address order (empty for a process that
    /// never ran the allocator, or does not exist). `validate` reads the frames there around each
    /// allocator call to tell its copies from its reuses.
    public func allocatorRanges(process name: String) -> [Range<UInt64>] {
        guard let p = processIndex[name], processes[p].alive else { return [] }
        var ranges: [Range<UInt64>] = []
        for mappingName in processes[p].mappingNamesByAddress where mappingName == Self.heapMapping || mappingName.hasPrefix("[malloc-") {
            if let m = processes[p].mappings[mappingName] { ranges.append(m.start..<m.end) }
        }
        return ranges
    }
}

extension Simulator {
    /// The size the last malloc, calloc or realloc gave object `object` of process `name`, if
    /// the process holds it.
    public func objectSize(process name: String, object: String) -> UInt64? {
        guard let p = processIndex[name] else { return nil }
        return processes[p].allocator?.objects[object]?.bytes
    }
}
