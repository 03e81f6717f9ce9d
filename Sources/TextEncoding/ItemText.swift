/// How an item's catalog fields become the one text the model embeds.
public struct ItemTextTemplate: Sendable, Equatable {
    public static let knownFields = ["title", "brand", "categories", "description"]

    public enum Part: Sendable, Equatable { case literal(String), field(String) }
    public let parts: [Part]
    /// Fields the template reads, in order of first use.
    public let fields: [String]
    let joinsFields: Bool

    /// The non-empty fields in the given order, separated by a space (no template).
    public init(fields: [String]) throws {
        for f in fields where !Self.knownFields.contains(f) { throw ItemTextError.unknownField(f) }
        guard !fields.isEmpty else { throw ItemTextError.noFields }
        self.fields = fields
        self.parts = fields.map { .field($0) }
        self.joinsFields = true
    }

    /// A template such as "{title} by {brand}. {description}": placeholders are field names, "{{" and "}}" braces.
    public init(template: String) throws {
        var parts: [Part] = [], fields: [String] = [], literal = ""
        var i = template.startIndex
        while i < template.endIndex {
            let c = template[i]
            let next = template.index(after: i)
            if (c == "{" || c == "}") && next < template.endIndex && template[next] == c {
                literal.append(c); i = template.index(after: next); continue
            }
            if c == "{" {
                guard let close = template[next...].firstIndex(of: "}") else { throw ItemTextError.unclosedPlaceholder(template) }
                let name = String(template[next..<close])
                guard Self.knownFields.contains(name) else { throw ItemTextError.unknownField(name) }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.field(name))
                if !fields.contains(name) { fields.append(name) }
                i = template.index(after: close)
                continue
            }
            literal.append(c)
            i = next
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard !fields.isEmpty else { throw ItemTextError.noFields }
        self.parts = parts
        self.fields = fields
        self.joinsFields = false
    }

    /// The item's text, or nil when every field the template reads is empty: such an item lacks the text modality
    /// (embedding "" would give it a made-up vector).
    public func text(_ value: (String) -> String) -> String? {
        let values = Dictionary(uniqueKeysWithValues: fields.map { ($0, value($0)) })
        guard values.values.contains(where: { !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        if joinsFields {
            return fields.compactMap { values[$0] }.filter { !$0.allSatisfy(\.isWhitespace) }.joined(separator: " ")
        }
        return parts.map { part in
            switch part {
            case .literal(let s): return s
            case .field(let name): return values[name] ?? ""
            }
        }.joined()
    }
}

public enum ItemTextError: Error, CustomStringConvertible, Equatable {
    case unknownField(String)
    case unclosedPlaceholder(String)
    case noFields

    public var description: String {
        switch self {
        case .unknownField(let f): return "unknown item field \"\(f)\" (fields: \(ItemTextTemplate.knownFields.joined(separator: ", ")))"
        case .unclosedPlaceholder(let t): return "template \"\(t)\" has a \"{\" without its \"}\""
        case .noFields: return "the text uses no item field"
        }
    }
}
