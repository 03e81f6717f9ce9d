import Foundation

/// Plain `user,item,timestamp` CSV or TSV. A header is recognised by a user column name (user, user_id, userId,
/// reviewerID); without one the first three columns are user, item and (optionally) timestamp. Without a
/// timestamp column the file order is the time order.
enum CSVReader {
    static let userNames: Set = ["user", "user_id", "userid", "reviewerid", "uid"]
    static let itemNames: Set = ["item", "item_id", "itemid", "asin", "parent_asin", "movie_id", "movieid", "iid", "product_id"]
    static let timeNames: Set = ["timestamp", "time", "ts", "unix_time", "unixreviewtime", "datetime"]

    static func read(path: String, name: String?, delimiter: UInt8?, itemsFile: String?, progress: (String) -> Void) throws -> RawDataset {
        let name = name ?? defaultName(path)
        let delimiter = try delimiter ?? (path.lowercased().contains(".tsv") ? 0x09 : sniffDelimiter(path))
        var dataset = RawDataset(name: name, sourceFormat: "csv", hasTimestamps: false)
        var layout: (user: Int, item: Int, time: Int?)?
        try InputFile.forEachLine(path) { line, number in
            if DelimitedText.isBlank(line) { return }
            let fields: [String]
            do { fields = try DelimitedText.fields(line, delimiter: delimiter) } catch {
                throw DatasetError.malformed(file: path, location: Location.line(number), reason: "unterminated quoted field")
            }
            if layout == nil {
                let lowered = fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                if let user = lowered.firstIndex(where: userNames.contains) {
                    guard let item = lowered.firstIndex(where: itemNames.contains) else {
                        throw DatasetError.missingField(file: path, location: Location.line(number), field: "item (header column)")
                    }
                    layout = (user, item, lowered.firstIndex(where: timeNames.contains))
                    dataset.hasTimestamps = layout?.time != nil
                    return
                }
                guard fields.count >= 2 else {
                    throw DatasetError.malformed(file: path, location: Location.line(number), reason: "expected user,item[,timestamp]")
                }
                layout = (0, 1, fields.count >= 3 ? 2 : nil)
                dataset.hasTimestamps = fields.count >= 3
            }
            guard let layout else { return }
            let needed = max(layout.user, layout.item, layout.time ?? 0)
            guard fields.count > needed else {
                throw DatasetError.malformed(file: path, location: Location.line(number), reason: "\(fields.count) columns, need \(needed + 1)")
            }
            let user = fields[layout.user].trimmingCharacters(in: .whitespaces)
            let item = fields[layout.item].trimmingCharacters(in: .whitespaces)
            guard !user.isEmpty else { throw DatasetError.invalidField(file: path, location: Location.line(number), field: "user", reason: "empty") }
            guard !item.isEmpty else { throw DatasetError.invalidField(file: path, location: Location.line(number), field: "item", reason: "empty") }
            var time = Double(dataset.interactionCount)
            if let column = layout.time {
                let text = fields[column].trimmingCharacters(in: .whitespaces)
                guard let parsed = Double(text) else {
                    throw DatasetError.invalidField(file: path, location: Location.line(number), field: "timestamp", reason: "not a number: \"\(text)\"")
                }
                time = parsed
            }
            dataset.addInteraction(user: dataset.userID(user), item: dataset.itemID(item), time: time)
        }
        progress("read \(path): \(dataset.userKeys.count) users, \(dataset.items.count) items, \(dataset.interactionCount) interactions")
        if let itemsFile {
            try readItemMetadataObject(itemsFile, into: &dataset)
            dataset.imageRoot = absolutePath((itemsFile as NSString).deletingLastPathComponent)
        }
        return dataset
    }

    static func defaultName(_ path: String) -> String {
        var stem = (path as NSString).lastPathComponent
        for suffix in [".gz", ".csv", ".tsv", ".txt"] where stem.lowercased().hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return stem.isEmpty ? "dataset" : stem
    }

    /// Tab when the first line has a tab and no comma, else comma.
    private static func sniffDelimiter(_ path: String) throws -> UInt8 {
        var delimiter: UInt8 = UInt8(ascii: ",")
        struct Stop: Error {}
        do {
            try InputFile.forEachLine(path) { line, _ in
                if DelimitedText.isBlank(line) { return }
                if line.contains(0x09) && !line.contains(UInt8(ascii: ",")) { delimiter = 0x09 }
                throw Stop()
            }
        } catch is Stop {}
        return delimiter
    }
}
