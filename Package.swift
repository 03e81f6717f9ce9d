// swift-tools-version:6.0
// Module map (imports flow downwards only; ../shared/ARCHITECTURE.md has the target map):
//   C shims:      CBLAS, CNghttp2, COpenSSL, CSQLite, CZlib, CJPEG, CPNG; CVectorMath (elementwise kernels per vector width)
//   runtime:      BLASRuntime (OpenBLAS kernel selection and denormal flushing at start-up) -> CBLAS, CVectorMath
//   foundation:   MSCCore (version, the configuration error every config shares); BinaryFiles (the binary-file
//                 convention: magic, version, fields, FNV-1a trailer; atomic writes); JSONText (the one JSON value, streaming parser and
//                 writer: exact integers; duplicate keys, deep nesting and invalid UTF-8 refused)
//   formats:      SafeTensors (file format only, no tensor math) -> JSONText
//   engine:       TensorEngine (Float32 tensors, autograd, optimisers) -> BLASRuntime, CBLAS, CVectorMath, SafeTensors
//   models:       Models (attention, T5 blocks, SASRec, MSCGRec and its config) -> TensorEngine
//   data/codes:   Catalog, Datasets, ItemCodes (prefix tree, codes files, collision level: what serving needs),
//                 Quantization (k-means, RQ, RQ-VAE, embedding inputs) -> ItemCodes, Evaluation (ranking metrics);
//                 Catalog, Datasets, Evaluation, Quantization and Training read and write JSON through JSONText
//   images:       Images (JPEG/PNG decoding, crops, DINOv2 augmentations, image sources) -> CJPEG, CPNG, TensorEngine
//   generation:   Generation (constrained beam search; no training code) -> Models, ItemCodes
//   training:     Training (the shared loop; SASRec, MSCGRec and RQ-DINO trainers; pipeline stage cache) -> Models, Datasets,
//                 Quantization, Catalog, Evaluation, Generation, Images
//   process:      ProcessSupport (one signal hub, systemd notifier)
//   HTTP:         HTTPCore (I/O-free engines) -> CNghttp2; HTTPServer (sockets, TLS) -> HTTPCore, COpenSSL, ProcessSupport
//   artifacts:    Artifacts (bundle manifest, checksums, atomic publish, validated load) -> Models, ItemCodes, Catalog
//   serving:      RecommendationServer (batch queue, routes, reload, metrics, settings) -> Artifacts, Generation,
//                 HTTPServer, swift-log, swift-metrics/swift-prometheus, swift-configuration
//   executables:  mscgrec-trainer, mscgrec-server (-> RecommendationServer, ProcessSupport only), mscgrec-bench
import PackageDescription

let package = Package(
    name: "mscgrec",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mscgrec-trainer", targets: ["mscgrec-trainer"]),
        .executable(name: "mscgrec-server", targets: ["mscgrec-server"]),
        .executable(name: "mscgrec-bench", targets: ["mscgrec-bench"]),
        // For Benchmarks/HTTPBench (a separate package that compares the server with Hummingbird).
        .library(name: "HTTPServer", targets: ["HTTPServer", "HTTPCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
    ],
    targets: [
        // MARK: C library shims (thin module maps; providers name the Debian packages)
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        // MARK: Libraries
        .target(name: "MSCCore"),
        .target(name: "JSONText"),
        .target(name: "BinaryFiles"),
        .target(name: "ProcessSupport"),
        .target(name: "BLASRuntime", dependencies: ["CBLAS", "CVectorMath"]),
        .target(name: "Evaluation", dependencies: ["JSONText"]),
        .target(name: "Catalog", dependencies: ["CSQLite", "JSONText"]),
        .target(name: "Datasets", dependencies: ["Catalog", "MSCCore", "JSONText", "BinaryFiles", "CZlib"]),
        .target(name: "SafeTensors", dependencies: ["JSONText"]),
        .target(name: "CVectorMath"),
        .target(name: "TensorEngine", dependencies: ["BLASRuntime", "CBLAS", "CVectorMath", "SafeTensors"]),
        .target(name: "Models", dependencies: ["TensorEngine", "MSCCore", "SafeTensors"]),
        .target(name: "Training", dependencies: ["Models", "Datasets", "Evaluation", "TensorEngine", "MSCCore", "SafeTensors", "ItemCodes", "Quantization", "Catalog", "Generation", "Images", "ProcessSupport", "JSONText", "BinaryFiles"]),
        .target(name: "ItemCodes", dependencies: ["Catalog", "MSCCore", "BinaryFiles"]),
        .target(name: "Quantization", dependencies: ["ItemCodes", "TensorEngine", "SafeTensors", "Catalog", "JSONText", "BinaryFiles"]),
        .target(name: "Generation", dependencies: ["Models", "ItemCodes", "TensorEngine"]),
        .target(name: "TextEncoding", dependencies: ["TensorEngine", "SafeTensors"]),
        .target(name: "Images", dependencies: ["CJPEG", "CPNG", "TensorEngine"]),
        .target(name: "HTTPCore", dependencies: ["CNghttp2"]),
        .target(name: "HTTPServer", dependencies: ["HTTPCore", "COpenSSL", "ProcessSupport"]),
        .target(name: "Artifacts", dependencies: ["SafeTensors", "ItemCodes", "Catalog", "Models", "MSCCore", "COpenSSL"]),
        .target(name: "RecommendationServer", dependencies: [
            "Artifacts", "Generation", "Models", "ItemCodes", "HTTPServer", "HTTPCore", "MSCCore", "TensorEngine",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Configuration", package: "swift-configuration"),
        ]),

        // MARK: Executables
        .executableTarget(name: "mscgrec-trainer", dependencies: [
            "MSCCore", "Models", "Datasets", "Catalog", "Evaluation", "Training", "TensorEngine", "SafeTensors", "ItemCodes", "Quantization", "BLASRuntime", "Generation", "TextEncoding", "Images", "Artifacts", "BinaryFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "mscgrec-server", dependencies: [
            "MSCCore", "BLASRuntime", "RecommendationServer", "ProcessSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "mscgrec-bench", dependencies: [
            "TensorEngine", "Models", "SafeTensors", "Training", "Datasets", "Evaluation", "MSCCore", "ItemCodes", "Quantization", "BLASRuntime", "Catalog", "Generation", "TextEncoding", "Artifacts", "CBLAS", "CVectorMath",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests (one test target per module)
        .testTarget(name: "ShimsTests", dependencies: ["CBLAS", "CNghttp2", "COpenSSL", "CSQLite"]),
        .testTarget(name: "BLASRuntimeTests", dependencies: ["BLASRuntime"]),
        .testTarget(name: "JSONTextTests", dependencies: ["JSONText"]),
        .testTarget(name: "BinaryFilesTests", dependencies: ["BinaryFiles", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Catalog", "BinaryFiles"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"], resources: [.copy("Fixtures")]),
        .target(name: "TestSupport", dependencies: ["TensorEngine", "SafeTensors", "Artifacts", "Catalog", "ItemCodes", "Models"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine", "CVectorMath", "SafeTensors", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TensorEngine", "SafeTensors", "MSCCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "Datasets", "Evaluation", "MSCCore", "TensorEngine", "ItemCodes", "Generation",
                                                   "Quantization", "SafeTensors", "TestSupport", "Images"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ItemCodesTests", dependencies: ["ItemCodes", "TensorEngine", "TestSupport"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "ItemCodes", "TensorEngine", "SafeTensors", "Catalog", "Datasets", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "GenerationTests", dependencies: ["Generation", "Models", "ItemCodes", "TensorEngine", "SafeTensors", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "TensorEngine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TextEncodingTests", dependencies: ["TextEncoding", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore", "CNghttp2"]),
        .target(name: "HTTPTesting", dependencies: ["HTTPServer", "HTTPCore"], path: "Tests/HTTPTesting"),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "HTTPCore", "COpenSSL", "HTTPTesting"]),
        .testTarget(name: "ArtifactsTests", dependencies: ["Artifacts", "Models", "Catalog", "ItemCodes", "SafeTensors", "TensorEngine", "TestSupport"]),
        .testTarget(name: "RecommendationServerTests", dependencies: ["RecommendationServer", "Artifacts", "Generation", "Models", "Catalog",
                                                                "ItemCodes", "HTTPCore", "HTTPServer", "TensorEngine", "TestSupport", "HTTPTesting",
                                                                .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ProcessSupportTests", dependencies: ["ProcessSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
