import XCTest
@testable import TextEncoding

final class TokenizerTests: XCTestCase {
    /// Every fixture text through our tokenizer against the Python fast tokenizer's ids; reports the first mismatches.
    func assertSameIDs(_ tokenizer: TextTokenizer, _ expected: [[Int32]], _ texts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(expected.count, texts.count, file: file, line: line)
        var mismatches = 0
        for (text, want) in zip(texts, expected) {
            let got = tokenizer.encode(text)
            if got != want {
                mismatches += 1
                if mismatches <= 5 { XCTFail("text \(text.debugDescription.prefix(200)):\n ours   \(got.prefix(40))\n python \(want.prefix(40))", file: file, line: line) }
            }
        }
        XCTAssertEqual(mismatches, 0, "\(mismatches) of \(texts.count) texts tokenised differently", file: file, line: line)
    }

    func testTinyBERTTokenizerMatchesPython() throws {
        let fixture: [String: Any] = try Fixtures.json("tiny-bert.json")
        let encoder = try SentenceEncoder.load(Fixtures.path("tiny-bert"))
        XCTAssertEqual(encoder.tokenizer.maxLength, 48)
        assertSameIDs(encoder.tokenizer, Fixtures.ids(fixture["ids"]!), try Fixtures.texts)
    }

    func testTinyMPNetTokenizerMatchesPython() throws {
        let fixture: [String: Any] = try Fixtures.json("tiny-mpnet.json")
        let encoder = try SentenceEncoder.load(Fixtures.path("tiny-mpnet"))
        XCTAssertEqual(encoder.tokenizer.prefixIDs, [0])
        XCTAssertEqual(encoder.tokenizer.suffixIDs, [2])
        assertSameIDs(encoder.tokenizer, Fixtures.ids(fixture["ids"]!), try Fixtures.texts)
    }

    func testMiniLMTokenizerMatchesPython() throws {
        let encoder = try SentenceEncoder.load(try Fixtures.realModel("all-MiniLM-L6-v2"))
        XCTAssertEqual(encoder.tokenizer.maxLength, 256)
        assertSameIDs(encoder.tokenizer, Fixtures.ids(try Fixtures.json("tokens-minilm.json") as [Any]), try Fixtures.texts)
    }

    func testMPNetTokenizerMatchesPython() throws {
        let encoder = try SentenceEncoder.load(try Fixtures.realModel("all-mpnet-base-v2"))
        XCTAssertEqual(encoder.tokenizer.maxLength, 384)
        assertSameIDs(encoder.tokenizer, Fixtures.ids(try Fixtures.json("tokens-mpnet.json") as [Any]), try Fixtures.texts)
    }

    func testNormalizerSteps() {
        let n = BertNormalizer(lowercase: true)
        func norm(_ s: String) -> String {
            var v = String.UnicodeScalarView(); v.append(contentsOf: n.normalize(Array(s.unicodeScalars))); return String(v)
        }
        XCTAssertEqual(norm("Café NAÏVE"), "cafe naive")
        XCTAssertEqual(norm("a\u{00AD}b\u{200B}c\u{0007}d"), "abcd")          // format and control scalars dropped
        XCTAssertEqual(norm("a\tb\u{00A0}c\u{2028}d"), "a b c d")              // every whitespace becomes a space
        XCTAssertEqual(norm("中文"), " 中  文 ")                                 // CJK ideographs padded
        XCTAssertEqual(norm("ㄱア"), "ㄱア")                                     // Hangul and kana are not
        XCTAssertEqual(norm("ΣΑΣ"), "σασ")                                      // no final-sigma context, as tokenizers
        let cased = BertNormalizer(lowercase: false)
        var v = String.UnicodeScalarView(); v.append(contentsOf: cased.normalize(Array("Café".unicodeScalars)))
        XCTAssertEqual(Array(String(v).unicodeScalars), Array("Café".unicodeScalars))
    }

    func testPreTokenizerIsolatesPunctuationIncludingASCIISymbols() {
        let words = BertText.preTokenize(Array("a$b+c «d» e-f".unicodeScalars)).map { String(String.UnicodeScalarView($0)) }
        XCTAssertEqual(words, ["a", "$", "b", "+", "c", "«", "d", "»", "e", "-", "f"])
    }

    func testWordPieceGreedyLongestMatchAndUnknownWord() {
        let vocab: [String: Int32] = ["[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "unaff": 4, "##a": 5]
        let wp = WordPiece(vocabulary: Dictionary(uniqueKeysWithValues: vocab.map { (Array($0.key.utf8), $0.value) }), unknownID: 0,
                           maxInputCharsPerWord: 8)
        var ids: [Int32] = []
        wp.encode(Array("unaffable".unicodeScalars)[...], into: &ids)   // 9 scalars > 8: unknown as a whole
        XCTAssertEqual(ids, [0])
        let wide = WordPiece(vocabulary: wp.vocabulary, unknownID: 0)
        ids = []; wide.encode(Array("unaffable".unicodeScalars)[...], into: &ids)
        XCTAssertEqual(ids, [4, 3])                                      // "unaff" beats "un" + "##aff"
        ids = []; wide.encode(Array("unaffx".unicodeScalars)[...], into: &ids)
        XCTAssertEqual(ids, [0])                                         // a remainder with no piece: the whole word
    }

    func testTruncationKeepsHeadAndSpecialTokens() throws {
        var tokenizer = try SentenceEncoder.load(Fixtures.path("tiny-bert")).tokenizer
        tokenizer.maxLength = 6
        let ids = tokenizer.encode(String(repeating: "a ", count: 50))
        XCTAssertEqual(ids.count, 6)
        XCTAssertEqual(ids.first, tokenizer.prefixIDs[0])
        XCTAssertEqual(ids.last, tokenizer.suffixIDs[0])
    }
}
