import BinaryFiles
import Foundation

// Fuzz targets for the dataset readers (the JSON cursor itself is fuzzed in Fuzz/jsontext):
//   dataset-bin   `dataset.bin` (the checksum is recomputed so mutations get past it to the structure checks: FNV-1a,
//                 or CRC-32 when the version field says 1, the legacy format)
//   dataset-text  the source readers; the first byte picks the reader and the file the rest of the input becomes
private let which = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "dataset-text"
private let scratch: String = {
    let dir = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/mscgrec-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatasets(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    switch which {
    case "dataset-bin": fuzzPrepared(Array(bytes))
    default: fuzzReaders(Array(bytes))
    }
    return 0
}

private func fuzzPrepared(_ input: [UInt8]) {
    var bytes = input
    if bytes.count >= 12, bytes[8..<12].elementsEqual([1, 0, 0, 0]) {
        let sum = LegacyPreparedFile.crc32(bytes[..<(bytes.count - 4)])
        withUnsafeBytes(of: sum.littleEndian) { bytes.replaceSubrange((bytes.count - 4)..., with: $0) }
    } else if bytes.count >= checksumByteCount {
        bytes = [UInt8](sealed(bytes.dropLast(checksumByteCount)))
    }
    _ = try? PreparedFile.decode(bytes, path: "fuzz/dataset.bin")
}

/// Minimal valid companions, so the fuzzed file is the one that decides.
private let lcrecInter = #"{"u1": [1, 2, 3], "u2": [2, 3, 1]}"#
private let lcrecItems = #"{"1": {"title": "a"}, "2": {"title": "b"}, "3": {"title": "c"}}"#

private func fuzzReaders(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let body = Data(input.dropFirst())
    // One directory per selector, each always holding the same file names, so nothing stale is left between runs.
    let dir = scratch + "/\(selector % 16)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    func write(_ name: String, _ data: Data) { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: data) }
    let quiet: (String) -> Void = { _ in }
    switch selector % 8 {
    case 0:
        write("r.jsonl", body)
        _ = try? Amazon2023Reader.read(reviews: dir + "/r.jsonl", meta: nil, name: "F", progress: quiet)
    case 1:
        write("r.jsonl", Data(#"{"user_id": "u", "parent_asin": "A", "timestamp": 1}"#.utf8))
        write("m.jsonl", body)
        _ = try? Amazon2023Reader.read(reviews: dir + "/r.jsonl", meta: dir + "/m.jsonl", name: "F", progress: quiet)
    case 2:
        write("f.csv", body)
        _ = try? CSVReader.read(path: dir + "/f.csv", name: "F", delimiter: nil, itemsFile: nil, progress: quiet)
    case 3:
        write("F.inter", body)
        _ = try? RecBoleReader.read(directory: dir, name: "F", itemsFile: nil, progress: quiet)
    case 4:
        write("F.inter", Data("user_id:token\titem_id:token\ttimestamp:float\nu\t1\t1\nu\t2\t2\n".utf8))
        write("F.item", body)
        _ = try? RecBoleReader.read(directory: dir, name: "F", itemsFile: nil, progress: quiet)
    case 5:
        write("F.inter.json", body)
        _ = try? LCRecReader.read(directory: dir, name: "F", progress: quiet)
    case 6:
        write("F.inter.json", Data(lcrecInter.utf8))
        write("F.item.json", body)
        _ = try? LCRecReader.read(directory: dir, name: "F", progress: quiet)
    default:
        write("F.inter.json", Data(lcrecInter.utf8))
        write("F.item.json", Data(lcrecItems.utf8))
        write(selector & 8 == 0 ? "F.index.json" : "F.item2id", body)
        _ = try? LCRecReader.read(directory: dir, name: "F", progress: quiet)
    }
}
