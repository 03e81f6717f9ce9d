import Foundation
import TensorEngine

/// How well codes and embeddings capture labels the training never saw (the image-probe benchmark): NMI and
/// purity of a clustering against the labels, and leave-one-out k-NN accuracy of an embedding.
public enum ClusterMetrics {
    /// Normalised mutual information with the arithmetic-mean normalisation (scikit-learn's default):
    /// I(C; Y) / ((H(C) + H(Y)) / 2); 1 when both are single clusters.
    public static func nmi(clusters: [Int], labels: [Int]) -> Double {
        precondition(clusters.count == labels.count, "clusters and labels differ in length")
        let n = Double(clusters.count)
        guard n > 0 else { return 0 }
        var joint: [Int: [Int: Double]] = [:], cs: [Int: Double] = [:], ls: [Int: Double] = [:]
        for (c, l) in zip(clusters, labels) { joint[c, default: [:]][l, default: 0] += 1; cs[c, default: 0] += 1; ls[l, default: 0] += 1 }
        func entropy(_ counts: [Int: Double]) -> Double { -counts.values.reduce(0) { $0 + $1 / n * Foundation.log($1 / n) } }
        var mi = 0.0
        for (c, row) in joint { for (l, count) in row { mi += count / n * Foundation.log(count * n / (cs[c]! * ls[l]!)) } }
        let hc = entropy(cs), hl = entropy(ls)
        if hc + hl == 0 { return 1 }
        return max(0, mi / ((hc + hl) / 2))
    }

    /// Share of items whose cluster's majority label is their own.
    public static func purity(clusters: [Int], labels: [Int]) -> Double {
        var joint: [Int: [Int: Int]] = [:]
        for (c, l) in zip(clusters, labels) { joint[c, default: [:]][l, default: 0] += 1 }
        let majority = joint.values.reduce(0) { $0 + ($1.values.max() ?? 0) }
        return clusters.isEmpty ? 0 : Double(majority) / Double(clusters.count)
    }

    /// Leave-one-out k-NN accuracy by cosine similarity (majority vote, ties to the nearest voter's label).
    public static func knnAccuracy(_ x: [Float], dimension d: Int, labels: [Int], k: Int = 20) -> Double {
        let n = labels.count
        guard n > 1 else { return 0 }
        let normalized = withoutGrad { Tensor(shape: [n, d], scalars: x).l2Normalized() }
        var correct = 0
        let block = 1024
        var start = 0
        while start < n {
            let end = min(n, start + block)
            let similarities = withoutGrad { matmul(normalized.slice(axis: 0, start: start, end: end), normalized, transposeB: true) }
            let p = similarities.data
            for i in start..<end {
                let row = p + (i - start) * n
                var best: [(Float, Int)] = []
                for j in 0..<n where j != i {
                    if best.count < k { best.append((row[j], j)); if best.count == k { best.sort { $0.0 > $1.0 } } }
                    else if row[j] > best[k - 1].0 {
                        var pos = k - 1
                        while pos > 0 && best[pos - 1].0 < row[j] { pos -= 1 }
                        best.insert((row[j], j), at: pos); best.removeLast()
                    }
                }
                best.sort { $0.0 > $1.0 }
                var votes: [Int: Int] = [:]
                for (_, j) in best { votes[labels[j], default: 0] += 1 }
                let top = votes.values.max() ?? 0
                let winner = best.first { votes[labels[$0.1]] == top }.map { labels[$0.1] }
                if winner == labels[i] { correct += 1 }
            }
            start = end
        }
        return Double(correct) / Double(n)
    }

    /// Cluster ids of the first `depth` levels of codes (n × levels).
    public static func prefixClusters(_ codes: [Int32], levels: Int, depth: Int) -> [Int] {
        let n = codes.count / levels
        var ids: [[Int32]: Int] = [:]
        return (0..<n).map { i in
            let key = Array(codes[(i * levels)..<(i * levels + depth)])
            if let id = ids[key] { return id }
            ids[key] = ids.count
            return ids.count - 1
        }
    }
}
