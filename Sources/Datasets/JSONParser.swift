/// A JSON value as the readers need it. Numbers keep their source text so integers (ids, millisecond timestamps)
/// convert exactly; short texts are stored inline by String, so this costs no allocation.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.key == key }?.value }
        return nil
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var int: Int? { if case .number(let n) = self { return Int(n) ?? Double(n).flatMap { $0 == $0.rounded() ? Int(exactly: $0) : nil } } else { return nil } }
    var double: Double? { if case .number(let n) = self { return Double(n) } else { return nil } }
    var isNull: Bool { self == .null }

    /// Text for catalog fields: strings as-is, numbers as written, arrays of strings joined; nil for null/empty.
    func text(joiningWith separator: String) -> String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .array(let values):
            let parts = values.compactMap { $0.text(joiningWith: separator) }.filter { !$0.isEmpty }
            return parts.isEmpty ? nil : parts.joined(separator: separator)
        case .null, .object: return nil
        }
    }
}

/// Where and why parsing stopped; readers turn the offset into a line number or a record key.
struct JSONSyntaxError: Error {
    let offset: Int
    let reason: String
}

/// A cursor over UTF-8 JSON bytes. Readers walk big top-level objects and arrays member by member (`readObject`,
/// `readArray`), materialising only the values they keep and skipping the rest, so a 200 MB item file never
/// becomes one giant tree.
struct JSONCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0
    private var depth = 0
    /// Deeper nesting than this is rejected instead of risking the stack on hostile input.
    static let maxDepth = 256

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func fail(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 } else { break }
        }
    }

    var atEnd: Bool { position >= bytes.count }

    /// Requires that only whitespace remains.
    mutating func expectEnd() throws {
        skipWhitespace()
        if !atEnd { throw fail("unexpected content after the JSON value") }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else {
            throw fail(atEnd ? "unexpected end of input, expected \(what)" : "expected \(what)")
        }
        position += 1
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if position < bytes.count && bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    /// Walks an object; `body` gets each key and must consume the member's value (parse or skip it).
    mutating func readObject(_ body: (String, inout JSONCursor) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "'{'")
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth)") }
        if consume(UInt8(ascii: "}")) { return }
        repeat {
            skipWhitespace()
            let key = try parseString()
            try expect(UInt8(ascii: ":"), "':'")
            try body(key, &self)
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), "',' or '}'")
    }

    /// Walks an array; `body` must consume each element.
    mutating func readArray(_ body: (inout JSONCursor) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "'['")
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth)") }
        if consume(UInt8(ascii: "]")) { return }
        repeat { try body(&self) } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "',' or ']'")
    }

    /// The next byte after whitespace, without consuming it.
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return atEnd ? nil : bytes[position]
    }

    mutating func parseValue() throws -> JSONValue {
        switch peek() {
        case UInt8(ascii: "{")?:
            var fields: [(key: String, value: JSONValue)] = []
            try readObject { key, cursor in fields.append((key, try cursor.parseValue())) }
            return .object(fields)
        case UInt8(ascii: "[")?:
            var values: [JSONValue] = []
            try readArray { values.append(try $0.parseValue()) }
            return .array(values)
        case UInt8(ascii: "\"")?: return .string(try parseString())
        case UInt8(ascii: "t")?: try literal("true"); return .bool(true)
        case UInt8(ascii: "f")?: try literal("false"); return .bool(false)
        case UInt8(ascii: "n")?: try literal("null"); return .null
        case nil: throw fail("unexpected end of input, expected a value")
        default: return .number(try parseNumber())
        }
    }

    /// Skips one value of any kind, validating its syntax but building nothing.
    mutating func skipValue() throws {
        switch peek() {
        case UInt8(ascii: "{")?: try readObject { _, cursor in try cursor.skipValue() }
        case UInt8(ascii: "[")?: try readArray { try $0.skipValue() }
        case UInt8(ascii: "\"")?: try skipString()
        case UInt8(ascii: "t")?: try literal("true")
        case UInt8(ascii: "f")?: try literal("false")
        case UInt8(ascii: "n")?: try literal("null")
        case nil: throw fail("unexpected end of input, expected a value")
        default: _ = try parseNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end of input") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { throw fail("invalid literal") }
        position += count
    }

    mutating func parseNumber() throws -> String {
        skipWhitespace()
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                position += 1
            default:
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                return try checkedNumber(text, start)
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        return try checkedNumber(text, start)
    }

    private func checkedNumber(_ text: String, _ start: Int) throws -> String {
        guard !text.isEmpty, Double(text) != nil else {
            throw JSONSyntaxError(offset: start, reason: text.isEmpty ? "unexpected character" : "invalid number \(text)")
        }
        return text
    }

    /// An integer value (a JSON number, or a string of digits as some LC-Rec files write ids).
    mutating func parseInt() throws -> Int {
        skipWhitespace()
        let start = position
        // Fast path for plain decimal integers (item indices): no String is built.
        var index = position
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 18 {
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        if digits > 0 {
            let next = index < bytes.count ? bytes[index] : 0
            if next != UInt8(ascii: ".") && next != UInt8(ascii: "e") && next != UInt8(ascii: "E") && !(next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9")) {
                position = index
                return negative ? -value : value
            }
        }
        if peek() == UInt8(ascii: "\"") {
            let text = try parseString()
            guard let value = Int(text) else { throw JSONSyntaxError(offset: start, reason: "expected an integer, got \"\(text)\"") }
            return value
        }
        let text = try parseNumber()
        guard let value = Int(text) else { throw JSONSyntaxError(offset: start, reason: "expected an integer, got \(text)") }
        return value
    }

    mutating func skipString() throws {
        try expect(UInt8(ascii: "\""), "'\"'")
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            if b == UInt8(ascii: "\"") { return }
            if b == UInt8(ascii: "\\") { position += 1 }
        }
        throw fail("unterminated string")
    }

    mutating func parseString() throws -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("control character in string") }
            position += 1
        }
        var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "u"): appendUTF8(of: try parseUnicodeEscape(), to: &decoded)
                default: throw fail("invalid escape \\\(Character(Unicode.Scalar(escape)))")
                }
            default:
                if b < 0x20 { throw fail("control character in string") }
                decoded.append(b)
            }
        }
        throw fail("unterminated string")
    }

    /// After `\u`: four hex digits, combining a surrogate pair when one follows; lone surrogates become U+FFFD.
    private mutating func parseUnicodeEscape() throws -> Unicode.Scalar {
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high), position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
        {
            let save = position
            position += 2
            let low = try hex4()
            if (0xDC00..<0xE000).contains(low) {
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
            }
            position = save
        }
        return Unicode.Scalar(high) ?? "\u{FFFD}"
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            position += 1
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
        }
        return value
    }

    private func appendUTF8(of scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(Character(scalar)).utf8)
    }
}

extension JSONSyntaxError {
    /// 1-based line of the offset in `bytes` (for whole-file JSON errors).
    func line(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var line = 1
        for index in 0..<min(offset, bytes.count) where bytes[index] == 0x0A { line += 1 }
        return line
    }
}

/// Parses one complete JSON document held in memory.
func parseJSONDocument(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
    var cursor = JSONCursor(bytes)
    let value = try cursor.parseValue()
    try cursor.expectEnd()
    return value
}
