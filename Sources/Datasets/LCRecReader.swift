import Foundation
import JSONText

/// The LC-Rec/LETTER layout: `<Name>.inter.json` (user → item indices in time order), optional `<Name>.item.json`
/// (item index → fields), optional `<Name>.index*.json` (item index → code strings like "<a_12>") and optional
/// `<Name>.item2id` (original ASIN, tab, index).
enum LCRecReader {
    static func read(directory: String, name: String?, progress: (String) -> Void) throws -> RawDataset {
        let name = try name ?? inferName(directory)
        let base = (directory as NSString).appendingPathComponent(name)
        let interPath = try existing([base + ".inter.json", base + ".inter.json.gz"], what: "\(name).inter.json in \(directory)")
        var dataset = RawDataset(name: name, sourceFormat: "lcrec", hasTimestamps: false)
        dataset.imageRoot = absolutePath(directory)

        // Item indices repeat across users; caching their raw ids skips a String round trip per interaction.
        var rawItemIDs: [Int: Int32] = [:]
        try withJSONFile(interPath) { cursor in
            try cursor.readObject { userKey, cursor in
                if dataset.hasUser(userKey) {
                    throw DatasetError.duplicateID(file: interPath, location: Location.key(userKey), id: userKey)
                }
                let user = dataset.userID(userKey)
                var position = 0.0
                do {
                    try cursor.readArray { cursor in
                        // Some exports name items by string keys (e.g. ASINs); those are the external ids as written.
                        if cursor.peek() == UInt8(ascii: "\"") {
                            dataset.addInteraction(user: user, item: dataset.itemID(try cursor.parseString()), time: position)
                            position += 1
                            return
                        }
                        let item = try cursor.parseInt()
                        let id: Int32
                        if let cached = rawItemIDs[item] {
                            id = cached
                        } else {
                            id = dataset.itemID(String(item))
                            rawItemIDs[item] = id
                        }
                        dataset.addInteraction(user: user, item: id, time: position)
                        position += 1
                    }
                } catch let error as JSONSyntaxError where error.reason.hasPrefix("expected an integer") {
                    throw DatasetError.invalidField(
                        file: interPath, location: Location.key(userKey), field: userKey, reason: error.reason)
                }
            }
        }
        progress("read \(interPath): \(dataset.userKeys.count) users, \(dataset.items.count) items, \(dataset.interactionCount) interactions")

        if let itemPath = firstExisting([base + ".item.json", base + ".item.json.gz"]) {
            let ignored = try readItemMetadataObject(itemPath, into: &dataset)
            if ignored > 0 { dataset.notes.append("\(ignored) items of \(itemPath) have no interactions") }
            if let missing = dataset.items.first(where: { !$0.hasMetadata }) {
                let count = dataset.items.lazy.filter { !$0.hasMetadata }.count
                throw DatasetError.missingField(
                    file: itemPath, location: Location.key(missing.externalID),
                    field: "item \(missing.externalID) (used in \(interPath); \(count) such items)")
            }
            progress("read \(itemPath)")
        } else {
            dataset.notes.append("no \(name).item.json: items have no text fields")
        }

        if let mapPath = firstExisting([base + ".item2id"]) { try readItem2ID(mapPath, into: &dataset) }
        for indexPath in try indexFiles(directory: directory, name: name) {
            try readCodes(indexPath, name: name, into: &dataset)
            progress("read \(indexPath)")
        }
        return dataset
    }

    /// The single `<Name>.inter.json` in the directory, when `--name` is omitted.
    static func inferName(_ directory: String) throws -> String {
        let files = try listDirectory(directory)
        let names = files.filter { $0.hasSuffix(".inter.json") }.map { String($0.dropLast(".inter.json".count)) }
        guard names.count == 1 else {
            throw DatasetError.invalidOptions(
                names.isEmpty ? "no *.inter.json in \(directory)" : "several datasets in \(directory) (\(names.sorted().joined(separator: ", "))); pass --name")
        }
        return names[0]
    }

    /// `<Name>.item2id`: "ASIN<tab>index" lines; the ASIN becomes the `asin` attribute where the item file had none.
    private static func readItem2ID(_ path: String, into dataset: inout RawDataset) throws {
        try InputFile.forEachLine(path) { line, number in
            if DelimitedText.isBlank(line) { return }
            let fields = try DelimitedText.fields(line, delimiter: 0x09)
            guard fields.count == 2, Int(fields[1]) != nil else {
                throw DatasetError.malformed(file: path, location: Location.line(number), reason: "expected \"ASIN<tab>index\"")
            }
            if let id = dataset.existingItemID(fields[1]), dataset.items[Int(id)].attributes["asin"] == nil {
                dataset.items[Int(id)].attributes["asin"] = fields[0]
            }
        }
    }

    static func indexFiles(directory: String, name: String) throws -> [String] {
        try listDirectory(directory)
            .filter { $0.hasPrefix(name + ".index") && ($0.hasSuffix(".json") || $0.hasSuffix(".json.gz")) }
            .sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    /// `<Name>.index_lemb.json` → code set "lemb"; `<Name>.index.json` → "index".
    static func codeSetName(file: String, name: String) -> String {
        var stem = (file as NSString).lastPathComponent
        for suffix in [".gz", ".json"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        let rest = stem.dropFirst((name + ".index").count).drop { $0 == "_" || $0 == "-" || $0 == "." }
        return rest.isEmpty ? "index" : String(rest)
    }

    private static func readCodes(_ path: String, name: String, into dataset: inout RawDataset) throws {
        var levels: Int?
        var codes = [Int32](repeating: 0, count: 0)
        var present = [Bool](repeating: false, count: dataset.items.count)
        var seen = Set<String>()
        try withJSONFile(path) { cursor in
            try cursor.readObject { key, cursor in
                guard seen.insert(key).inserted else {
                    throw DatasetError.duplicateID(file: path, location: Location.key(key), id: key)
                }
                var row: [Int32] = []
                try cursor.readArray { cursor in
                    let token = try cursor.parseString()
                    guard let code = parseCodeToken(token) else {
                        throw DatasetError.invalidField(
                            file: path, location: Location.key(key), field: token, reason: "expected a code like \"<a_12>\"")
                    }
                    row.append(code)
                }
                if levels == nil {
                    // Rows are allocated for every item, so the level count is bounded first (as codes files are).
                    guard row.count <= 64 else {
                        throw DatasetError.invalidField(file: path, location: Location.key(key), field: key,
                                                        reason: "\(row.count) codes; at most 64 levels are supported")
                    }
                    levels = row.count
                    codes = [Int32](repeating: 0, count: dataset.items.count * row.count)
                }
                guard row.count == levels, row.count > 0 else {
                    throw DatasetError.invalidField(
                        file: path, location: Location.key(key), field: key,
                        reason: "\(row.count) codes where earlier items have \(levels ?? 0)")
                }
                guard let id = dataset.existingItemID(key) else { return }
                codes.replaceSubrange(Int(id) * row.count..<(Int(id) + 1) * row.count, with: row)
                present[Int(id)] = true
            }
        }
        guard let levels else { return }
        dataset.precomputedCodes.append(
            PrecomputedCodeSet(name: codeSetName(file: path, name: name), file: path, levels: levels, codes: codes, present: present))
    }

    /// "<a_170>" → 170 (the letter names the level, which the position already gives).
    static func parseCodeToken(_ token: String) -> Int32? {
        guard token.hasPrefix("<"), token.hasSuffix(">"), let underscore = token.lastIndex(of: "_") else { return nil }
        return Int32(token[token.index(after: underscore)..<token.index(before: token.endIndex)]).flatMap { $0 >= 0 ? $0 : nil }
    }
}

func listDirectory(_ directory: String) throws -> [String] {
    do {
        return try FileManager.default.contentsOfDirectory(atPath: directory)
    } catch {
        throw DatasetError.unreadable(file: directory, reason: "not a readable directory")
    }
}

func firstExisting(_ paths: [String]) -> String? {
    paths.first { FileManager.default.fileExists(atPath: $0) }
}

func existing(_ paths: [String], what: String) throws -> String {
    guard let path = firstExisting(paths) else { throw DatasetError.unreadable(file: paths[0], reason: "no such file (looked for \(what))") }
    return path
}

/// Absolute, normalised form of a path (relative image roots would break once the catalog moves into a bundle).
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path.isEmpty ? "." : path).standardizedFileURL.path
}
