// swift-tools-version: 6.0
import PackageDescription

// Rooms of the house (see docs/architecture.md):
//   SomsimWorkload — the workload replay format: syntax tree, parser, printer. No syscalls.
//   SomsimModel    — the pure simulator: machine, processes, fork/COW, page tables, metrics.
//   SomsimReport   — md / json / csv rendering of reports.
//   somsim         — the command line: argument parsing and wiring only.
let package = Package(
    name: "somsim",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "somsim", targets: ["somsim"]),
        .library(name: "SomsimModel", targets: ["SomsimModel"]),
        .library(name: "SomsimWorkload", targets: ["SomsimWorkload"]),
        .library(name: "SomsimReport", targets: ["SomsimReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "SomsimWorkload"),
        .target(name: "SomsimModel", dependencies: ["SomsimWorkload"]),
        .target(name: "SomsimReport", dependencies: ["SomsimModel"]),
        .executableTarget(
            name: "somsim",
            dependencies: [
                "SomsimWorkload", "SomsimModel", "SomsimReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SomsimWorkloadTests", dependencies: ["SomsimWorkload"]),
        .testTarget(name: "SomsimModelTests", dependencies: ["SomsimModel", "SomsimWorkload"]),
        .testTarget(
            name: "SomsimReportTests",
            dependencies: ["SomsimReport", "SomsimModel", "SomsimWorkload"],
            exclude: ["Snapshots"]
        ),
        // Runs the built `somsim` binary end to end (depends on it so that it is built first).
        .testTarget(name: "somsimTests", dependencies: ["somsim", "SomsimWorkload"]),
    ]
)
