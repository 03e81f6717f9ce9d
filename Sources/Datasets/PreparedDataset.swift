/// Which items of a training sequence become training targets (paper 4.1).
public enum TargetMode: String, Sendable, Codable, CaseIterable {
    /// Every item of the training sequence after the first is a target (the paper's Amazon setting; default).
    case all
    /// Only the last training item is a target (the paper's PixelRec setting).
    case last
}

/// Chronological item sequences of every user, in CSR form. Items are dense internal indices 0..<itemCount
/// (models that need padding use index + 1 and keep 0 for it); users are dense 0..<userCount.
public struct PreparedSequences: Sendable, Equatable {
    public let itemCount: Int
    /// The dataset's own user keys, by dense user index.
    public let userIDs: [String]
    /// `items[offsets[u]..<offsets[u+1]]` is user u's sequence, oldest first.
    public let offsets: [Int]
    public let items: [Int32]
    /// Source timestamps parallel to `items` (nil for order-only sources such as the LC-Rec layout).
    public let timestamps: [Double]?

    public init(itemCount: Int, userIDs: [String], offsets: [Int], items: [Int32], timestamps: [Double]?) {
        self.itemCount = itemCount
        self.userIDs = userIDs
        self.offsets = offsets
        self.items = items
        self.timestamps = timestamps
    }

    public var userCount: Int { userIDs.count }
    public var interactionCount: Int { items.count }

    public func sequence(ofUser user: Int) -> ArraySlice<Int32> { items[offsets[user]..<offsets[user + 1]] }
}

/// A history (oldest first, at most `maxHistory` items) and the item that followed it.
public struct SequenceExample: Sendable, Equatable {
    public var user: Int
    public var history: ArraySlice<Int32>
    public var target: Int32
}

/// Everything about how a work directory was prepared (stored as the binary file's JSON header).
public struct PreparedInfo: Sendable, Equatable, Codable {
    public var name: String
    public var sourceFormat: String
    public var maxHistory: Int
    public var targetMode: TargetMode
    public var minCount: Int
    public var users: Int
    public var items: Int
    public var interactions: Int
    public var hasTimestamps: Bool
    public var preprocessing: PreprocessingReport
    public var createdBy: String
}

/// A prepared dataset with the chronological leave-one-out split (paper 4.1): per user the last item is the test
/// target, the second last the validation target, and the rest the training sequence. Splits are views computed on
/// the fly, so nothing is stored twice.
public struct PreparedDataset: Sendable, Equatable {
    public var info: PreparedInfo
    public var sequences: PreparedSequences

    public init(info: PreparedInfo, sequences: PreparedSequences) {
        self.info = info
        self.sequences = sequences
    }

    public var userCount: Int { sequences.userCount }
    public var itemCount: Int { sequences.itemCount }
    public var maxHistory: Int { info.maxHistory }

    /// All but the last two items (every user has at least three).
    public func trainingSequence(ofUser user: Int) -> ArraySlice<Int32> { sequences.sequence(ofUser: user).dropLast(2) }

    public func validationExample(ofUser user: Int) -> SequenceExample { example(user: user, fromEnd: 2) }

    /// The test history includes the validation item, as in the standard protocol.
    public func testExample(ofUser user: Int) -> SequenceExample { example(user: user, fromEnd: 1) }

    private func example(user: Int, fromEnd: Int) -> SequenceExample {
        let sequence = sequences.sequence(ofUser: user)
        let targetPosition = sequence.endIndex - fromEnd
        let start = max(sequence.startIndex, targetPosition - info.maxHistory)
        return SequenceExample(user: user, history: sequence[start..<targetPosition], target: sequence[targetPosition])
    }

    /// Calls `body` for every training example in user order: each training item with a non-empty history
    /// (`.all`), or only the last training item (`.last`). Histories hold at most `maxHistory` items.
    public func forEachTrainingExample(mode: TargetMode? = nil, _ body: (SequenceExample) throws -> Void) rethrows {
        let mode = mode ?? info.targetMode
        for user in 0..<userCount {
            let training = trainingSequence(ofUser: user)
            guard training.count >= 2 else { continue }
            let firstTarget = mode == .all ? training.startIndex + 1 : training.endIndex - 1
            for position in firstTarget..<training.endIndex {
                let start = max(training.startIndex, position - info.maxHistory)
                try body(SequenceExample(user: user, history: training[start..<position], target: training[position]))
            }
        }
    }

    public func trainingExampleCount(mode: TargetMode? = nil) -> Int {
        let mode = mode ?? info.targetMode
        var count = 0
        for user in 0..<userCount {
            let length = sequences.offsets[user + 1] - sequences.offsets[user] - 2
            if length >= 2 { count += mode == .all ? length - 1 : 1 }
        }
        return count
    }
}
