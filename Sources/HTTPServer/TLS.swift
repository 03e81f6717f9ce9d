import COpenSSL

/// A server `SSL_CTX` loaded from PEM files: TLS 1.2 minimum, ALPN preferring `h2` over `http/1.1`.
/// OpenSSL makes `SSL_new` on a shared context thread-safe and reference-counts the context, so connections keep the
/// one they started with when a reload swaps in a new one.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    init(_ files: TLSFiles) throws(HTTPServerError) {
        guard let method = TLS_server_method(), let ctx = SSL_CTX_new(method) else {
            throw .tls("SSL_CTX_new failed: \(TLSContext.lastError())")
        }
        context = ctx
        // SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl.
        guard SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
            throw .tls("cannot set TLS 1.2 as the minimum version: \(TLSContext.lastError())")
        }
        guard SSL_CTX_use_certificate_chain_file(ctx, files.certificateChainPath) == 1 else {
            throw .tls("cannot load certificate chain '\(files.certificateChainPath)': \(TLSContext.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, files.privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw .tls("cannot load private key '\(files.privateKeyPath)': \(TLSContext.lastError())")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw .tls("private key '\(files.privateKeyPath)' does not match certificate '\(files.certificateChainPath)'")
        }
        SSL_CTX_set_alpn_select_cb(ctx, selectALPN, nil)
    }

    deinit { SSL_CTX_free(context) }

    /// The configured minimum protocol version (e.g. `TLS1_2_VERSION`).
    var minimumProtocolVersion: Int { SSL_CTX_ctrl(context, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nil) }

    static func lastError() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(cString(buffer))
        }
        return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
    }
}

/// ALPN: choose `h2` if the client offers it, else `http/1.1`, else continue without ALPN (the first bytes decide).
/// `out` points into the client's list, which outlives the callback as OpenSSL requires.
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                        _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    var http11: (UnsafePointer<UInt8>, UInt8)?
    var i = 0
    while i < Int(offeredLength) {
        let length = Int(offered[i])
        let start = offered + i + 1
        guard i + 1 + length <= Int(offeredLength) else { break }
        let name = UnsafeBufferPointer(start: start, count: length)
        if name.elementsEqual("h2".utf8) {
            out.pointee = start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        if name.elementsEqual("http/1.1".utf8) { http11 = (start, UInt8(length)) }
        i += 1 + length
    }
    if let (start, length) = http11 {
        out.pointee = start
        outLength.pointee = length
        return SSL_TLSEXT_ERR_OK
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// One TLS connection over memory BIOs: ciphertext in and out as bytes, so the socket code stays the same for TLS
/// and cleartext. Confined to the connection's queue.
final class TLSSession {
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private(set) var handshakeComplete = false
    /// The peer sent close_notify.
    private(set) var peerClosed = false

    init(_ context: TLSContext) throws(HTTPServerError) {
        guard let ssl = SSL_new(context.context), let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            throw .tls("SSL_new failed: \(TLSContext.lastError())")
        }
        self.ssl = ssl
        readBIO = rbio
        writeBIO = wbio
        SSL_set_bio(ssl, rbio, wbio)  // ssl now owns both BIOs
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(ssl) }

    /// Feeds ciphertext from the peer and appends any decrypted bytes to `plaintext`. Returns true when this call
    /// completed the handshake.
    func feed(_ ciphertext: UnsafeRawBufferPointer, plaintext: inout [UInt8]) throws(HTTPServerError) -> Bool {
        if !ciphertext.isEmpty { BIO_write(readBIO, ciphertext.baseAddress, Int32(ciphertext.count)) }
        var completed = false
        if !handshakeComplete {
            let rv = SSL_do_handshake(ssl)
            if rv == 1 {
                handshakeComplete = true
                completed = true
            } else {
                let code = SSL_get_error(ssl, rv)
                if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return false }
                throw .tls("handshake failed: \(TLSContext.lastError())")
            }
        }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                plaintext.append(contentsOf: chunk[0..<Int(n)])
                continue
            }
            let code = SSL_get_error(ssl, n)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { break }
            if code == SSL_ERROR_ZERO_RETURN {
                peerClosed = true
                break
            }
            throw .tls("read failed: \(TLSContext.lastError())")
        }
        return completed
    }

    /// Encrypts `plaintext`; the records appear in `drainCiphertext`.
    func write(_ plaintext: [UInt8]) throws(HTTPServerError) {
        guard !plaintext.isEmpty else { return }
        let n = plaintext.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        if n != Int32(plaintext.count) { throw .tls("write failed: \(TLSContext.lastError())") }
    }

    func drainCiphertext(into sink: inout [UInt8]) {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else { return }
        let start = sink.count
        sink.append(contentsOf: repeatElement(0, count: pending))
        let n = sink.withUnsafeMutableBytes { BIO_read(writeBIO, $0.baseAddress! + start, Int32(pending)) }
        sink.removeLast(pending - Int(max(n, 0)))
    }

    /// Queues close_notify.
    func shutdown() {
        if handshakeComplete { SSL_shutdown(ssl) }
    }

    var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
}
