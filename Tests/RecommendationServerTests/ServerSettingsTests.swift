import Foundation
import RecommendationServer
import TestSupport
import XCTest

/// File < environment < flags, and every bad value is an error naming its key.
final class ServerSettingsTests: XCTestCase {
    func testDefaultsWithNothingConfigured() async throws {
        let s = try await ServerSettings.load(file: nil, environment: [:])
        XCTAssertEqual(s, ServerSettings())
        XCTAssertEqual(s.port, 8080)
        XCTAssertEqual(s.beams, 20)
        XCTAssertNil(s.adminToken)
    }

    func testLayersOverrideInOrder() async throws {
        let file = try temporaryDirectory(self).appendingPathComponent("server.json")
        try Data(#"{"http": {"port": 9000, "host": "0.0.0.0"}, "batching": {"maxBatch": 8, "maxDelayMilliseconds": 5}, "log": {"format": "json"}}"#.utf8).write(to: file)
        let env = ["MSCGREC_HTTP_PORT": "9100", "MSCGREC_BATCHING_MAX_BATCH": "16", "MSCGREC_RELOAD_ADMIN_TOKEN": "t0k", "HOME": "/root"]
        let s = try await ServerSettings.load(file: file.path, environment: env, flags: ["http.port": "9200"])
        XCTAssertEqual(s.port, 9200, "flag over environment over file")
        XCTAssertEqual(s.host, "0.0.0.0", "file only")
        XCTAssertEqual(s.maxBatch, 16, "environment over file")
        XCTAssertEqual(s.maxDelayMilliseconds, 5)
        XCTAssertEqual(s.adminToken, "t0k")
        XCTAssertEqual(s.logFormat, "json")
    }

    func testTheCommittedServerConfigIsValid() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs/server.json").standardized
        let s = try await ServerSettings.load(file: file.path, environment: [:])
        XCTAssertEqual(s.maxBatch, 64)
    }

    func testBadValuesNameTheirKey() async throws {
        let dir = try temporaryDirectory(self)
        func expectError(file: String? = nil, env: [String: String] = [:], flags: [String: String] = [:], _ text: String) async {
            var path: String?
            if let file {
                path = dir.appendingPathComponent("\(UUID().uuidString).json").path
                try? Data(file.utf8).write(to: URL(fileURLWithPath: path!))
            }
            do {
                _ = try await ServerSettings.load(file: path, environment: env, flags: flags)
                XCTFail("expected an error containing \(text)")
            } catch {
                XCTAssertTrue("\(error)".contains(text), "\(error) lacks \(text)")
            }
        }
        await expectError(env: ["MSCGREC_HTTP_PORT": "eighty"], "http.port (MSCGREC_HTTP_PORT) = \"eighty\": not an integer")
        await expectError(env: ["MSCGREC_HTTP_PROT": "1"], "unknown environment variable MSCGREC_HTTP_PROT")
        // The kernel choice's re-execution marker and the row-kernel switch are the process's, not settings.
        let process = try? await ServerSettings.load(file: nil, environment: ["MSCGREC_BLAS_CHOSEN": "Cooperlake|faster",
                                                                             "MSCGREC_ROW_KERNEL": "0", "MSCGREC_HTTP_PORT": "81"])
        XCTAssertEqual(process?.port, 81)
        await expectError(file: #"{"batching": {"maxBatchh": 3}}"#, "unknown setting \"batching.maxBatchh\"")
        await expectError(file: "[1]", "not a JSON object")
        await expectError(flags: ["batching.maxBatch": "0"], "batching.maxBatch = 0: must be at least 1")
        await expectError(flags: ["http.port": "70000"], "http.port = 70000: must be 0…65535")
        await expectError(flags: ["log.format": "xml"], "log.format = \"xml\"")
        await expectError(env: ["MSCGREC_HTTP_TLS_KEY": "k.pem"], "http.tlsCertificate and http.tlsKey go together")
        await expectError(file: #"{"search": {"beams": "many"}}"#, "search.beams (MSCGREC_SEARCH_BEAMS) = \"many\": not an integer")
    }
}
