/// Shapes of a T5-style transformer stack. The single source of these numbers: models are built from it,
/// and the artifact manifest carries it so the server rebuilds exactly the trained shapes.
public struct TransformerConfig: Codable, Equatable, Sendable {
    public var dModel: Int
    public var heads: Int
    public var headDim: Int
    public var dFF: Int
    public var encoderLayers: Int
    public var decoderLayers: Int
    /// T5 relative-position buckets and the distance beyond which positions share the last bucket.
    public var positionBuckets: Int
    public var maxDistance: Int
    public var dropout: Float
    public var normEpsilon: Float
    /// T5 v1.1's gated GELU (default) or the original T5's ReLU.
    public var feedForward: T5FeedForward.Kind

    public init(dModel: Int = 128, heads: Int = 4, headDim: Int = 32, dFF: Int = 1024, encoderLayers: Int = 4,
                decoderLayers: Int = 4, positionBuckets: Int = 32, maxDistance: Int = 128, dropout: Float = 0.1,
                normEpsilon: Float = 1e-6, feedForward: T5FeedForward.Kind = .gatedGELU) {
        self.dModel = dModel; self.heads = heads; self.headDim = headDim; self.dFF = dFF
        self.encoderLayers = encoderLayers; self.decoderLayers = decoderLayers
        self.positionBuckets = positionBuckets; self.maxDistance = maxDistance
        self.dropout = dropout; self.normEpsilon = normEpsilon; self.feedForward = feedForward
    }

    /// Width of the concatenated attention heads (T5 allows heads·headDim ≠ dModel).
    public var innerDim: Int { heads * headDim }
}
