/// Builds one JSON object with fields in insertion order (stats and summaries are read by people and scripts alike).
struct JSONObjectWriter {
    private var fields: [(String, String)] = []

    mutating func add(_ key: String, _ value: String) { fields.append((key, jsonQuote(value))) }
    mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    mutating func add(_ key: String, _ value: Bool) { fields.append((key, value ? "true" : "false")) }
    /// Shortest round-trip decimal; non-finite values become null.
    mutating func add(_ key: String, _ value: Double) { fields.append((key, value.isFinite ? "\(value)" : "null")) }
    mutating func addRaw(_ key: String, _ json: String) { fields.append((key, json)) }

    func finish(pretty: Bool = false) -> String {
        if fields.isEmpty { return "{}" }
        let parts = fields.map { "\(jsonQuote($0.0)): \($0.1)" }
        return pretty ? "{\n  " + parts.joined(separator: ",\n  ") + "\n}" : "{" + parts.joined(separator: ", ") + "}"
    }
}

func jsonQuote(_ text: String) -> String {
    // Most titles need no escaping; skipping the per-scalar loop matters when a million items are written.
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        return "\"" + text + "\""
    }
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
