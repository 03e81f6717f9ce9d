import Foundation
import Images
import Models
import Quantization
import TensorEngine
import TestSupport
import Training
import XCTest

final class RQDINOTrainerTests: XCTestCase {
    func tinyConfig(quantizer: Bool = true) -> RQDINOConfig {
        var c = RQDINOConfig(vit: ViTConfig(hiddenSize: 16, layers: 1, heads: 2, mlpRatio: 2, patchSize: 4, imageSize: 12, layerScaleInit: 0.1),
                             globalSize: 12, localSize: 8)
        c.headHidden = 16; c.headBottleneck = 8; c.prototypes = 16; c.localCrops = 2
        c.quantizer = quantizer ? .init(levels: 2, codebookSize: 8) : nil
        return c
    }

    func images(_ n: Int) -> [RGBImage] {
        var rng = SeededGenerator(seed: 7)
        return (0..<n).map { _ in RGBImage(width: 20, height: 18, pixels: (0..<(20 * 18 * 3)).map { _ in UInt8(rng.index(256)) }) }
    }

    func options(threads: Int = 1) -> RQDINOOptions {
        var o = RQDINOOptions()
        o.epochs = 2; o.batchSize = 4; o.threads = threads; o.seed = 3
        return o
    }

    /// Stopping after epoch 1 and resuming gives bit for bit the weights, teacher, codebooks and centres of an
    /// uninterrupted run.
    func testResumeContinuesExactly() throws {
        let dir = try temporaryDirectory(self)
        let whole = RQDINOModel(config: tinyConfig(), seed: 1)
        try RQDINOTrainer(model: whole, images: images(8), options: options())
            .train(checkpoint: dir.appendingPathComponent("a.safetensors"), resume: false, shouldStop: { false }, log: nil) { _ in }

        let first = RQDINOModel(config: tinyConfig(), seed: 1)
        try RQDINOTrainer(model: first, images: images(8), options: options())
            .train(checkpoint: dir.appendingPathComponent("b.safetensors"), resume: false, shouldStop: { true }, log: nil) { _ in }
        let resumed = RQDINOModel(config: tinyConfig(), seed: 1)
        let trainer = RQDINOTrainer(model: resumed, images: images(8), options: options())
        try trainer.train(checkpoint: dir.appendingPathComponent("b.safetensors"), resume: true, shouldStop: { false }, log: nil) { _ in }
        XCTAssertEqual(trainer.step, 4)
        for ((name, a), (_, b)) in zip(whole.studentParameters + whole.teacherParameters, resumed.studentParameters + resumed.teacherParameters) {
            XCTAssertEqual(a.scalars, b.scalars, name)
        }
        XCTAssertEqual(whole.quantizer!.codebooks.map(\.scalars), resumed.quantizer!.codebooks.map(\.scalars))
        XCTAssertEqual(whole.dinoCenter, resumed.dinoCenter)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint-extras-1.safetensors").path),
                       "extras of superseded epochs are removed")
    }

    /// Two shards compute the same step as one (each shard's KoLeo sees its own images, as DINOv2 on several GPUs):
    /// the loss stays finite and the trained encoder round-trips through its file.
    func testShardedTrainingAndEncoderFile() throws {
        let dir = try temporaryDirectory(self)
        let model = RQDINOModel(config: tinyConfig(), seed: 2)
        let trainer = RQDINOTrainer(model: model, images: images(8), options: options(threads: 2))
        var lines: [String] = []
        try trainer.train(checkpoint: dir.appendingPathComponent("c.safetensors"), resume: false, shouldStop: { false }, log: nil) { lines.append($0) }
        XCTAssertTrue(lines.last!.contains("images/s") && lines.last!.contains("ETA") && lines.last!.contains("dino"), lines.last!)
        try RQDINOEncoder.save(model, to: dir.appendingPathComponent("enc"))
        let encoder = try RQDINOEncoder.load(dir.appendingPathComponent("enc"))
        let pictures = images(3)
        let embeddings = encoder.embed(pictures, threads: 2, batchSize: 1)
        let direct = RQDINOModel.embed(model.student, pixels: pictures.flatMap { Resampling.square($0, size: 12).normalized() }, images: 3, size: 12)
        assertClose(Tensor(shape: direct.shape, scalars: embeddings), direct, "batched embeddings (1 per batch vs 3)", atol: 1e-5)
        XCTAssertEqual(encoder.quantize(direct.scalars)!.codes, model.quantizer!.encode(direct))
        // a plain HF Dinov2Model folder is what config.json + encoder.safetensors are
        XCTAssertEqual(try VisionTransformer.load(dir.appendingPathComponent("enc/encoder.safetensors")).config, model.config.vit)
        XCTAssertEqual(try VisionTransformer.load(dir.appendingPathComponent("enc")).config, model.config.vit, "config.json + model.safetensors")
        try RQDINOEncoder.save(model, to: dir.appendingPathComponent("enc"))   // saving again over the link
    }

    func testClusterMetricsAgainstHandComputedValues() {
        // scikit-learn: normalized_mutual_info_score([0,0,1,1], [0,0,1,2]) = 0.8 (arithmetic mean), purity 1.0
        XCTAssertEqual(ClusterMetrics.nmi(clusters: [0, 0, 1, 2], labels: [0, 0, 1, 1]), 0.8, accuracy: 1e-12)
        XCTAssertEqual(ClusterMetrics.nmi(clusters: [5, 5, 5, 5], labels: [0, 1, 0, 1]), 0, accuracy: 1e-12)
        XCTAssertEqual(ClusterMetrics.purity(clusters: [0, 0, 0, 1], labels: [1, 1, 2, 2]), 0.75)
        XCTAssertEqual(ClusterMetrics.prefixClusters([1, 2, 1, 3, 4, 2], levels: 2, depth: 1), [0, 0, 1])
        // two well separated groups: every leave-one-out neighbour shares the label
        let x: [Float] = [1, 0, 0.9, 0.1, 0.95, 0, 0, 1, 0.1, 0.9, 0, 0.95]
        XCTAssertEqual(ClusterMetrics.knnAccuracy(x, dimension: 2, labels: [0, 0, 0, 1, 1, 1], k: 2), 1)
    }
}
