import ItemCodes
import Catalog
import Foundation
import JSONText

/// Per modality and level: how well the codes use their codebooks, and how often items collide.
public struct CodeStatistics: Sendable, Equatable {
    public var modality: String
    public var source: String
    public var items: Int
    public var itemsWithCodes: Int
    public var codebookSizes: [Int]
    /// Levels before the collision level; collisions are counted on these.
    public var quantizedLevels: Int
    public var hasCollisionLevel: Bool
    /// Distinct codes used per level.
    public var used: [Int]
    /// used / codebook size, per level.
    public var utilization: [Double]
    /// exp(entropy of the code distribution) per level: the effective number of codes in use.
    public var perplexity: [Double]
    /// Share of items whose first `quantizedLevels` codes are shared with another item.
    public var collisionRate: Double
    public var maxCollisionGroup: Int
    /// ‖x − x̂‖² / ‖x‖² over all items after each quantized level, when the codes came from embeddings.
    public var reconstructionError: [Double]?

    public var levels: Int { codebookSizes.count }

    public init(codes: ModalityCodes, hasCollisionLevel: Bool, reconstructionError: [Double]? = nil) {
        modality = codes.modality
        source = codes.source
        items = codes.itemCount
        codebookSizes = codes.codebookSizes
        self.hasCollisionLevel = hasCollisionLevel
        quantizedLevels = hasCollisionLevel ? codes.levels - 1 : codes.levels
        self.reconstructionError = reconstructionError
        let present = codes.present.indices.filter { codes.present[$0] }
        itemsWithCodes = present.count
        used = []
        utilization = []
        perplexity = []
        for level in 0..<codes.levels {
            var counts = [Int](repeating: 0, count: codes.codebookSizes[level])
            for item in present { counts[Int(codes.codes[item * codes.levels + level])] += 1 }
            let distinct = counts.filter { $0 > 0 }.count
            used.append(distinct)
            utilization.append(Double(distinct) / Double(codes.codebookSizes[level]))
            var entropy = 0.0
            for count in counts where count > 0 {
                let p = Double(count) / Double(present.count)
                entropy -= p * Foundation.log(p)
            }
            perplexity.append(Foundation.exp(entropy))
        }
        let sorted = CollisionLevel.sortedByCodes(codes: codes.codes, levels: codes.levels, present: codes.present)
        var colliding = 0, largest = present.isEmpty ? 0 : 1
        var start = 0
        while start < sorted.count {
            var end = start + 1
            while end < sorted.count
                && CollisionLevel.samePrefix(codes.codes, codes.levels, sorted[start], sorted[end], length: quantizedLevels) { end += 1 }
            if end - start > 1 { colliding += end - start }
            largest = max(largest, end - start)
            start = end
        }
        collisionRate = present.isEmpty ? 0 : Double(colliding) / Double(present.count)
        maxCollisionGroup = largest
    }

    /// The JSON object of one modality (keys in a fixed order).
    public func json() -> String {
        var json = JSONObjectWriter()
        json.add("levels", levels)
        json.add("quantized_levels", quantizedLevels)
        json.add("collision_level", hasCollisionLevel)
        json.addRaw("codebook_sizes", jsonArray(codebookSizes.map(String.init)))
        json.add("items", items)
        json.add("items_with_codes", itemsWithCodes)
        json.addRaw("used", jsonArray(used.map(String.init)))
        json.addRaw("utilization", jsonArray(utilization.map(jsonNumber)))
        json.addRaw("perplexity", jsonArray(perplexity.map(jsonNumber)))
        json.add("collision_rate", collisionRate)
        json.add("max_collision_group", maxCollisionGroup)
        json.addRaw("reconstruction_error", reconstructionError.map { jsonArray($0.map(jsonNumber)) } ?? "null")
        json.add("source", source)
        return json.finish()
    }

    /// `{"<modality>": {...}, ...}` in the given order.
    public static func json(_ all: [CodeStatistics]) -> String {
        var json = JSONObjectWriter()
        for statistics in all { json.addRaw(statistics.modality, statistics.json()) }
        return json.finish(pretty: true)
    }

    /// A human-readable table: one row per level, then the collision figures.
    public func table() -> String {
        var lines = ["modality \(modality) (\(source)): \(itemsWithCodes)/\(items) items with codes, \(levels) levels"
            + (hasCollisionLevel ? " (last = collision level)" : "")]
        lines.append("  level  codebook   used  utilisation  perplexity  rel. reconstruction error")
        for level in 0..<levels {
            let error = reconstructionError.flatMap { level < $0.count ? String(format: "%.4f", $0[level]) : nil } ?? "-"
            let name = hasCollisionLevel && level == levels - 1 ? "  coll." : String(format: "  %5d", level + 1)
            lines.append(name + String(format: "  %8d  %5d  %10.1f%%  %10.1f  ", codebookSizes[level], used[level],
                                       100 * utilization[level], perplexity[level]) + error)
        }
        lines.append(String(format: "  collision rate %.2f%% (items sharing their first %d codes), largest group %d",
                            100 * collisionRate, quantizedLevels, maxCollisionGroup))
        return lines.joined(separator: "\n")
    }
}

