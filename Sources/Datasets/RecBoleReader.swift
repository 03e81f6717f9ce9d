import Foundation
import JSONText

/// RecBole atomic files: `<Name>.inter` (tab-separated, typed header such as
/// `user_id:token item_id:token rating:float timestamp:float`) and item metadata from `<Name>.item.json`
/// (an object keyed by item id, as in ml100k-posters), `--items FILE`, or the atomic `<Name>.item`.
enum RecBoleReader {
    static func read(directory: String, name: String?, itemsFile: String?, progress: (String) -> Void) throws -> RawDataset {
        let name = try name ?? inferName(directory)
        let base = (directory as NSString).appendingPathComponent(name)
        let interPath = try existing([base + ".inter", base + ".inter.gz"], what: "\(name).inter in \(directory)")
        var dataset = try readInteractions(interPath, name: name)
        progress("read \(interPath): \(dataset.userKeys.count) users, \(dataset.items.count) items, \(dataset.interactionCount) interactions")
        dataset.imageRoot = absolutePath(directory)

        if let itemsFile {
            try readItemMetadataObject(itemsFile, into: &dataset)
            dataset.imageRoot = absolutePath((itemsFile as NSString).deletingLastPathComponent)
        } else if let jsonPath = firstExisting([base + ".item.json", base + ".item.json.gz"]) {
            try readItemMetadataObject(jsonPath, into: &dataset)
            progress("read \(jsonPath)")
        } else if let atomicPath = firstExisting([base + ".item", base + ".item.gz"]) {
            try readAtomicItems(atomicPath, into: &dataset)
            progress("read \(atomicPath)")
        } else {
            dataset.notes.append("no item file: items have no text fields")
        }
        let withoutMeta = dataset.items.lazy.filter { !$0.hasMetadata }.count
        if withoutMeta > 0 { dataset.notes.append("\(withoutMeta) items have no metadata record") }
        return dataset
    }

    static func inferName(_ directory: String) throws -> String {
        let names = try listDirectory(directory).filter { $0.hasSuffix(".inter") }.map { String($0.dropLast(".inter".count)) }
        guard names.count == 1 else {
            throw DatasetError.invalidOptions(
                names.isEmpty ? "no *.inter in \(directory)" : "several datasets in \(directory) (\(names.sorted().joined(separator: ", "))); pass --name")
        }
        return names[0]
    }

    /// Column names without their `:type` suffix.
    static func headerNames(_ fields: [String]) -> [String] {
        fields.map { String($0.split(separator: ":", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces) }
    }

    private static func readInteractions(_ path: String, name: String) throws -> RawDataset {
        var columns: (user: Int, item: Int, time: Int?, count: Int)?
        var dataset = RawDataset(name: name, sourceFormat: "recbole", hasTimestamps: false)
        try InputFile.forEachLine(path) { line, number in
            if DelimitedText.isBlank(line) { return }
            let fields = try DelimitedText.fields(line, delimiter: 0x09)
            guard let layout = columns else {
                let names = headerNames(fields)
                guard let user = names.firstIndex(of: "user_id") else {
                    throw DatasetError.missingField(file: path, location: Location.line(number), field: "user_id (header column)")
                }
                guard let item = names.firstIndex(of: "item_id") else {
                    throw DatasetError.missingField(file: path, location: Location.line(number), field: "item_id (header column)")
                }
                columns = (user, item, names.firstIndex(of: "timestamp"), fields.count)
                dataset.hasTimestamps = columns?.time != nil
                return
            }
            guard fields.count == layout.count else {
                throw DatasetError.malformed(
                    file: path, location: Location.line(number), reason: "\(fields.count) columns, header has \(layout.count)")
            }
            var time = Double(dataset.interactionCount)
            if let column = layout.time {
                guard let parsed = Double(fields[column]) else {
                    throw DatasetError.invalidField(
                        file: path, location: Location.line(number), field: "timestamp", reason: "not a number: \"\(fields[column])\"")
                }
                time = parsed
            }
            for (column, field) in [(layout.user, "user_id"), (layout.item, "item_id")] where fields[column].isEmpty {
                throw DatasetError.invalidField(file: path, location: Location.line(number), field: field, reason: "empty")
            }
            dataset.addInteraction(user: dataset.userID(fields[layout.user]), item: dataset.itemID(fields[layout.item]), time: time)
        }
        guard columns != nil else { throw DatasetError.malformed(file: path, location: Location.line(1), reason: "empty file (no header)") }
        return dataset
    }

    /// Atomic `.item`: `item_id:token` plus any of title/movie_title, genre/class/categories, brand, description.
    private static func readAtomicItems(_ path: String, into dataset: inout RawDataset) throws {
        var names: [String]?
        var itemColumn = 0
        var seen = Set<String>()
        try InputFile.forEachLine(path) { line, number in
            if DelimitedText.isBlank(line) { return }
            let fields = try DelimitedText.fields(line, delimiter: 0x09)
            guard let header = names else {
                let parsed = headerNames(fields)
                guard let column = parsed.firstIndex(of: "item_id") else {
                    throw DatasetError.missingField(file: path, location: Location.line(number), field: "item_id (header column)")
                }
                itemColumn = column
                names = parsed
                return
            }
            guard fields.count == header.count else {
                throw DatasetError.malformed(file: path, location: Location.line(number), reason: "\(fields.count) columns, header has \(header.count)")
            }
            let key = fields[itemColumn]
            guard seen.insert(key).inserted else { throw DatasetError.duplicateID(file: path, location: Location.line(number), id: key) }
            guard let id = dataset.existingItemID(key) else { return }
            let object = JSONValue.object(zip(header, fields).filter { $0.0 != "item_id" }.map { (key: $0.0, value: .string($0.1)) })
            ItemFields.apply(object, to: &dataset.items[Int(id)])
        }
    }
}
