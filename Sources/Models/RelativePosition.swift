import Foundation
import TensorEngine

/// T5's relative-position buckets: exact buckets for small distances, logarithmic ones up to
/// `maxDistance`, and (bidirectional) separate halves for keys before and after the query.
/// Computed in Float32 like the reference so bucket edges fall on the same integers.
public enum RelativePositionBuckets {
    /// Bucket of `relative = keyPosition − queryPosition`.
    public static func bucket(_ relative: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
        var n = buckets
        var result = 0
        var distance: Int
        if bidirectional {
            n /= 2
            if relative > 0 { result += n }
            distance = abs(relative)
        } else {
            distance = -min(relative, 0)
        }
        let maxExact = n / 2
        if distance < maxExact { return result + distance }
        let ratio = Float.log(Float(distance) / Float(maxExact)) / Float.log(Float(maxDistance) / Float(maxExact))
        let large = maxExact + Int(ratio * Float(n - maxExact))
        return result + min(large, n - 1)
    }

    /// Buckets for every (query, key) pair: [queryLength, keyLength] row-major.
    public static func matrix(queryLength: Int, keyLength: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: queryLength * keyLength)
        for q in 0..<queryLength {
            for k in 0..<keyLength {
                out[q * keyLength + k] = Int32(bucket(k - q, bidirectional: bidirectional, buckets: buckets, maxDistance: maxDistance))
            }
        }
        return out
    }
}

extension Float {
    static func log(_ x: Float) -> Float { Foundation.log(x) }
}

/// A learned bias per (bucket, head), looked up for every query/key pair: T5's position embedding.
public struct RelativePositionBias {
    public var table: Tensor            // [buckets, heads]
    public let bidirectional: Bool
    public let maxDistance: Int

    public init(table: Tensor, bidirectional: Bool, maxDistance: Int) {
        precondition(table.rank == 2, "relative position table must be [buckets, heads]")
        self.table = table
        self.bidirectional = bidirectional
        self.maxDistance = maxDistance
    }

    /// [heads, queryLength, keyLength], added to attention scores (broadcast over the batch).
    public func bias(queryLength: Int, keyLength: Int) -> Tensor {
        let buckets = RelativePositionBuckets.matrix(queryLength: queryLength, keyLength: keyLength, bidirectional: bidirectional,
                                                     buckets: table.shape[0], maxDistance: maxDistance)
        return bias(buckets: buckets, queryLength: queryLength, keyLength: keyLength)
    }

    /// The same for precomputed buckets (e.g. MSCGRec's split across-item / within-item buckets).
    public func bias(buckets: [Int32], queryLength: Int, keyLength: Int) -> Tensor {
        embedding(table, indices: buckets, indexShape: [queryLength, keyLength]).permuted([2, 0, 1])
    }
}
