import ArgumentParser
import Datasets
import Evaluation
import Foundation

/// `compare`: two evaluated runs on the same users, metric by metric, with the paired standard error of each difference.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two evaluated runs user by user: each metric's difference and its paired standard error.",
        discussion: """
        Reads the ranks-<split>-history-<protocol>.txt files `evaluate` writes (MSCGRec runs; SASRec runs with \
        `evaluate --run SASREC --data WORK`, or written by `sasrec` itself) and prints, for both protocols, A, B, A − B, \
        the standard error of the mean per-user difference, z = (A − B) / SE and A / B. Both runs must be ranked on \
        the same split of the same work directory. With --data WORK (that work directory) it also compares R@10 and \
        N@10 within groups of users by the length of their history (items before the held-out one).
        """)

    @Argument(help: "Run directory A.") var a: String
    @Argument(help: "Run directory B (e.g. the SASRec run).") var b: String
    @Option(help: "test or valid.") var split = "test"
    @Option(help: "The runs' work directory: also compare within groups of users by history length.") var data: String?

    func run() throws {
        let lengths = try data.map { try historyLengths(work: $0) }
        for excluded in [false, true] {
            let name = RankList.fileName(split: split, historyExcluded: excluded)
            let (listA, listB) = (try read(a, name), try read(b, name))
            guard listA.ranks.count == listB.ranks.count else {
                throw RankListError.differentUsers(a, listA.ranks.count, b, listB.ranks.count)
            }
            print("\(split), history \(excluded ? "excluded" : "kept")")
            print(PairedComparison(listA.ranks, listB.ranks).table(a: a, b: b))
            if let lengths {
                guard lengths.count == listA.ranks.count else { throw RankListError.differentUsers(data ?? "", lengths.count, a, listA.ranks.count) }
                print(byLength(listA.ranks, listB.ranks, lengths))
            }
            print()
        }
    }

    /// Items before the held-out one: the whole sequence, not the examples' history cut to the work directory's maximum.
    private func historyLengths(work: String) throws -> [Int] {
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: work))
        return (0..<dataset.userCount).map { dataset.sequences.sequence(ofUser: $0).count - (split == "valid" ? 2 : 1) }
    }

    private func byLength(_ a: [Int32], _ b: [Int32], _ lengths: [Int]) -> String {
        var lines = ["by history length (items before the held-out one):",
                     "length     users   A R@10   B R@10   A − B ± SE          A N@10   B N@10   A − B ± SE"]
        for (label, comparison) in PairedComparison.grouped(a, b, keys: lengths, bounds: [5, 10, 20]) {
            let cells = comparison.rows.prefix(2).map {
                String(format: "%8.4f %8.4f %+8.4f ± %.4f", $0.a, $0.b, $0.difference, $0.standardError)
            }
            lines.append(label.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: " %7d ", comparison.users)
                         + cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    private func read(_ run: String, _ name: String) throws -> RankList {
        let url = URL(fileURLWithPath: run).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("\(url.path) is missing: rank the run first with `mscgrec-trainer evaluate --run \(run) --split \(split)` (a SASRec run also needs --data WORK)")
        }
        return try RankList(contentsOf: url)
    }
}
