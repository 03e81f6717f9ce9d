import ItemCodes
import Foundation
import SafeTensors
import TensorEngine

/// TIGER's RQ-VAE, the baseline tokenizer: an MLP encoder maps x to a latent z, residual quantization turns z
/// into codes, and an MLP decoder reconstructs x from the quantized latent. Loss (TIGER's, squared norms per item
/// averaged over the batch; per-element means would let the quantization terms outweigh reconstruction by the ratio
/// of input to latent width and collapse the latents onto one code):
///
///     L = ‖x̂ − x‖² + Σ_l [ ‖e_l − sg(r_l)‖² + β · ‖r_l − sg(e_l)‖² ]
///
/// with r_1 = z, r_{l+1} = sg(r_l − e_l) (later levels see their residual as a constant, as common RQ-VAE code
/// does), and the decoder reads z + sg(Σ_l e_l − z) (straight-through estimator).
public struct RQVAEOptions: Sendable, Equatable {
    public var levels: Int
    public var codebookSize: Int
    public var hiddenDimensions: [Int]
    public var latentDimension: Int
    public var beta: Float
    public var learningRate: Float
    public var weightDecay: Float
    public var epochs: Int
    public var batchSize: Int
    public var seed: UInt64
    /// Codebooks start as RQ-k-means of the initial encoder's latents (TIGER's k-means initialisation).
    public var kmeansInitialization: Bool

    public init(levels: Int = 3, codebookSize: Int = 256, hiddenDimensions: [Int] = [512, 256, 128], latentDimension: Int = 32,
                beta: Float = 0.25, learningRate: Float = 1e-3, weightDecay: Float = 0, epochs: Int = 50, batchSize: Int = 1024,
                seed: UInt64 = 0, kmeansInitialization: Bool = true) {
        self.levels = levels
        self.codebookSize = codebookSize
        self.hiddenDimensions = hiddenDimensions
        self.latentDimension = latentDimension
        self.beta = beta
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.kmeansInitialization = kmeansInitialization
    }

    func validate() throws {
        guard levels >= 1 else { throw CodesError.invalidOption(name: "levels", reason: "must be at least 1") }
        guard codebookSize >= 1 else { throw CodesError.invalidOption(name: "codebook", reason: "must be at least 1") }
        guard latentDimension >= 1, hiddenDimensions.allSatisfy({ $0 >= 1 }) else {
            throw CodesError.invalidOption(name: "rqvae-hidden/rqvae-latent", reason: "layer widths must be positive")
        }
        guard epochs >= 0, batchSize >= 1 else { throw CodesError.invalidOption(name: "rqvae-epochs/rqvae-batch", reason: "must be positive") }
    }
}

public final class RQVAE {
    public struct Layer {
        public let weight: Tensor  // [in, out]
        public let bias: Tensor    // [out]
    }

    public struct Output {
        public let latent: Tensor
        /// Codes per level, one per batch row.
        public let codes: [[Int32]]
        public let quantized: Tensor
        public let reconstruction: Tensor
        public let reconstructionLoss: Tensor
        public let quantizationLoss: Tensor
        public let loss: Tensor
    }

    public let options: RQVAEOptions
    public let encoder: [Layer]
    public let decoder: [Layer]
    public let codebooks: [Tensor]

    public init(encoder: [Layer], decoder: [Layer], codebooks: [Tensor], options: RQVAEOptions) {
        self.encoder = encoder
        self.decoder = decoder
        self.codebooks = codebooks
        self.options = options
        for p in parameters where !p.requiresGrad { p.requiringGrad() }
    }

    /// Fresh weights as torch.nn.Linear draws them (uniform ±1/√fan_in); codebooks uniform ±1/K until k-means.
    public convenience init(inputDimension: Int, options: RQVAEOptions, rng: inout SeededGenerator) {
        func layers(_ widths: [Int]) -> [Layer] {
            zip(widths, widths.dropFirst()).map { fanIn, fanOut in
                let bound = 1 / Float(fanIn).squareRoot()
                return Layer(weight: Tensor.uniform([fanIn, fanOut], low: -bound, high: bound, using: &rng),
                             bias: Tensor.uniform([fanOut], low: -bound, high: bound, using: &rng))
            }
        }
        let widths = [inputDimension] + options.hiddenDimensions + [options.latentDimension]
        let k = Float(options.codebookSize)
        self.init(encoder: layers(widths), decoder: layers(widths.reversed()),
                  codebooks: (0..<options.levels).map { _ in
                      Tensor.uniform([options.codebookSize, options.latentDimension], low: -1 / k, high: 1 / k, using: &rng)
                  },
                  options: options)
    }

    public var parameters: [Tensor] { encoder.flatMap { [$0.weight, $0.bias] } + decoder.flatMap { [$0.weight, $0.bias] } + codebooks }

    /// ReLU between layers, none after the last.
    static func mlp(_ x: Tensor, _ layers: [Layer]) -> Tensor {
        var h = x
        for (index, layer) in layers.enumerated() {
            h = h.linear(layer.weight, bias: layer.bias)
            if index < layers.count - 1 { h = h.relu() }
        }
        return h
    }

    public func encode(_ x: Tensor) -> Tensor { Self.mlp(x, encoder) }
    public func decode(_ z: Tensor) -> Tensor { Self.mlp(z, decoder) }

    /// Nearest code of every row (ties to the lowest index), without recording a graph.
    static func nearest(_ r: Tensor, _ codebook: Tensor) -> [Int32] {
        withoutGrad {
            let distances = squaredDistances(r.detached(), codebook.detached())
            let (n, k) = (distances.shape[0], distances.shape[1])
            let d = distances.data
            return (0..<n).map { row in
                var best = d[row * k], index = 0
                for j in 1..<k where d[row * k + j] < best { best = d[row * k + j]; index = j }
                return Int32(index)
            }
        }
    }

    /// Mean over rows of the squared L2 norm of each row.
    static func squaredNormPerRow(_ t: Tensor) -> Tensor { t.square().sum(axis: 1).mean() }

    public func forward(_ x: Tensor) -> Output {
        let z = encode(x)
        var residual = z
        var codes: [[Int32]] = []
        var quantizationLoss: Tensor?
        var codeSum: Tensor?
        for codebook in codebooks {
            let chosen = Self.nearest(residual, codebook)
            codes.append(chosen)
            let e = embedding(codebook, indices: chosen, indexShape: [chosen.count])
            let codebookLoss = Self.squaredNormPerRow(e - residual.detached())
            let commitment = Self.squaredNormPerRow(residual - e.detached())
            let term = codebookLoss + commitment * options.beta
            quantizationLoss = quantizationLoss.map { $0 + term } ?? term
            codeSum = codeSum.map { $0 + e.detached() } ?? e.detached()
            residual = (residual - e).detached()
        }
        let quantized = z + (codeSum! - z).detached()
        let reconstruction = decode(quantized)
        let reconstructionLoss = Self.squaredNormPerRow(reconstruction - x)
        return Output(latent: z, codes: codes, quantized: quantized, reconstruction: reconstruction,
                      reconstructionLoss: reconstructionLoss, quantizationLoss: quantizationLoss!,
                      loss: reconstructionLoss + quantizationLoss!)
    }

    /// The codebooks as a residual quantizer over the latent space.
    public var residualCodebooks: ResidualCodebooks {
        // A copy: the parameters keep training, the quantizer must not change under its users.
        ResidualCodebooks(levels: codebooks.map { FloatMatrix($0).copy() })
    }

    /// Latents of every row of `x`, in batches, without a graph.
    public func latents(_ x: FloatMatrix, batchSize: Int = 4096) -> FloatMatrix {
        let out = FloatMatrix(rows: x.rows, columns: options.latentDimension)
        var start = 0
        while start < x.rows {
            let end = min(x.rows, start + batchSize)
            let batch = Tensor(shape: [end - start, x.columns], scalars: Array(UnsafeBufferPointer(start: x.row(start), count: (end - start) * x.columns)))
            let z = withoutGrad { encode(batch) }
            out.row(start).update(from: z.data, count: z.count)
            start = end
        }
        return out
    }

    /// Codes of every row (rows × levels) and Σ‖x − decode(Σ e)‖² over the rows.
    public func encodeAll(_ x: FloatMatrix) -> (codes: [Int32], squaredError: Double) {
        let quantizer = residualCodebooks
        let (codes, _) = quantizer.encode(latents(x))
        var error = 0.0
        let levels = quantizer.levelCount
        withoutGrad {
            var start = 0
            while start < x.rows {
                let end = min(x.rows, start + 4096)
                var sums: [Float] = []
                sums.reserveCapacity((end - start) * options.latentDimension)
                for r in start..<end { sums += quantizer.decode(codes[r * levels..<(r + 1) * levels]) }
                let reconstruction = decode(Tensor(shape: [end - start, options.latentDimension], scalars: sums))
                for r in 0..<(end - start) {
                    error += naiveSquaredDistance(reconstruction.data + r * x.columns, x.row(start + r), x.columns)
                }
                start = end
            }
        }
        return (codes, error)
    }

    /// Weights under torch-like names, our [in, out] orientation.
    public func safeTensors() -> SafeTensors {
        var file = SafeTensors()
        for (i, layer) in encoder.enumerated() { file.add("encoder.\(i).weight", layer.weight); file.add("encoder.\(i).bias", layer.bias) }
        for (i, layer) in decoder.enumerated() { file.add("decoder.\(i).weight", layer.weight); file.add("decoder.\(i).bias", layer.bias) }
        for (i, codebook) in codebooks.enumerated() { file.add("codebook.\(i)", codebook) }
        return file
    }

    /// Trains on the rows of `x`: optional k-means initialisation of the codebooks, then AdamW on shuffled batches.
    public static func train(_ x: FloatMatrix, options: RQVAEOptions, progress: (String) -> Void = { _ in }) throws -> RQVAE {
        try options.validate()
        guard x.rows > 0 else { throw CodesError.mismatch("no rows to quantize") }
        var rng = SeededGenerator(seed: options.seed)
        let model = RQVAE(inputDimension: x.columns, options: options, rng: &rng)
        if options.kmeansInitialization {
            let initial = try RQKMeans.train(model.latents(x), options: RQKMeansOptions(
                levels: options.levels, codebookSize: options.codebookSize, seed: options.seed &+ 1))
            for (tensor, matrix) in zip(model.codebooks, initial.codebooks.levels) { tensor.data.update(from: matrix.pointer, count: matrix.count) }
            progress("codebooks initialised by RQ-k-means of the initial latents")
        }
        let optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        let d = x.columns
        for epoch in 0..<options.epochs {
            let order = rng.permutation(x.rows)
            var start = 0
            var totals = (loss: 0.0, reconstruction: 0.0, batches: 0)
            var used = Set<Int32>()
            while start < x.rows {
                let rows = order[start..<min(x.rows, start + options.batchSize)]
                start += options.batchSize
                var values = [Float](repeating: 0, count: rows.count * d)
                for (i, row) in rows.enumerated() {
                    values.withUnsafeMutableBufferPointer { (UnsafeMutablePointer($0.baseAddress!) + i * d).update(from: x.row(row), count: d) }
                }
                let output = model.forward(Tensor(shape: [rows.count, d], scalars: values))
                optimizer.zeroGrad()
                output.loss.backward()
                optimizer.step()
                totals.loss += Double(output.loss.item)
                totals.reconstruction += Double(output.reconstructionLoss.item)
                totals.batches += 1
                used.formUnion(output.codes[0])
            }
            if epoch == 0 || (epoch + 1) % 10 == 0 || epoch == options.epochs - 1 {
                progress(String(format: "RQ-VAE epoch %d/%d: loss %.5f, reconstruction %.5f, level-1 codes used %d",
                                epoch + 1, options.epochs, totals.loss / Double(totals.batches),
                                totals.reconstruction / Double(totals.batches), used.count))
            }
        }
        return model
    }
}
