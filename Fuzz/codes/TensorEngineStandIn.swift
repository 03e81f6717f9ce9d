// The one TensorEngine type the Codes readers' files mention (`PrefixTree.allowedClasses` returns it), so the
// readers can be fuzzed without compiling the numeric engine and BLAS. Not used by any fuzz target.
public struct AllowedClasses: Sendable, Equatable {
    public let offsets: [Int32]
    public let classes: [Int32]
    public init(offsets: [Int32], classes: [Int32]) {
        self.offsets = offsets
        self.classes = classes
    }
}
