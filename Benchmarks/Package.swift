// swift-tools-version: 6.1
import PackageDescription

// Performance benchmarks for the somsim engine, kept in their own package so that the main
// package's `swift build` / `swift test` never resolve or build the benchmark tooling.
//
// Run (from this directory):
//   swift package --scratch-path ../.build-bench benchmark
//
// ordo-one/benchmark is named with `traits: ["MallocInterposer"]`: that selects the malloc
// interposer (no jemalloc needed) and leaves out the default "RuntimeInterposer" trait, whose
// package (swift-runtime-interposer) is not in this machine's package cache.
let package = Package(
    name: "somsim-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // The main package, by path. It is named "somsim" so the product references below do
        // not depend on the name of the directory the repository is cloned into.
        .package(name: "somsim", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The benchmark workloads, shared by the benchmark suite and the timing harness.
        .target(
            name: "SomsimBenchmarkWorkloads",
            dependencies: [
                .product(name: "SomsimModel", package: "somsim"),
                .product(name: "SomsimWorkload", package: "somsim"),
            ]
        ),
        // The ordo-one benchmark suite (discovered by `swift package benchmark` under Benchmarks/).
        .executableTarget(
            name: "SomsimBenchmarks",
            dependencies: [
                "SomsimBenchmarkWorkloads",
                .product(name: "SomsimModel", package: "somsim"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SomsimBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        // A plain timing harness: `swift run -c release somsim-bench-timing` prints one line per
        // case, without the benchmark plugin (handy under valgrind/callgrind).
        .executableTarget(
            name: "somsim-bench-timing",
            dependencies: [
                "SomsimBenchmarkWorkloads",
                .product(name: "SomsimModel", package: "somsim"),
                .product(name: "SomsimWorkload", package: "somsim"),
            ]
        ),
    ]
)
