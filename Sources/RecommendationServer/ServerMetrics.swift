import CoreMetrics
import Foundation
import Prometheus

/// What the server counts, as swift-metrics instruments backed by one Prometheus registry (`GET /metrics`). The
/// registry is per server, not the process-wide `MetricsSystem`, so tests can run several servers side by side.
public final class ServerMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// `mscgrec_model_info{version="…"} 1`: one series, for the bundle being served.
    static var modelInfo: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "mscgrec", metricName: "model", unitName: "info", helpText: "The bundle version being served (value 1).")
    }
    private let factory: PrometheusMetricsFactory
    private let lock = NSLock()
    private var requestCounters: [String: CoreMetrics.Counter] = [:]
    private var latencyTimers: [String: CoreMetrics.Timer] = [:]
    private var modelInfo: Prometheus.Gauge?
    let queueWait: CoreMetrics.Timer
    let compute: CoreMetrics.Timer
    let batchSize: Recorder
    let queueDepth: Recorder
    let reloadSuccesses: CoreMetrics.Counter
    let reloadFailures: CoreMetrics.Counter

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let millis: [Duration] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].map { .milliseconds($0) }
        factory.defaultDurationHistogramBuckets = millis
        factory.valueHistogramBuckets["mscgrec_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        self.factory = factory
        queueWait = Timer(label: "mscgrec_queue_wait_seconds", factory: factory)
        compute = Timer(label: "mscgrec_compute_seconds", factory: factory)
        batchSize = Recorder(label: "mscgrec_batch_size", aggregate: true, factory: factory)
        queueDepth = Recorder(label: "mscgrec_queue_depth", aggregate: false, factory: factory)
        reloadSuccesses = Counter(label: "mscgrec_reloads_total", dimensions: [("result", "success")], factory: factory)
        reloadFailures = Counter(label: "mscgrec_reloads_total", dimensions: [("result", "failure")], factory: factory)
    }

    /// Counts one answered request and its latency, by route pattern (not raw path: ids would explode the labels).
    func request(route: String, status: Int, nanos: UInt64) {
        let key = "\(route) \(status)"
        let (counter, timer): (CoreMetrics.Counter, CoreMetrics.Timer) = lock.withLock {
            if requestCounters[key] == nil {
                requestCounters[key] = Counter(label: "mscgrec_http_requests_total", dimensions: [("route", route), ("status", "\(status)")], factory: factory)
            }
            if latencyTimers[route] == nil {
                latencyTimers[route] = Timer(label: "mscgrec_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            }
            return (requestCounters[key]!, latencyTimers[route]!)
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanos))
    }

    func batch(size: Int, computeNanos: UInt64) {
        batchSize.record(size)
        compute.recordNanoseconds(Int64(clamping: computeNanos))
    }

    /// `mscgrec_model_info{version="…"} 1` for the model now serving (the previous version's series is removed).
    func modelVersion(_ version: String) {
        lock.withLock {
            if let old = modelInfo { registry.unregisterGauge(old) }
            let gauge = registry.makeGauge(descriptor: Self.modelInfo, labels: [("version", version)])
            gauge.set(Double(1))
            modelInfo = gauge
        }
    }

    public func text() -> [UInt8] { registry.emitToBuffer() }
}
