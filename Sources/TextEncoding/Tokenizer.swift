/// A token that the tokenizer matches in the text before anything else (tokenizers' added vocabulary): special tokens
/// such as [CLS] or <mask> typed literally in an item's text become that token, as in Python.
public struct AddedToken: Sendable, Equatable {
    public var content: [Unicode.Scalar]
    public var id: Int32
    /// Matched against the normalised text (e.g. lower-cased) instead of the raw text.
    public var normalized: Bool

    public init(content: String, id: Int32, normalized: Bool) {
        self.content = Array(content.unicodeScalars)
        self.id = id
        self.normalized = normalized
    }
}

/// The ids one text becomes: special tokens around the WordPiece ids, truncated to the model's maximum length.
public struct TextTokenizer: Sendable {
    public var normalizer: BertNormalizer
    public var wordPiece: WordPiece
    public var addedTokens: [AddedToken]
    /// Prepended and appended ids: [CLS] … [SEP] for BERT, <s> … </s> for MPNet/RoBERTa.
    public var prefixIDs: [Int32]
    public var suffixIDs: [Int32]
    public var padID: Int32
    /// Total length cap, special tokens included.
    public var maxLength: Int

    public init(normalizer: BertNormalizer, wordPiece: WordPiece, addedTokens: [AddedToken], prefixIDs: [Int32],
                suffixIDs: [Int32], padID: Int32, maxLength: Int) {
        self.normalizer = normalizer
        self.wordPiece = wordPiece
        // Longest first so that, at one position, the longest added token wins (tokenizers' leftmost-longest match).
        self.addedTokens = addedTokens.sorted { $0.content.count > $1.content.count }
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
        self.padID = padID
        self.maxLength = maxLength
    }

    public func encode(_ text: String) -> [Int32] {
        var body: [Int32] = []
        let raw = Array(text.unicodeScalars)
        for piece in split(raw, normalized: false) {
            switch piece {
            case .token(let id): body.append(id)
            case .text(let segment):
                let normal = normalizer.normalize(Array(segment))
                for inner in split(normal, normalized: true) {
                    switch inner {
                    case .token(let id): body.append(id)
                    case .text(let s):
                        for word in BertText.preTokenize(Array(s)) { wordPiece.encode(word, into: &body) }
                    }
                }
            }
        }
        // Longest-first truncation of a single sequence keeps its head.
        let room = max(0, maxLength - prefixIDs.count - suffixIDs.count)
        if body.count > room { body.removeSubrange(room...) }
        return prefixIDs + body + suffixIDs
    }

    enum Piece { case text(ArraySlice<Unicode.Scalar>), token(Int32) }

    /// Cuts `scalars` at every occurrence of an added token of the given kind.
    func split(_ scalars: [Unicode.Scalar], normalized: Bool) -> [Piece] {
        let candidates = addedTokens.filter { $0.normalized == normalized && !$0.content.isEmpty }
        guard !candidates.isEmpty else { return [.text(scalars[...])] }
        var pieces: [Piece] = []
        var textStart = 0, i = 0
        while i < scalars.count {
            var matched: AddedToken?
            for token in candidates where i + token.content.count <= scalars.count && scalars[i] == token.content[0] {
                if scalars[i..<(i + token.content.count)].elementsEqual(token.content) { matched = token; break }
            }
            if let matched {
                if textStart < i { pieces.append(.text(scalars[textStart..<i])) }
                pieces.append(.token(matched.id))
                i += matched.content.count
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < scalars.count { pieces.append(.text(scalars[textStart...])) }
        return pieces
    }
}
