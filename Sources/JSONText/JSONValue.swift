/// A parsed JSON value. Numbers keep their source text, so integers (ids, millisecond timestamps, tensor offsets)
/// convert exactly and each caller decides how to read them; objects keep their members in file order.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
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

    /// The member named `key` of an object (keys are unique: the parser rejects duplicates); nil otherwise.
    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.key == key }?.value }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    /// An integral number, also when written with a zero fraction ("881250949.0", as some exports write ids).
    public var int: Int? {
        guard case .number(let n) = self else { return nil }
        return Int(n) ?? Double(n).flatMap { $0 == $0.rounded() ? Int(exactly: $0) : nil }
    }
    public var double: Double? { if case .number(let n) = self { return Double(n) } else { return nil } }
    public var isNull: Bool { self == .null }

    /// A short name for error messages ("a string", "an array", ...).
    public var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// Parses one complete document: a single value with only whitespace around it.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, options: JSONCursor.Options = .init()) throws(JSONSyntaxError)
        -> JSONValue
    {
        var cursor = JSONCursor(bytes, options: options)
        let value = try cursor.parseValue()
        try cursor.expectEnd()
        return value
    }

    public static func parse(_ bytes: [UInt8], options: JSONCursor.Options = .init()) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try parse(buffer, options: options) }
    }
}
