import Foundation

/// Builds the tokenizer a model directory describes: `tokenizer.json` (what sentence-transformers' fast tokenizer
/// runs) when present, else `vocab.txt` with `tokenizer_config.json`.
extension TextTokenizer {
    /// `maxLength` caps the sequence (special tokens included); the caller derives it from the model's configs.
    public static func load(from directory: ModelDirectory, maxLength: Int) throws -> TextTokenizer {
        if directory.has("tokenizer.json") {
            return try fromTokenizerJSON(directory, maxLength: maxLength)
        }
        if directory.has("vocab.txt") {
            return try fromVocabText(directory, maxLength: maxLength)
        }
        throw TextEncodingError.missingFile(path: directory.file("tokenizer.json").path,
                                            hint: "a model directory needs tokenizer.json or vocab.txt")
    }

    static func fromTokenizerJSON(_ directory: ModelDirectory, maxLength: Int) throws -> TextTokenizer {
        let root = try directory.json("tokenizer.json", required: true)!
        guard let model = try root.object("model") else { throw root.fail("model", "missing") }
        let modelType = try model.string("type") ?? "WordPiece"
        guard modelType == "WordPiece" else {
            throw TextEncodingError.unsupported(path: root.path, field: "model.type", reason: "\(modelType) tokenizers are not supported (WordPiece only)")
        }
        guard let rawVocab = model.values["vocab"] as? [String: Any] else { throw model.fail("vocab", "expected an object of token → id") }
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(rawVocab.count)
        for (token, value) in rawVocab {
            guard let id = value as? NSNumber else { throw model.fail("vocab", "id of \"\(token)\" is not a number") }
            vocabulary[Array(token.utf8)] = Int32(truncating: id)
        }
        let unknownToken = try model.string("unk_token") ?? "[UNK]"
        guard let unknownID = vocabulary[Array(unknownToken.utf8)] else { throw model.fail("unk_token", "\"\(unknownToken)\" is not in the vocabulary") }
        let wordPiece = WordPiece(vocabulary: vocabulary, unknownID: unknownID,
                                  continuingPrefix: try model.string("continuing_subword_prefix") ?? "##",
                                  maxInputCharsPerWord: try model.int("max_input_chars_per_word") ?? 100)

        let normalizer: BertNormalizer
        if let n = try root.object("normalizer") {
            guard try n.string("type") == "BertNormalizer" else {
                throw TextEncodingError.unsupported(path: root.path, field: "normalizer.type", reason: "\(try n.string("type") ?? "?") (BertNormalizer only)")
            }
            normalizer = BertNormalizer(cleanText: try n.bool("clean_text") ?? true, handleChineseChars: try n.bool("handle_chinese_chars") ?? true,
                                        stripAccents: try n.bool("strip_accents"), lowercase: try n.bool("lowercase") ?? true)
        } else {
            normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        }
        if let p = try root.object("pre_tokenizer"), let type = try p.string("type"), type != "BertPreTokenizer" {
            throw TextEncodingError.unsupported(path: root.path, field: "pre_tokenizer.type", reason: "\(type) (BertPreTokenizer only)")
        }

        var added: [AddedToken] = []
        for (i, entry) in (try root.array("added_tokens") ?? []).enumerated() {
            guard let e = entry as? [String: Any], let content = e["content"] as? String, let id = e["id"] as? NSNumber else {
                throw root.fail("added_tokens[\(i)]", "expected {content, id}")
            }
            added.append(AddedToken(content: content, id: Int32(truncating: id), normalized: (e["normalized"] as? Bool) ?? false))
        }

        let (prefix, suffix) = try postProcessorIDs(root, vocabulary: vocabulary)
        let padID = try (root.object("padding")?.int("pad_id")).map(Int32.init) ?? vocabulary[Array("[PAD]".utf8)] ?? 0
        return TextTokenizer(normalizer: normalizer, wordPiece: wordPiece, addedTokens: added, prefixIDs: prefix,
                             suffixIDs: suffix, padID: padID, maxLength: maxLength)
    }

    /// The special ids around a single sequence: TemplateProcessing's "single", or Bert/RobertaProcessing's cls/sep.
    static func postProcessorIDs(_ root: JSONObject, vocabulary: [[UInt8]: Int32]) throws -> ([Int32], [Int32]) {
        guard let p = try root.object("post_processor") else { return ([], []) }
        switch try p.string("type") {
        case "BertProcessing", "RobertaProcessing":
            func pair(_ key: String) throws -> Int32 {
                guard let a = try p.array(key), a.count == 2, let id = a[1] as? NSNumber else { throw p.fail(key, "expected [token, id]") }
                return Int32(truncating: id)
            }
            return ([try pair("cls")], [try pair("sep")])
        case "TemplateProcessing":
            guard let single = try p.array("single") else { throw p.fail("single", "missing") }
            let specials = try p.object("special_tokens")
            var prefix: [Int32] = [], suffix: [Int32] = [], seenSequence = false
            for (i, element) in single.enumerated() {
                guard let e = element as? [String: Any] else { throw p.fail("single[\(i)]", "expected an object") }
                if e["Sequence"] != nil { seenSequence = true; continue }
                guard let special = e["SpecialToken"] as? [String: Any], let name = special["id"] as? String else {
                    throw p.fail("single[\(i)]", "expected Sequence or SpecialToken")
                }
                let ids: [Int32]
                if let entry = specials?.values[name] as? [String: Any], let list = entry["ids"] as? [NSNumber] {
                    ids = list.map { Int32(truncating: $0) }
                } else if let id = vocabulary[Array(name.utf8)] {
                    ids = [id]
                } else {
                    throw p.fail("single[\(i)]", "special token \"\(name)\" has no id")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            }
            return (prefix, suffix)
        case let other:
            throw TextEncodingError.unsupported(path: root.path, field: "post_processor.type", reason: "\(other ?? "?") is not supported")
        }
    }

    static func fromVocabText(_ directory: ModelDirectory, maxLength: Int) throws -> TextTokenizer {
        let url = directory.file("vocab.txt")
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TextEncodingError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        var vocabulary: [[UInt8]: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            // The slow tokenizer strips each line; the first occurrence of a duplicate keeps the last id, as in Python.
            let token = line.trimmingCharacters(in: .whitespacesAndNewlines)
            vocabulary[Array(token.utf8)] = Int32(i)
        }
        let config = try directory.json("tokenizer_config.json", required: false)
        let specialsMap = try directory.json("special_tokens_map.json", required: false)
        func special(_ key: String, _ fallback: String) throws -> String {
            for source in [config, specialsMap].compactMap({ $0 }) {
                if let s = source.values[key] as? String { return s }
                if let o = source.values[key] as? [String: Any], let s = o["content"] as? String { return s }
            }
            return fallback
        }
        let isRoberta = (try config?.string("tokenizer_class") ?? "").lowercased().contains("mpnet")
        let cls = try special("cls_token", isRoberta ? "<s>" : "[CLS]"), sep = try special("sep_token", isRoberta ? "</s>" : "[SEP]")
        let unk = try special("unk_token", "[UNK]"), pad = try special("pad_token", isRoberta ? "<pad>" : "[PAD]")
        let mask = try special("mask_token", isRoberta ? "<mask>" : "[MASK]")
        func id(_ token: String, _ field: String) throws -> Int32 {
            guard let id = vocabulary[Array(token.utf8)] else {
                throw TextEncodingError.malformed(path: url.path, field: field, reason: "\"\(token)\" is not in the vocabulary")
            }
            return id
        }
        let lowercase = try config?.bool("do_lower_case") ?? true
        let normalizer = BertNormalizer(cleanText: true, handleChineseChars: try config?.bool("tokenize_chinese_chars") ?? true,
                                        stripAccents: try config?.bool("strip_accents"), lowercase: lowercase)
        let added = try [cls, sep, unk, pad, mask].map { AddedToken(content: $0, id: try id($0, "special token"), normalized: false) }
        return TextTokenizer(normalizer: normalizer,
                             wordPiece: WordPiece(vocabulary: vocabulary, unknownID: try id(unk, "unk_token")),
                             addedTokens: added, prefixIDs: [try id(cls, "cls_token")], suffixIDs: [try id(sep, "sep_token")],
                             padID: try id(pad, "pad_token"), maxLength: maxLength)
    }
}
