import Foundation

/// Everything that can go wrong between a model directory and an embedding, each naming the file or field.
public enum TextEncodingError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case malformed(path: String, field: String, reason: String)
    case unknownArchitecture(path: String, found: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case unsupported(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path, let hint): return "\(path): no such file (\(hint))"
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .malformed(let path, let field, let reason): return "\(path): \(field): \(reason)"
        case .unknownArchitecture(let path, let found):
            return "\(path): model_type \"\(found)\" is not supported (supported: bert and BERT-family encoders, mpnet)"
        case .shapeMismatch(let path, let tensor, let expected, let found):
            return "\(path): tensor \(tensor) has shape \(found) but config.json implies \(expected)"
        case .unsupported(let path, let field, let reason): return "\(path): \(field): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
