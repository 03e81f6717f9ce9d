import CJPEG
import CPNG
import Foundation

/// Why an image could not be used. Every case names the file, so a log line says which item lost its image.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case unsupportedFormat(path: String)
    case corrupt(path: String, format: String, reason: String)
    case tooLarge(path: String, reason: String)
    case remote(reference: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read the image file (\(reason))"
        case .empty(let path): return "\(path): the image file is empty"
        case .unsupportedFormat(let path): return "\(path): not a JPEG or PNG file (unrecognised signature)"
        case .corrupt(let path, let format, let reason): return "\(path): corrupt \(format) data (\(reason))"
        case .tooLarge(let path, let reason): return "\(path): image too large (\(reason))"
        case .remote(let reference):
            return "\(reference): a URL, not a local file; download it and pass its folder with --image-dir"
        }
    }
}

/// JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB; the format is told by the file's signature.
public enum ImageDecoder {
    /// Larger images are refused rather than allocated (a 16k × 16k photo is 768 MB of RGB).
    public static let maxPixels = 64 << 20

    public static func decode(contentsOf url: URL) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        return try decode(data, path: url.path)
    }

    /// `path` only names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> RGBImage {
        guard !data.isEmpty else { throw ImageError.empty(path: path) }
        let bytes = [UInt8](data)
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
            return try run("JPEG", bytes, path, cjpeg_decode_rgb)
        }
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try run("PNG", bytes, path, cpng_decode_rgb)
        }
        throw ImageError.unsupportedFormat(path: path)
    }

    private typealias CDecoder = (UnsafePointer<UInt8>?, UInt, UInt, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                                  UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<CChar>?, Int32) -> Int32

    private static func run(_ format: String, _ bytes: [UInt8], _ path: String, _ decoder: CDecoder) throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { buffer in
            decoder(buffer.baseAddress, UInt(buffer.count), UInt(maxPixels), &pixels, &width, &height, &message, Int32(message.count))
        }
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch status {
        case 0: break
        case 3: throw ImageError.tooLarge(path: path, reason: reason)
        default: throw ImageError.corrupt(path: path, format: format, reason: reason.isEmpty ? "decoder failed" : reason)
        }
        guard let pixels else { throw ImageError.corrupt(path: path, format: format, reason: "no pixels") }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * 3
        guard count > 0 else { throw ImageError.corrupt(path: path, format: format, reason: "zero-sized image") }
        return RGBImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}
