/// A string as a JSON string literal. Non-ASCII text stays raw UTF-8 (valid JSON); only the characters JSON forbids
/// are escaped, so output is deterministic. Shared by every module that writes JSON by hand (headers, reports,
/// catalogs), where Foundation's encoder is too slow or not byte-stable.
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
