import Foundation

/// Why a bundle could not be exported or used. Every case names the file (relative to the bundle) and, for mismatches,
/// the expected and the actual value, so an operator can tell a corrupt copy from a trainer/server version skew.
public enum BundleError: Error, CustomStringConvertible, Equatable {
    case missingFile(bundle: String, file: String)
    case unreadable(file: String, reason: String)
    case formatVersion(file: String, found: Int, supported: Int)
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    case checksumMismatch(file: String, expected: String, actual: String)
    case mismatch(file: String, field: String, expected: String, actual: String)
    case invalid(file: String, reason: String)
    case publish(String)

    public var description: String {
        switch self {
        case .missingFile(let bundle, let file): "\(bundle): \(file) is missing"
        case .unreadable(let file, let reason): "\(file): \(reason)"
        case .formatVersion(let file, let found, let supported):
            "\(file): bundle format version \(found), this build reads version \(supported)"
                + (found > supported ? " (upgrade the server, or export with a matching trainer)" : " (re-export it with this trainer)")
        case .sizeMismatch(let file, let expected, let actual): "\(file): size \(actual) bytes, the manifest says \(expected) (truncated or replaced?)"
        case .checksumMismatch(let file, let expected, let actual): "\(file): SHA-256 \(actual), the manifest says \(expected) (corrupt copy?)"
        case .mismatch(let file, let field, let expected, let actual): "\(file): \(field) is \(actual), expected \(expected)"
        case .invalid(let file, let reason): "\(file): \(reason)"
        case .publish(let why): "publishing the bundle failed: \(why)"
        }
    }
}
