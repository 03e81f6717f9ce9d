@testable import Quantization
import Foundation
import SafeTensors
import TensorEngine
import XCTest

/// Against Tests/QuantizationTests/Fixtures/rqvae.safetensors (scripts/make_codes_fixtures.py).
final class RQVAEFixtureTests: XCTestCase {
    private func fixture() throws -> SafeTensors {
        try SafeTensors.read(contentsOf: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/rqvae.safetensors"))
    }

    private func model(_ f: SafeTensors) throws -> RQVAE {
        func layer(_ prefix: String, _ i: Int) throws -> RQVAE.Layer {
            RQVAE.Layer(weight: try f.tensor("\(prefix)_w\(i)"), bias: try f.tensor("\(prefix)_b\(i)"))
        }
        let options = RQVAEOptions(levels: 2, codebookSize: 4, hiddenDimensions: [5], latentDimension: 3, beta: 0.25)
        return RQVAE(encoder: [try layer("enc", 0), try layer("enc", 1)], decoder: [try layer("dec", 0), try layer("dec", 1)],
                     codebooks: [try f.tensor("codebook_0"), try f.tensor("codebook_1")], options: options)
    }

    private func close(_ actual: Tensor?, _ expected: Tensor, _ name: String, tolerance: Float = 2e-5) {
        guard let actual else { return XCTFail("\(name): missing") }
        XCTAssertEqual(actual.shape, expected.shape, name)
        for i in 0..<expected.count {
            XCTAssertEqual(actual[flat: i], expected[flat: i], accuracy: tolerance * max(1, abs(expected[flat: i])), "\(name)[\(i)]")
        }
    }

    func testForwardAndEveryGradientMatchPyTorch() throws {
        let f = try fixture()
        let model = try model(f)
        let output = model.forward(try f.tensor("x"))
        let expectedCodes = try f.indices("codes")  // [batch, levels]
        for level in 0..<2 {
            XCTAssertEqual(output.codes[level], (0..<5).map { expectedCodes[$0 * 2 + level] }, "codes of level \(level)")
        }
        close(output.latent, try f.tensor("latent"), "latent")
        close(output.quantized, try f.tensor("quantized"), "quantized")
        close(output.reconstruction, try f.tensor("reconstruction"), "reconstruction")
        close(output.reconstructionLoss.reshaped([]), try f.tensor("reconstruction_loss"), "reconstruction_loss")
        close(output.quantizationLoss.reshaped([]), try f.tensor("quantization_loss"), "quantization_loss")
        close(output.loss.reshaped([]), try f.tensor("loss"), "loss")
        output.loss.backward()
        let names = ["enc_w0", "enc_b0", "enc_w1", "enc_b1", "dec_w0", "dec_b0", "dec_w1", "dec_b1", "codebook_0", "codebook_1"]
        let parameters = [model.encoder[0].weight, model.encoder[0].bias, model.encoder[1].weight, model.encoder[1].bias,
                          model.decoder[0].weight, model.decoder[0].bias, model.decoder[1].weight, model.decoder[1].bias,
                          model.codebooks[0], model.codebooks[1]]
        for (name, parameter) in zip(names, parameters) { close(parameter.grad, try f.tensor("grad." + name), "grad.\(name)") }
    }

    func testTrainingReducesTheLossAndCodesEveryRow() throws {
        let x = clusteredMatrix(rows: 200, columns: 12, centers: 10, spread: 0.2, seed: 6)
        let options = RQVAEOptions(levels: 2, codebookSize: 8, hiddenDimensions: [16], latentDimension: 4, learningRate: 3e-3,
                                   epochs: 30, batchSize: 50, seed: 2)
        let before = try RQVAE.train(x, options: RQVAEOptions(levels: 2, codebookSize: 8, hiddenDimensions: [16], latentDimension: 4,
                                                             epochs: 0, seed: 2)).encodeAll(x)
        let model = try RQVAE.train(x, options: options)
        let after = model.encodeAll(x)
        XCTAssertEqual(after.codes.count, 400)
        XCTAssertLessThan(after.squaredError, before.squaredError * 0.7)
        // Seeded: a second run gives the same codes.
        XCTAssertEqual(try RQVAE.train(x, options: options).encodeAll(x).codes, after.codes)
    }
}
