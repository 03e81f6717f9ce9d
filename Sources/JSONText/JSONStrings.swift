// Strings: decoded exactly (escapes, surrogate pairs) and refused when they are not valid UTF-8, so a damaged file
// fails with its offset instead of turning silently into U+FFFD text.
extension JSONCursor {
    public mutating func parseString() throws(JSONSyntaxError) -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = position
        // Fast path: no escapes, the text is the bytes themselves.
        let (end, ascii) = plainRun(from: start)
        position = end
        if end < bytes.count && bytes[end] == UInt8(ascii: "\"") {
            let text = try validated(UnsafeBufferPointer(rebasing: bytes[start..<end]), start, ascii: ascii)
            position += 1
            return text
        }
        var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "\""):
                position += 1
                return try decoded.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try validated(buffer, start, ascii: false) }
            case UInt8(ascii: "\\"):
                position += 1
                let scalar = try escape()
                if scalar.isASCII { decoded.append(UInt8(scalar.value)) } else { decoded.append(contentsOf: String(scalar).utf8) }
            case 0..<0x20: throw fail("control character in string")
            default:
                decoded.append(b)
                position += 1
            }
        }
        throw fail("unterminated string")
    }

    /// Where the run of plain string bytes from `start` ends (at a quote, backslash or control byte, or the end of
    /// input), and whether it is all ASCII. Eight bytes per step (SWAR): item descriptions are long.
    private func plainRun(from start: Int) -> (end: Int, ascii: Bool) {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var index = start
        var seen: UInt64 = 0
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                // A byte below 0x20, or one equal to a quote or backslash (a zero byte after the xor), anywhere in the word.
                let special = ((word &- ones &* 0x20) & ~word) | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                if special & highs != 0 { break }
                seen |= word
                index += 8
            }
        }
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
            seen |= UInt64(b)
            index += 1
        }
        return (index, seen & highs == 0)
    }

    /// The bytes as a String, refused when they are not UTF-8. Decoding turns invalid bytes into U+FFFD, so the text
    /// differs from its bytes exactly when they were invalid. (`String(validating:)` runs unspecialised, looking up
    /// generic metadata per call: reading a 100 MB item file took 40% longer.)
    private func validated(_ utf8: UnsafeBufferPointer<UInt8>, _ start: Int, ascii: Bool) throws(JSONSyntaxError) -> String {
        let text = String(decoding: utf8, as: UTF8.self)
        if ascii { return text }
        let same = text.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(utf8) } ?? text.utf8.elementsEqual(utf8)
        guard same else { throw JSONSyntaxError(offset: start, reason: "string is not valid UTF-8") }
        return text
    }

    /// Checks a string's syntax (escapes, control characters) without building it.
    mutating func skipString() throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "\""), "a string")
        while position < bytes.count {
            let b = bytes[position]
            if b < 0x20 { throw fail("control character in string") }
            position += 1
            if b == UInt8(ascii: "\"") { return }
            if b == UInt8(ascii: "\\") { _ = try escape() }
        }
        throw fail("unterminated string")
    }

    /// The character of the escape after a backslash.
    private mutating func escape() throws(JSONSyntaxError) -> Unicode.Scalar {
        guard position < bytes.count else { throw fail("unterminated string") }
        let b = bytes[position]
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): position += 1; return Unicode.Scalar(b)
        case UInt8(ascii: "n"): position += 1; return "\n"
        case UInt8(ascii: "t"): position += 1; return "\t"
        case UInt8(ascii: "r"): position += 1; return "\r"
        case UInt8(ascii: "b"): position += 1; return "\u{8}"
        case UInt8(ascii: "f"): position += 1; return "\u{C}"
        case UInt8(ascii: "u"):
            position += 1
            return try unicodeEscape()
        default: throw fail("invalid escape \\\(Character(Unicode.Scalar(b)))")
        }
    }

    /// After `\u`: four hex digits, combined with a following escaped low surrogate when they are a high one.
    private mutating func unicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let escapeStart = position - 2
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high), position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
        {
            let save = position
            position += 2
            let low = try hex4()
            if (0xDC00..<0xE000).contains(low), let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) {
                return scalar
            }
            position = save
        }
        if let scalar = Unicode.Scalar(high) { return scalar }
        guard options.replacingLoneSurrogates else {
            throw JSONSyntaxError(offset: escapeStart, reason: "unpaired surrogate in \\u escape")
        }
        return "\u{FFFD}"
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
