import MSCCore
/// Builds one JSON object with fields in insertion order (stats and summaries are read by people and scripts alike).
struct JSONObjectWriter {
    private var fields: [(String, String)] = []

    mutating func add(_ key: String, _ value: String) { fields.append((key, jsonQuoted(value))) }
    mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    mutating func add(_ key: String, _ value: Bool) { fields.append((key, value ? "true" : "false")) }
    /// Shortest round-trip decimal; non-finite values become null.
    mutating func add(_ key: String, _ value: Double) { fields.append((key, value.isFinite ? "\(value)" : "null")) }
    mutating func addRaw(_ key: String, _ json: String) { fields.append((key, json)) }

    func finish(pretty: Bool = false) -> String {
        if fields.isEmpty { return "{}" }
        let parts = fields.map { "\(jsonQuoted($0.0)): \($0.1)" }
        return pretty ? "{\n  " + parts.joined(separator: ",\n  ") + "\n}" : "{" + parts.joined(separator: ", ") + "}"
    }
}

