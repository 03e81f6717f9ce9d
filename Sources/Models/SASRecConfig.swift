import MSCCore

/// Shapes and regularisation of a SASRec model: the one place these numbers live (saved beside its weights).
public struct SASRecConfig: Codable, Equatable, Sendable {
    public enum Loss: String, Codable, Sendable, CaseIterable {
        /// Full softmax cross-entropy over every item (the stronger variant).
        case ce
        /// The original binary cross-entropy with one sampled negative per position.
        case bce
    }

    /// Number of real items; the embedding table has one more row (index 0 is padding).
    public var items: Int
    public var dim: Int
    /// Inner width of the point-wise feed-forward; nil means `dim` (the original SASRec).
    public var feedForwardDim: Int?
    public var layers: Int
    public var heads: Int
    public var maxLength: Int
    public var dropout: Float
    public var loss: Loss
    public var normEpsilon: Float

    public init(items: Int, dim: Int = 64, layers: Int = 2, heads: Int = 2, maxLength: Int = 20, dropout: Float = 0.5,
                loss: Loss = .ce, normEpsilon: Float = 1e-8, feedForwardDim: Int? = nil) {
        self.items = items; self.dim = dim; self.layers = layers; self.heads = heads
        self.maxLength = maxLength; self.dropout = dropout; self.loss = loss; self.normEpsilon = normEpsilon
        self.feedForwardDim = feedForwardDim
    }

    /// The feed-forward inner width in effect.
    public var innerDim: Int { feedForwardDim ?? dim }

    /// Problems that would make the model unbuildable, phrased for the command line.
    public func validate() throws(ConfigError) {
        if items < 1 { throw ConfigError("items must be positive, got \(items)") }
        if dim < 1 || heads < 1 || dim % heads != 0 { throw ConfigError("dim (\(dim)) must be a positive multiple of heads (\(heads))") }
        if let feedForwardDim, feedForwardDim < 1 { throw ConfigError("feed-forward width must be positive, got \(feedForwardDim)") }
        if layers < 1 { throw ConfigError("layers must be at least 1, got \(layers)") }
        if maxLength < 1 { throw ConfigError("max length must be at least 1, got \(maxLength)") }
        if !(0..<1).contains(dropout) { throw ConfigError("dropout must be in [0, 1), got \(dropout)") }
    }
}
