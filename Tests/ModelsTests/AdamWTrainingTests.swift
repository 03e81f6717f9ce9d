import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// Ten AdamW steps of a small MLP with clipping and a warm-up + cosine schedule, step by step against PyTorch.
final class AdamWTrainingTests: XCTestCase {
    func testTenStepsMatchPyTorch() throws {
        let f = try loadFixture("adamw_mlp.safetensors")
        let names = ["w1", "b1", "w2", "b2"]
        let params = try names.map { try f.tensor("init.\($0)", requiresGrad: true) }
        let x = try f.tensor("x"), target = try f.indices("target")
        let expectedLosses = try f.floats("losses"), expectedRates = try f.floats("lrs"), expectedNorms = try f.floats("grad_norms")
        let schedule = LearningRateSchedule.cosine(base: 0.01, warmup: 3, total: 10, minimum: 0)
        let optimizer = AdamW(parameters: params, learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01)
        for step in 0..<10 {
            optimizer.zeroGrad()
            let hidden = x.linear(params[0], bias: params[1]).geluTanh()
            let loss = crossEntropy(hidden.linear(params[2], bias: params[3]), targets: target)
            XCTAssertEqual(loss.item, expectedLosses[step], accuracy: 1e-5 * max(1, abs(expectedLosses[step])), "loss at step \(step)")
            loss.backward()
            let norm = clipGradNorm(params, maxNorm: 0.5)
            XCTAssertEqual(norm, expectedNorms[step], accuracy: 1e-4 * max(1, expectedNorms[step]), "grad norm at step \(step)")
            optimizer.learningRate = schedule.rate(at: step)
            XCTAssertEqual(optimizer.learningRate, expectedRates[step], accuracy: 1e-8, "learning rate at step \(step)")
            optimizer.step()
        }
        for (name, p) in zip(names, params) {
            assertClose(p, try f.tensor("final.\(name)"), "final.\(name)", atol: 1e-5, rtol: 1e-4)
        }
    }
}
