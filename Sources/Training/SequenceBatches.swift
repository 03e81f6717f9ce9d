import Datasets

/// Left-padded id batches for sequence models. Ids are item index + 1 so that 0 can mean padding.
public struct PaddedBatch: Sendable {
    public let users: [Int]
    public let length: Int
    /// [users.count · length] inputs, right-aligned (padding first).
    public var ids: [Int32]
    /// Next-item targets per position for training batches (0 = no target); empty for evaluation batches.
    public var targets: [Int32]

    public var size: Int { users.count }

    /// Rows `range` as a batch of their own (one data-parallel shard).
    public func rows(_ range: Range<Int>) -> PaddedBatch {
        let span = range.lowerBound * length..<range.upperBound * length
        return PaddedBatch(users: Array(users[range]), length: length, ids: Array(ids[span]),
                           targets: targets.isEmpty ? [] : Array(targets[span]))
    }

    /// Up to `shards` contiguous row ranges of near-equal size, none smaller than `minimumRows` (one range when the
    /// batch is too small to be worth splitting).
    public func shardRanges(_ shards: Int, minimumRows: Int = 32) -> [Range<Int>] {
        let count = max(1, min(shards, size / max(1, minimumRows)))
        return (0..<count).map { size * $0 / count..<size * ($0 + 1) / count }
    }
}

public enum SequenceBatches {
    /// SASRec training rows: the last `length + 1` training items of each user; inputs all but the last,
    /// targets all but the first (so every position predicts its next item).
    public static func training(_ dataset: PreparedDataset, users: ArraySlice<Int>, length: Int) -> PaddedBatch {
        var ids = [Int32](repeating: 0, count: users.count * length), targets = ids
        for (row, user) in users.enumerated() {
            let sequence = dataset.trainingSequence(ofUser: user).suffix(length + 1)
            let inputs = sequence.dropLast(), next = sequence.dropFirst()
            let offset = row * length + (length - inputs.count)
            for (j, item) in inputs.enumerated() { ids[offset + j] = item + 1 }
            for (j, item) in next.enumerated() { targets[offset + j] = item + 1 }
        }
        return PaddedBatch(users: Array(users), length: length, ids: ids, targets: targets)
    }

    /// Evaluation rows: each user's history before the held-out item (its last `length` items).
    public static func evaluation(_ examples: [SequenceExample], length: Int) -> PaddedBatch {
        var ids = [Int32](repeating: 0, count: examples.count * length)
        for (row, example) in examples.enumerated() {
            let history = example.history.suffix(length)
            let offset = row * length + (length - history.count)
            for (j, item) in history.enumerated() { ids[offset + j] = item + 1 }
        }
        return PaddedBatch(users: examples.map(\.user), length: length, ids: ids, targets: [])
    }

    /// Users that have at least one training target (two or more training items).
    public static func trainableUsers(_ dataset: PreparedDataset) -> [Int] {
        (0..<dataset.userCount).filter { dataset.trainingSequence(ofUser: $0).count >= 2 }
    }
}
