import Foundation

// Fuzz target: a whole safetensors file (FUZZ_TARGET=safetensors), header JSON and offsets included. Tensors that
// parse are read back as floats and ints, the accessors the models use.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? SafeTensors(data: Data(bytes: data, count: size), source: "fuzz") else { return 0 }
    for name in file.names {
        _ = try? file.floats(name)
        _ = try? file.ints(name)
        _ = try? file.shape(name)
    }
    _ = file.serialized()
    return 0
}
