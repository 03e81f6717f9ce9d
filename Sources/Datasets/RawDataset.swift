/// Item metadata as read from a source, before filtering and re-indexing.
public struct ItemRecord: Sendable, Equatable {
    /// The dataset's own item key: LC-Rec item-file key, Amazon 2023 `parent_asin`, RecBole/CSV item id column.
    public var externalID: String
    public var title = ""
    public var description = ""
    public var brand = ""
    public var categories = ""
    /// URL or path (relative to the dataset's image root); nil when the source names none.
    public var image: String?
    public var attributes: [String: String] = [:]
    /// Whether any metadata record named this item (items known only from interactions have none).
    public var hasMetadata = false

    public init(externalID: String) { self.externalID = externalID }
}

/// Codes that came with the data (LC-Rec `<Name>.index*.json`), indexed by raw item id.
struct PrecomputedCodeSet {
    var name: String
    var file: String
    var levels: Int
    var codes: [Int32]
    var present: [Bool]
}

/// What every reader produces: the interaction log in source order with users and items interned to dense raw ids,
/// plus item metadata. Filtering and re-indexing happen afterwards, identically for every format.
public struct RawDataset {
    public var name: String
    public var sourceFormat: String
    public internal(set) var userKeys: [String] = []
    public internal(set) var items: [ItemRecord] = []
    private var userIDs: [String: Int32] = [:]
    private var itemIDs: [String: Int32] = [:]
    var interactionUser: [Int32] = []
    var interactionItem: [Int32] = []
    /// Source timestamps, or for order-only sources (LC-Rec) the position in the user's list.
    var interactionTime: [Double] = []
    var hasTimestamps: Bool
    var precomputedCodes: [PrecomputedCodeSet] = []
    /// Directory that relative image paths are resolved against.
    var imageRoot: String?
    /// Observations worth telling the user (items without metadata, ignored records, ...).
    var notes: [String] = []

    init(name: String, sourceFormat: String, hasTimestamps: Bool) {
        self.name = name
        self.sourceFormat = sourceFormat
        self.hasTimestamps = hasTimestamps
    }

    public var interactionCount: Int { interactionUser.count }

    mutating func userID(_ key: String) -> Int32 {
        if let id = userIDs[key] { return id }
        let id = Int32(userKeys.count)
        userIDs[key] = id
        userKeys.append(key)
        return id
    }

    /// True when the user key was seen before (LC-Rec files must not repeat a user).
    func hasUser(_ key: String) -> Bool { userIDs[key] != nil }

    mutating func itemID(_ key: String) -> Int32 {
        if let id = itemIDs[key] { return id }
        let id = Int32(items.count)
        itemIDs[key] = id
        items.append(ItemRecord(externalID: key))
        return id
    }

    func existingItemID(_ key: String) -> Int32? { itemIDs[key] }

    mutating func addInteraction(user: Int32, item: Int32, time: Double) {
        interactionUser.append(user)
        interactionItem.append(item)
        interactionTime.append(time)
    }

    mutating func reserve(interactions: Int) {
        interactionUser.reserveCapacity(interactions)
        interactionItem.reserveCapacity(interactions)
        interactionTime.reserveCapacity(interactions)
    }
}

/// Deterministic order for dense re-indexing: numeric when every key is an integer (so LC-Rec indices and
/// MovieLens ids keep their order and Beauty's internal index equals its file key), else bytewise lexicographic.
func canonicalOrder(of keys: [String]) -> [Int] {
    let numbers = keys.map { Int($0) }
    if numbers.allSatisfy({ $0 != nil }) {
        return keys.indices.sorted { a, b in
            numbers[a]! != numbers[b]! ? numbers[a]! < numbers[b]! : keys[a].utf8.lexicographicallyPrecedes(keys[b].utf8)
        }
    }
    return keys.indices.sorted { keys[$0].utf8.lexicographicallyPrecedes(keys[$1].utf8) }
}
