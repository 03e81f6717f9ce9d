/// WordPiece: greedy longest-match-first over a vocabulary, continuation pieces carrying a "##" prefix; a word with
/// any unmatched remainder, or longer than `maxInputCharsPerWord` scalars, becomes the unknown token as a whole.
public struct WordPiece: Sendable {
    /// Keyed by UTF-8 bytes, not String: Swift's String equality is canonical equivalence, which would merge vocabulary
    /// entries (and match text) that the Rust tokenizer keeps apart.
    let vocabulary: [[UInt8]: Int32]
    public let unknownID: Int32
    public let continuingPrefix: [UInt8]
    public let maxInputCharsPerWord: Int

    public init(vocabulary: [[UInt8]: Int32], unknownID: Int32, continuingPrefix: String = "##", maxInputCharsPerWord: Int = 100) {
        self.vocabulary = vocabulary
        self.unknownID = unknownID
        self.continuingPrefix = Array(continuingPrefix.utf8)
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    public var count: Int { vocabulary.count }

    public func id(of token: String) -> Int32? { vocabulary[Array(token.utf8)] }

    /// Appends the ids of one pre-tokenised word.
    public func encode(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32]) {
        if word.count > maxInputCharsPerWord { ids.append(unknownID); return }
        // UTF-8 bytes of the word plus the byte offset where each scalar starts, so pieces end on scalar boundaries.
        var bytes: [UInt8] = []
        var starts: [Int] = []
        bytes.reserveCapacity(word.count * 2)
        starts.reserveCapacity(word.count + 1)
        for s in word {
            starts.append(bytes.count)
            UTF8.encode(s) { bytes.append($0) }
        }
        starts.append(bytes.count)
        let firstNew = ids.count
        var start = 0      // scalar index
        var key: [UInt8] = []
        key.reserveCapacity(bytes.count + continuingPrefix.count)
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: continuingPrefix) }
                key.append(contentsOf: bytes[starts[start]..<starts[end]])
                if let id = vocabulary[key] { found = id; break }
                end -= 1
            }
            guard let found else {
                ids.removeSubrange(firstNew...)
                ids.append(unknownID)
                return
            }
            ids.append(found)
            start = end
        }
    }
}
