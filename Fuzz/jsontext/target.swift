// Fuzz target: the JSON cursor (FUZZ_TARGET=json): whole documents under both surrogate policies and a shallow
// depth limit, plus the member-by-member walk the dataset readers use.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    for options in [JSONCursor.Options(), JSONCursor.Options(maxDepth: 64, replacingLoneSurrogates: true)] {
        guard let value = try? JSONValue.parse(bytes, options: options) else { continue }
        func touch(_ v: JSONValue) {
            _ = (v.int, v.double, v.string, v.kindName, v["key"])
            switch v {
            case .array(let items): items.forEach(touch)
            case .object(let members): members.forEach { touch($0.value) }
            default: break
            }
        }
        touch(value)
    }
    var cursor = JSONCursor(bytes)
    try? cursor.readObject { _, cursor in
        switch cursor.peek() {
        case UInt8(ascii: "[")?: try cursor.readArray { cursor in _ = try? cursor.parseInt(); try cursor.skipValue() }
        case UInt8(ascii: "\"")?: _ = try cursor.parseString()
        default: try cursor.skipValue()
        }
    }
    return 0
}
