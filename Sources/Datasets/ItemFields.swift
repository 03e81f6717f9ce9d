import JSONText

/// Maps a JSON object describing one item (LC-Rec item file, MovieLens item JSON, `--items` files, Amazon 2018
/// metadata) onto catalog fields. Unrecognised scalar fields are kept as attributes (e.g. `asin`).
enum ItemFields {
    static let titleKeys: Set = ["title", "name", "item_name", "movie_title"]
    static let descriptionKeys: Set = ["description", "desc", "plot"]
    static let brandKeys: Set = ["brand", "store"]
    static let categoryKeys: Set = ["categories", "category", "genres", "genre", "class"]
    static let imageKeys = ["image", "imageURLHighRes", "imageURL", "imUrl", "images", "image_url", "poster"]

    static func apply(_ value: JSONValue, to record: inout ItemRecord) {
        guard case .object(let fields) = value else { return }
        record.hasMetadata = true
        for (key, field) in fields {
            if titleKeys.contains(key) {
                record.title = field.text(joiningWith: " ") ?? ""
            } else if descriptionKeys.contains(key) {
                record.description = field.text(joiningWith: " ") ?? ""
            } else if brandKeys.contains(key) {
                record.brand = field.text(joiningWith: " ") ?? ""
            } else if categoryKeys.contains(key) {
                record.categories = field.text(joiningWith: ",") ?? ""
            } else if imageKeys.contains(key) {
                if record.image == nil { record.image = mainImage(field) }
            } else if let text = field.text(joiningWith: "; "), !text.isEmpty {
                record.attributes[key] = text
            }
        }
    }

    /// The main image of a field that may be a URL, a list of URLs, or Amazon 2023's list of
    /// `{thumb, large, variant, hi_res}` objects (the `MAIN` variant wins, else the first; `large`, else `hi_res`).
    static func mainImage(_ field: JSONValue) -> String? {
        switch field {
        case .string(let url): return url.isEmpty ? nil : url
        case .array(let entries):
            let objects = entries.filter { if case .object = $0 { return true } else { return false } }
            if !objects.isEmpty {
                let main = objects.first { $0["variant"]?.string == "MAIN" } ?? objects[0]
                for key in ["large", "hi_res", "thumb"] {
                    if let url = main[key]?.string, !url.isEmpty { return url }
                }
                return nil
            }
            return entries.lazy.compactMap { $0.string }.first { !$0.isEmpty }
        default: return nil
        }
    }
}

extension JSONValue {
    /// Text for catalog fields: strings as-is, numbers as written, arrays of strings joined; nil for null/empty.
    func text(joiningWith separator: String) -> String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .array(let values):
            let parts = values.compactMap { $0.text(joiningWith: separator) }.filter { !$0.isEmpty }
            return parts.isEmpty ? nil : parts.joined(separator: separator)
        case .null, .object: return nil
        }
    }
}
