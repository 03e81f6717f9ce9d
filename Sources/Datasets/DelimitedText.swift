/// Splits one line of CSV/TSV into fields. Double-quoted fields may contain the delimiter and `""` for a quote
/// (RFC 4180), but not line breaks: interaction logs never need them, and refusing them keeps line numbers exact.
enum DelimitedText {
    struct UnterminatedQuote: Error {}

    static func fields(_ line: UnsafeBufferPointer<UInt8>, delimiter: UInt8) throws -> [String] {
        var fields: [String] = []
        var index = 0
        let count = line.count
        while true {
            if index < count && line[index] == UInt8(ascii: "\"") {
                var value: [UInt8] = []
                index += 1
                var closed = false
                while index < count {
                    if line[index] == UInt8(ascii: "\"") {
                        if index + 1 < count && line[index + 1] == UInt8(ascii: "\"") {
                            value.append(UInt8(ascii: "\""))
                            index += 2
                        } else {
                            index += 1
                            closed = true
                            break
                        }
                    } else {
                        value.append(line[index])
                        index += 1
                    }
                }
                guard closed else { throw UnterminatedQuote() }
                // Anything between the closing quote and the delimiter is kept, as spreadsheets do.
                let rest = index
                while index < count && line[index] != delimiter { index += 1 }
                value.append(contentsOf: UnsafeBufferPointer(rebasing: line[rest..<index]))
                fields.append(String(decoding: value, as: UTF8.self))
            } else {
                let start = index
                while index < count && line[index] != delimiter { index += 1 }
                fields.append(String(decoding: UnsafeBufferPointer(rebasing: line[start..<index]), as: UTF8.self))
            }
            if index >= count { return fields }
            index += 1  // the delimiter; a trailing one yields a final empty field
        }
    }

    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }
}
