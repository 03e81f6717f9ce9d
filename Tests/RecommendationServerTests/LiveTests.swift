import Artifacts
import Foundation
import Generation
import HTTPTesting
import Logging
import RecommendationServer
import TestSupport
import XCTest

/// The service's routes on a real socket, driven by real clients (curl over HTTP/1.1, nghttp over h2c).
final class LiveTests: XCTestCase {
    func testCurlAndNghttpGetTheDirectSearchesAnswer() throws {
        let root = try temporaryDirectory(self).appendingPathComponent("bundles")
        try TinyBundle.publish(root: root)
        var settings = ServerSettings()
        settings.bundles = root.path
        settings.beams = 5
        settings.watchIntervalMilliseconds = 0
        let service = RecommendationService(settings: settings, logger: Logger(label: "live") { _ in SwiftLogNoOpLogHandler() })
        guard case .success = service.reloadNow() else { return XCTFail("the tiny bundle did not load") }
        let live = try LiveServer(handler: service.router)
        defer { live.stop() }

        let bundle = try LoadedBundle.load(root)
        let direct = ConstrainedBeamSearch(model: bundle.model, items: bundle.items, tree: bundle.tree)
            .recommend(histories: [[4, 11]], beams: 5, results: 3, exclude: [[4, 11]])[0]
        let body = #"{"history": ["item-4", "item-11"], "k": 3}"#
        let bodyFile = try temporaryDirectory(self).appendingPathComponent("body.json")
        try Data(body.utf8).write(to: bodyFile)
        let h1 = try runClient("curl", ["-sf", "-H", "content-type: application/json", "-d", body, "\(live.base)/recommend"])
        let h2 = try runClient("nghttp", ["-d", bodyFile.path, "-H", "content-type: application/json", "\(live.base)/recommend"])
        XCTAssertEqual(h1.status, 0, h1.stderr)
        XCTAssertEqual(h2.status, 0, h2.stderr)
        for answer in [h1.stdout, h2.stdout] {
            let decoded = try JSONDecoder().decode(RecommendResponse.self, from: Data(answer.utf8))
            XCTAssertEqual(decoded.items.map(\.id), direct.map { "item-\($0.item)" })
            XCTAssertEqual(decoded.items.map(\.score), direct.map(\.score))
        }
        let unknown = try runClient("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(live.base)/items/none"])
        XCTAssertEqual(unknown.stdout, "404")
    }
}
