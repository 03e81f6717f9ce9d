import Artifacts
import Foundation
import TestSupport
import XCTest

final class BundleTests: XCTestCase {
    func testPublishedBundleLoadsWithItsManifestAndCurrentLink() throws {
        let root = try temporaryDirectory(self).appendingPathComponent("bundles")
        let directory = try TinyBundle.publish(root: root)
        XCTAssertEqual(BundlePublisher.currentVersion(root: root), directory.lastPathComponent)
        let bundle = try LoadedBundle.load(root)
        XCTAssertEqual(bundle.version, directory.lastPathComponent)
        XCTAssertEqual(bundle.manifest.formatVersion, BundleManifest.currentFormatVersion)
        XCTAssertEqual(bundle.manifest.model, TinyBundle.config())
        XCTAssertEqual(bundle.manifest.codes.map(\.modality), ["text", "collaborative"])
        XCTAssertEqual(Set(bundle.manifest.files.keys), ["model.safetensors", "catalog.sqlite", "collaborative.tree"])
        XCTAssertEqual(bundle.items.itemCount, 40)
        XCTAssertEqual(bundle.directoryOfItems.index(of: "item-7"), 7)
        XCTAssertEqual(bundle.directoryOfItems.titles[7], "Item 7")
        XCTAssertEqual(bundle.directoryOfItems.codes(of: 9).map(\.codes), [[1, 2, 0], [1, 1]])
        // The recorded checksum is the file's real SHA-256 (checked against coreutils when present).
        let weights = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [weights.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            process.waitUntilExit()
            let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
            XCTAssertEqual(String(printed), bundle.manifest.files["model.safetensors"]?.sha256)
        }
    }

    func testCorruptTruncatedAndMissingFilesAreRefusedNamingTheFile() throws {
        let root = try temporaryDirectory(self)
        let directory = try TinyBundle.publish(root: root)
        let weights = directory.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: weights)
        assertThrowsError(try LoadedBundle.load(root), containing: "model.safetensors: SHA-256")
        try bytes.prefix(bytes.count - 10).write(to: weights)
        assertThrowsError(try LoadedBundle.load(root), containing: "model.safetensors: size \(bytes.count - 10) bytes, the manifest says \(bytes.count)")
        try FileManager.default.removeItem(at: weights)
        assertThrowsError(try LoadedBundle.load(root), containing: "model.safetensors is missing")
    }

    func testAnotherFormatVersionGetsAHint() throws {
        let root = try temporaryDirectory(self)
        let directory = try TinyBundle.publish(root: root)
        let manifest = directory.appendingPathComponent("manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8).replacingOccurrences(of: "\"formatVersion\" : 1,\n  \"modalities\"", with: "\"formatVersion\" : 7,\n  \"modalities\"")
        XCTAssertTrue(text.contains("\"formatVersion\" : 7"), "the manifest's top-level version was rewritten")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        assertThrowsError(try LoadedBundle.load(root), containing: "bundle format version 7, this build reads version 1 (upgrade the server")
    }

    func testWeightsThatDoNotFitTheConfigAreRefused() throws {
        let root = try temporaryDirectory(self)
        let directory = try TinyBundle.publish(root: root)
        // Rewrite the manifest with a wider model (checksums still match the files): the shapes must not fit.
        let url = directory.appendingPathComponent("manifest.json")
        var manifest = try JSONDecoder().decode(BundleManifest.self, from: Data(contentsOf: url))
        manifest.model.transformer.dModel = 32
        try JSONEncoder().encode(manifest).write(to: url)
        assertThrowsError(try LoadedBundle.load(root), containing: "model.safetensors: does not fit the manifest's model config")
    }

    func testAModelWithAPrefixTableTravelsInTheBundle() throws {
        let root = try temporaryDirectory(self)
        try TinyBundle.publish(root: root, prefixBuckets: 11)
        let bundle = try LoadedBundle.load(root)
        XCTAssertEqual(bundle.manifest.model.prefixBuckets, 11)
        XCTAssertEqual(bundle.manifest.model.formatVersion, 2)
        XCTAssertEqual(bundle.model.prefixEmbedding?.shape, [12, 16])
    }

    func testPruneKeepsTheNewestAndCurrent() throws {
        let root = try temporaryDirectory(self)
        var published: [String] = []
        for seed in 1...3 {
            published.append(try TinyBundle.publish(root: root, seed: UInt64(seed)).lastPathComponent)
            Thread.sleep(forTimeInterval: 1.05)   // versions are named by the second
        }
        XCTAssertEqual(BundlePublisher.versions(root: root), published)
        // Point current back at the oldest: pruning to 2 keeps it and the newest.
        try BundlePublisher.switchCurrent(root: root, to: published[0])
        XCTAssertEqual(try BundlePublisher.prune(root: root, keep: 2), [published[1]])
        XCTAssertEqual(BundlePublisher.versions(root: root), [published[0], published[2]])
        XCTAssertEqual(try LoadedBundle.load(root).version, published[0])
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: root.path).contains { $0.hasPrefix(".") }, "no staging left behind")
    }
}
