// The safetensors file format (https://github.com/huggingface/safetensors), without any tensor math:
//   [u64 little-endian header length N][N bytes UTF-8 JSON header, space-padded][byte buffer]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
// to the buffer start) plus an optional "__metadata__" string->string map.
import Foundation

/// Element types defined by the safetensors format (the 8-bit float types are not supported).
public enum SafeTensorDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, U16, U32, U64, BOOL

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: 8
        case .F32, .I32, .U32: 4
        case .F16, .BF16, .I16, .U16: 2
        case .I8, .U8, .BOOL: 1
        }
    }
}

/// One tensor: element type, shape, and its raw little-endian row-major bytes.
public struct SafeTensorEntry: Sendable, Equatable {
    public let dtype: SafeTensorDType
    public let shape: [Int]
    public let bytes: Data

    /// `bytes.count` must equal the element count times `dtype.byteSize` (a programming error otherwise).
    public init(dtype: SafeTensorDType, shape: [Int], bytes: Data) {
        let expected = byteCount(shape: shape, dtype: dtype)
        precondition(expected == bytes.count,
                     "SafeTensorEntry: \(bytes.count) bytes do not match shape \(shape) of \(dtype) (\(expected.map(String.init) ?? "invalid shape"))")
        self.dtype = dtype
        self.shape = shape
        // Re-base to index 0: a Data slice keeps its parent's indices, which breaks offset arithmetic.
        self.bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
    }

    /// Number of elements (1 for a scalar, 0 if any dimension is 0).
    public var count: Int { shape.reduce(1, *) }
}

/// A rejected file or a bad lookup. The message names the file (when known) and the tensor or field.
public struct SafeTensorsError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// A set of named tensors plus string metadata, as stored in one safetensors file.
public struct SafeTensors: Sendable, Equatable {
    /// The optional `__metadata__` map (omitted from the file when empty).
    public var metadata: [String: String]
    public private(set) var entries: [String: SafeTensorEntry]

    /// Tensor names in sorted order.
    public var names: [String] { entries.keys.sorted() }

    public init() {
        metadata = [:]
        entries = [:]
    }

    init(metadata: [String: String], entries: [String: SafeTensorEntry]) {
        self.metadata = metadata
        self.entries = entries
    }

    /// The entry for `name`, or an error listing the tensors that do exist.
    public func entry(_ name: String) throws -> SafeTensorEntry {
        guard let entry = entries[name] else {
            let available = names.map { "'\($0)'" }.joined(separator: ", ")
            throw SafeTensorsError("no tensor named '\(name)'; available: [\(available)]")
        }
        return entry
    }

    public func shape(_ name: String) throws -> [Int] { try entry(name).shape }

    /// Adds or replaces a tensor. The reserved name `__metadata__` is a programming error.
    public mutating func add(_ name: String, entry: SafeTensorEntry) {
        precondition(name != metadataKey, "'\(metadataKey)' is reserved for the metadata map")
        entries[name] = entry
    }

    /// Removes a tensor if present.
    public mutating func remove(_ name: String) {
        entries[name] = nil
    }
}

let metadataKey = "__metadata__"

/// Byte size of a tensor, or nil if a dimension is negative or the size overflows `Int`.
func byteCount(shape: [Int], dtype: SafeTensorDType) -> Int? {
    var total = dtype.byteSize
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        total = product
    }
    return total
}
