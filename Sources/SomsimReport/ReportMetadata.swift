import SomsimModel
import SomsimWorkload

/// What a report was made from, for a notebook that must know which run it reads (issue 13):
/// the tool's version, the input's name and SHA-256, every machine setting (the report's
/// `machine` object has only the first few), and the profile's overrides. `simulate` and
/// `compare` JSON carry it as their last key, `metadata` (docs/report.schema.json).
public struct ReportMetadata: Equatable, Sendable {
    /// The input as the command line named it: a path, `-` for standard input, or
    /// `(default)` for the embedded default workload.
    public var input: String
    /// SHA-256 of the input's bytes (the embedded default: of its text in UTF-8), lowercase hex.
    public var inputSHA256: String
    public var machine: MachineSpec
    public var profile: Profile

    public init(input: String, inputBytes: [UInt8], machine: MachineSpec, profile: Profile) {
        self.input = input
        self.inputSHA256 = SHA256.hex(inputBytes)
        self.machine = machine
        self.profile = profile
    }

    /// The `metadata` object.
    public var json: JSONValue {
        .object([
            ("tool_version", .string(SomsimVersion.string)),
            ("input", .string(input)),
            ("input_sha256", .string(inputSHA256)),
            ("machine", .object(Self.machineSettings(machine))),
            ("profile_overrides", SchemeRenderer.profileOverrides(profile)),
        ])
    }

    /// Every `machine` setting, named as the workload format names it (dashes as underscores,
    /// sizes in bytes); a setting left at "none" (no `virt=`, no mallopt value) is null.
    public static func machineSettings(_ m: MachineSpec) -> [(String, JSONValue)] {
        func optional(_ v: UInt64?) -> JSONValue { v.map { .unsigned($0) } ?? .null }
        return [
            ("ram_bytes", .unsigned(m.ramBytes)),
            ("hugetlb_2m_pages", .unsigned(m.hugetlb2MPages)),
            ("hugetlb_1g_pages", .unsigned(m.hugetlb1GPages)),
            ("hugetlb_2m_overcommit", .unsigned(m.hugetlb2MOvercommit)),
            ("hugetlb_1g_overcommit", .unsigned(m.hugetlb1GOvercommit)),
            ("hvo", .bool(m.hvo)),
            ("hvo_kept_pages", .unsigned(m.hvoKeptPages)),
            ("thp", .string(m.thp.rawValue)),
            ("pti", .bool(m.pti)),
            ("pti_given", .bool(m.ptiGiven)),
            ("mthp_bytes", .array(m.mthpSizes.map { .unsigned($0) })),
            ("som_source", .string(m.somSource.rawValue)),
            ("som_pool_bytes", .unsigned(m.somPoolBytes)),
            ("som_pool_grows", .bool(m.somPoolBytes == 0)),
            ("virt", m.virt.map { .string($0.token) } ?? .null),
            ("guest_page", m.guestPage.map { .string($0.token) } ?? .null),
            ("host_page", .string(m.hostPage.token)),
            ("malloc", .string(m.malloc.rawValue)),
            ("mmap_threshold_bytes", optional(m.mallocMmapThreshold)),
            ("trim_threshold_bytes", optional(m.mallocTrimThreshold)),
            ("top_pad_bytes", optional(m.mallocTopPad)),
        ]
    }
}
