/// What the shared binary-file reader and the atomic writer report. Each format's module turns it into its own error
/// type at its boundary (`CodesError`, `DatasetError`), so callers keep seeing one error type per module.
public enum BinaryFileError: Error, CustomStringConvertible, Equatable {
    /// The bytes are not what the format requires; `field` names the part being read ("magic", "checksum", a field).
    case malformed(path: String, field: String, reason: String)
    /// The file could not be written or renamed into place.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let path, let field, let reason): return "\(path): \(field): \(reason)"
        case .unwritable(let path, let reason): return "\(path): \(reason)"
        }
    }
}
