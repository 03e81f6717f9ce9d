/// A parser for one flat JSON object whose values are strings or numbers: all a metrics report holds.
/// Kept here so the module needs nothing beyond the standard library for reading reports back.
enum FlatJSONObject {
    enum Value: Equatable {
        case string(String)
        /// The number's source text, converted by the caller so no precision is lost on the way.
        case number(String)
    }

    static func parse(_ text: String) throws -> [(key: String, value: Value)] {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.skipSpace()
        guard scanner.consume(UInt8(ascii: "{")) else { throw MetricsReportError.notAnObject }
        var fields: [(key: String, value: Value)] = []
        scanner.skipSpace()
        if scanner.consume(UInt8(ascii: "}")) { return try scanner.finished(fields) }
        repeat {
            scanner.skipSpace()
            let key = try scanner.string()
            scanner.skipSpace()
            guard scanner.consume(UInt8(ascii: ":")) else { throw MetricsReportError.notAnObject }
            scanner.skipSpace()
            if scanner.peek == UInt8(ascii: "\"") {
                fields.append((key, .string(try scanner.string())))
            } else {
                let number = scanner.number()
                guard !number.isEmpty else { throw MetricsReportError.notANumber(key) }
                fields.append((key, .number(number)))
            }
            scanner.skipSpace()
        } while scanner.consume(UInt8(ascii: ","))
        guard scanner.consume(UInt8(ascii: "}")) else { throw MetricsReportError.notAnObject }
        return try scanner.finished(fields)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            position += 1
            return true
        }

        mutating func finished<T>(_ value: T) throws -> T {
            skipSpace()
            guard peek == nil else { throw MetricsReportError.notAnObject }
            return value
        }

        mutating func number() -> String {
            let start = position
            while let byte = peek, (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2B || byte == 0x2E
                || byte == 0x65 || byte == 0x45
            {
                position += 1
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func string() throws -> String {
            guard consume(UInt8(ascii: "\"")) else { throw MetricsReportError.notAnObject }
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll(keepingCapacity: true)
            }
            while let byte = peek {
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    flush()
                    guard let escaped = peek else { throw MetricsReportError.notAnObject }
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{C}")
                    case UInt8(ascii: "u"):
                        guard position + 4 <= bytes.count,
                            let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { throw MetricsReportError.notAnObject }
                        position += 4
                        scalars.append(scalar)
                    default: scalars.append(Unicode.Scalar(escaped))
                    }
                default:
                    run.append(byte)
                }
            }
            throw MetricsReportError.notAnObject
        }
    }
}
