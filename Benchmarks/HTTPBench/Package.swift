// swift-tools-version:6.0
// Benchmark only: our HTTP server against Hummingbird 2 on the same JSON endpoint. Kept apart from the root
// package so the product never depends on Hummingbird or SwiftNIO. Run from the repository root: `make bench-http`.
import PackageDescription

let package = Package(
    name: "HTTPBench",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "mscgrec", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "http-bench",
            dependencies: [
                .product(name: "HTTPServer", package: "mscgrec"),
                // The root package has its own `Metrics` target; alias swift-metrics' module to keep names unique.
                .product(name: "Hummingbird", package: "hummingbird", moduleAliases: ["Metrics": "SwiftMetrics"]),
                .product(name: "HummingbirdHTTP2", package: "hummingbird", moduleAliases: ["Metrics": "SwiftMetrics"]),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
