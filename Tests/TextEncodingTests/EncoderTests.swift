import XCTest
import TensorEngine
@testable import TextEncoding

final class EncoderTests: XCTestCase {
    func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    func tinyCheck(_ name: String) throws {
        let fixture: [String: Any] = try Fixtures.json("\(name).json")
        let expected = (fixture["embeddings"] as! [[NSNumber]]).flatMap { $0.map(\.floatValue) }
        let encoder = try SentenceEncoder.load(Fixtures.path(name))
        let got = encoder.embed(try Fixtures.texts, options: BatchOptions(batchSize: 7))
        let diff = maxAbsDiff(got, expected)
        XCTAssertLessThan(diff, 1e-5, "\(name): max |ours − sentence-transformers| = \(diff)")
    }

    func testTinyBERTMatchesSentenceTransformers() throws { try tinyCheck("tiny-bert") }
    func testTinyMPNetMatchesSentenceTransformers() throws { try tinyCheck("tiny-mpnet") }

    func realCheck(_ folder: String, _ name: String) throws {
        let path = try Fixtures.realModel(folder)
        let meta: [String: Any] = try Fixtures.json("embed-\(name).json")
        let chosen = (meta["texts"] as! [NSNumber]).map(\.intValue)
        let texts = try Fixtures.texts
        let encoder = try SentenceEncoder.load(path)
        let got = encoder.embed(chosen.map { texts[$0] }, options: BatchOptions(batchSize: 8))
        let expected = try Fixtures.floats("embed-\(name).f32")
        XCTAssertEqual(expected.count, chosen.count * encoder.dimension)
        let d = encoder.dimension
        for r in 0..<chosen.count {
            let e = zip(got[r * d..<(r + 1) * d], expected[r * d..<(r + 1) * d]).map { abs($0 - $1) }.max()!
            if e > 1e-4 { print("row \(r) (text \(chosen[r]), tokens \(encoder.tokenizer.encode(texts[chosen[r]]).count)) differs by \(e)") }
        }
        let diff = maxAbsDiff(got, expected)
        print("\(folder): max |ours − sentence-transformers| over \(chosen.count) texts = \(diff)")
        XCTAssertLessThan(diff, 1e-4)
    }

    func testMiniLMMatchesSentenceTransformers() throws { try realCheck("all-MiniLM-L6-v2", "minilm") }
    func testMPNetMatchesSentenceTransformers() throws { try realCheck("all-mpnet-base-v2", "mpnet") }

    /// Padding must not leak: every text embedded alone equals the same text inside a mixed-length batch, and the
    /// answer does not depend on the number of workers.
    func testBatchingAndWorkersDoNotChangeResults() throws {
        let encoder = try SentenceEncoder.load(Fixtures.path("tiny-mpnet"))
        let texts = Array(try Fixtures.texts.prefix(40))
        let alone = texts.flatMap { encoder.embed([$0], options: BatchOptions(batchSize: 1, workers: 1)) }
        let batched = encoder.embed(texts, options: BatchOptions(batchSize: 16, workers: 2))
        XCTAssertLessThan(maxAbsDiff(alone, batched), 1e-5)
    }

    func testBatchesAreSortedByLengthAndCapped() {
        let lengths = [3, 50, 7, 50, 2, 9, 9, 100]
        let batches = SentenceEncoder.batches(lengths: lengths, options: BatchOptions(batchSize: 3, maxTokens: 120))
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<8))
        for batch in batches {
            XCTAssertLessThanOrEqual(batch.count, 3)
            XCTAssertLessThanOrEqual(batch.count * (batch.map { lengths[$0] }.max() ?? 0), max(120, batch.map { lengths[$0] }.max()!))
        }
        let flat = batches.flatMap { $0 }.map { lengths[$0] }
        XCTAssertEqual(flat, flat.sorted(by: >))
    }

    func testRelativePositionBucketsMatchTorch() throws {
        let expected: [NSNumber] = try Fixtures.json("buckets-mpnet.json")
        for (i, bucket) in expected.enumerated() {
            XCTAssertEqual(TransformerEncoder.relativePositionBucket(i - 600), bucket.intValue, "relative position \(i - 600)")
        }
    }

    /// The pooling loops against a direct formula on a hand-made block.
    func testPoolingModes() {
        let x: [Float] = [1, 2, 3, 4, 5, 6, 100, 100]   // 4 rows of width 2, the last one padding
        var out = [Float](repeating: 0, count: 2)
        Pooling.pool(x, length: 3, width: 2, mode: .mean, into: &out); XCTAssertEqual(out, [3, 4])
        Pooling.pool(x, length: 3, width: 2, mode: .max, into: &out); XCTAssertEqual(out, [5, 6])
        Pooling.pool(x, length: 3, width: 2, mode: .cls, into: &out); XCTAssertEqual(out, [1, 2])
        Pooling.pool(x, length: 4, width: 2, mode: .meanSqrtLength, into: &out); XCTAssertEqual(out, [54.5, 56])
        var v: [Float] = [3, 4]; Pooling.l2Normalize(&v, 2); XCTAssertEqual(v, [0.6, 0.8])
    }
}

/// The encoder's fused inference kernels against the engine's general ops (the naive references).
final class TextOpsTests: XCTestCase {
    func testFastGELUMatchesExactGELU() {
        let xs = stride(from: Float(-12), through: 12, by: 0.001).map { $0 }
        let x = Tensor(shape: [xs.count], scalars: xs)
        let diff = zip(x.geluErfFast().scalars, x.geluExact().scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(diff, 2e-6)
    }

    func testFusedLinearMatchesMatmulPlusBias() {
        var rng = SystemRandomNumberGenerator()
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        let x = random([3, 5, 7]), w = random([4, 7]), b = random([4])
        let fused = linearTransposedWeight(x, w, bias: b)
        let reference = matmul(x, w, transposeB: true) + b
        XCTAssertEqual(fused.shape, [3, 5, 4])
        XCTAssertLessThan(zip(fused.scalars, reference.scalars).map { abs($0 - $1) }.max()!, 1e-5)
    }
}

extension EncoderTests {
    /// A row with no tokens (a tokenizer without special tokens, text of format characters only) must not crash.
    func testEmptyTokenRowGivesZerosWithoutTouchingOthers() throws {
        let encoder = try SentenceEncoder.load(Fixtures.path("tiny-bert"))
        let one = encoder.tokenizer.encode("red lipstick")
        let rows = encoder.embed(tokenized: [one, [], one])
        let d = encoder.dimension
        XCTAssertEqual(Array(rows[d..<(2 * d)]), [Float](repeating: 0, count: d))
        XCTAssertLessThan(maxAbsDiff(Array(rows[0..<d]), Array(rows[(2 * d)...])), 1e-6)   // same text, other row
        XCTAssertEqual(SentenceEncoder.batches(lengths: [0, 3, 0], options: BatchOptions()), [[1]])
    }
}
