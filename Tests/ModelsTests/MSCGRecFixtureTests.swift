import Foundation
import Models
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// The whole MSCGRec model against the PyTorch reference (scripts/make_mscgrec_fixtures.py): two modalities, items
/// lacking a modality, masked history items, padded rows; encoder output, logits, constrained and full-softmax losses,
/// every gradient, and five AdamW steps.
final class MSCGRecFixtureTests: XCTestCase {
    struct Case {
        let file: SafeTensors
        let config: MSCGRecConfig
        let model: MSCGRec
        let batch: MSCGRecBatch
        let allowed: AllowedClasses
    }

    func load(_ name: String) throws -> Case {
        let f = try loadFixture("\(name).safetensors")
        let config = try JSONDecoder().decode(MSCGRecConfig.self, from: Data(try XCTUnwrap(f.metadata["config"]).utf8))
        try config.validate()
        var weights = SafeTensors()
        for name in f.names where name.hasPrefix("weight.") {
            weights.add(String(name.dropFirst("weight.".count)), try f.tensor(name))
        }
        let model = try MSCGRec(config, weights: weights)
        let items = try ItemTokens(layout: model.layout, modalities: [
            (try f.indices("text_codes"), try f.ints("text_present").map { $0 != 0 }),
            (try f.indices("collab_codes"), try f.ints("collab_present").map { $0 != 0 }),
        ])
        let histories = try f.indices("histories"), width = try f.shape("histories")[1]
        let rows = stride(from: 0, to: histories.count, by: width).map { Array(histories[$0..<$0 + width].filter { $0 >= 0 }) }
        var rng = SeededGenerator(seed: 1)
        var batch = items.batch(histories: rows, targets: try f.indices("targets"), maxHistory: config.maxHistory, rng: &rng)
        // The fixture's explicit masks (row, history position, modality), placed as the batch builder places a mask.
        let masks = try f.ints("masks"), p = model.layout.blockLength, s = batch.items * p + 1
        for m in stride(from: 0, to: masks.count, by: 3) {
            let (row, position, modality) = (masks[m], masks[m + 1], masks[m + 2])
            let lead = batch.items - rows[row].count
            let start = row * s + (lead + position) * p + model.layout.blockOffset(modality)
            for level in 0..<config.modalities[modality].levels { batch.encoderTokens[start + level] = model.layout.mask(modality) }
        }
        let allowed = AllowedClasses(offsets: try f.indices("allowed_offsets"), classes: try f.indices("allowed_classes"))
        return Case(file: f, config: config, model: model, batch: batch, allowed: allowed)
    }

    func testBatchTokensBucketsAndLayoutMatchTheReference() throws {
        for name in ["mscgrec_split", "mscgrec_standard"] {
            let c = try load(name)
            XCTAssertEqual(c.batch.encoderTokens, try c.file.indices("tokens"), "\(name): encoder tokens")
            XCTAssertEqual(c.batch.padding, try c.file.floats("padding"), "\(name): padding")
            XCTAssertEqual(c.batch.decoderTokens, try c.file.indices("decoder_tokens"), "\(name): decoder tokens")
            XCTAssertEqual(c.batch.labels, try c.file.indices("labels"), "\(name): labels")
            let (first, second) = c.model.encoderBuckets(items: c.batch.items)
            XCTAssertEqual(first, try c.file.indices("encoder_buckets_first"), "\(name): first buckets")
            XCTAssertEqual(second, c.file.names.contains("encoder_buckets_second") ? try c.file.indices("encoder_buckets_second") : nil)
        }
    }

    func testForwardLossesAndEveryGradientMatchPyTorch() throws {
        for name in ["mscgrec_split", "mscgrec_standard"] {
            let c = try load(name)
            let encoded = c.model.encode(tokens: c.batch.encoderTokens, batch: c.batch.size, items: c.batch.items, padding: c.batch.padding)
            assertClose(encoded, try c.file.tensor("encoded"), "\(name).encoded", atol: 2e-5, rtol: 1e-4)
            assertClose(c.model.logits(c.batch), try c.file.tensor("logits"), "\(name).logits", atol: 2e-5, rtol: 1e-4)
            for (kind, allowed) in [("constrained", Optional(c.allowed)), ("full", nil)] {
                for p in c.model.parameters { p.grad = nil }
                let loss = c.model.loss(c.batch, allowed: allowed)
                assertClose(loss.reshaped([1]), try c.file.tensor("loss_\(kind)"), "\(name).loss_\(kind)", atol: 1e-5, rtol: 1e-5)
                loss.backward()
                for (param, tensor) in c.model.namedParameters {
                    assertClose(tensor.grad, try c.file.tensor("grad_\(kind).\(param)"), "\(name).grad_\(kind).\(param)", atol: 1e-5, rtol: 1e-3)
                }
            }
        }
    }

    func testFiveAdamWStepsMatchPyTorch() throws {
        let c = try load("mscgrec_split")
        let optimizer = AdamW(parameters: c.model.parameters, learningRate: 0.01, weightDecay: 0.01)
        var losses: [Float] = [], norms: [Float] = []
        for _ in 0..<5 {
            optimizer.zeroGrad()
            let loss = c.model.loss(c.batch, allowed: c.allowed)
            loss.backward()
            norms.append(clipGradNorm(c.model.parameters, maxNorm: 1))
            optimizer.step()
            losses.append(loss.item)
        }
        assertClose(Tensor(shape: [5], scalars: losses), try c.file.tensor("adam_losses"), "adam_losses", atol: 1e-5, rtol: 1e-4)
        assertClose(Tensor(shape: [5], scalars: norms), try c.file.tensor("adam_norms"), "adam_norms", atol: 1e-5, rtol: 1e-4)
        for (name, tensor) in c.model.namedParameters {
            assertClose(tensor, try c.file.tensor("final.\(name)"), "final.\(name)", atol: 1e-5, rtol: 1e-3)
        }
    }

    /// An extra decoded path (distillation's) reads its history's encoder row: loss and every gradient equal those of
    /// a batch that repeats the history as a row of its own, with the same levels left untrained.
    func testExtraDecodedPathsEqualARepeatedHistory() throws {
        let c = try load("mscgrec_split")
        let f = c.file
        let items = try ItemTokens(layout: c.model.layout, modalities: [
            (try f.indices("text_codes"), try f.ints("text_present").map { $0 != 0 }),
            (try f.indices("collab_codes"), try f.ints("collab_present").map { $0 != 0 }),
        ])
        let histories = try f.indices("histories"), width = try f.shape("histories")[1]
        let rows = stride(from: 0, to: histories.count, by: width).map { Array(histories[$0..<$0 + width].filter { $0 >= 0 }) }
        let targets = try f.indices("targets")
        let extra: [(row: Int, item: Int32, firstLevel: Int)] = [(1, 7, 1), (0, 3, 0), (1, 9, 2)]
        var rng = SeededGenerator(seed: 1)
        var gathered = items.batch(histories: rows, targets: targets, maxHistory: c.config.maxHistory, rng: &rng)
        for e in extra {
            gathered.appendPath(source: e.row, codes: items.targetCodes(ofItem: Int(e.item)), firstLevel: e.firstLevel, layout: items.layout)
        }
        XCTAssertEqual(gathered.decodedRows, rows.count + extra.count)
        var repeated = items.batch(histories: rows + extra.map { rows[$0.row] }, targets: targets + extra.map(\.item),
                                   maxHistory: c.config.maxHistory, rng: &rng)
        let l = items.layout.targetLevels
        for (k, e) in extra.enumerated() {
            for level in 0..<e.firstLevel { repeated.labels[(rows.count + k) * l + level] = -1 }
        }
        XCTAssertEqual(gathered.labels, repeated.labels)
        XCTAssertTrue(gathered.labels.contains(-1))
        func lossAndGradients(_ batch: MSCGRecBatch) -> (Float, [[Float]]) {
            for p in c.model.parameters { p.grad = nil }
            let loss = c.model.loss(batch, allowed: nil)
            loss.backward()
            return (loss.item, c.model.parameters.map { $0.grad?.scalars ?? [] })
        }
        let (a, da) = lossAndGradients(gathered), (b, db) = lossAndGradients(repeated)
        XCTAssertEqual(a, b, accuracy: 1e-5)
        for ((name, _), (x, y)) in zip(c.model.namedParameters, zip(da, db)) {
            XCTAssertEqual(x.count, y.count, name)
            for (u, v) in zip(x, y) where abs(u - v) > 1e-5 + 1e-4 * abs(v) { XCTFail("\(name): \(u) vs \(v)"); break }
        }
    }

    func testWeightsRoundTripAndMismatchedConfigIsRefusedWithTheTensorName() throws {
        let c = try load("mscgrec_split")
        let reloaded = try MSCGRec(c.config, weights: c.model.weights())
        for ((name, a), (_, b)) in zip(c.model.namedParameters, reloaded.namedParameters) { XCTAssertEqual(a.scalars, b.scalars, name) }
        var wider = c.config
        wider.transformer.dFF = 32
        XCTAssertThrowsError(try MSCGRec(wider, weights: c.model.weights())) { error in
            XCTAssertTrue("\(error)".contains("encoder.0.ffn.wi0") && "\(error)".contains("[16, 24]"), "\(error)")
        }
        var newer = c.config
        newer.formatVersion = 99
        XCTAssertThrowsError(try MSCGRec(newer, weights: c.model.weights())) { error in
            XCTAssertTrue("\(error)".contains("formatVersion"), "\(error)")
        }
    }

    func testMaskingShowsOneModalityMaskTokenWithTheConfiguredProbability() throws {
        let c = try load("mscgrec_split")
        let items = try ItemTokens(layout: c.model.layout, modalities: [
            (try c.file.indices("text_codes"), [Bool](repeating: true, count: 10)),
            (try c.file.indices("collab_codes"), [Bool](repeating: true, count: 10)),
        ])
        var rng = SeededGenerator(seed: 3)
        let histories = [[Int32]](repeating: [0, 1, 3, 4, 6, 7, 9], count: 400)
        let batch = items.batch(histories: histories, targets: nil, maxHistory: 20, maskProbability: 0.75, rng: &rng)
        let p = c.model.layout.blockLength
        var masked = [0, 0], blocks = 0
        for start in stride(from: 0, to: batch.encoderTokens.count, by: batch.items * p + 1) {
            for i in 0..<batch.items {
                let block = batch.encoderTokens[(start + i * p)..<(start + (i + 1) * p)]
                let text = block.prefix(3).allSatisfy { $0 == c.model.layout.mask(0) }
                let collab = block.suffix(3).allSatisfy { $0 == c.model.layout.mask(1) }
                XCTAssertFalse(text && collab, "at most one modality of an item is masked")
                // A masked modality is masked whole; the other keeps its codes.
                XCTAssertTrue(text || !block.prefix(3).contains(c.model.layout.mask(0)))
                masked[0] += text ? 1 : 0; masked[1] += collab ? 1 : 0; blocks += 1
            }
        }
        let rate = Double(masked[0] + masked[1]) / Double(blocks)
        XCTAssertEqual(rate, 0.75, accuracy: 0.03)
        XCTAssertEqual(Double(masked[0]) / Double(masked[0] + masked[1]), 0.5, accuracy: 0.05)
        // An item without a modality always shows its MASK token, masking or not (item 2 lacks text in the fixture).
        let plain = try load("mscgrec_split")
        XCTAssertEqual(plain.batch.encoderTokens[6..<9].map { $0 }, [plain.model.layout.mask(0), plain.model.layout.mask(0), plain.model.layout.mask(0)])
    }
}
