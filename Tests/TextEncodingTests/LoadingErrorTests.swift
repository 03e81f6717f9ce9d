import XCTest
@testable import TextEncoding

/// A broken model directory fails with a typed error that names the file and the field, never a crash.
final class LoadingErrorTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("textenc-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.path("tiny-bert")), to: scratch)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
        let url = scratch.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func error(_ body: () throws -> Void) -> TextEncodingError? {
        do { try body(); return nil } catch let e as TextEncodingError { return e } catch { XCTFail("untyped \(error)"); return nil }
    }

    func testMissingDirectory() {
        guard case .missingFile(let path, _)? = error({ _ = try SentenceEncoder.load("/nonexistent/model") }) else { return XCTFail() }
        XCTAssertEqual(path, "/nonexistent/model")
    }

    func testMissingConfig() throws {
        try FileManager.default.removeItem(at: scratch.appendingPathComponent("config.json"))
        guard case .missingFile(let path, _)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertTrue(path.hasSuffix("config.json"))
    }

    func testMissingWeights() throws {
        try FileManager.default.removeItem(at: scratch.appendingPathComponent("model.safetensors"))
        guard case .missingFile(let path, _)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertTrue(path.hasSuffix("model.safetensors"))
    }

    func testMissingTokenizer() throws {
        try FileManager.default.removeItem(at: scratch.appendingPathComponent("tokenizer.json"))
        guard case .missingFile(let path, _)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertTrue(path.hasSuffix("tokenizer.json"))
    }

    func testUnknownArchitecture() throws {
        try editConfig { $0["model_type"] = "gpt2" }
        guard case .unknownArchitecture(let path, let found)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertTrue(path.hasSuffix("config.json"))
        XCTAssertEqual(found, "gpt2")
    }

    func testShapeMismatch() throws {
        try editConfig { $0["intermediate_size"] = 65 }
        guard case .shapeMismatch(_, let tensor, let expected, let found)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertEqual(tensor, "encoder.layer.0.intermediate.dense.weight")
        XCTAssertEqual(expected, [65, 32])
        XCTAssertEqual(found, [64, 32])
    }

    func testMalformedJSONNamesTheFile() throws {
        try Data("{not json".utf8).write(to: scratch.appendingPathComponent("modules.json"))
        guard case .malformed(let path, _, _)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertTrue(path.hasSuffix("modules.json"))
    }

    func testUnsupportedModule() throws {
        let modules = #"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#
        try Data(modules.utf8).write(to: scratch.appendingPathComponent("modules.json"))
        guard case .unsupported(_, let field, _)? = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail() }
        XCTAssertEqual(field, "[1].type")
    }
}

extension LoadingErrorTests {
    func testVocabularySizeDisagreeingWithTheWeightsIsAShapeError() throws {
        try editConfig { $0["vocab_size"] = 10 }
        guard let e = error({ _ = try SentenceEncoder.load(scratch.path) }) else { return XCTFail("loaded") }
        switch e {
        case .shapeMismatch(_, let tensor, _, _): XCTAssertEqual(tensor, "embeddings.word_embeddings.weight")
        default: XCTFail("\(e)")
        }
    }

    func testEmptyInputGivesNoRows() throws {
        let encoder = try SentenceEncoder.load(scratch.path)
        XCTAssertEqual(encoder.embed([]), [])
    }
}
