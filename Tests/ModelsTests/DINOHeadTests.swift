import Models
import TensorEngine
import TestSupport
import XCTest

/// The DINO head's logits with and without batch centring of the bottleneck, on hand-computed cosines.
final class DINOHeadTests: XCTestCase {
    /// One identity layer (bottleneck = input) and the two axis prototypes: logits are the rows' cosines with x and y.
    func head(centring: Bool) -> DINOHead {
        let h = DINOHead(layers: [(weight: Tensor(shape: [2, 2], scalars: [1, 0, 0, 1]).requiringGrad(), bias: Tensor.zeros([2], requiresGrad: true))],
                         lastLayer: Tensor(shape: [2, 2], scalars: [2, 0, 0, 3]).requiringGrad())   // norms do not matter
        h.batchCentring = centring
        return h
    }

    let x = Tensor(shape: [3, 2], scalars: [1, 0, 3, 0, 2, 2])

    func testPlainLogitsAreCosines() {
        assertClose(head(centring: false)(x), Tensor(shape: [3, 2], scalars: [1, 0, 1, 0, 0.70710678, 0.70710678]), "cosines", atol: 1e-6)
    }

    /// Rows minus their mean (2, 2/3): (−1, −2/3), (1, −2/3), (0, 4/3), then cosines. The first two rows, identical in
    /// direction before, now differ: what the centring is for (a shared direction no longer hides the differences).
    func testBatchCentringRemovesTheSharedDirection() {
        let a = 1 / (1 + 4.0 / 9).squareRoot(), b = (2.0 / 3) * a
        let expected = Tensor(shape: [3, 2], scalars: [Float(-a), Float(-b), Float(a), Float(-b), 0, 1])
        let input = x.copy().requiringGrad()
        let logits = head(centring: true)(input)
        assertClose(logits, expected, "centred cosines", atol: 1e-6)
        // a shift shared by every row changes nothing; a single row is left as it is (no mean to remove)
        assertClose(head(centring: true)(x + Tensor(shape: [1, 2], scalars: [5, -7])), expected, "shifted batch", atol: 1e-5)
        assertClose(head(centring: true)(x.slice(axis: 0, start: 2, end: 3)), Tensor(shape: [1, 2], scalars: [0.70710678, 0.70710678]), "one row", atol: 1e-6)
        // the gradient of a sum over the batch is blind to the shared shift: its rows sum to zero
        logits.sum().backward()
        let g = input.grad!.scalars
        XCTAssertEqual(g[0] + g[2] + g[4], 0, accuracy: 1e-5)
        XCTAssertEqual(g[1] + g[3] + g[5], 0, accuracy: 1e-5)
    }
}
