import MSCCore
// A small JSON reader/writer for the safetensors header.
// Own parser rather than JSONSerialization because the format needs things it hides:
// duplicate keys must be detected, and offsets must be exact integers (no silent Double rounding).

/// A parsed JSON value. Numbers keep their source text so callers decide how to interpret them.
enum JSONValue: Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// A short name for error messages ("a string", "an array", ...).
    var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// Parse failure with the byte offset (within the header) where it was found.
struct JSONParseError: Error {
    let offset: Int
    let reason: String
}

struct JSONParser {
    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    // Deep nesting never occurs in a real header; the cap keeps hostile input from exhausting the stack.
    private static let maxDepth = 64

    /// Parses exactly one JSON value surrounded by optional whitespace (safetensors pads with spaces).
    static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.pos != bytes.count { throw parser.fail("unexpected content after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: pos, reason: reason) }

    private var current: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 }
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws(JSONParseError) {
        guard current == c else { throw fail("expected \(what)") }
        pos += 1
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        switch current {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case .some(let c) where c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39): return try parseNumber()
        case nil: throw fail("unexpected end of header")
        default: throw fail("unexpected character")
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels") }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        pos += 1  // "{"
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { pos += 1; depth -= 1; return .object(members) }
        while true {
            skipWhitespace()
            let keyOffset = pos
            guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            if members[key] != nil { throw JSONParseError(offset: keyOffset, reason: "duplicate key '\(key)'") }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members[key] = try parseValue()
            skipWhitespace()
            if current == UInt8(ascii: "}") { pos += 1; depth -= 1; return .object(members) }
            try expect(UInt8(ascii: ","), "',' or '}'")
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        pos += 1  // "["
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { pos += 1; depth -= 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            if current == UInt8(ascii: "]") { pos += 1; depth -= 1; return .array(elements) }
            try expect(UInt8(ascii: ","), "',' or ']'")
        }
    }

    private mutating func parseLiteral(_ word: String) throws(JSONParseError) {
        for c in word.utf8 {
            guard current == c else { throw fail("invalid literal (expected '\(word)')") }
            pos += 1
        }
    }

    /// Validates the JSON number grammar and returns its text unchanged.
    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if current == UInt8(ascii: "-") { pos += 1 }
        guard isDigit(current) else { throw fail("invalid number") }
        if current == 0x30 { pos += 1 } else { while isDigit(current) { pos += 1 } }
        if current == UInt8(ascii: ".") {
            pos += 1
            guard isDigit(current) else { throw fail("invalid number") }
            while isDigit(current) { pos += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            pos += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(current) else { throw fail("invalid number") }
            while isDigit(current) { pos += 1 }
        }
        return .number(String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard let c = current else { throw fail("unterminated string") }
            pos += 1
            switch c {
            case UInt8(ascii: "\""):
                // The header was validated as UTF-8 before parsing, and escapes produce valid scalars.
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                utf8.append(contentsOf: try parseEscape())
            case 0..<0x20:
                pos -= 1
                throw fail("control character in string")
            default:
                utf8.append(c)
            }
        }
    }

    private mutating func parseEscape() throws(JSONParseError) -> [UInt8] {
        guard let c = current else { throw fail("unterminated escape") }
        pos += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return [c]
        case UInt8(ascii: "b"): return [0x08]
        case UInt8(ascii: "f"): return [0x0C]
        case UInt8(ascii: "n"): return [0x0A]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "u"):
            var code = try parseHex4()
            if (0xD800..<0xDC00).contains(code) {
                // High surrogate: must be followed by an escaped low surrogate.
                guard current == UInt8(ascii: "\\") else { throw fail("unpaired surrogate in \\u escape") }
                pos += 1
                try expect(UInt8(ascii: "u"), "low surrogate escape")
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(code) else { throw fail("unpaired surrogate in \\u escape") }
            return Array(String(Character(scalar)).utf8)
        default:
            throw fail("invalid escape sequence")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current, let digit = hexValue(c) else { throw fail("invalid \\u escape") }
            value = value << 4 | digit
            pos += 1
        }
        return value
    }

    private func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        default: nil
        }
    }
}

