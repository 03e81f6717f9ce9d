import Foundation
import JSONText

/// One evaluation result: metric values under their exact JSON keys (`"recall@10"`, `"ndcg@5"`, ...), the number
/// of evaluated users and the split (`"validation"` or `"test"`). Keys keep their order so files diff cleanly.
public struct MetricsReport: Sendable, Equatable {
    public var values: [(key: String, value: Double)]
    public var users: Int
    public var split: String

    public init(values: [(String, Double)], users: Int, split: String) {
        self.values = values.map { (key: $0.0, value: $0.1) }
        self.users = users
        self.split = split
    }

    public subscript(key: String) -> Double? { values.first { $0.key == key }?.value }

    public static func == (lhs: MetricsReport, rhs: MetricsReport) -> Bool {
        lhs.users == rhs.users && lhs.split == rhs.split && lhs.values.count == rhs.values.count
            && zip(lhs.values, rhs.values).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// One JSON object on one line: metrics in order, then `"users"` and `"split"`.
    public func jsonString() -> String {
        var json = JSONObjectWriter()
        for (key, value) in values { json.add(key, value) }
        json.add("users", users)
        json.add("split", split)
        return json.finish()
    }

    /// `metrics-<split>-history-kept.json` or `…-history-excluded.json`: where the trainers put each ranking protocol's
    /// report beside the asked one, so the pipeline's table can read both.
    public static func fileName(split: String, historyExcluded: Bool) -> String {
        "metrics-\(split)-history-\(historyExcluded ? "excluded" : "kept").json"
    }

    /// Writes the JSON (plus newline) through a temporary file and a rename, so readers never see half a file.
    public func write(to url: URL) throws {
        try Data((jsonString() + "\n").utf8).write(to: url, options: .atomic)
    }

    /// Parses what `jsonString()` writes (any flat object with numeric metric fields, `users` and `split`; a repeated
    /// key is refused). Numbers go through `Double(String)`, which round-trips exactly (Foundation's
    /// JSONSerialization does not on Linux).
    public init(json: String) throws {
        let document: JSONValue
        do {
            document = try JSONValue.parse(Array(json.utf8))
        } catch {
            throw MetricsReportError.invalidJSON(offset: error.offset, reason: error.reason)
        }
        guard case .object(let fields) = document else { throw MetricsReportError.notAnObject }
        guard case .number(let usersText)? = document["users"], let users = Int(usersText) else {
            throw MetricsReportError.missingField("users")
        }
        guard let split = document["split"]?.string else { throw MetricsReportError.missingField("split") }
        var values: [(String, Double)] = []
        for (key, raw) in fields where key != "users" && key != "split" {
            guard case .number(let text) = raw, let number = Double(text) else {
                throw MetricsReportError.notANumber(key)
            }
            values.append((key, number))
        }
        self.init(values: values.sorted { Self.keyOrder($0.0) < Self.keyOrder($1.0) }, users: users, split: split)
    }

    /// recall, ndcg, mrr, then anything else; within a metric by K.
    private static func keyOrder(_ key: String) -> (Int, Int, String) {
        let parts = key.split(separator: "@", maxSplits: 1)
        let family = ["recall": 0, "ndcg": 1, "mrr": 2][String(parts[0])] ?? 3
        let k = parts.count == 2 ? Int(parts[1]) ?? Int.max : Int.max
        return (family, k, key)
    }
}

extension MetricsReport {
    /// A plain-text table for terminals: one row per report (its split), one column per metric of the first report,
    /// four decimals, columns aligned.
    /// The nine metrics of the paper's tables, in their order.
    public static let paperKeys = ["recall@1", "recall@5", "recall@10", "ndcg@1", "ndcg@5", "ndcg@10", "mrr@1", "mrr@5", "mrr@10"]

    /// A markdown table: one row per report (named by its `split`), the paper's nine metrics as columns.
    public static func markdownTable(_ reports: [MetricsReport]) -> String {
        let short = paperKeys.map { $0.replacingOccurrences(of: "recall", with: "R").replacingOccurrences(of: "ndcg", with: "N")
            .replacingOccurrences(of: "mrr", with: "MRR") }
        var lines = ["| | " + short.joined(separator: " | ") + " |", "|---|" + String(repeating: "---|", count: short.count)]
        for r in reports {
            lines.append("| \(r.split) | " + paperKeys.map { r[$0].map { String(format: "%.4f", $0) } ?? "-" }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    public static func table(_ reports: [MetricsReport]) -> String {
        guard let first = reports.first else { return "" }
        let keys = first.values.map(\.key)
        let header = ["split"] + keys + ["users"]
        let rows = reports.map { report in
            [report.split] + keys.map { key in report[key].map { String(format: "%.4f", $0) } ?? "-" } + ["\(report.users)"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).enumerated().map { column, pair in
                column == 0 ? pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: pair.1 - pair.0.count) + pair.0
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

public enum MetricsReportError: Error, CustomStringConvertible, Equatable {
    /// Not JSON at all (or a repeated key), with the byte offset where reading stopped.
    case invalidJSON(offset: Int, reason: String)
    case notAnObject
    case missingField(String)
    case notANumber(String)

    public var description: String {
        switch self {
        case .invalidJSON(let offset, let reason): return "metrics JSON is invalid at byte \(offset): \(reason)"
        case .notAnObject: return "metrics JSON is not an object"
        case .missingField(let field): return "metrics JSON lacks field \"\(field)\""
        case .notANumber(let key): return "metrics JSON field \"\(key)\" is not a number"
        }
    }
}

