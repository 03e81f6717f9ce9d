import ItemCodes
import Foundation
import SafeTensors

/// One modality's embeddings lined up with the catalog: row r of `matrix` belongs to item `items[r]`
/// (ascending), and `present[i]` says whether item i has a row at all.
public struct AlignedEmbeddings {
    public var matrix: FloatMatrix
    public var items: [Int]
    public var present: [Bool]
    /// What the loader decided on the way (skipped ids, a padding row), for the progress log.
    public var notes: [String]
}

public enum EmbeddingInput {
    /// Loads `path` (`.npy` or `.safetensors`) for the catalog whose items have these external ids (index order).
    /// With `idsPath` (one external id per row) rows are matched by id and ids the catalog lacks are skipped;
    /// without it row i is item i. A file with exactly one row more than the catalog is taken to start with a
    /// padding row (the id-embedding layout that keeps 0 for padding), which is skipped and noted.
    public static func load(path: String, idsPath: String?, tensorName: String? = nil, catalogIDs: [String]) throws -> AlignedEmbeddings {
        let lower = path.lowercased()
        let source: MatrixSource
        if lower.hasSuffix(".npy") {
            source = .npy(try NpyFile.header(of: path))
        } else if lower.hasSuffix(".safetensors") {
            source = .safetensors(try safetensorsMatrix(path: path, tensorName: tensorName))
        } else {
            throw CodesError.invalidOption(name: "embeddings", reason: "\(path): expected a .npy or .safetensors file")
        }
        let (fileRows, columns) = source.shape
        var notes: [String] = []
        var itemOfRow = [Int?](repeating: nil, count: fileRows)
        if let idsPath {
            let ids = try readIDs(idsPath)
            guard ids.count == fileRows else {
                throw CodesError.mismatch("\(idsPath) lists \(ids.count) ids but \(path) has \(fileRows) rows")
            }
            var indexOf: [String: Int] = [:]
            indexOf.reserveCapacity(catalogIDs.count)
            for (index, id) in catalogIDs.enumerated() { indexOf[id] = index }
            var rowOfItem = [Int?](repeating: nil, count: catalogIDs.count)
            var unknown = 0
            for (row, id) in ids.enumerated() {
                guard let item = indexOf[id] else { unknown += 1; continue }
                if let earlier = rowOfItem[item] {
                    throw CodesError.malformed(path: idsPath, field: "line \(row + 1)", reason: "id \"\(id)\" repeats line \(earlier + 1)")
                }
                rowOfItem[item] = row
                itemOfRow[row] = item
            }
            if unknown > 0 { notes.append("\(unknown) of \(fileRows) rows have ids the catalog lacks (filtered items); skipped") }
        } else if fileRows == catalogIDs.count {
            for row in 0..<fileRows { itemOfRow[row] = row }
        } else if fileRows == catalogIDs.count + 1 {
            for row in 1..<fileRows { itemOfRow[row] = row - 1 }
            notes.append("\(path) has one row more than the catalog's \(catalogIDs.count) items: row 0 taken as padding, row i+1 as item i")
        } else {
            throw CodesError.mismatch(
                "\(path) has \(fileRows) rows but the catalog has \(catalogIDs.count) items; pass --ids with one external id per row")
        }
        var present = [Bool](repeating: false, count: catalogIDs.count)
        for case let item? in itemOfRow { present[item] = true }
        let items = present.indices.filter { present[$0] }
        var rank = [Int](repeating: -1, count: catalogIDs.count)
        for (r, item) in items.enumerated() { rank[item] = r }
        let missing = catalogIDs.count - items.count
        if missing > 0 { notes.append("\(missing) catalog items have no row: marked absent for this modality") }

        let matrix = FloatMatrix(rows: items.count, columns: columns)
        let target: (Int) -> Int? = { row in itemOfRow[row].map { rank[$0] } }
        switch source {
        case .npy(let header): try NpyFile.read(path, header: header, into: matrix, target: target)
        case .safetensors(let values):
            for row in 0..<fileRows {
                guard let destination = target(row) else { continue }
                for j in 0..<columns {
                    let value = values.values[row * columns + j]
                    guard value.isFinite else {
                        throw CodesError.malformed(path: path, field: "row \(row)", reason: "value \(value) in column \(j) is not finite")
                    }
                    matrix.row(destination)[j] = value
                }
            }
        }
        return AlignedEmbeddings(matrix: matrix, items: items, present: present, notes: notes)
    }

    private enum MatrixSource {
        case npy(NpyHeader)
        case safetensors((rows: Int, columns: Int, values: [Float]))

        var shape: (Int, Int) {
            switch self {
            case .npy(let header): return (header.rows, header.columns)
            case .safetensors(let m): return (m.rows, m.columns)
            }
        }
    }

    /// The named tensor, else `item_embedding`, else the file's only 2-D tensor.
    private static func safetensorsMatrix(path: String, tensorName: String?) throws -> (rows: Int, columns: Int, values: [Float]) {
        let file: SafeTensors
        do { file = try SafeTensors.read(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CodesError.unreadable(path: path, reason: "\(error)")
        }
        let matrices = try file.names.filter { try file.shape($0).count == 2 }
        let name: String
        if let tensorName {
            guard file.names.contains(tensorName) else {
                throw CodesError.malformed(path: path, field: tensorName, reason: "no such tensor (has: \(file.names.joined(separator: ", ")))")
            }
            name = tensorName
        } else if matrices.contains("item_embedding") {
            name = "item_embedding"
        } else if matrices.count == 1 {
            name = matrices[0]
        } else {
            throw CodesError.malformed(path: path, field: "tensors", reason: "\(matrices.count) 2-D tensors (\(matrices.joined(separator: ", "))); pick one with --tensor")
        }
        let shape = try file.shape(name)
        guard shape.count == 2, shape[1] > 0 else {
            throw CodesError.malformed(path: path, field: name, reason: "shape \(shape) is not a matrix")
        }
        do { return (shape[0], shape[1], try file.floats(name)) } catch {
            throw CodesError.malformed(path: path, field: name, reason: "\(error)")
        }
    }

    /// One id per line; surrounding whitespace and a trailing empty line are ignored, empty lines elsewhere are not.
    static func readIDs(_ path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CodesError.unreadable(path: path, reason: "cannot read ids: \(error.localizedDescription)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while lines.last == "" { lines.removeLast() }
        if let blank = lines.firstIndex(of: "") {
            throw CodesError.malformed(path: path, field: "line \(blank + 1)", reason: "empty id")
        }
        return lines
    }
}
