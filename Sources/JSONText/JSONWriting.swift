// Writing JSON by hand: Foundation's encoder is too slow for a million catalog items and not byte-stable, and
// reports, headers and summaries must diff cleanly.

/// A string as a JSON string literal. Non-ASCII text stays raw UTF-8 (valid JSON); only the characters JSON forbids
/// are escaped, so output is deterministic.
public func jsonQuoted(_ text: String) -> String {
    // Most strings need no escaping; skipping the per-scalar loop matters when a million items are written.
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

/// Shortest round-trip decimal (read back exactly by `Double(String)`); NaN and infinities, which JSON cannot
/// hold, become null.
public func jsonNumber(_ value: Double) -> String {
    value.isFinite ? "\(value)" : "null"
}

/// A JSON array of already-encoded elements: `[a, b]`.
public func jsonArray(_ elements: [String]) -> String {
    "[" + elements.joined(separator: ", ") + "]"
}

/// Builds one JSON object with fields in insertion order (stats, summaries and reports are read by people and
/// scripts alike): `{"a": 1, "b": "x"}`, or one field per line when pretty.
public struct JSONObjectWriter {
    private var fields: [(String, String)] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) { fields.append((key, jsonQuoted(value))) }
    public mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    public mutating func add(_ key: String, _ value: Bool) { fields.append((key, value ? "true" : "false")) }
    public mutating func add(_ key: String, _ value: Double) { fields.append((key, jsonNumber(value))) }
    public mutating func add(_ key: String, _ values: [String]) { fields.append((key, jsonArray(values.map(jsonQuoted)))) }
    /// A value that is already JSON (a nested object or array).
    public mutating func addRaw(_ key: String, _ json: String) { fields.append((key, json)) }

    public func finish(pretty: Bool = false) -> String {
        if fields.isEmpty { return "{}" }
        let parts = fields.map { "\(jsonQuoted($0.0)): \($0.1)" }
        return pretty ? "{\n  " + parts.joined(separator: ",\n  ") + "\n}" : "{" + parts.joined(separator: ", ") + "}"
    }
}
