import Evaluation
import Foundation
import Models
import MSCCore
import TensorEngine
import TestSupport
@testable import Training
import XCTest

final class ShapleyTests: XCTestCase {
    /// Two players, v(∅)=0, v({a})=1, v({b})=3, v({a,b})=6: φa = ½(1−0) + ½(6−3) = 2, φb = ½(3−0) + ½(6−1) = 4.
    func testTwoPlayersByHand() {
        let v: [Double] = [0, 1, 3, 6]
        XCTAssertEqual(Shapley.values(players: 2) { v[$0] }, [2, 4])
    }

    /// Three players: a glove game (a pairs with b or c). Known values φa = 2/3, φb = φc = 1/6; they sum to v(N) − v(∅).
    func testGloveGameAndEfficiency() {
        func v(_ s: Int) -> Double { (s & 1 != 0 && s & 6 != 0) ? 1 : 0 }
        let phi = Shapley.values(players: 3, value: v)
        XCTAssertEqual(phi[0], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(phi[1], 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(phi[2], 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(phi.reduce(0, +), v(7) - v(0), accuracy: 1e-12)
    }

    func testHidingShowsMaskTokensAndKeepsTargets() throws {
        let config = MSCGRecConfig(modalities: [.init(name: "a", codebookSizes: [2, 2]), .init(name: "b", codebookSizes: [3])],
                                   targetModality: "a", maxHistory: 4)
        let layout = TokenLayout(config)
        let items = try ItemTokens(layout: layout, modalities: [(codes: [0, 1, 1, 0], present: [true, true]),
                                                                (codes: [2, 1], present: [true, false])])
        let hidden = items.hiding([0])
        XCTAssertEqual(hidden.blocks, [layout.mask(0), layout.mask(0), items.blocks[2], layout.mask(0), layout.mask(0), items.blocks[5]])
        XCTAssertEqual(hidden.targetCodes, items.targetCodes)
        XCTAssertEqual(hidden.hasTarget, items.hasTarget)
        XCTAssertEqual(items.hiding([]).blocks, items.blocks)
    }
}

final class StageStoreTests: XCTestCase {
    private func store() throws -> StageStore {
        StageStore(directory: try temporaryDirectory(self).appendingPathComponent("stages"))
    }

    func testFreshThenResumeThenCached() throws {
        let s = try store()
        let inputs = StageInputs(kind: "train", settings: .object(["epochs": .number(3)]))
        XCTAssertEqual(s.decide("train-x", inputs: inputs), .fresh)
        try s.markStarted("train-x", inputs: inputs)
        XCTAssertEqual(s.decide("train-x", inputs: inputs), .resume)
        let record = try s.markCompleted("train-x", inputs: inputs, seconds: 2)
        XCTAssertEqual(s.decide("train-x", inputs: inputs), .cached(record))
        // Another setting, or the same setting over another upstream result, is a fresh start.
        XCTAssertEqual(s.decide("train-x", inputs: StageInputs(kind: "train", settings: .object(["epochs": .number(4)]))), .fresh)
        let upstream = StageRecord(inputs: "x", fingerprint: "0123", completed: true, seconds: 1)
        XCTAssertEqual(s.decide("train-x", inputs: StageInputs(kind: "train", settings: .object(["epochs": .number(3)]), upstream: [upstream])), .fresh)
    }

    func testKeyOrderDoesNotMatterButFileChangesDo() throws {
        let a = StageInputs(kind: "k", settings: .object(["x": .number(1), "y": .string("z")]))
        let b = StageInputs(kind: "k", settings: .object(["y": .string("z"), "x": .number(1)]))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        let file = try temporaryDirectory(self).appendingPathComponent("stage-input")
        try Data("one".utf8).write(to: file)
        let before = StageInputs(kind: "k", settings: .null, files: [file.path])
        try Data("three".utf8).write(to: file)
        XCTAssertNotEqual(StageInputs(kind: "k", settings: .null, files: [file.path]), before)
    }

    func testASecondRunOnTheSameWorkDirectoryIsRefused() throws {
        let work = try temporaryDirectory(self)
        var first: WorkDirectoryLock? = try WorkDirectoryLock(work)
        assertThrowsError(try WorkDirectoryLock(work), containing: "another `run` is using \(work.path) (pid \(getpid()))")
        first = nil
        XCTAssertNoThrow(try WorkDirectoryLock(work), "the lock goes with its holder")
        _ = first
    }

    /// A copied dataset has new modification times and the same bytes: its stages stay cached. The digest cache
    /// (keyed by size and mtime) is persisted and re-read.
    func testNewModificationTimeWithSameContentKeepsTheInputs() throws {
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("data.bin"), cacheFile = dir.appendingPathComponent("digests.json")
        try Data("same bytes".utf8).write(to: file)
        let cache = FileDigestCache(file: cacheFile)
        let before = StageInputs(kind: "k", settings: .null, files: [file.path], digests: cache)
        try cache.save()
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: file.path)
        XCTAssertEqual(StageInputs(kind: "k", settings: .null, files: [file.path], digests: FileDigestCache(file: cacheFile)), before)
        try Data("other bytes".utf8).write(to: file)
        XCTAssertNotEqual(StageInputs(kind: "k", settings: .null, files: [file.path], digests: FileDigestCache(file: cacheFile)), before)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheFile.path))
    }
}

final class PipelineConfigTests: XCTestCase {
    private func decode(_ text: String) throws -> PipelineConfig { try PipelineConfig.decode(Data(text.utf8), source: "p.json") }
    private let base = """
    "work": "w", "dataset": {"format": "lcrec", "input": "d"}, "modalities": [{"name": "text", "embeddings": "e.npy"}]
    """

    func testErrorsNameTheField() {
        assertThrows(try decode("{\(base)}"), "p.json: top level: missing field \"models\"")
        assertThrows(try decode("{\(base), \"models\": [{\"name\": \"M\", \"config\": {}}]}"),
                     "p.json: model \"M\": config.model.modalities must list its input modalities")
        assertThrows(try decode("{\(base), \"models\": [{\"name\": \"M\", \"config\": {\"model\": {\"modalities\": [\"image\"]}}}]}"),
                     "p.json: model \"M\": modality \"image\" is not in \"modalities\" (known: text)")
        assertThrows(try decode("{\"work\": 3}"), "p.json: field work must be String")
        assertThrows(try decode("""
            {"work": "w", "dataset": {"format": "lcrec", "input": "d"}, "modalities": [{"name": "t"}], "models": []}
            """), "modality \"t\": give exactly one of")
        assertThrows(try decode("""
            {"work": "w", "dataset": {"format": "lcrec", "input": "d"}, "models": [],
             "modalities": [{"name": "t", "embeddings": "e.npy", "encoder": ["--epochs", "2"]}]}
            """), "modality \"t\": \"encoder\" (rqdino flags) needs \"images\"")
    }

    func testImageModalitiesNameTheirImagesAndEncoderFlags() throws {
        let config = try decode("""
            {"work": "w", "dataset": {"format": "recbole", "input": "d"}, "models": [{"name": "M", "config": {"model": {"modalities": ["image"]}}}],
             "modalities": [{"name": "image", "images": "d/posters", "encoder": ["--no-quantizer"]}]}
            """)
        XCTAssertEqual(config.modalities[0].images, "d/posters")
        XCTAssertEqual(config.modalities[0].encoder, ["--no-quantizer"])
    }

    func testModelsGetDirectoryNames() throws {
        let config = try decode("""
            {\(base), "models": [{"name": "MSCGRec w/o split bias", "config": {"model": {"modalities": ["text"]}}}]}
            """)
        XCTAssertEqual(config.models[0].slug, "mscgrec-w-o-split-bias")
    }

    /// Every committed config reads: the pipeline configs with each model row's training config, and the plain
    /// `train --config` files (a typo in a probe row would otherwise surface hours into a run).
    func testEveryCommittedConfigDecodes() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") && $0 != "server.json" }
        XCTAssertGreaterThanOrEqual(files.count, 8)
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            let top = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], file)
            if top["work"] != nil {
                let pipeline = try PipelineConfig.decode(data, source: file)
                XCTAssertFalse(pipeline.models.isEmpty, file)
                for model in pipeline.models {
                    _ = try MSCGRecRunConfig.decode(model.config.canonicalData(), source: "\(file): \(model.name)")
                }
            } else {
                _ = try MSCGRecRunConfig.decode(data, source: file)
            }
        }
    }

    private func assertThrows(_ expression: @autoclosure () throws -> some Any, _ text: String, line: UInt = #line) {
        do { _ = try expression(); XCTFail("no error", line: line) } catch {
            XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
        }
    }
}
