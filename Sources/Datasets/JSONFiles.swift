import JSONText

/// Dataset text keeps a `\u` escape of half a surrogate pair (what a cut-off emoji leaves) as U+FFFD, as the
/// readers always have, rather than failing a whole dataset over one character.
private let datasetJSON = JSONCursor.Options(replacingLoneSurrogates: true)

/// Runs `body` over a whole JSON file (plain or gzip) and turns syntax errors into `file:line N` errors.
func withJSONFile<T>(_ path: String, _ body: (inout JSONCursor) throws -> T) throws -> T {
    let bytes = try InputFile.readAll(path)
    return try bytes.withUnsafeBufferPointer { buffer in
        var cursor = JSONCursor(buffer, options: datasetJSON)
        do {
            let result = try body(&cursor)
            try cursor.expectEnd()
            return result
        } catch let error as JSONSyntaxError {
            throw DatasetError.malformed(file: path, location: Location.line(error.line(in: buffer)), reason: error.reason)
        }
    }
}

/// Runs `body` over each non-blank line of a JSON Lines file, with syntax errors reported as `file:line N`.
func forEachJSONLine(_ path: String, _ body: (inout JSONCursor, Int) throws -> Void) throws {
    try InputFile.forEachLine(path) { line, number in
        if DelimitedText.isBlank(line) { return }
        var cursor = JSONCursor(line, options: datasetJSON)
        do {
            try body(&cursor, number)
            try cursor.expectEnd()
        } catch let error as JSONSyntaxError {
            throw DatasetError.malformed(
                file: path, location: Location.line(number), reason: "\(error.reason) (column \(error.offset + 1))")
        }
    }
}

/// Reads an item-metadata JSON object keyed by item id (LC-Rec `<Name>.item.json`, MovieLens item JSON, `--items`)
/// into the records of items the interactions mention; ids the interactions never mention are counted, not kept.
/// Returns how many keys were ignored.
@discardableResult
func readItemMetadataObject(_ path: String, into dataset: inout RawDataset) throws -> Int {
    var seen = Set<String>()
    var ignored = 0
    try withJSONFile(path) { cursor in
        try cursor.readObject { key, cursor in
            guard seen.insert(key).inserted else {
                throw DatasetError.duplicateID(file: path, location: Location.key(key), id: key)
            }
            let value = try cursor.parseValue()
            guard case .object = value else {
                throw DatasetError.invalidField(file: path, location: Location.key(key), field: key, reason: "expected an object of item fields")
            }
            guard let id = dataset.existingItemID(key) else {
                ignored += 1
                return
            }
            ItemFields.apply(value, to: &dataset.items[Int(id)])
        }
    }
    return ignored
}
