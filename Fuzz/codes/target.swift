import BinaryFiles
import Catalog
import Foundation

// Fuzz targets for the code artefacts: npy | prefix-tree | codes | lcrec-index. The trailing FNV-1a checksum of
// `.tree` and `.codes` files is recomputed, so mutations reach the structure checks behind it.
// FUZZ_MAKE_SEEDS=DIR writes valid seed files made by the real writers and exits.
private let environment = ProcessInfo.processInfo.environment
private let which = environment["FUZZ_TARGET"] ?? "npy"
private let catalogIDs = (0..<16).map(String.init)

@_cdecl("LLVMFuzzerInitialize")
public func fuzzCodesInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let dir = environment["FUZZ_MAKE_SEEDS"] {
        makeSeeds(dir)
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodes(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch which {
    case "prefix-tree":
        guard let tree = try? PrefixTree(serialized: withChecksum(bytes), path: "fuzz.tree") else { return 0 }
        _ = (tree.nodeCount, tree.leafCount, tree.byteCount)
    case "codes":
        guard let file = try? CodesFile(serialized: withChecksum(bytes), path: "fuzz.codes") else { return 0 }
        _ = try? PrefixTree(codes: file.codes.codes, depth: file.codes.levels, codebookSizes: file.codes.codebookSizes,
                            present: file.codes.present)
    case "lcrec-index":
        _ = try? LCRecIndex.parse(Data(bytes), path: "fuzz.index.json", catalogIDs: catalogIDs)
    default:
        guard let header = try? NpyFile.header(bytes: bytes, path: "fuzz.npy"), header.rows <= 1024 else { return 0 }
        _ = header.scalarSize
    }
    return 0
}

private func withChecksum(_ bytes: [UInt8]) -> Data {
    bytes.count >= checksumByteCount ? sealed(bytes.dropLast(checksumByteCount)) : Data(bytes)
}

private func makeSeeds(_ dir: String) {
    func write(_ target: String, _ name: String, _ data: Data) {
        let folder = dir + "/" + target
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: data)
    }
    let codes: [Int32] = [0, 1, 0, 0, 1, 1, 1, 0, 0, 2, 1, 0]
    let present = [true, true, true, false, true, true]
    let masked = zip(codes, (0..<codes.count).map { present[$0 / 2] }).map { $1 ? $0 : 0 }
    if let tree = try? PrefixTree(codes: masked, depth: 2, codebookSizes: [2, 3], present: present) {
        write("prefix-tree", "small.tree", tree.serialized())
    }
    let modality = ModalityCodes(modality: "text", levels: 2, codebookSizes: [2, 3], source: "fuzz", codes: masked, present: present)
    write("codes", "small.codes", CodesFile(codes: modality, hasCollisionLevel: true).serialized())
    let values = (0..<12).map { Float($0) / 3 }
    let url = URL(fileURLWithPath: dir + "/npy/small.npy")
    try? FileManager.default.createDirectory(atPath: dir + "/npy", withIntermediateDirectories: true)
    try? NpyFile.write(rows: 3, columns: 4, values: values, to: url)
    write("lcrec-index", "small.index.json", Data(#"{"0": ["<a_1>", "<b_2>"], "1": ["<a_0>", "<b_7>"], "99": ["<a_3>", "<b_0>"]}"#.utf8))
}
