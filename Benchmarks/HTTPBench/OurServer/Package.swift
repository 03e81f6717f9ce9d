// swift-tools-version:6.0
// Our server for the HTTP benchmark (see ../Package.swift): the root package by path, nothing else.
import PackageDescription

let package = Package(
    name: "OurServer",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "mscgrec", path: "../../.."),
    ],
    targets: [
        .executableTarget(name: "our-server", dependencies: [.product(name: "HTTPServer", package: "mscgrec")]),
    ],
    swiftLanguageModes: [.v6]
)
