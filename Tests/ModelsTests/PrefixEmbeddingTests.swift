import Foundation
import Models
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// `MSCGRecConfig.prefixBuckets`, `decoderPrefixes` and `prefixLogits` (not in the paper): which rows each history
/// and decoder token and each scored child reads, that a zero table is the paper's model, the table's gradient against finite differences, and how the
/// settings are stored.
extension MSCGRecFixtureTests {
    func testPrefixRowsFollowEachItemsOwnPrefixAndSkipFirstLevelsMasksPaddingAndEOS() throws {
        let c = try load("mscgrec_split")
        let layout = c.model.layout, p = layout.blockLength, s = c.batch.items * p + 1, tokens = c.batch.encoderTokens
        XCTAssertNotNil(c.batch.padding, "the fixture has padded rows")
        XCTAssertTrue(tokens.contains(layout.mask(0)) && tokens.contains(layout.mask(1)), "and masked modalities")
        let buckets = 1 << 20
        let (first, second) = layout.prefixRows(tokens, rowLength: s, buckets: buckets)
        var rowsOfPrefix: [[Int32]: [Int32]] = [:], coded = 0
        for row in stride(from: 0, to: tokens.count, by: s) {
            XCTAssertEqual([first[row + s - 1], second[row + s - 1]], [0, 0], "EOS")
            for block in stride(from: row, to: row + s - 1, by: p) {
                for m in layout.modalities.indices {
                    let start = block + layout.blockOffset(m)
                    for level in 0..<layout.modalities[m].levels {
                        let i = start + level, prefix = Array(tokens[start...i])
                        // Token ids carry modality and level, so the prefix's tokens are its whole key.
                        if level == 0 || prefix.contains(where: { $0 < layout.codeTokenStart[0][0] }) {
                            XCTAssertEqual([first[i], second[i]], [0, 0], "token \(i): first level, PAD or MASK")
                            continue
                        }
                        XCTAssertTrue((1...Int32(buckets)).contains(first[i]) && (1...Int32(buckets)).contains(second[i]))
                        XCTAssertNotEqual(first[i], second[i], "two hashes")
                        if let seen = rowsOfPrefix[prefix] { XCTAssertEqual(seen, [first[i], second[i]], "same prefix, same rows") }
                        rowsOfPrefix[prefix] = [first[i], second[i]]
                        coded += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(rowsOfPrefix.count, 20)
        XCTAssertGreaterThan(coded, rowsOfPrefix.count, "some prefixes repeat across positions and rows")
        XCTAssertEqual(Set(rowsOfPrefix.values.map { $0[0] }).count, rowsOfPrefix.count, "distinct prefixes, distinct rows")
        // A smaller table folds the same tokens into its rows, zero where the large one is.
        let small = layout.prefixRows(tokens, rowLength: s, buckets: 7)
        XCTAssertEqual(small.first.map { $0 == 0 }, first.map { $0 == 0 })
        XCTAssertTrue((small.first + small.second).allSatisfy { (0...7).contains($0) })
    }

    func testDecoderTokensReadTheRowsOfTheSamePrefixInAHistory() throws {
        let c = try load("mscgrec_split")
        let layout = c.model.layout, target = layout.targetIndex, levels = layout.targetLevels, buckets = 1 << 20
        let decoder = layout.decoderPrefixRows(c.batch.decoderTokens, rowLength: levels, buckets: buckets)
        XCTAssertGreaterThanOrEqual(levels, 3, "the fixture's target has prefixes below its first level")
        for row in 0..<c.batch.size {
            let tokens = Array(c.batch.decoderTokens[row * levels..<(row + 1) * levels])
            XCTAssertEqual(tokens[0], TokenLayout.pad)
            // A one-item history that holds this row's target codes (its last level and the other modalities masked).
            var block = layout.modalities.indices.flatMap { m in [Int32](repeating: layout.mask(m), count: layout.modalities[m].levels) }
            let start = layout.blockOffset(target)
            for t in 1..<levels { block[start + t - 1] = tokens[t] }
            let history = layout.prefixRows(block + [TokenLayout.eos], rowLength: block.count + 1, buckets: buckets)
            for t in 0..<levels {
                let expected = t < 2 ? [Int32(0), 0] : [history.first[start + t - 1], history.second[start + t - 1]]
                XCTAssertEqual([decoder.first[row * levels + t], decoder.second[row * levels + t]], expected, "row \(row) position \(t)")
                if t >= 2 { XCTAssertNotEqual(expected, [0, 0]) }
            }
        }
    }

    func testEachChildScoresWithTheRowsItsItemsTokenReadsInAHistory() throws {
        let c = try load("mscgrec_split")
        let layout = c.model.layout, target = layout.targetIndex, levels = layout.targetLevels, buckets = 1 << 20
        let allowed = c.allowed
        let pairs = layout.childPrefixRows(c.batch.decoderTokens, rowLength: levels, allowed: allowed, buckets: buckets)
        var expectedPairs = 0
        for position in 0..<allowed.rowCount where position % levels > 0 { expectedPairs += allowed.row(position).count }
        XCTAssertEqual(pairs.positions.count, expectedPairs, "every allowed class below the first level, nothing else")
        XCTAssertGreaterThan(expectedPairs, c.batch.size, "some positions have several children")
        for k in pairs.positions.indices {
            let position = Int(pairs.positions[k]), row = position / levels, t = position % levels
            XCTAssertTrue(allowed.row(position).contains(pairs.classes[k]))
            // A one-item history holding the row's target prefix and this child at level t.
            var block = layout.modalities.indices.flatMap { m in [Int32](repeating: layout.mask(m), count: layout.modalities[m].levels) }
            let start = layout.blockOffset(target)
            for level in 0..<t { block[start + level] = c.batch.decoderTokens[row * levels + level + 1] }
            block[start + t] = layout.token(modality: target, level: t, code: pairs.classes[k] - layout.classOffsets[t])
            let history = layout.prefixRows(block + [TokenLayout.eos], rowLength: block.count + 1, buckets: buckets)
            XCTAssertEqual([pairs.first[k], pairs.second[k]], [history.first[start + t], history.second[start + t]], "pair \(k)")
        }
    }

    /// The fixture's model with a prefix table of `buckets + 1` rows set to `table` (zeros when nil), read by the
    /// decoder too when `decoder`, and by the logits when `logits`.
    private func withPrefixTable(_ c: Case, buckets: Int, table: Tensor? = nil, decoder: Bool = false, logits: Bool = false) throws -> MSCGRec {
        var config = c.config
        config.prefixBuckets = buckets
        config.decoderPrefixes = decoder ? true : nil
        config.prefixLogits = logits ? true : nil
        config.formatVersion = logits ? 4 : decoder ? 3 : 2
        var weights = c.model.weights()
        weights.add("encoder.prefix_embedding", table ?? Tensor.zeros([buckets + 1, config.transformer.dModel]))
        return try MSCGRec(config, weights: weights)
    }

    func testAZeroPrefixTableIsThePapersModelAndItsGradientMatchesFiniteDifferences() throws {
        let c = try load("mscgrec_split")
        let buckets = 13, d = c.config.transformer.dModel
        var rng = SeededGenerator(seed: 9)
        let random = Tensor.normal([buckets + 1, d], std: 0.5, using: &rng)
        var previousLoss: Float?
        for (decoder, logits) in [(false, false), (true, false), (true, true)] {
            let zero = try withPrefixTable(c, buckets: buckets, decoder: decoder, logits: logits)
            XCTAssertEqual(zero.loss(c.batch, allowed: c.allowed).item, c.model.loss(c.batch, allowed: c.allowed).item)

            let model = try withPrefixTable(c, buckets: buckets, table: random.copy(), decoder: decoder, logits: logits)
            let table = try XCTUnwrap(model.prefixEmbedding)
            let base = model.loss(c.batch, allowed: c.allowed)
            XCTAssertNotEqual(base.item, c.model.loss(c.batch, allowed: c.allowed).item, "the table takes part")
            if let previousLoss { XCTAssertNotEqual(base.item, previousLoss, "the decoder (then the logits) read the table too") }
            previousLoss = base.item
            base.backward()
            let grad = try XCTUnwrap(table.grad).scalars
            // The entries with the largest gradients, so the differences stand well above float32 rounding.
            let probes = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }.prefix(4)
            for index in probes {
                let eps: Float = 1e-2, saved = table.data[index]
                table.data[index] = saved + eps
                let up = model.loss(c.batch, allowed: c.allowed).item
                table.data[index] = saved - eps
                let down = model.loss(c.batch, allowed: c.allowed).item
                table.data[index] = saved
                let numeric = (up - down) / (2 * eps)
                XCTAssertEqual(numeric, grad[index], accuracy: 2e-4 + 0.03 * abs(grad[index]), "entry \(index) (decoder \(decoder), logits \(logits))")
            }
            XCTAssertGreaterThan(abs(grad[probes.first!]), 1e-3)
        }
    }

    func testPrefixSettingsAreStoredAsFormatVersionsTwoToFourAndRoundTrip() throws {
        let c = try load("mscgrec_split")
        func json(_ config: MSCGRecConfig) throws -> String { String(decoding: try JSONEncoder().encode(config), as: UTF8.self) }
        func assertStored(_ config: MSCGRecConfig, version: Int, line: UInt = #line) throws {
            XCTAssertEqual(config.formatVersion, version, line: line)
            XCTAssertEqual(try JSONDecoder().decode(MSCGRecConfig.self, from: JSONEncoder().encode(config)), config, line: line)
        }
        func assertRefused(_ config: MSCGRecConfig, _ change: (inout MSCGRecConfig) -> Void, saying message: String, line: UInt = #line) {
            var changed = config
            change(&changed)
            XCTAssertThrowsError(try changed.validate(), line: line) { XCTAssertTrue("\($0)".contains(message), "\($0)", line: line) }
        }
        let plain = MSCGRecConfig(modalities: c.config.modalities, targetModality: c.config.targetModality)
        try assertStored(plain, version: 1)   // configs without them stay readable by builds before them
        XCTAssertFalse(try json(plain).contains("prefixBuckets"))

        let prefixed = MSCGRecConfig(modalities: c.config.modalities, targetModality: c.config.targetModality, prefixBuckets: 100)
        try assertStored(prefixed, version: 2)
        XCTAssertFalse(try json(prefixed).contains("decoderPrefixes"))
        assertRefused(prefixed, { $0.formatVersion = 1 }, saying: "prefixBuckets needs version 2")

        let both = MSCGRecConfig(modalities: c.config.modalities, targetModality: c.config.targetModality, prefixBuckets: 100,
                                 decoderPrefixes: true)
        try assertStored(both, version: 3)
        XCTAssertFalse(try json(both).contains("prefixLogits"))
        assertRefused(both, { $0.formatVersion = 2 }, saying: "decoderPrefixes needs version 3")
        assertRefused(both, { $0.prefixBuckets = nil }, saying: "decoderPrefixes: needs prefixBuckets")

        let scored = MSCGRecConfig(modalities: c.config.modalities, targetModality: c.config.targetModality, prefixBuckets: 100,
                                   prefixLogits: true)
        try assertStored(scored, version: 4)
        assertRefused(scored, { $0.formatVersion = 3 }, saying: "prefixLogits needs version 4")
        assertRefused(scored, { $0.prefixBuckets = nil }, saying: "prefixLogits: needs prefixBuckets")
        assertRefused(scored, { $0.softmax = .full }, saying: "prefixLogits: needs softmax")

        var rng = SeededGenerator(seed: 4)
        let model = try withPrefixTable(c, buckets: 5, table: Tensor.normal([6, c.config.transformer.dModel], std: 1, using: &rng))
        let reloaded = try MSCGRec(model.config, weights: model.weights())
        XCTAssertEqual(reloaded.prefixEmbedding?.scalars, model.prefixEmbedding?.scalars)
        XCTAssertThrowsError(try MSCGRec(model.config, weights: c.model.weights())) {
            XCTAssertTrue("\($0)".contains("encoder.prefix_embedding"), "\($0)")
        }
    }
}
