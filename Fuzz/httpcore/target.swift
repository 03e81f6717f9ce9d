#if canImport(Glibc)
import Glibc
#endif

// Fuzz targets for the protocol engines (FUZZ_TARGET=http1 | http2), bytes in. The first input byte picks how the
// rest is split into receive calls, so chunk boundaries are explored too; the handler answers every request with
// each kind of response part, so output paths run on whatever the parser accepted.
private let which = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "http1"
private let date = "Thu, 01 Jan 1970 00:00:00 GMT"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    var limits = HTTPLimits()
    limits.maxBodyBytes = 4096
    limits.maxHeadBytes = 2048
    limits.maxConcurrentStreams = 8
    limits.initialWindowSize = 4096
    let step = Int(first % 32) + 1
    if which == "http2" {
        runHTTP2(ConnectionEngine.preface + bytes.dropFirst(), step: step, limits: limits)
    } else {
        runHTTP1(Array(bytes.dropFirst()), step: step, limits: limits)
    }
    return 0
}

private func answer(_ id: Int64, _ request: HTTPRequest, send: (ResponsePart, Int64) -> Void) {
    switch request.body.count % 3 {
    case 0: send(.complete(HTTPResponse(status: 200, headers: [:], body: request.body)), id)
    case 1:
        send(.head(HTTPResponseHead(status: 200, headers: ["x-path": "p"])), id)
        send(.body(Array(request.path.utf8)), id)
        send(.end, id)
    default:
        send(.head(HTTPResponseHead(status: 204, headers: ["content-length": "x"])), id)
        send(.end, id)
    }
}

private func runHTTP1(_ input: [UInt8], step: Int, limits: HTTPLimits) {
    let engine = HTTP1Engine(limits: limits, outputHighWater: 512, date: { date })
    var sink: [UInt8] = []
    var i = 0
    while i < input.count {
        let end = min(input.count, i + step)
        engine.receive(Array(input[i..<end]))
        i = end
        for (id, request) in engine.takeRequests() { answer(id, request) { engine.send($0, for: $1) } }
        engine.takeOutput(into: &sink)
        sink.removeAll(keepingCapacity: true)
        _ = (engine.phase, engine.wantsInput)
    }
    engine.receiveEnd()
    engine.timedOut()
    engine.takeOutput(into: &sink)
}

private func runHTTP2(_ input: [UInt8], step: Int, limits: HTTPLimits) {
    let engine = ConnectionEngine(limits: limits, date: { date })
    var sink: [UInt8] = []
    var i = 0
    while i < input.count {
        let end = min(input.count, i + step)
        engine.receive(Array(input[i..<end]))
        i = end
        for (id, request) in engine.takeRequests() { answer(id, request) { engine.send($0, for: $1) } }
        engine.takeOutput(into: &sink, limit: 8192)
        sink.removeAll(keepingCapacity: true)
        _ = (engine.phase, engine.wantsInput, engine.isFinished, engine.outputBlocked)
    }
    engine.beginGracefulShutdown()
    engine.timedOut()
    engine.takeOutput(into: &sink, limit: 1 << 20)
}
