// Fuzz targets: the server's request decoders. FUZZ_TARGET=recommend-request: POST /recommend's JSON body (any bytes
// must give a request or an APIError with a 4xx status, never a crash); admin-auth: the Authorization header check.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecommendAPI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if ProcessInfo.processInfo.environment["FUZZ_TARGET"] == "admin-auth" {
        let header = String(decoding: bytes, as: UTF8.self)
        if AdminAuthorization.allows(header: header, token: "s3cret-token") && header.dropFirst(7) != "s3cret-token" {
            fatalError("accepted a wrong token: \(header)")
        }
        return 0
    }
    do {
        let request = try RecommendRequest.decode(bytes)
        _ = request.history.count
    } catch {
        if !(400..<500).contains(error.status) { fatalError("status \(error.status) for a client error") }
    }
    return 0
}
