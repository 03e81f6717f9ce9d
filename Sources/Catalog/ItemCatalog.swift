import CSQLite
import Foundation
import JSONText

/// The SQLite item catalog shared by the trainer (writes items at `prepare`, codes after quantization) and the server
/// (opens it read-only and resolves items by external id). One connection, serialised by a lock, so one instance may
/// be shared across threads.
///
/// Schema (version 1):
/// - `meta(key, value)`: `schema_version`, `dataset`, `source_format`, `image_root`, ...
/// - `items(idx INTEGER PRIMARY KEY, external_id UNIQUE, title, description, brand, categories, image, attributes)`
/// - `modalities(name PRIMARY KEY, levels, codebook_sizes JSON, source)`
/// - `codes(modality, item, codes BLOB)`, primary key (modality, item); the blob is `levels` little-endian Int32s.
public final class ItemCatalog: @unchecked Sendable {
    public static let schemaVersion = 1
    /// The catalog's file name inside a prepared work directory or bundle.
    public static let fileName = "catalog.sqlite"

    private let lock = NSLock()
    private let db: SQLiteConnection
    private var statements: [String: SQLiteStatement] = [:]
    public let path: String
    public let isReadOnly: Bool

    private init(db: SQLiteConnection, readOnly: Bool) {
        self.db = db
        self.path = db.path
        self.isReadOnly = readOnly
    }

    /// Creates a new catalog file (it must not exist). Journaling and fsync are off while building, which is safe
    /// because builders write to a temporary path and rename the finished file into place.
    public static func create(at url: URL, meta: [String: String] = [:]) throws -> ItemCatalog {
        if FileManager.default.fileExists(atPath: url.path) { throw CatalogError.alreadyExists(path: url.path) }
        let db = try SQLiteConnection(path: url.path, mode: .create)
        try db.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        try db.transaction {
            try db.execute(
                """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE items(
                    idx INTEGER PRIMARY KEY,
                    external_id TEXT NOT NULL,
                    title TEXT NOT NULL DEFAULT '',
                    description TEXT NOT NULL DEFAULT '',
                    brand TEXT NOT NULL DEFAULT '',
                    categories TEXT NOT NULL DEFAULT '',
                    image TEXT,
                    attributes TEXT);
                CREATE UNIQUE INDEX items_external_id ON items(external_id);
                CREATE TABLE modalities(
                    name TEXT PRIMARY KEY, levels INTEGER NOT NULL, codebook_sizes TEXT NOT NULL, source TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE codes(
                    modality TEXT NOT NULL REFERENCES modalities(name),
                    item INTEGER NOT NULL REFERENCES items(idx),
                    codes BLOB NOT NULL,
                    PRIMARY KEY(modality, item)) WITHOUT ROWID;
                """)
            let insert = try db.prepare("INSERT INTO meta(key, value) VALUES(?, ?)")
            var all = meta
            all["schema_version"] = String(schemaVersion)
            for (key, value) in all.sorted(by: { $0.key < $1.key }) { try insert.run([.text(key), .text(value)]) }
        }
        return ItemCatalog(db: db, readOnly: false)
    }

    /// Opens an existing catalog; read-only by default (the server), read-write for stages that add codes.
    public static func open(at url: URL, readOnly: Bool = true) throws -> ItemCatalog {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "no such file: \(url.path)", sql: nil)
        }
        let db = try SQLiteConnection(path: url.path, mode: readOnly ? .readOnly : .readWrite)
        let version: Int
        do {
            let query = try db.prepare("SELECT value FROM meta WHERE key = 'schema_version'")
            guard try query.step(), let text = query.text(0), let parsed = Int(text) else {
                throw CatalogError.notACatalog(path: url.path)
            }
            version = parsed
        } catch let error as SQLiteError where error.code & 0xFF == SQLITE_ERROR || error.code & 0xFF == SQLITE_NOTADB {
            throw CatalogError.notACatalog(path: url.path)
        }
        guard version <= schemaVersion else {
            throw CatalogError.unsupportedSchema(path: url.path, found: version, supported: schemaVersion)
        }
        return ItemCatalog(db: db, readOnly: readOnly)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Prepared statements are cached per SQL text; call only while holding the lock.
    private func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try db.prepare(sql)
        statements[sql] = prepared
        return prepared
    }

    private func requireWritable() throws {
        if isReadOnly { throw CatalogError.readOnly(path: path) }
    }

    // MARK: meta

    public func meta(_ key: String) throws -> String? {
        try locked {
            let query = try statement("SELECT value FROM meta WHERE key = ?")
            defer { query.reset() }
            try query.bind(.text(key), at: 1)
            return try query.step() ? query.text(0) : nil
        }
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try requireWritable()
        try locked {
            try statement("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").run([.text(key), .text(value)])
        }
    }

    public func allMeta() throws -> [String: String] {
        try locked {
            let query = try statement("SELECT key, value FROM meta")
            defer { query.reset() }
            var result: [String: String] = [:]
            while try query.step() { result[query.text(0) ?? ""] = query.text(1) ?? "" }
            return result
        }
    }

    // MARK: items

    public var itemCount: Int {
        get throws {
            try locked {
                let query = try statement("SELECT COUNT(*) FROM items")
                defer { query.reset() }
                try query.step()
                return query.int(0)
            }
        }
    }

    /// Appends items in one transaction; indices must continue densely from the current count.
    public func appendItems<Items: Sequence<CatalogItem>>(_ items: Items) throws {
        try requireWritable()
        let start = try itemCount
        try locked {
            try db.transaction {
                let insert = try statement(
                    """
                    INSERT INTO items(idx, external_id, title, description, brand, categories, image, attributes)
                    VALUES(?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                var expected = start
                for item in items {
                    guard item.index == expected else {
                        throw CatalogError.nonDenseIndex(expected: expected, found: item.index)
                    }
                    do {
                        try insert.run([
                            .integer(Int64(item.index)), .text(item.externalID), .text(item.title),
                            .text(item.description), .text(item.brand), .text(item.categories),
                            item.image.map { .text($0) } ?? .null,
                            item.attributes.isEmpty ? .null : .text(Self.encodeAttributes(item.attributes)),
                        ])
                    } catch let error as SQLiteError where error.code == SQLITE_CONSTRAINT | (8 << 8) {  // SQLITE_CONSTRAINT_UNIQUE (a macro Swift cannot import)
                        throw CatalogError.duplicateExternalID(item.externalID)
                    }
                    expected += 1
                }
            }
        }
    }

    private static let itemColumns = "idx, external_id, title, description, brand, categories, image, attributes"

    public func item(index: Int) throws -> CatalogItem? {
        try locked {
            let query = try statement("SELECT \(Self.itemColumns) FROM items WHERE idx = ?")
            defer { query.reset() }
            try query.bind(.integer(Int64(index)), at: 1)
            return try query.step() ? Self.decodeItem(query) : nil
        }
    }

    public func item(externalID: String) throws -> CatalogItem? {
        try locked {
            let query = try statement("SELECT \(Self.itemColumns) FROM items WHERE external_id = ?")
            defer { query.reset() }
            try query.bind(.text(externalID), at: 1)
            return try query.step() ? Self.decodeItem(query) : nil
        }
    }

    /// Internal indices of the given external ids, nil for unknown ones (one statement, reused).
    public func indices(ofExternalIDs ids: [String]) throws -> [Int?] {
        try locked {
            let query = try statement("SELECT idx FROM items WHERE external_id = ?")
            return try ids.map { id in
                defer { query.reset() }
                try query.bind(.text(id), at: 1)
                return try query.step() ? query.int(0) : nil
            }
        }
    }

    /// Every external id in index order (the server keeps these in memory for answering with ids).
    public func externalIDs() throws -> [String] {
        try locked {
            let query = try statement("SELECT external_id FROM items ORDER BY idx")
            defer { query.reset() }
            var ids: [String] = []
            while try query.step() { ids.append(query.text(0) ?? "") }
            return ids
        }
    }

    /// Calls `body` for every item in index order.
    public func forEachItem(_ body: (CatalogItem) throws -> Void) throws {
        try locked {
            let query = try statement("SELECT \(Self.itemColumns) FROM items ORDER BY idx")
            defer { query.reset() }
            while try query.step() { try body(Self.decodeItem(query)) }
        }
    }

    private static func decodeItem(_ row: SQLiteStatement) -> CatalogItem {
        CatalogItem(
            index: row.int(0), externalID: row.text(1) ?? "", title: row.text(2) ?? "", description: row.text(3) ?? "",
            brand: row.text(4) ?? "", categories: row.text(5) ?? "", image: row.isNull(6) ? nil : row.text(6),
            attributes: row.isNull(7) ? [:] : decodeAttributes(row.text(7) ?? ""))
    }

    /// Sorted keys, so identical attributes give identical bytes. Hand-written: JSONSerialization is the bottleneck
    /// when a million items are inserted.
    static func encodeAttributes(_ attributes: [String: String]) -> String {
        "{" + attributes.sorted { $0.key < $1.key }.map { jsonQuoted($0.key) + ":" + jsonQuoted($0.value) }.joined(separator: ",") + "}"
    }


    static func decodeAttributes(_ text: String) -> [String: String] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] ?? [:]
    }

    // MARK: codes (written by quantization, read by training and the server)

    public func write(codes: ModalityCodes) throws {
        try requireWritable()
        let count = try itemCount
        try Self.validate(codes, itemCount: count)
        try locked {
            try db.transaction {
                try statement("DELETE FROM codes WHERE modality = ?").run([.text(codes.modality)])
                let sizes = "[" + codes.codebookSizes.map(String.init).joined(separator: ",") + "]"
                try statement("INSERT OR REPLACE INTO modalities(name, levels, codebook_sizes, source) VALUES(?, ?, ?, ?)")
                    .run([.text(codes.modality), .integer(Int64(codes.levels)), .text(sizes), .text(codes.source)])
                let insert = try statement("INSERT INTO codes(modality, item, codes) VALUES(?, ?, ?)")
                for item in 0..<count where codes.present[item] {
                    let row = codes.codes[item * codes.levels..<(item + 1) * codes.levels]
                    try insert.run([.text(codes.modality), .integer(Int64(item)), .blob(Self.encodeRow(row))])
                }
            }
        }
    }

    private static func validate(_ codes: ModalityCodes, itemCount: Int) throws {
        func fail(_ reason: String) -> CatalogError { .invalidCodes(modality: codes.modality, reason: reason) }
        guard codes.levels > 0, codes.codebookSizes.count == codes.levels else {
            throw fail("levels \(codes.levels) with \(codes.codebookSizes.count) codebook sizes")
        }
        guard codes.present.count == itemCount else {
            throw fail("presence for \(codes.present.count) items, catalog has \(itemCount)")
        }
        guard codes.codes.count == itemCount * codes.levels else {
            throw fail("\(codes.codes.count) codes, expected \(itemCount) items × \(codes.levels) levels")
        }
        for item in 0..<itemCount where codes.present[item] {
            for level in 0..<codes.levels {
                let code = codes.codes[item * codes.levels + level]
                guard code >= 0, Int(code) < codes.codebookSizes[level] else {
                    throw fail("item \(item) level \(level) code \(code) outside 0..<\(codes.codebookSizes[level])")
                }
            }
        }
    }

    public func modalities() throws -> [ModalityInfo] {
        try locked {
            let query = try statement(
                """
                SELECT m.name, m.levels, m.codebook_sizes, m.source,
                       (SELECT COUNT(*) FROM codes c WHERE c.modality = m.name)
                FROM modalities m ORDER BY m.name
                """)
            defer { query.reset() }
            var result: [ModalityInfo] = []
            while try query.step() {
                result.append(
                    ModalityInfo(
                        modality: query.text(0) ?? "", levels: query.int(1),
                        codebookSizes: Self.decodeSizes(query.text(2) ?? ""), source: query.text(3) ?? "",
                        itemsWithCodes: query.int(4)))
            }
            return result
        }
    }

    /// All codes of one modality, or nil when the catalog has none for it.
    public func codes(modality: String) throws -> ModalityCodes? {
        guard let info = try modalities().first(where: { $0.modality == modality }) else { return nil }
        // The file may have been edited or damaged: the level count sizes the allocation below, so it is checked first.
        guard (1...Self.maxLevels).contains(info.levels), info.codebookSizes.count == info.levels else {
            throw CatalogError.invalidCodes(modality: modality, reason: "\(info.levels) levels with \(info.codebookSizes.count) codebook sizes")
        }
        let count = try itemCount
        return try locked {
            var flat = [Int32](repeating: 0, count: count * info.levels)
            var present = [Bool](repeating: false, count: count)
            let query = try statement("SELECT item, codes FROM codes WHERE modality = ? ORDER BY item")
            defer { query.reset() }
            try query.bind(.text(modality), at: 1)
            while try query.step() {
                let item = query.int(0)
                guard item >= 0, item < count else {
                    throw CatalogError.invalidCodes(modality: modality, reason: "codes for unknown item \(item)")
                }
                let row = try query.withBlob(1) { try Self.decodeRow($0, levels: info.levels, modality: modality) }
                flat.replaceSubrange(item * info.levels..<(item + 1) * info.levels, with: row)
                present[item] = true
            }
            return ModalityCodes(
                modality: modality, levels: info.levels, codebookSizes: info.codebookSizes, source: info.source,
                codes: flat, present: present)
        }
    }

    /// One item's codes for one modality, or nil when absent.
    public func codes(modality: String, item: Int) throws -> [Int32]? {
        try locked {
            let query = try statement(
                "SELECT c.codes, m.levels FROM codes c JOIN modalities m ON m.name = c.modality WHERE c.modality = ? AND c.item = ?")
            defer { query.reset() }
            try query.bind(.text(modality), at: 1)
            try query.bind(.integer(Int64(item)), at: 2)
            guard try query.step() else { return nil }
            let levels = query.int(1)
            return try query.withBlob(0) { try Self.decodeRow($0, levels: levels, modality: modality) }
        }
    }

    static func encodeRow(_ row: ArraySlice<Int32>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(row.count * 4)
        for code in row { withUnsafeBytes(of: code.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Code levels a catalog may declare (as in codes files).
    static let maxLevels = 64

    static func decodeRow(_ raw: UnsafeRawBufferPointer, levels: Int, modality: String) throws -> [Int32] {
        guard (0...maxLevels).contains(levels), raw.count == levels * 4 else {
            throw CatalogError.invalidCodes(modality: modality, reason: "blob of \(raw.count) bytes for \(levels) levels")
        }
        return (0..<levels).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
    }

    static func decodeSizes(_ text: String) -> [Int] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
    }
}
