import Foundation

// Fuzz target: any bytes as an image file (FUZZ_TARGET=image), through the JPEG/PNG shims (libjpeg's longjmp error
// path, libpng's simplified API); images that decode are assessed for placeholders and cropped.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let image = try? ImageDecoder.decode(Data(bytes: data, count: size), path: "fuzz") else { return 0 }
    _ = ImageQuality.assess(image)
    _ = Resampling.crop(image, CropBox(x: 0.5, y: 0.5, width: Double(image.width) / 2 + 0.5, height: Double(image.height)), width: 7, height: 5, flip: true)
    return 0
}
