import Catalog
import Foundation

/// The catalog as the server reads it on every request: external id ↔ item index, titles, and every modality's
/// codes. Held in memory (read once at load), so a request never touches SQLite.
public struct ItemDirectory: Sendable {
    public let externalIDs: [String]
    public let titles: [String]
    public let modalities: [(name: String, codes: ModalityCodes)]
    private let indexByID: [String: Int32]

    init(catalog: ItemCatalog, modalities: [(String, ModalityCodes)]) throws {
        var ids: [String] = [], titles: [String] = []
        let count = try catalog.itemCount
        ids.reserveCapacity(count)
        titles.reserveCapacity(count)
        try catalog.forEachItem { item in
            ids.append(item.externalID)
            titles.append(item.title)
        }
        var index: [String: Int32] = [:]
        index.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() where index[id] == nil { index[id] = Int32(i) }
        externalIDs = ids; self.titles = titles; indexByID = index
        self.modalities = modalities.map { (name: $0.0, codes: $0.1) }
    }

    public var count: Int { externalIDs.count }

    public func index(of externalID: String) -> Int32? { indexByID[externalID] }

    /// `modality → codes` of one item, for the modalities it has.
    public func codes(of item: Int32) -> [(modality: String, codes: [Int32])] {
        modalities.compactMap { m in m.codes.codes(ofItem: Int(item)).map { (m.name, Array($0)) } }
    }
}
