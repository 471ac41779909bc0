// swift-tools-version: 6.0
import PackageDescription

// Rooms of the house (see docs/architecture.md):
//   SomsimWorkload — the workload replay format: syntax tree, parser, printer. No syscalls.
//   SomsimModel    — the pure simulator: machine, processes, fork/COW, page tables, metrics.
//                    (CSomsimRuntime: the allocator settings somsim's processes start with, and
//                    a prefetch hint.)
//   SomsimValidation — the report's field table (names, units, tolerances) and the validation
//                    data (measured values, checks); no rendering, no syscalls.
//   SomsimReport   — md / json / csv rendering of reports, schemes, validations and sweeps.
//   SomsimProbe    — the real-kernel side of `somsim validate` (Linux only); renders nothing.
//   somsim         — the command line: argument parsing and wiring only.
let package = Package(
    name: "somsim",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "somsim", targets: ["somsim"]),
        .executable(name: "somsim-agent", targets: ["somsim-agent"]),
        .library(name: "SomsimModel", targets: ["SomsimModel"]),
        .library(name: "SomsimWorkload", targets: ["SomsimWorkload"]),
        .library(name: "SomsimValidation", targets: ["SomsimValidation"]),
        .library(name: "SomsimReport", targets: ["SomsimReport"]),
        .library(name: "SomsimProbe", targets: ["SomsimProbe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "SomsimWorkload"),
        // glibc malloc's settings for a somsim process (HeapTuning): <malloc.h> is not in Swift's
        // Glibc module. And a prefetch hint, which Swift has no word for.
        .target(name: "CSomsimRuntime"),
        .target(name: "SomsimModel", dependencies: ["SomsimWorkload", "CSomsimRuntime"]),
        .target(name: "SomsimValidation", dependencies: ["SomsimModel", "SomsimWorkload"]),
        .target(name: "SomsimReport", dependencies: ["SomsimValidation", "SomsimModel", "SomsimWorkload"]),
        // The real-kernel side of `somsim validate` (Linux only): machine settings, agents, /proc.
        .systemLibrary(name: "CHugeTLBFS", path: "Sources/CHugeTLBFS"),
        .target(name: "CSomsimProbeSupport"),
        // The agent each workload process runs: part of every program that links SomsimProbe,
        // entered from a constructor when the probe executes the program as `somsim-agent`.
        .target(
            name: "CSomsimAgent",
            dependencies: ["CSomsimProbeSupport", "CHugeTLBFS"],
            linkerSettings: [.linkedLibrary("hugetlbfs")]  // a C target does not take the module map's `link`
        ),
        // The agent of workloads that run glibc's allocator: a program of its own that links only
        // the agent and libc, so that its heap is fresh when the workload starts (installed
        // beside somsim; `validate` looks for it there).
        .executableTarget(name: "somsim-agent", dependencies: ["CSomsimAgent"]),
        .target(
            name: "SomsimProbe",
            dependencies: ["SomsimWorkload", "SomsimModel", "SomsimValidation", "CSomsimProbeSupport", "CSomsimAgent", "CHugeTLBFS"]
        ),
        .executableTarget(
            name: "somsim",
            dependencies: [
                "SomsimWorkload", "SomsimModel", "SomsimValidation", "SomsimReport",
                .target(name: "SomsimProbe", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The long fuzz campaign (docs/fuzzing.md), kept out of `swift test`.
        .executableTarget(
            name: "somsim-fuzz",
            dependencies: [
                "SomsimWorkload", "SomsimModel", "SomsimReport",
                .target(name: "SomsimProbe", condition: .when(platforms: [.linux])),
            ]
        ),
        .testTarget(name: "SomsimWorkloadTests", dependencies: ["SomsimWorkload"]),
        .testTarget(name: "SomsimModelTests", dependencies: ["SomsimModel", "SomsimWorkload"]),
        .testTarget(
            name: "SomsimReportTests",
            dependencies: ["SomsimReport", "SomsimValidation", "SomsimModel", "SomsimWorkload"],
            exclude: ["Snapshots", "FuzzCrashers"]
        ),
        // Runs the built `somsim` binary end to end (depends on it so that it is built first).
        // Runs workloads on the real kernel (root only; skipped with a message elsewhere).
        .testTarget(
            name: "SomsimProbeTests",
            dependencies: ["SomsimProbe", "SomsimValidation", "SomsimReport", "SomsimModel", "SomsimWorkload", "somsim", "somsim-agent"]
        ),
        .testTarget(name: "somsimTests", dependencies: ["somsim", "SomsimWorkload"]),
    ]
)
