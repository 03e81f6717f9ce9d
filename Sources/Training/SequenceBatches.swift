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

    /// Positions that have a next-item target.
    public var targetCount: Int { targets.reduce(0) { $1 != 0 ? $0 + 1 : $0 } }

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

/// One training row: the `length + 1` training items of `user` that end just before position `end` of its training
/// sequence (fewer at the start of the sequence).
public struct TrainingWindow: Sendable, Hashable {
    public var user: Int
    public var end: Int
    public init(user: Int, end: Int) { self.user = user; self.end = end }
}

public enum SequenceBatches {
    /// The rows of one training epoch. Each user's last window always; with `everyTarget`, also the windows before it,
    /// stepping back `length` items at a time, so every training item is a target exactly once (a history longer
    /// than the model's window would otherwise lose its early targets).
    public static func trainingWindows(_ dataset: PreparedDataset, length: Int, everyTarget: Bool = true) -> [TrainingWindow] {
        var windows: [TrainingWindow] = []
        for user in 0..<dataset.userCount {
            var end = dataset.trainingSequence(ofUser: user).count
            guard end >= 2 else { continue }
            repeat {
                windows.append(TrainingWindow(user: user, end: end))
                end -= length
            } while everyTarget && end >= 2
        }
        return windows
    }

    /// SASRec training rows, one per window: inputs all but the window's last item, targets all but its first (so
    /// every position predicts its next item).
    public static func training(_ dataset: PreparedDataset, windows: ArraySlice<TrainingWindow>, length: Int) -> PaddedBatch {
        var ids = [Int32](repeating: 0, count: windows.count * length), targets = ids
        for (row, window) in windows.enumerated() {
            let training = dataset.trainingSequence(ofUser: window.user)
            let stop = training.startIndex + window.end
            let sequence = training[max(training.startIndex, stop - length - 1)..<stop]
            let inputs = sequence.dropLast(), next = sequence.dropFirst()
            let offset = row * length + (length - inputs.count)
            for (j, item) in inputs.enumerated() { ids[offset + j] = item + 1 }
            for (j, item) in next.enumerated() { targets[offset + j] = item + 1 }
        }
        return PaddedBatch(users: windows.map(\.user), length: length, ids: ids, targets: targets)
    }

    /// Each user's last window (the most recent `length + 1` training items).
    public static func training(_ dataset: PreparedDataset, users: ArraySlice<Int>, length: Int) -> PaddedBatch {
        training(dataset, windows: ArraySlice(users.map { TrainingWindow(user: $0, end: dataset.trainingSequence(ofUser: $0).count) }),
                 length: length)
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
}
