/// Where and why parsing stopped. Callers turn the byte offset into what their users need (a line number, a
/// record key, "at byte N" of a header).
public struct JSONSyntaxError: Error, Equatable {
    public let offset: Int
    public let reason: String

    /// 1-based line of the offset in `bytes` (for whole-file errors).
    public func line(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var line = 1
        for index in 0..<min(offset, bytes.count) where bytes[index] == 0x0A { line += 1 }
        return line
    }
}

/// A cursor over UTF-8 JSON bytes (RFC 8259, strictly: no trailing commas, leading zeros, NaN, comments or raw
/// control characters). Readers walk big top-level objects and arrays member by member (`readObject`,
/// `readArray`), materialising only the values they keep and skipping the rest, so a 200 MB item file never
/// becomes one tree; `JSONValue.parse` builds the whole tree of small documents.
public struct JSONCursor {
    public struct Options: Sendable {
        /// Deeper nesting is rejected instead of risking the stack on hostile input.
        public var maxDepth = 256
        /// A `\u` escape of half a surrogate pair is valid JSON grammar but no character: rejected unless the
        /// caller prefers U+FFFD (dataset text, where one cut-off emoji should not fail a whole file).
        public var replacingLoneSurrogates = false

        public init(maxDepth: Int = 256, replacingLoneSurrogates: Bool = false) {
            self.maxDepth = maxDepth
            self.replacingLoneSurrogates = replacingLoneSurrogates
        }
    }

    // The walk's small steps are inlinable so a reader's loop over millions of elements, in another module, pays
    // no call per element. They are public, not package: Swift 6 does not inline package functions across modules.
    @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline let options: Options
    @usableFromInline var position = 0
    @usableFromInline var depth = 0

    public init(_ bytes: UnsafeBufferPointer<UInt8>, options: Options = Options()) {
        self.bytes = bytes
        self.options = options
    }

    @usableFromInline func fail(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, reason: reason) }

    @inlinable mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 } else { break }
        }
    }

    /// The next byte after whitespace, without consuming it.
    @inlinable public mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Requires that only whitespace remains.
    public mutating func expectEnd() throws(JSONSyntaxError) {
        if peek() != nil { throw fail("unexpected content after the JSON value") }
    }

    @inlinable mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(JSONSyntaxError) {
        guard let next = peek() else { throw fail("unexpected end of input, expected \(what())") }
        guard next == byte else { throw fail("expected \(what())") }
        position += 1
    }

    @inlinable mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        position += 1
        return true
    }

    // MARK: Containers: the steps every walk shares (streaming with a closure, building, skipping)

    /// Enters a container; false when it is empty (and already closed).
    @inlinable mutating func open(_ byte: UInt8, _ close: UInt8) throws(JSONSyntaxError) -> Bool {
        try expect(byte, "'\(Character(Unicode.Scalar(byte)))'")
        depth += 1
        if depth > options.maxDepth { throw fail("nesting deeper than \(options.maxDepth) levels") }
        if consume(close) { depth -= 1; return false }
        return true
    }

    /// After a member or element: true when a comma announces another, false when the container closed.
    @inlinable mutating func next(_ close: UInt8) throws(JSONSyntaxError) -> Bool {
        if consume(UInt8(ascii: ",")) { return true }
        try expect(close, "',' or '\(Character(Unicode.Scalar(close)))'")
        depth -= 1
        return false
    }

    @inlinable mutating func key() throws(JSONSyntaxError) -> String {
        let key = try parseString()
        try expect(UInt8(ascii: ":"), "':'")
        return key
    }

    /// Walks an object; `body` gets each key and must consume the member's value (parse or skip it). Keys are not
    /// checked for duplicates here, which would mean keeping every key of a huge file: readers check the keys they keep.
    @inlinable public mutating func readObject(_ body: (String, inout JSONCursor) throws -> Void) throws {
        guard try open(UInt8(ascii: "{"), UInt8(ascii: "}")) else { return }
        repeat { try body(try key(), &self) } while try next(UInt8(ascii: "}"))
    }

    /// Walks an array; `body` must consume each element.
    @inlinable public mutating func readArray(_ body: (inout JSONCursor) throws -> Void) throws {
        guard try open(UInt8(ascii: "["), UInt8(ascii: "]")) else { return }
        repeat { try body(&self) } while try next(UInt8(ascii: "]"))
    }

    // MARK: Values

    public mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        switch peek() {
        case UInt8(ascii: "{")?: return .object(try parseObjectMembers())
        case UInt8(ascii: "[")?:
            var values: [JSONValue] = []
            guard try open(UInt8(ascii: "["), UInt8(ascii: "]")) else { return .array(values) }
            repeat { values.append(try parseValue()) } while try next(UInt8(ascii: "]"))
            return .array(values)
        case UInt8(ascii: "\"")?: return .string(try parseString())
        case UInt8(ascii: "t")?: try literal("true"); return .bool(true)
        case UInt8(ascii: "f")?: try literal("false"); return .bool(false)
        case UInt8(ascii: "n")?: try literal("null"); return .null
        case nil: throw fail("unexpected end of input, expected a value")
        default: return .number(try parseNumber())
        }
    }

    /// An object's members, refusing a repeated key (which value wins is left open by RFC 8259, and a safetensors
    /// header with a repeated tensor name is a classic smuggling trick).
    private mutating func parseObjectMembers() throws(JSONSyntaxError) -> [(key: String, value: JSONValue)] {
        var fields: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()  // only for objects too large for a linear scan
        guard try open(UInt8(ascii: "{"), UInt8(ascii: "}")) else { return fields }
        repeat {
            skipWhitespace()
            let keyOffset = position
            let key = try key()
            let repeated: Bool
            if fields.count < 16 {
                repeated = fields.contains { $0.key == key }
            } else {
                if keys.isEmpty { keys = Set(fields.map(\.key)) }
                repeated = !keys.insert(key).inserted
            }
            if repeated { throw JSONSyntaxError(offset: keyOffset, reason: "duplicate key '\(key)'") }
            fields.append((key, try parseValue()))
        } while try next(UInt8(ascii: "}"))
        return fields
    }

    /// Skips one value of any kind, checking its syntax but building nothing (skipped strings are not decoded, so
    /// their UTF-8 is not checked).
    public mutating func skipValue() throws(JSONSyntaxError) {
        switch peek() {
        case UInt8(ascii: "{")?:
            guard try open(UInt8(ascii: "{"), UInt8(ascii: "}")) else { return }
            repeat {
                try skipString()
                try expect(UInt8(ascii: ":"), "':'")
                try skipValue()
            } while try next(UInt8(ascii: "}"))
        case UInt8(ascii: "[")?:
            guard try open(UInt8(ascii: "["), UInt8(ascii: "]")) else { return }
            repeat { try skipValue() } while try next(UInt8(ascii: "]"))
        case UInt8(ascii: "\"")?: try skipString()
        case UInt8(ascii: "t")?: try literal("true")
        case UInt8(ascii: "f")?: try literal("false")
        case UInt8(ascii: "n")?: try literal("null")
        case nil: throw fail("unexpected end of input, expected a value")
        default: _ = try parseNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end of input") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { throw fail("invalid literal") }
        position += count
    }
}
