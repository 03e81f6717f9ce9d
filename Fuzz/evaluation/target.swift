// Fuzz target: the metrics report reader (FUZZ_TARGET=flat-json), JSONText underneath.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFlatJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let report = try? MetricsReport(json: text) { _ = report.jsonString() }
    return 0
}
