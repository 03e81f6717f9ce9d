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

    func testCrossEntropyForwardAndBackward() throws { try check(.ce) }
    func testBinaryCrossEntropyForwardAndBackward() throws { try check(.bce) }
}
