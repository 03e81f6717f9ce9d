import Foundation

/// Every evaluated user's rank of its held-out item, in user order (`RankingMetrics.ranks`), as a text file beside
/// the metrics: `ranks-<split>-history-<kept|excluded>.txt`, one line per user, the 1-based rank or 0 when the target
/// was not returned, after a `#` header line. Two models' files on the same split are paired user by user
/// (`PairedComparison`), which tells a real difference from the noise of one test set.
public struct RankList: Equatable, Sendable {
    public var ranks: [Int32]
    public var split: String

    public init(ranks: [Int32], split: String) {
        self.ranks = ranks
        self.split = split
    }

    public static func fileName(split: String, historyExcluded: Bool) -> String {
        "ranks-\(split)-history-\(historyExcluded ? "excluded" : "kept").txt"
    }

    public func text() -> String {
        var out = "# one line per user (user order): the held-out item's 1-based rank, 0 when not returned; \(split)\n"
        out.reserveCapacity(out.utf8.count + ranks.count * 4)
        for rank in ranks { out += "\(rank)\n" }
        return out
    }

    /// Written through a temporary file and a rename, so a reader never sees half a list.
    public func write(to url: URL) throws {
        try Data(text().utf8).write(to: url, options: .atomic)
    }

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw RankListError.unreadable(url.path, error.localizedDescription) }
        try self.init(text: String(decoding: data, as: UTF8.self), path: url.path)
    }

    /// Parses what `text()` writes; `path` names the source in errors.
    public init(text: String, path: String) throws {
        var ranks: [Int32] = [], split = ""
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#") {
                if index == 0, let semicolon = line.lastIndex(of: ";") {
                    split = line[line.index(after: semicolon)...].trimmingCharacters(in: .whitespaces)
                }
                continue
            }
            if line.isEmpty { continue }
            guard let rank = Int32(line), rank >= 0 else { throw RankListError.badLine(path, index + 1, String(line.prefix(40))) }
            ranks.append(rank)
        }
        self.init(ranks: ranks, split: split)
    }
}

public enum RankListError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case badLine(String, Int, String)
    case differentUsers(String, Int, String, Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read the rank list (\(reason))"
        case .badLine(let path, let line, let text):
            return "\(path):\(line): expected a rank (a whole number ≥ 0), found \"\(text)\""
        case .differentUsers(let a, let m, let b, let n):
            return "\(a) has \(m) users and \(b) has \(n): rank lists pair only on the same split of the same work directory"
        }
    }
}

/// Two models' metrics on the same users, and the standard error of their difference from the per-user differences
/// (a paired test: each user's item is as hard for both, so this is much tighter than comparing two means' errors).
public struct PairedComparison: Equatable, Sendable {
    public struct Row: Equatable, Sendable {
        public let metric: String
        public let a: Double, b: Double
        /// a − b and the standard error of that mean difference.
        public let difference: Double, standardError: Double
        /// The difference in standard errors (0 when both lists agree on every user).
        public var z: Double { standardError > 0 ? difference / standardError : 0 }
    }

    public let rows: [Row]
    public let users: Int

    public init(_ a: [Int32], _ b: [Int32], cutoffs: [Int] = RankingMetrics.paperCutoffs) {
        precondition(a.count == b.count, "paired lists differ in length: \(a.count) and \(b.count)")
        let metrics: [(String, (Int32) -> Double)] =
            cutoffs.map { k in ("recall@\(k)", { RankingMetrics.userValues(rank: Int($0), cutoff: k).hit }) }
            + cutoffs.map { k in ("ndcg@\(k)", { RankingMetrics.userValues(rank: Int($0), cutoff: k).gain }) }
            + cutoffs.map { k in ("mrr@\(k)", { RankingMetrics.userValues(rank: Int($0), cutoff: k).reciprocal }) }
        let n = Double(a.count)
        rows = metrics.map { name, value in
            var (sumA, sumB, sumD, sumD2) = (0.0, 0.0, 0.0, 0.0)
            for (ra, rb) in zip(a, b) {
                let (va, vb) = (value(ra), value(rb))
                sumA += va; sumB += vb; sumD += va - vb; sumD2 += (va - vb) * (va - vb)
            }
            guard n > 0 else { return Row(metric: name, a: 0, b: 0, difference: 0, standardError: 0) }
            let mean = sumD / n
            let variance = n > 1 ? max(0, (sumD2 - n * mean * mean) / (n - 1)) : 0
            return Row(metric: name, a: sumA / n, b: sumB / n, difference: mean, standardError: (variance / n).squareRoot())
        }
        users = a.count
    }

    /// A fixed-width table: metric, A, B, A − B, its standard error, z and A / B.
    public func table(a nameA: String, b nameB: String) -> String {
        var lines = ["A = \(nameA)", "B = \(nameB)", "\(users) users, paired",
                     "metric        A        B        A − B     SE       z      A/B"]
        for row in rows {
            let ratio = row.b > 0 ? String(format: "%6.3f", row.a / row.b) : "     –"
            lines.append(row.metric.padding(toLength: 10, withPad: " ", startingAt: 0)
                         + String(format: " %8.4f %8.4f %+9.4f %8.4f %+6.2f ", row.a, row.b, row.difference, row.standardError, row.z)
                         + ratio)
        }
        return lines.joined(separator: "\n")
    }

    /// The users split by a per-user key (for example the length of their history) at `bounds` (ascending upper
    /// limits; a last group holds the keys above the last bound), each group compared on its own; empty groups left out.
    public static func grouped(_ a: [Int32], _ b: [Int32], keys: [Int], bounds: [Int],
                               cutoffs: [Int] = [10]) -> [(label: String, comparison: PairedComparison)] {
        precondition(a.count == keys.count && b.count == keys.count, "one key per user")
        let labels = bounds.indices.map { i in
            let low = i == 0 ? nil : bounds[i - 1] + 1
            return low.map { $0 == bounds[i] ? "\($0)" : "\($0)–\(bounds[i])" } ?? "≤ \(bounds[i])"
        } + ["> \(bounds.last ?? 0)"]
        var members = [[Int]](repeating: [], count: labels.count)
        for (user, key) in keys.enumerated() { members[bounds.firstIndex { key <= $0 } ?? bounds.count].append(user) }
        return zip(labels, members).filter { !$1.isEmpty }.map { label, users in
            (label, PairedComparison(users.map { a[$0] }, users.map { b[$0] }, cutoffs: cutoffs))
        }
    }
}
