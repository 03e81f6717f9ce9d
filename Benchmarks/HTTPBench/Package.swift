// swift-tools-version:6.0
// Benchmark only: our HTTP server against Hummingbird 2 on the same JSON endpoint, kept apart from the root package
// so the product never depends on Hummingbird or SwiftNIO. Run from the repository root: `make bench-http`.
//
// Two packages: this one (runner + the Hummingbird server) and OurServer/ (our server, the root package by path).
// One package graph cannot hold both: the root package's `Metrics` target clashes with swift-metrics' `Metrics`,
// and SwiftPM's module aliasing resolved that clash only some of the time (2 failed resolutions in 15 tries).
import PackageDescription

let package = Package(
    name: "HTTPBench",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "http-bench",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
