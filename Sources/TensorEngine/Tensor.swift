import Foundation

/// A Float32 tensor: contiguous row-major storage plus a shape, and — when it was computed from tensors
/// that require gradients — the node that records how, for reverse-mode differentiation.
///
/// Reshape and detach are views (shared storage); every other op writes a fresh contiguous tensor.
public final class Tensor: @unchecked Sendable {
    // @unchecked: see `Storage`. The graph fields are written once at creation; `grad` is written only by
    // `backward()` and the optimiser, both of which run on the training thread that owns the graph.
    public let shape: [Int]
    public let storage: Storage
    /// True for parameters (set by the caller) and for every result computed from them while grad is enabled.
    public internal(set) var requiresGrad: Bool
    /// Accumulated gradient of a leaf after `backward()`; nil until then.
    public var grad: Tensor?
    /// How this tensor was computed; nil for leaves and for results computed without grad.
    let node: Node?

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var scalars: [Float] { storage.array }

    init(shape: [Int], storage: Storage, node: Node?) {
        precondition(Shape.count(shape) == storage.count,
                     "shape \(shape) has \(Shape.count(shape)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.node = node
        self.requiresGrad = node != nil
    }

    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(scalars), node: nil)
        self.requiresGrad = requiresGrad
    }

    /// A leaf over an existing storage (no copy): a matrix another module filled, seen as a tensor.
    public convenience init(shape: [Int], sharing storage: Storage) {
        self.init(shape: shape, storage: storage, node: nil)
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(shape: shape, storage: Storage(zeros: Shape.count(shape)), node: nil)
        t.requiresGrad = requiresGrad
        return t
    }

    public static func filled(_ shape: [Int], value: Float) -> Tensor {
        let storage = Storage(count: Shape.count(shape))
        storage.pointer.initialize(repeating: value, count: storage.count)
        return Tensor(shape: shape, storage: storage, node: nil)
    }

    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], scalars: [value]) }

    /// Marks a leaf as a parameter whose gradient `backward()` should accumulate.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(node == nil, "only leaves can be marked as requiring grad")
        requiresGrad = flag
        return self
    }

    /// A view of the same storage that is cut from the graph (torch's `detach`).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, node: nil) }

    /// A deep copy as a new leaf.
    public func copy() -> Tensor { Tensor(shape: shape, scalars: scalars) }

    public subscript(flat index: Int) -> Float { storage.pointer[index] }

    /// The single value of a one-element tensor (a loss, say).
    public var item: Float {
        precondition(count == 1, "item of a tensor with \(count) elements")
        return storage.pointer[0]
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
