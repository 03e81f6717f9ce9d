import Foundation
import SafeTensors

/// Moving tensors in and out of safetensors files (weights, fixtures, exported embeddings).
extension SafeTensors {
    /// The named tensor as a Float32 leaf (any float dtype is converted).
    public func tensor(_ name: String, requiresGrad: Bool = false) throws -> Tensor {
        Tensor(shape: try shape(name), scalars: try floats(name), requiresGrad: requiresGrad)
    }

    /// The named integer tensor as Int32 indices.
    public func indices(_ name: String) throws -> [Int32] { try ints(name).map { Int32($0) } }

    public mutating func add(_ name: String, _ tensor: Tensor) {
        add(name, shape: tensor.shape, floats: tensor.scalars)
    }
}
