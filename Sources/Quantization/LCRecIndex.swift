import ItemCodes
import Foundation

/// Precomputed codes in the LC-Rec `index` JSON layout: `{"<item index>": ["<a_12>", "<b_7>", …], …}`, the letter
/// naming the level. Keys are the catalog's external ids (LC-Rec data keeps the item index as its id).
public struct PrecomputedCodes {
    /// Row-major `catalog items × levels`; rows of absent items are zero.
    public var codes: [Int32]
    public var present: [Bool]
    public var levels: Int
    /// Largest code + 1 at each level.
    public var observedSizes: [Int]
    public var notes: [String]
}

public enum LCRecIndex {
    public static func read(path: String, catalogIDs: [String]) throws -> PrecomputedCodes {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CodesError.unreadable(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, path: path, catalogIDs: catalogIDs)
    }

    /// Codes are stored in `catalogIDs.count × levels` rows, so the level count is bounded before allocating.
    static let maxLevels = 64

    static func parse(_ data: Data, path: String, catalogIDs: [String]) throws -> PrecomputedCodes {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CodesError.malformed(path: path, field: "JSON", reason: "\(error.localizedDescription)")
        }
        guard let entries = object as? [String: Any] else {
            throw CodesError.malformed(path: path, field: "top level", reason: "expected an object keyed by item id")
        }
        var indexOf: [String: Int] = [:]
        for (index, id) in catalogIDs.enumerated() { indexOf[id] = index }
        var levels: Int?
        var letters: [Character] = []
        var codes: [Int32] = []
        var present = [Bool](repeating: false, count: catalogIDs.count)
        var sizes: [Int] = []
        var unknown = 0
        // Sorted keys: the first item seen fixes the level count and letters, so errors are reproducible.
        for key in entries.keys.sorted() {
            guard let tokens = entries[key] as? [String] else {
                throw CodesError.malformed(path: path, field: "\"\(key)\"", reason: "expected an array of code strings")
            }
            if levels == nil {
                guard !tokens.isEmpty else { throw CodesError.malformed(path: path, field: "\"\(key)\"", reason: "no codes") }
                guard tokens.count <= maxLevels else {
                    throw CodesError.malformed(path: path, field: "\"\(key)\"", reason: "\(tokens.count) codes; at most \(maxLevels) levels are supported")
                }
                levels = tokens.count
                codes = [Int32](repeating: 0, count: catalogIDs.count * tokens.count)
                sizes = [Int](repeating: 0, count: tokens.count)
            }
            guard tokens.count == levels else {
                throw CodesError.malformed(path: path, field: "\"\(key)\"", reason: "\(tokens.count) codes where other items have \(levels!)")
            }
            var row: [Int32] = []
            for (level, token) in tokens.enumerated() {
                guard let (letter, code) = parseToken(token) else {
                    throw CodesError.malformed(path: path, field: "\"\(key)\"[\(level)]", reason: "\"\(token)\" is not a code like \"<a_12>\"")
                }
                if letters.count <= level { letters.append(letter) }
                guard letters[level] == letter else {
                    throw CodesError.malformed(path: path, field: "\"\(key)\"[\(level)]",
                                               reason: "\"\(token)\" names level \(letter), other items use \(letters[level]) here")
                }
                row.append(code)
                sizes[level] = max(sizes[level], Int(code) + 1)
            }
            guard let item = indexOf[key] else { unknown += 1; continue }
            codes.replaceSubrange(item * row.count..<(item + 1) * row.count, with: row)
            present[item] = true
        }
        guard let levels else { throw CodesError.malformed(path: path, field: "top level", reason: "no items") }
        var notes: [String] = []
        if unknown > 0 { notes.append("\(unknown) entries have ids the catalog lacks (filtered items); skipped") }
        let missing = present.filter { !$0 }.count
        if missing > 0 { notes.append("\(missing) catalog items have no codes: marked absent for this modality") }
        return PrecomputedCodes(codes: codes, present: present, levels: levels, observedSizes: sizes, notes: notes)
    }

    /// "<a_170>" → ("a", 170).
    static func parseToken(_ token: String) -> (Character, Int32)? {
        guard token.hasPrefix("<"), token.hasSuffix(">"), let underscore = token.lastIndex(of: "_") else { return nil }
        let name = token[token.index(after: token.startIndex)..<underscore]
        guard name.count == 1, let letter = name.first,
              let code = Int32(token[token.index(after: underscore)..<token.index(before: token.endIndex)]), code >= 0
        else { return nil }
        return (letter, code)
    }
}
