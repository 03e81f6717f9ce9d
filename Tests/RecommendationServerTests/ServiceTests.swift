import Artifacts
import Foundation
import Generation
import HTTPCore
import Logging
@testable import RecommendationServer
import TestSupport
import XCTest

/// The API without sockets: requests go straight into the router, responses come back through the responder.
final class ServiceTests: XCTestCase {
    private var root: URL!
    private var service: RecommendationService!
    private var logLines = LockedLines()

    override func setUpWithError() throws {
        root = try temporaryDirectory(self).appendingPathComponent("bundles")
        try TinyBundle.publish(root: root)
        service = makeService()
        if case .failure(let error) = service.reloader.reloadNow(reason: "test") { XCTFail("the tiny bundle did not load: \(error)") }
    }

    private func makeService(token: String? = "s3cret", configure: (inout ServerSettings) -> Void = { _ in }) -> RecommendationService {
        var settings = ServerSettings()
        settings.bundles = root.path
        settings.beams = 5
        settings.adminToken = token
        settings.watchIntervalMilliseconds = 0
        configure(&settings)
        let lines = logLines
        let logger = Logger(label: "test") { LineLogHandler(label: $0, format: .json, level: .info, sink: { lines.append($0) }) }
        return RecommendationService(settings: settings, logger: logger)
    }

    private func send(_ method: String, _ target: String, body: String = "", headers: HTTPHeaders = [:], to service: RecommendationService? = nil) -> HTTPResponse {
        var request = HTTPRequest(method: method, target: target, headers: headers, body: Array(body.utf8))
        request.requestID = "r-\(target.count)"
        let done = expectation(description: target)
        let box = LockedLines()
        nonisolated(unsafe) var captured: HTTPResponse?
        let responder = HTTPResponder { part in
            if case .complete(let response) = part { captured = response; box.append("done"); done.fulfill() }
        }
        (service ?? self.service).router.handle(request, responder: responder)
        wait(for: [done], timeout: 20)
        return captured ?? HTTPResponse(status: 0)
    }

    private func json(_ response: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    private func errorCode(_ response: HTTPResponse) -> String? { (json(response)["error"] as? [String: Any])?["code"] as? String }

    func testRecommendEqualsADirectBeamSearchOnTheSameBundle() throws {
        let response = send("POST", "/recommend", body: #"{"history": ["item-3", "nope", "item-17", "item-5"], "k": 4, "exclude_history": true}"#)
        XCTAssertEqual(response.status, 200, String(decoding: response.body, as: UTF8.self))
        let decoded = try JSONDecoder().decode(RecommendResponse.self, from: Data(response.body))
        let bundle = try LoadedBundle.load(root)
        let direct = ConstrainedBeamSearch(model: bundle.model, items: bundle.items, tree: bundle.tree)
            .recommend(histories: [[3, 17, 5]], beams: 5, results: 4, exclude: [[3, 17, 5]])[0]
        XCTAssertEqual(decoded.items.map(\.id), direct.map { "item-\($0.item)" })
        XCTAssertEqual(decoded.items.map(\.score), direct.map(\.score))
        XCTAssertEqual(decoded.items.map(\.title), direct.map { "Item \($0.item)" })
        XCTAssertEqual(decoded.unknownItems, ["nope"])
        XCTAssertEqual(decoded.modelVersion, bundle.version)
        XCTAssertTrue(decoded.items.allSatisfy { !["item-3", "item-17", "item-5"].contains($0.id) }, "history excluded")
        let line = try XCTUnwrap(logLines.all.last { $0.contains("\"route\":\"\\/recommend\"") || $0.contains("\"route\":\"/recommend\"") })
        XCTAssertTrue(line.contains("\"status\":\"200\"") && line.contains("\"batch_size\":\"1\""), line)
    }

    func testKeptHistoryAndDefaults() throws {
        let response = send("POST", "/recommend", body: #"{"history": ["item-3"], "exclude_history": false}"#)
        XCTAssertEqual(response.status, 200)
        let decoded = try JSONDecoder().decode(RecommendResponse.self, from: Data(response.body))
        XCTAssertEqual(decoded.items.count, 5, "k defaults to min(10, beam width)")
        let bundle = try LoadedBundle.load(root)
        let direct = ConstrainedBeamSearch(model: bundle.model, items: bundle.items, tree: bundle.tree)
            .recommend(histories: [[3]], beams: 5, results: 5, exclude: nil)[0]
        XCTAssertEqual(decoded.items.map(\.id), direct.map { "item-\($0.item)" }, "history kept: nothing removed")
    }

    func testBadRequestsGetTheirStatusAndCode() {
        let cases: [(String, Int, String)] = [
            ("", 400, "empty_body"),
            ("{\"history\": [", 400, "malformed_json"),
            ("[1, 2]", 422, "invalid_type"),
            ("{}", 422, "invalid_field"),
            (#"{"history": "item-1"}"#, 422, "invalid_field"),
            (#"{"history": [1, 2]}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "k": "3"}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "k": 2.5}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "k": 0}"#, 422, "invalid_k"),
            (#"{"history": ["item-1"], "k": 6}"#, 422, "invalid_k"),
            (#"{"history": ["item-1"], "exclude_history": "yes"}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "exclude_history": null}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "k": null}"#, 422, "invalid_field"),
            (#"{"history": ["item-1"], "extra": 1}"#, 422, "unknown_field"),
            (#"{"history": []}"#, 422, "no_known_items"),
            (#"{"history": ["x", "y"]}"#, 422, "no_known_items"),
        ]
        for (body, status, code) in cases {
            let response = send("POST", "/recommend", body: body)
            XCTAssertEqual(response.status, status, body)
            XCTAssertEqual(errorCode(response), code, body)
            XCTAssertEqual(response.headers["content-type"], "application/json")
        }
        let big = "{\"history\": [\"" + String(repeating: "a", count: 70_000) + "\"]}"
        XCTAssertEqual(send("POST", "/recommend", body: big).status, 413)
    }

    func testItemsHealthAndReadiness() throws {
        let item = send("GET", "/items/item-9")
        XCTAssertEqual(item.status, 200)
        XCTAssertEqual(try JSONDecoder().decode(ItemResponse.self, from: Data(item.body)),
                       ItemResponse(id: "item-9", title: "Item 9", codes: ["text": [1, 2, 0], "collaborative": [1, 1]]))
        XCTAssertEqual(errorCode(send("GET", "/items/unknown")), "unknown_item")
        XCTAssertEqual(send("GET", "/items/unknown").status, 404)
        XCTAssertEqual(send("GET", "/healthz").status, 200)
        let ready = send("GET", "/readyz")
        XCTAssertEqual(ready.status, 200)
        XCTAssertEqual(json(ready)["model_version"] as? String, service.slot.current?.version)
        service.beginStopping()
        XCTAssertEqual(send("GET", "/readyz").status, 503)
    }

    func testRequestsNoRouteTakesAreCountedAndLogged() throws {
        XCTAssertEqual(send("GET", "/nope").status, 404)
        let wrongMethod = send("GET", "/recommend")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
        let metrics = String(decoding: send("GET", "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains(#"mscgrec_http_requests_total{route="unmatched",status="404"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"mscgrec_http_requests_total{route="unmatched",status="405"} 1"#), metrics)
        XCTAssertEqual(logLines.all.filter { $0.contains("unmatched") }.count, 2, logLines.all.joined(separator: "\n"))
    }

    func testNotReadyWithoutABundle() throws {
        try FileManager.default.removeItem(at: root)
        let empty = makeService()
        guard case .failure = empty.reloader.reloadNow(reason: "test") else { return XCTFail("loaded without a bundle") }
        let ready = send("GET", "/readyz", to: empty)
        XCTAssertEqual(ready.status, 503)
        XCTAssertTrue((json(ready)["reason"] as? String ?? "").contains("current does not exist"), "\(json(ready))")
        XCTAssertEqual(errorCode(send("POST", "/recommend", body: #"{"history": ["item-1"]}"#, to: empty)), "not_ready")
    }

    func testAdminReloadNeedsTheTokenAndACorruptBundleKeepsTheOldOneServing() throws {
        let before = try XCTUnwrap(service.slot.current?.version)
        XCTAssertEqual(send("POST", "/admin/reload").status, 401)
        XCTAssertEqual(send("POST", "/admin/reload", headers: ["authorization": "Bearer wrong"]).status, 401)
        XCTAssertEqual(errorCode(send("POST", "/admin/reload", to: makeService(token: nil))), "admin_disabled")

        Thread.sleep(forTimeInterval: 1.05)
        let fresh = try TinyBundle.publish(root: root, seed: 2)
        let reloaded = send("POST", "/admin/reload", headers: ["authorization": "Bearer s3cret"])
        XCTAssertEqual(reloaded.status, 200)
        XCTAssertEqual(json(reloaded)["model_version"] as? String, fresh.lastPathComponent)
        XCTAssertNotEqual(fresh.lastPathComponent, before)

        // Corrupt the next bundle's weights after publishing: the reload fails, the fresh one keeps serving.
        Thread.sleep(forTimeInterval: 1.05)
        let corrupt = try TinyBundle.publish(root: root, seed: 3)
        let weights = corrupt.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[100] ^= 1
        try bytes.write(to: weights)
        let failed = send("POST", "/admin/reload", headers: ["authorization": "Bearer s3cret"])
        XCTAssertEqual(failed.status, 500)
        XCTAssertTrue((json(failed)["error"] as? [String: Any])?["message"].map { "\($0)".contains("model.safetensors: SHA-256") } ?? false)
        XCTAssertEqual(service.slot.current?.version, fresh.lastPathComponent)
        let ready = send("GET", "/readyz")
        XCTAssertEqual(ready.status, 200)
        XCTAssertTrue((json(ready)["last_reload_error"] as? String ?? "").contains("SHA-256"))
        XCTAssertEqual(send("POST", "/recommend", body: #"{"history": ["item-1"]}"#).status, 200)

        let metrics = String(decoding: send("GET", "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains(#"mscgrec_reloads_total{result="failure"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"mscgrec_reloads_total{result="success"} 2"#), metrics)
        XCTAssertTrue(metrics.contains("mscgrec_model_info{version=\"\(fresh.lastPathComponent)\"} 1"), metrics)
        XCTAssertFalse(metrics.contains("mscgrec_model_info{version=\"\(before)\"}"), "the old version's info series is gone")
        XCTAssertTrue(metrics.contains(#"mscgrec_http_requests_total{route="/recommend",status="200"} 1"#), metrics)
        XCTAssertTrue(metrics.contains("mscgrec_batch_size_bucket"), metrics)
    }

    func testConcurrentRequestsAreBatchedAndEachGetsItsOwnAnswer() throws {
        let batching = makeService { $0.maxBatch = 16; $0.maxDelayMilliseconds = 50; $0.workers = 1 }
        guard case .success = batching.reloader.reloadNow(reason: "test") else { return XCTFail() }
        let histories = (0..<12).map { ["item-\($0)", "item-\($0 + 20)"] }
        let bundle = try LoadedBundle.load(root)
        let direct = ConstrainedBeamSearch(model: bundle.model, items: bundle.items, tree: bundle.tree)
            .recommend(histories: (0..<12).map { [Int32($0), Int32($0 + 20)] }, beams: 5, results: 3, exclude: nil)
        let expectations = histories.map { expectation(description: $0[0]) }
        let answers = LockedLines()
        for (u, history) in histories.enumerated() {
            let body = "{\"history\": [\"\(history[0])\", \"\(history[1])\"], \"k\": 3, \"exclude_history\": false}"
            let responder = HTTPResponder { part in
                if case .complete(let response) = part { answers.append("\(u)|" + String(decoding: response.body, as: UTF8.self)); expectations[u].fulfill() }
            }
            batching.router.handle(HTTPRequest(method: "POST", target: "/recommend", body: Array(body.utf8)), responder: responder)
        }
        wait(for: expectations, timeout: 20)
        for line in answers.all {
            let (u, body) = (Int(line.prefix { $0 != "|" })!, line.drop { $0 != "|" }.dropFirst())
            let decoded = try JSONDecoder().decode(RecommendResponse.self, from: Data(body.utf8))
            XCTAssertEqual(decoded.items.map(\.id), direct[u].map { "item-\($0.item)" }, "user \(u)")
        }
        let metrics = String(decoding: send("GET", "/metrics", to: batching).body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("mscgrec_batch_size_count 1\n") || metrics.contains("mscgrec_batch_size_count 2\n"),
                      "12 requests within the 50 ms window form one or two batches: \(metrics)")
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
