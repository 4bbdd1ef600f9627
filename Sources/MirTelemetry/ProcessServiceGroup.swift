import Logging
import ServiceLifecycle
import UnixSignals

extension Telemetry {
    /// A `ServiceGroup` for a long-running mir process (`mir run`), avoiding swift-service-lifecycle's pitfalls:
    /// - SIGTERM and SIGINT start a graceful shutdown (the kubelet sends SIGTERM, then SIGKILL after the pod's
    ///   `terminationGracePeriodSeconds`, 30 s in Manifests/), escalated to cancellation after `gracePeriod`;
    /// - `services` keep the default: returning or throwing ends the whole group (a controller that stops means the
    ///   process must exit, so the kubelet restarts it);
    /// - `telemetry` (the probe and metrics server) comes first; the group shuts services down in reverse order, so
    ///   it stops last and keeps answering probes and scrapes while the others finish; if it fails to bind, the
    ///   group is cancelled.
    /// Services that wait on external input (watches) should wrap it in `cancelWhenGracefulShutdown`.
    public static func makeServiceGroup(services: [any Service], telemetry: TelemetryServer?,
                                        gracePeriod: Duration = .seconds(25),
                                        signals: [UnixSignal] = [.sigterm, .sigint],
                                        logger: Logger) -> ServiceGroup {
        var configurations: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let telemetry {
            configurations.append(.init(service: telemetry, successTerminationBehavior: .gracefullyShutdownGroup,
                                        failureTerminationBehavior: .cancelGroup, serviceName: "TelemetryServer"))
        }
        configurations += services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        var configuration = ServiceGroupConfiguration(services: configurations, gracefulShutdownSignals: signals,
                                                      logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        return ServiceGroup(configuration: configuration)
    }
}
