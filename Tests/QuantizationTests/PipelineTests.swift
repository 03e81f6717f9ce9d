@testable import Quantization
import Catalog
import Datasets
import Foundation
import SafeTensors
import TensorEngine
import TestSupport
import ItemCodes
import XCTest

final class PipelineTests: XCTestCase {
    /// A work directory with just a catalog of `count` items whose external ids are "item-<i>".
    private func workDirectory(items count: Int) throws -> URL {
        let work = try temporaryDirectory(self)
        let catalog = try ItemCatalog.create(at: WorkDirectory.catalogURL(work))
        try catalog.appendItems((0..<count).map { CatalogItem(index: $0, externalID: "item-\($0)") })
        return work
    }

    func testQuantizingEmbeddingsStoresTheSameCodesEverywhere() throws {
        let work = try workDirectory(items: 300)
        let x = clusteredMatrix(rows: 301, columns: 16, centers: 40, spread: 0.3, seed: 5)
        let npy = work.appendingPathComponent("e.npy")
        try NpyFile.write(x, to: npy)
        // Row r is item r − 1, except that item 7 has no row and the first row's id is unknown.
        let ids = ["unknown"] + (0..<300).map { $0 == 7 ? "other" : "item-\($0)" }
        try (ids.joined(separator: "\n") + "\n").write(to: work.appendingPathComponent("ids.txt"), atomically: true, encoding: .utf8)
        let request = QuantizeRequest(
            work: work, modality: "text", input: .embeddings(path: npy.path, ids: work.appendingPathComponent("ids.txt").path, tensor: nil),
            method: .rqKMeans(RQKMeansOptions(levels: 2, codebookSize: 16, seed: 3)), normalize: true)
        let outcome = try QuantizePipeline.run(request)
        let stats = outcome.statistics
        XCTAssertEqual(stats.codebookSizes, [16, 16, 16])
        XCTAssertEqual(stats.itemsWithCodes, 299)
        XCTAssertEqual(stats.used[0], 16)
        XCTAssertEqual(stats.reconstructionError?.count, 2)

        let catalogCodes = try XCTUnwrap(ItemCatalog.open(at: WorkDirectory.catalogURL(work)).codes(modality: "text"))
        let file = try CodesFile.read(from: CodesDirectory.codesURL(work, modality: "text"))
        XCTAssertEqual(file.codes, catalogCodes)
        XCTAssertTrue(file.hasCollisionLevel)
        XCTAssertFalse(catalogCodes.present[7])
        let tree = try PrefixTree.read(from: CodesDirectory.treeURL(work, modality: "text"))
        XCTAssertEqual(tree, outcome.tree)
        for item in 0..<300 where catalogCodes.present[item] {
            XCTAssertEqual(tree.item(forSequence: catalogCodes.codes(ofItem: item)!), Int32(item))
        }
        // The codes are those of the stored codebooks applied to the normalised rows.
        let quantizer = try SafeTensors.read(contentsOf: CodesDirectory.quantizerURL(work, modality: "text"))
        let books = try (0..<2).map { level -> FloatMatrix in
            FloatMatrix(rows: 16, columns: 16, scalars: try quantizer.floats("codebook.\(level)"))
        }
        var row = x.rowArray(1 + 5)  // item 5
        let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
        row = row.map { $0 / norm }
        XCTAssertEqual(ResidualCodebooks(levels: books).encode(row), Array(catalogCodes.codes(ofItem: 5)!.prefix(2)))

        // codes-stats reads the same figures back, with the stored reconstruction error.
        let all = try QuantizePipeline.statistics(work: work)
        XCTAssertEqual(all.count, 1)
        var reread = try XCTUnwrap(all.first)
        // The error went through JSON text; Foundation's parser may round the last bit.
        for (a, b) in zip(try XCTUnwrap(reread.reconstructionError), try XCTUnwrap(stats.reconstructionError)) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        reread.reconstructionError = stats.reconstructionError
        XCTAssertEqual(reread, stats)
        XCTAssertTrue(CodeStatistics.json(all).hasPrefix("{\n  \"text\": {\"levels\": 3,"))
    }

    func testPrecomputedCodesGetACollisionLevel() throws {
        let work = try workDirectory(items: 4)
        let index = work.appendingPathComponent("x.index.json")
        try #"{"item-0": ["<a_1>", "<b_2>"], "item-1": ["<a_1>", "<b_2>"], "item-3": ["<a_0>", "<b_5>"]}"#
            .write(to: index, atomically: true, encoding: .utf8)
        let outcome = try QuantizePipeline.run(QuantizeRequest(work: work, modality: "image", input: .codes(path: index.path)))
        XCTAssertEqual(outcome.statistics.codebookSizes, [2, 8, 8])
        XCTAssertEqual(outcome.statistics.maxCollisionGroup, 2)
        XCTAssertEqual(outcome.statistics.collisionRate, 2.0 / 3, accuracy: 1e-12)
        let codes = try XCTUnwrap(ItemCatalog.open(at: WorkDirectory.catalogURL(work)).codes(modality: "image"))
        XCTAssertEqual(codes.codes, [1, 2, 0, 1, 2, 1, 0, 0, 0, 0, 5, 0])
        XCTAssertEqual(codes.present, [true, true, false, true])
        XCTAssertNil(outcome.statistics.reconstructionError)

        let forced = try QuantizePipeline.run(QuantizeRequest(work: work, modality: "image", input: .codes(path: index.path),
                                                              collisionCapacity: 4, precomputedCodebookSize: 256))
        XCTAssertEqual(forced.statistics.codebookSizes, [256, 256, 4])
        assertThrowsError(
            try QuantizePipeline.run(QuantizeRequest(work: work, modality: "image", input: .codes(path: index.path), collisionCapacity: 1)),
            containing: "2 items share the codes [1, 2]")
        assertThrowsError(
            try QuantizePipeline.run(QuantizeRequest(work: work, modality: "image", input: .codes(path: index.path), precomputedCodebookSize: 4)),
            containing: "level 1: code 5 does not fit --codebook 4")
    }

    func testBadRequestsAreRefusedBeforeAnyWork() throws {
        let work = try workDirectory(items: 2)
        assertThrowsError(try QuantizePipeline.run(QuantizeRequest(work: work, modality: "a/b", input: .codes(path: "x"))),
                               containing: "modality: \"a/b\" must be")
        let empty = try temporaryDirectory(self)
        assertThrowsError(try QuantizePipeline.run(QuantizeRequest(work: empty, modality: "text", input: .codes(path: "x"))),
                               containing: "run `mscgrec-trainer prepare`")
        assertThrowsError(try QuantizePipeline.run(QuantizeRequest(work: work, modality: "text", input: .embeddings(path: "e.csv", ids: nil, tensor: nil))),
                               containing: "expected a .npy or .safetensors file")
    }
}
