import Foundation
import JSONText

/// Amazon Reviews 2023 (Hou et al., 2024) raw files, plain or gzip:
/// - reviews JSON Lines: `rating, title, text, images, asin, parent_asin, user_id, timestamp (ms),
///   helpful_vote, verified_purchase`; only `user_id`, `parent_asin` and `timestamp` are read.
/// - meta JSON Lines: `main_category, title, average_rating, rating_number, features[], description[], price,
///   images[{thumb, large, variant, hi_res}], videos[], store, categories[], details{}, parent_asin,
///   bought_together`. Items are named by `parent_asin`, as the benchmark's own splits do.
enum Amazon2023Reader {
    static func read(reviews: String, meta: String?, name: String, progress: (String) -> Void) throws -> RawDataset {
        var dataset = RawDataset(name: name, sourceFormat: "amazon2023", hasTimestamps: true)
        try forEachJSONLine(reviews) { cursor, line in
            var user: String?
            var item: String?
            var time: Double?
            try cursor.readObject { key, cursor in
                switch key {
                case "user_id": user = try stringField(&cursor, reviews, line, key)
                case "parent_asin": item = try stringField(&cursor, reviews, line, key)
                case "timestamp":
                    let value = try cursor.parseValue()
                    guard let number = value.double ?? value.string.flatMap(Double.init) else {
                        throw DatasetError.invalidField(file: reviews, location: Location.line(line), field: key, reason: "expected a number")
                    }
                    time = number
                default: try cursor.skipValue()
                }
            }
            guard let user else { throw DatasetError.missingField(file: reviews, location: Location.line(line), field: "user_id") }
            guard let item else { throw DatasetError.missingField(file: reviews, location: Location.line(line), field: "parent_asin") }
            guard let time else { throw DatasetError.missingField(file: reviews, location: Location.line(line), field: "timestamp") }
            dataset.addInteraction(user: dataset.userID(user), item: dataset.itemID(item), time: time)
            if line % 1_000_000 == 0 { progress("read \(line) review lines") }
        }
        progress("read \(reviews): \(dataset.userKeys.count) users, \(dataset.items.count) items, \(dataset.interactionCount) reviews")

        guard let meta else {
            dataset.notes.append("no meta file: items have no text or images")
            return dataset
        }
        var seen = Set<String>()
        var unreviewed = 0
        try forEachJSONLine(meta) { cursor, line in
            var record = ItemRecord(externalID: "")
            var parentASIN: String?
            var features: String?
            var details: [(key: String, value: JSONValue)] = []
            try cursor.readObject { key, cursor in
                switch key {
                case "parent_asin": parentASIN = try stringField(&cursor, meta, line, key)
                case "title": record.title = try cursor.parseValue().text(joiningWith: " ") ?? ""
                case "description": record.description = try cursor.parseValue().text(joiningWith: " ") ?? ""
                case "features": features = try cursor.parseValue().text(joiningWith: "; ")
                case "store": record.brand = try cursor.parseValue().string ?? ""
                case "categories": record.categories = try cursor.parseValue().text(joiningWith: ",") ?? ""
                case "images": record.image = ItemFields.mainImage(try cursor.parseValue())
                case "main_category":
                    if let value = try cursor.parseValue().string { record.attributes["main_category"] = value }
                case "details":
                    if case .object(let fields) = try cursor.parseValue() { details = fields }
                default: try cursor.skipValue()
                }
            }
            guard let parentASIN else { throw DatasetError.missingField(file: meta, location: Location.line(line), field: "parent_asin") }
            guard seen.insert(parentASIN).inserted else {
                throw DatasetError.duplicateID(file: meta, location: Location.line(line), id: parentASIN)
            }
            guard let id = dataset.existingItemID(parentASIN) else {
                unreviewed += 1
                return
            }
            if let features { record.attributes["features"] = features }
            if record.brand.isEmpty, let brand = details.first(where: { $0.key == "Brand" })?.value.string { record.brand = brand }
            record.externalID = parentASIN
            record.hasMetadata = true
            dataset.items[Int(id)] = record
        }
        let withoutMeta = dataset.items.lazy.filter { !$0.hasMetadata }.count
        if withoutMeta > 0 { dataset.notes.append("\(withoutMeta) reviewed items have no meta record") }
        if unreviewed > 0 { dataset.notes.append("\(unreviewed) meta records have no reviews") }
        progress("read \(meta): \(seen.count) records")
        return dataset
    }

    private static func stringField(_ cursor: inout JSONCursor, _ file: String, _ line: Int, _ key: String) throws -> String {
        guard let value = try cursor.parseValue().string, !value.isEmpty else {
            throw DatasetError.invalidField(file: file, location: Location.line(line), field: key, reason: "expected a non-empty string")
        }
        return value
    }
}
