import COpenSSL
import Foundation

/// SHA-256 through libcrypto (already linked for TLS), streamed so a large weights file is never held twice.
enum SHA256 {
    static func hex(ofFile url: URL) throws -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw BundleError.unreadable(file: url.lastPathComponent, reason: "cannot open for reading")
        }
        defer { try? handle.close() }
        guard let context = EVP_MD_CTX_new() else { throw BundleError.unreadable(file: url.lastPathComponent, reason: "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}
