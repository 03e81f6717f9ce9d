import Foundation
import JSONText

/// The paper's Table 1 columns (users, items, interactions, sparsity) plus the distribution of sequence lengths.
public struct DatasetStats: Sendable, Equatable {
    public var name: String
    public var users: Int
    public var items: Int
    public var interactions: Int
    /// 1 − interactions / (users × items).
    public var sparsity: Double
    public var length: LengthSummary
    /// Users whose test history is longer than `maxHistory` and so gets truncated.
    public var usersTruncated: Int
    public var maxHistory: Int
    public var targetMode: TargetMode
    public var trainingExamples: Int

    /// Per-user sequence lengths (all interactions, before the split).
    public struct LengthSummary: Sendable, Equatable {
        public var min = 0, max = 0, median = 0, p90 = 0
        public var mean = 0.0
        /// (label, users) for lengths 3–4, 5–9, 10–19, 20–49, 50–99, ≥100.
        public var histogram: [(label: String, users: Int)] = []

        public static func == (lhs: LengthSummary, rhs: LengthSummary) -> Bool {
            lhs.min == rhs.min && lhs.max == rhs.max && lhs.median == rhs.median && lhs.p90 == rhs.p90 && lhs.mean == rhs.mean
                && lhs.histogram.map(\.label) == rhs.histogram.map(\.label) && lhs.histogram.map(\.users) == rhs.histogram.map(\.users)
        }
    }

    static let buckets: [(label: String, range: ClosedRange<Int>)] = [
        ("3-4", 3...4), ("5-9", 5...9), ("10-19", 10...19), ("20-49", 20...49), ("50-99", 50...99), (">=100", 100...Int.max),
    ]

    public init(_ dataset: PreparedDataset) {
        let sequences = dataset.sequences
        name = dataset.info.name
        users = sequences.userCount
        items = sequences.itemCount
        interactions = sequences.interactionCount
        sparsity = users == 0 || items == 0 ? 1 : 1 - Double(interactions) / (Double(users) * Double(items))
        let lengths = (0..<users).map { sequences.offsets[$0 + 1] - sequences.offsets[$0] }.sorted()
        length = LengthSummary()
        if let first = lengths.first, let last = lengths.last {
            length.min = first
            length.max = last
            length.median = lengths[(lengths.count - 1) / 2]
            length.p90 = lengths[min(lengths.count - 1, Int((Double(lengths.count) * 0.9).rounded(.up)) - 1)]
            length.mean = Double(interactions) / Double(users)
        }
        length.histogram = Self.buckets.map { bucket in (bucket.label, lengths.lazy.filter { bucket.range.contains($0) }.count) }
        maxHistory = dataset.info.maxHistory
        usersTruncated = lengths.lazy.filter { $0 - 1 > dataset.info.maxHistory }.count
        targetMode = dataset.info.targetMode
        trainingExamples = dataset.trainingExampleCount()
    }

    /// One JSON object; the keys "users", "items", "interactions", "sparsity" are a contract.
    public func json() -> String {
        var histogram = JSONObjectWriter()
        for bucket in length.histogram { histogram.add(bucket.label, bucket.users) }
        var lengthJSON = JSONObjectWriter()
        lengthJSON.add("min", length.min)
        lengthJSON.add("median", length.median)
        lengthJSON.add("mean", length.mean)
        lengthJSON.add("p90", length.p90)
        lengthJSON.add("max", length.max)
        lengthJSON.addRaw("histogram", histogram.finish())
        var json = JSONObjectWriter()
        json.add("name", name)
        json.add("users", users)
        json.add("items", items)
        json.add("interactions", interactions)
        json.add("sparsity", sparsity)
        json.add("sparsity_percent", (sparsity * 100_000).rounded() / 1_000)
        json.addRaw("sequence_length", lengthJSON.finish())
        json.add("max_history", maxHistory)
        json.add("users_truncated", usersTruncated)
        json.add("target_mode", targetMode.rawValue)
        json.add("training_examples", trainingExamples)
        json.add("validation_examples", users)
        json.add("test_examples", users)
        return json.finish()
    }

    /// Table-1-style text for people.
    public func text() -> String {
        func grouped(_ n: Int) -> String {
            let digits = Array(String(n))
            var out = ""
            for (i, d) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
                out.append(d)
            }
            return out
        }
        let percent = (sparsity * 100_000).rounded() / 1_000
        var lines = [
            "Dataset\t#Users\t#Items\t#Interactions\tSparsity",
            "\(name)\t\(grouped(users))\t\(grouped(items))\t\(grouped(interactions))\t\(percent)%",
            "",
            "sequence length: min \(length.min), median \(length.median), mean \(String(format: "%.2f", length.mean)), p90 \(length.p90), max \(length.max)",
        ]
        lines.append("  " + length.histogram.map { "\($0.label): \(grouped($0.users))" }.joined(separator: ", "))
        lines.append("max history \(maxHistory) (\(grouped(usersTruncated)) users' test histories truncated)")
        lines.append("target mode \(targetMode.rawValue): \(grouped(trainingExamples)) training examples, \(grouped(users)) validation, \(grouped(users)) test")
        return lines.joined(separator: "\n")
    }
}
