import Models
import MSCCore
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// One forward and backward of a tiny SASRec against the PyTorch reference (scripts/make_sasrec_fixtures.py):
/// hidden states, loss and the gradient of every parameter, for both losses.
final class SASRecFixtureTests: XCTestCase {
    private func check(_ loss: SASRecConfig.Loss) throws {
        let f = try loadFixture("sasrec_\(loss.rawValue).safetensors")
        let config = SASRecConfig(items: 12, dim: 8, layers: 2, heads: 2, maxLength: 5, dropout: 0, loss: loss)
        let model = try SASRec(config, weights: f)
        let ids = try f.indices("ids"), targets = try f.indices("targets")
        let h = model.hidden(ids: ids, batch: 3)
        assertClose(h, try f.tensor("h"), "sasrec_\(loss).h", atol: 2e-5, rtol: 1e-4)
        let value = loss == .ce ? model.crossEntropyLoss(hidden: h, targets: targets)
                                : model.binaryCrossEntropyLoss(hidden: h, targets: targets, negatives: try f.indices("negs"))
        assertClose(value, try f.tensor("loss"), "sasrec_\(loss).loss", atol: 1e-5, rtol: 1e-5)
        value.backward()
        for (name, parameter) in model.namedParameters {
            assertClose(parameter.grad ?? Tensor.zeros(parameter.shape), try f.tensor("grad.\(name)"), "sasrec_\(loss).grad.\(name)",
                        atol: 2e-5, rtol: 1e-3)
        }
        XCTAssertEqual(model.itemEmbedding.grad.map { Array($0.scalars[0..<8]) }, [Float](repeating: 0, count: 8),
                       "the padding row must get no gradient")
    }

    /// The last position's scores against the model's own items, and against a replacement table on the output side
    /// only (the input ids still embed through the model's table): h_last · itemsᵀ computed by hand.
    func testLastPositionScoresTakeAReplacementItemTable() throws {
        let f = try loadFixture("sasrec_ce.safetensors")
        let config = SASRecConfig(items: 12, dim: 8, layers: 2, heads: 2, maxLength: 5, dropout: 0, loss: .ce)
        let model = try SASRec(config, weights: f)
        let ids = try f.indices("ids")
        let h = withoutGrad { model.hidden(ids: ids, batch: 3) }
        var rng = SeededGenerator(seed: 3)
        let replacement = Tensor.normal([12, 8], using: &rng)
        for replacing in [nil, replacement] {
            let scores = model.lastPositionScores(ids: ids, batch: 3, items: replacing)
            let items = replacing ?? model.itemEmbeddings
            XCTAssertEqual(scores.shape, [3, 12])
            for b in 0..<3 {
                for item in 0..<12 {
                    var expected: Float = 0
                    for j in 0..<8 { expected += h[flat: (b * 5 + 4) * 8 + j] * items[flat: item * 8 + j] }
                    XCTAssertEqual(scores[flat: b * 12 + item], expected, accuracy: 1e-4, "row \(b), item \(item)")
                }
            }
        }
    }

    func testCrossEntropyForwardAndBackward() throws { try check(.ce) }
    func testBinaryCrossEntropyForwardAndBackward() throws { try check(.bce) }
}
