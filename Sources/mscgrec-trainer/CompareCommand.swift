import ArgumentParser
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
        the same split of the same work directory.
        """)

    @Argument(help: "Run directory A.") var a: String
    @Argument(help: "Run directory B (e.g. the SASRec run).") var b: String
    @Option(help: "test or valid.") var split = "test"

    func run() throws {
        for excluded in [false, true] {
            let name = RankList.fileName(split: split, historyExcluded: excluded)
            let (listA, listB) = (try read(a, name), try read(b, name))
            guard listA.ranks.count == listB.ranks.count else {
                throw RankListError.differentUsers(a, listA.ranks.count, b, listB.ranks.count)
            }
            print("\(split), history \(excluded ? "excluded" : "kept")")
            print(PairedComparison(listA.ranks, listB.ranks).table(a: a, b: b))
            print()
        }
    }

    private func read(_ run: String, _ name: String) throws -> RankList {
        let url = URL(fileURLWithPath: run).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("\(url.path) is missing: rank the run first with `mscgrec-trainer evaluate --run \(run) --split \(split)` (a SASRec run also needs --data WORK)")
        }
        return try RankList(contentsOf: url)
    }
}
