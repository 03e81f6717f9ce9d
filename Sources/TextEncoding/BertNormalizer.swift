import Foundation

/// BERT's text normalisation and pre-tokenisation, scalar by scalar as Hugging Face `tokenizers` does them
/// (`BertNormalizer`, `BertPreTokenizer`). Works on Unicode scalars, never on Swift Characters: grapheme clusters
/// would glue an accent to its letter and change what is split where.
public struct BertNormalizer: Sendable, Equatable {
    public var cleanText = true
    public var handleChineseChars = true
    public var stripAccents = true
    public var lowercase = true

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        // tokenizers: strip_accents null follows lowercase.
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalised text, in the order tokenizers applies the steps: clean, CJK padding, NFD + drop Mn, lowercase.
    public func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count + 8)
        for s in scalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || BertText.isControl(s) { continue }
                if BertText.isWhitespace(s) { out.append(" "); continue }
            }
            if handleChineseChars && BertText.isChinese(s) {
                out.append(" "); out.append(s); out.append(" ")
            } else {
                out.append(s)
            }
        }
        if stripAccents {
            // NFD of the whole string (canonical reordering included), then drop nonspacing marks.
            var text = String.UnicodeScalarView()
            text.append(contentsOf: out)
            let decomposed = String(text).decomposedStringWithCanonicalMapping
            out = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for s in out {
                // ASCII fast path; otherwise the full per-scalar mapping (no context: tokenizers has no final sigma).
                if s.value < 0x80 {
                    lowered.append(s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            out = lowered
        }
        return out
    }
}

public enum BertText {
    /// tokenizers' `is_whitespace`: tab, newline, carriage return, or Unicode White_Space.
    @inline(__always)
    public static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s == " " || s == "\t" || s == "\n" || s == "\r" || s.value == 0x0B || s.value == 0x0C }
        return s.properties.isWhitespace
    }

    /// tokenizers' `is_control`: categories Cc, Cf, Co (and Cs), except tab/newline/carriage return. Unassigned (Cn)
    /// scalars are kept — checked against tokenizers, which maps U+0378 to [UNK] rather than dropping it.
    @inline(__always)
    public static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        if s.value >= 0x20 && s.value < 0x7F { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// BERT's punctuation: any ASCII punctuation (including symbols such as $ + < = > ^ ` | ~) or Unicode P*.
    @inline(__always)
    public static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation, .initialPunctuation,
             .otherPunctuation, .openPunctuation: return true
        default: return false
        }
    }

    /// The CJK Unified Ideograph blocks BERT pads with spaces (Hangul and kana are not among them).
    @inline(__always)
    public static func isChinese(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    /// `BertPreTokenizer`: split on whitespace (dropped), then isolate every punctuation scalar as its own word.
    public static func preTokenize(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, s) in scalars.enumerated() {
            if isWhitespace(s) {
                if start < i { words.append(scalars[start..<i]) }
                start = i + 1
            } else if isPunctuation(s) {
                if start < i { words.append(scalars[start..<i]) }
                words.append(scalars[i...i])
                start = i + 1
            }
        }
        if start < scalars.count { words.append(scalars[start...]) }
        return words
    }
}
