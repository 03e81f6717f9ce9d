import Foundation

/// One catalog item. `index` is the dense internal index 0..<count used by every model; models that need a padding
/// id use `index + 1` and keep 0 for padding. `externalID` is the dataset's own item key, the only name the server's
/// API uses.
public struct CatalogItem: Sendable, Equatable {
    public var index: Int
    public var externalID: String
    public var title: String
    public var description: String
    public var brand: String
    /// Category path, comma-separated as in the source (e.g. "Beauty,Makeup,Eyes").
    public var categories: String
    /// Image URL, or a path relative to the catalog's `image_root` meta value; nil when the item has none.
    public var image: String?
    /// Remaining source fields worth keeping (e.g. `asin` for LC-Rec data), stored as a JSON object.
    public var attributes: [String: String]

    public init(
        index: Int, externalID: String, title: String = "", description: String = "", brand: String = "",
        categories: String = "", image: String? = nil, attributes: [String: String] = [:]
    ) {
        self.index = index
        self.externalID = externalID
        self.title = title
        self.description = description
        self.brand = brand
        self.categories = categories
        self.image = image
        self.attributes = attributes
    }
}

/// One modality's discrete codes for every item (paper 3.1: L levels per modality, the last one the collision level).
public struct ModalityCodes: Sendable, Equatable {
    /// "text", "image", "collaborative", or the name of a precomputed code set.
    public var modality: String
    public var levels: Int
    /// Entries per level; codes at level l lie in 0..<codebookSizes[l].
    public var codebookSizes: [Int]
    /// Where the codes came from (a quantizer run, a precomputed file), for provenance.
    public var source: String
    /// Row-major `itemCount × levels`; rows of absent items are zero and ignored.
    public var codes: [Int32]
    /// Per item: false where the item lacks this modality (e.g. no image), which the model masks.
    public var present: [Bool]

    public init(modality: String, levels: Int, codebookSizes: [Int], source: String, codes: [Int32], present: [Bool]) {
        self.modality = modality
        self.levels = levels
        self.codebookSizes = codebookSizes
        self.source = source
        self.codes = codes
        self.present = present
    }

    public var itemCount: Int { present.count }

    /// The codes of item `index`, or nil when the item lacks this modality.
    public func codes(ofItem index: Int) -> ArraySlice<Int32>? {
        present[index] ? codes[index * levels..<(index + 1) * levels] : nil
    }
}

/// What the catalog knows about one modality's code set without loading the codes.
public struct ModalityInfo: Sendable, Equatable {
    public var modality: String
    public var levels: Int
    public var codebookSizes: [Int]
    public var source: String
    public var itemsWithCodes: Int

    public init(modality: String, levels: Int, codebookSizes: [Int], source: String, itemsWithCodes: Int) {
        self.modality = modality
        self.levels = levels
        self.codebookSizes = codebookSizes
        self.source = source
        self.itemsWithCodes = itemsWithCodes
    }
}

public enum CatalogError: Error, CustomStringConvertible, Equatable {
    case notACatalog(path: String)
    case unsupportedSchema(path: String, found: Int, supported: Int)
    case alreadyExists(path: String)
    case readOnly(path: String)
    case nonDenseIndex(expected: Int, found: Int)
    case duplicateExternalID(String)
    case invalidCodes(modality: String, reason: String)

    public var description: String {
        switch self {
        case .notACatalog(let path): return "\(path) is not an item catalog (no meta table or schema_version)"
        case .unsupportedSchema(let path, let found, let supported):
            return "\(path) has catalog schema version \(found); this build reads up to \(supported)"
        case .alreadyExists(let path): return "refusing to overwrite existing catalog \(path)"
        case .readOnly(let path): return "catalog \(path) is open read-only"
        case .nonDenseIndex(let expected, let found):
            return "catalog items must be appended with dense indices: expected \(expected), got \(found)"
        case .duplicateExternalID(let id): return "duplicate external item id \"\(id)\""
        case .invalidCodes(let modality, let reason): return "invalid codes for modality \"\(modality)\": \(reason)"
        }
    }
}
