// Numbers are checked against the JSON grammar and kept as written, so integers of any size stay exact and each
// caller picks its own conversion.
extension JSONCursor {
    @inlinable func isDigit(_ index: Int) -> Bool {
        index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")
    }

    /// One number, checked against the JSON grammar and returned as written.
    public mutating func parseNumber() throws(JSONSyntaxError) -> String {
        skipWhitespace()
        let start = position
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard isDigit(position) else {
            throw position == start ? fail("unexpected character") : fail("invalid number")
        }
        // A leading zero stands alone ("01" is not JSON).
        if bytes[position] == UInt8(ascii: "0") { position += 1 } else { while isDigit(position) { position += 1 } }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard isDigit(position) else { throw fail("invalid number") }
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            guard isDigit(position) else { throw fail("invalid number") }
            while isDigit(position) { position += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    /// An integer value (a JSON number, or a string of digits as some LC-Rec files write ids).
    @inlinable public mutating func parseInt() throws(JSONSyntaxError) -> Int {
        skipWhitespace()
        // Fast path for plain decimal integers (item indices): no String is built.
        var index = position
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let firstDigit = index
        var value = 0
        while isDigit(index), index - firstDigit < 18 {
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        let digits = index - firstDigit
        let after = index < bytes.count ? bytes[index] : 0
        if digits > 0, digits == 1 || bytes[firstDigit] != UInt8(ascii: "0"),
            after != UInt8(ascii: ".") && after != UInt8(ascii: "e") && after != UInt8(ascii: "E") && !isDigit(index)
        {
            position = index
            return negative ? -value : value
        }
        return try parseIntSlowly()
    }

    /// Long, quoted or malformed integers.
    @usableFromInline mutating func parseIntSlowly() throws(JSONSyntaxError) -> Int {
        let start = position
        if peek() == UInt8(ascii: "\"") {
            let text = try parseString()
            guard let value = Int(text) else { throw JSONSyntaxError(offset: start, reason: "expected an integer, got \"\(text)\"") }
            return value
        }
        let text = try parseNumber()
        guard let value = Int(text) else { throw JSONSyntaxError(offset: start, reason: "expected an integer, got \(text)") }
        return value
    }
}
