import Datasets
import Evaluation
import Foundation
import Generation
import ItemCodes
import Models
import JSONText

/// Exact Shapley values (paper Table 3b): player i's value is the average, over every order of the players, of what
/// adding i to the players before it changes, i.e. Σ_{S ⊆ N∖{i}} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)).
public enum Shapley {
    /// `value(mask)` is v of the coalition whose bit i is set when player i is in it; called once per subset.
    public static func values(players n: Int, value: (Int) -> Double) -> [Double] {
        precondition((0...16).contains(n), "exact Shapley values need 2^n evaluations; n = \(n)")
        let v = (0..<(1 << n)).map(value)
        var factorial = [1.0]
        for k in 1...max(1, n) { factorial.append(factorial[k - 1] * Double(k)) }
        return (0..<n).map { i in
            var phi = 0.0
            for s in 0..<(1 << n) where s & (1 << i) == 0 {
                let size = s.nonzeroBitCount
                phi += factorial[size] * factorial[n - size - 1] / factorial[n] * (v[s | (1 << i)] - v[s])
            }
            return phi
        }
    }
}

/// Every subset of a trained model's input modalities evaluated with the absent ones masked (the masking-trained
/// model has seen MASK in their place), and the exact Shapley value of each modality per metric.
public struct ModalityShapley: Sendable {
    public var modalities: [String]
    /// Test metrics of every coalition, by bit mask (bit i: modality i visible).
    public var coalitions: [Int: MetricsReport]
    public var metricKeys: [String]

    public static func evaluate(model: MSCGRec, items: ItemTokens, tree: PrefixTree, dataset: PreparedDataset,
                                split: GenerativeEvaluation.Split = .test, excludeHistory: Bool, beams: Int = 20,
                                progress: (String) -> Void = { _ in }) -> ModalityShapley {
        let names = model.config.modalities.map(\.name)
        var coalitions: [Int: MetricsReport] = [:]
        for mask in 0..<(1 << names.count) {
            let visible = names.indices.filter { mask & (1 << $0) != 0 }
            let label = visible.isEmpty ? "none" : visible.map { names[$0] }.joined(separator: "+")
            let hidden = Set(names.indices).subtracting(visible)
            let search = ConstrainedBeamSearch(model: model, items: items.hiding(hidden), tree: tree)
            let metrics = GenerativeEvaluation.evaluate(search, dataset: dataset, split: split, excludeHistory: excludeHistory, beams: beams)
            coalitions[mask] = metrics.report(split: label)
            progress("\(label): R@10 \(String(format: "%.4f", metrics.recall(at: 10))) N@10 \(String(format: "%.4f", metrics.ndcg(at: 10)))")
        }
        return ModalityShapley(modalities: names, coalitions: coalitions, metricKeys: coalitions[0]?.values.map(\.key) ?? [])
    }

    /// Shapley value of every modality for `key` (e.g. "ndcg@10").
    public func values(_ key: String) -> [Double] {
        Shapley.values(players: modalities.count) { coalitions[$0]?[key] ?? .nan }
    }

    /// Rows: every coalition, then each modality's Shapley value; columns: the metrics.
    public func table() -> String {
        let full = (1 << modalities.count) - 1
        var reports = (0...full).compactMap { coalitions[$0] }
        for (i, name) in modalities.enumerated() {
            reports.append(MetricsReport(values: metricKeys.map { ($0, values($0)[i]) }, users: coalitions[full]?.users ?? 0,
                                         split: "Shapley \(name)"))
        }
        return MetricsReport.table(reports)
    }

    /// {"modalities": [...], "coalitions": {"text+collaborative": {...}}, "shapley": {"text": {"ndcg@10": …}}}
    public func json() -> String {
        let full = (1 << modalities.count) - 1
        var rows = JSONObjectWriter()
        for report in (0...full).compactMap({ coalitions[$0] }) { rows.addRaw(report.split, report.jsonString()) }
        var shapley = JSONObjectWriter()
        for (i, name) in modalities.enumerated() {
            var row = JSONObjectWriter()
            for key in metricKeys { row.add(key, values(key)[i]) }
            shapley.addRaw(name, row.finish())
        }
        var json = JSONObjectWriter()
        json.add("modalities", modalities)
        json.addRaw("coalitions", rows.finish())
        json.addRaw("shapley", shapley.finish())
        return json.finish()
    }
}
