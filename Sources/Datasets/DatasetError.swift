/// Everything that can be wrong with input data or options, each naming where: file, line or key, and field.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read (missing, a directory, a corrupt gzip stream).
    case unreadable(file: String, reason: String)
    /// Syntax errors: bad JSON, a line with the wrong number of columns, an unparsable number.
    case malformed(file: String, location: String, reason: String)
    /// A record lacks a field the format requires.
    case missingField(file: String, location: String, field: String)
    /// A field is present but has the wrong type or value.
    case invalidField(file: String, location: String, field: String, reason: String)
    /// The same id twice where ids must be unique (items in an item file, users in an LC-Rec file).
    case duplicateID(file: String, location: String, id: String)
    case unknownFormat(String)
    case invalidOptions(String)
    /// Filtering (k-core, image removal) left nothing to train on.
    case emptyAfterFiltering(String)
    /// A prepared work directory or file that is missing, truncated or from an incompatible version.
    case badPreparedData(path: String, reason: String)
    case outputFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "cannot read \(file): \(reason)"
        case .malformed(let file, let location, let reason): return "\(file):\(location): \(reason)"
        case .missingField(let file, let location, let field): return "\(file):\(location): missing field \"\(field)\""
        case .invalidField(let file, let location, let field, let reason):
            return "\(file):\(location): field \"\(field)\": \(reason)"
        case .duplicateID(let file, let location, let id): return "\(file):\(location): duplicate id \"\(id)\""
        case .unknownFormat(let format): return "unknown input format \"\(format)\" (expected lcrec, amazon2023, recbole or csv)"
        case .invalidOptions(let reason): return "invalid options: \(reason)"
        case .emptyAfterFiltering(let reason): return "no data left after filtering: \(reason)"
        case .badPreparedData(let path, let reason): return "\(path): \(reason)"
        case .outputFailed(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// Where in a file something is, rendered as "line N" or "key \"K\"" (JSON files that are one big object).
enum Location {
    static func line(_ number: Int) -> String { "line \(number)" }
    static func key(_ key: String) -> String { "key \"\(key)\"" }
}
