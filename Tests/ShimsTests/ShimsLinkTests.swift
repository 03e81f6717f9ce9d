import CBLAS
import CNghttp2
import COpenSSL
import CSQLite
import XCTest

/// Calls into each system library so that a missing Debian package fails the build or this test at once.
final class ShimsLinkTests: XCTestCase {
    func testOpenBLASMultipliesTwoByTwo() {
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
        XCTAssertEqual(c, [19, 22, 43, 50])
    }

    func testNghttp2VersionIsAtLeast152() {
        let info = nghttp2_version(0)!.pointee
        XCTAssertGreaterThanOrEqual(info.version_num, 0x013400, "libnghttp2 \(String(cString: info.version_str))")
    }

    func testOpenSSLVersionIsThree() {
        XCTAssertGreaterThanOrEqual(OpenSSL_version_num(), 0x3000_0000)
        XCTAssertNotNil(TLS_server_method())
    }

    func testSQLiteInMemoryQuery() {
        var db: OpaquePointer?
        XCTAssertEqual(sqlite3_open(":memory:", &db), SQLITE_OK)
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        XCTAssertEqual(sqlite3_prepare_v2(db, "SELECT 6*7", -1, &stmt, nil), SQLITE_OK)
        XCTAssertEqual(sqlite3_step(stmt), SQLITE_ROW)
        XCTAssertEqual(sqlite3_column_int(stmt, 0), 42)
        sqlite3_finalize(stmt)
    }
}
