import BinaryFiles
import Foundation

/// Everything that can go wrong while reading inputs, quantizing, or reading and writing code files.
/// Messages name the file and the field so bad input can be fixed without reading the source.
public enum CodesError: Error, CustomStringConvertible, Equatable {
    /// A file could not be opened, read or written.
    case unreadable(path: String, reason: String)
    /// A file's contents are not what its format requires; `field` names the header key, array or row.
    case malformed(path: String, field: String, reason: String)
    /// A command-line or API option has an unusable value.
    case invalidOption(name: String, reason: String)
    /// More items share their first L codes than the collision level can number.
    case collisionOverflow(modality: String, groupSize: Int, capacity: Int, example: [Int32])
    /// Two items ended up with the same full code sequence (the prefix tree needs unique sequences).
    case duplicateSequence(firstItem: Int, secondItem: Int, codes: [Int32])
    /// The inputs do not fit together (e.g. an ids file with a different row count than the embeddings).
    case mismatch(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        case .malformed(let path, let field, let reason): return "\(path): \(field): \(reason)"
        case .invalidOption(let name, let reason): return "\(name): \(reason)"
        case .collisionOverflow(let modality, let size, let capacity, let example):
            return "modality \"\(modality)\": \(size) items share the codes \(example), but the collision level holds only "
                + "\(capacity); raise --codebook or --levels (or --collision-capacity)"
        case .duplicateSequence(let a, let b, let codes):
            return "items \(a) and \(b) have the same code sequence \(codes); sequences must be unique per modality"
        case .mismatch(let message): return message
        }
    }
}

extension CodesError {
    /// The shared binary-file layer's errors, reported as this module's.
    package init(_ error: BinaryFileError) {
        switch error {
        case .malformed(let path, let field, let reason): self = .malformed(path: path, field: field, reason: reason)
        case .unwritable(let path, let reason): self = .unreadable(path: path, reason: reason)
        }
    }

    /// Runs `body`, turning a `BinaryFileError` it throws into a `CodesError`.
    package static func mapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as BinaryFileError { throw CodesError(error) }
    }
}
