// Fuzz target: the flat JSON object reader of metrics reports (FUZZ_TARGET=flat-json).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFlatJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? FlatJSONObject.parse(text)
    return 0
}
