import ArgumentParser
import Foundation
import KubeClient
import Logging
import MirBuild
import MirController
import MirModel
import MirTelemetry
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `mir run`: the controller. `--source cluster` watches ManagedImage resources; `--source files:DIR` re-reads a
/// GitOps directory on change or interval. Both feed the same planner as `mir apply`; builds run as Kubernetes Jobs.
/// SIGTERM/SIGINT stop it gracefully (the lease is released).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: reconcile ManagedImages from the cluster (or a directory) continuously.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "cluster (ManagedImage resources, watched) or files:DIR (a GitOps directory).")
    var source: String = "cluster"

    @Option(name: .long, help: "Kubeconfig file (default: in-cluster config, then KUBECONFIG, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .long, help: "Kubeconfig context.")
    var context: String?

    @Option(name: .customLong("max-concurrent-reconciles"), help: "Reconciles running at once.")
    var maxConcurrentReconciles: Int = 2

    @Option(name: .customLong("resync-period"), help: "Seconds between full resyncs (jittered), to catch registry drift.")
    var resyncPeriod: Int = 600

    @Option(name: .long, help: "With --source files: seconds between passes when nothing changed.")
    var interval: Int = 60

    @Flag(name: .customLong("allow-empty"), help: "With --source files: let an empty directory delete repositories (config allowEmpty).")
    var allowEmpty = false

    @Flag(name: .customLong("leader-elect"), inversion: .prefixedNo, help: "Leader election through a Lease (only the leader writes).")
    var leaderElect = true

    @Option(name: .customLong("lease-namespace"), help: "Namespace of the Lease (default: the client's namespace).")
    var leaseNamespace: String?

    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line). Secrets are redacted in both.")
    var logFormat: LogFormatChoice = .text

    @Option(name: .customLong("lease-name"), help: "Name of the Lease.")
    var leaseName: String = "mir-controller"

    @Option(name: .customLong("leader-elect-lease-duration"), help: "How long a lease holds without renewal (e.g. 15s, 2500ms; at least 1s).")
    var leaseDuration: DurationArgument = DurationArgument(.seconds(15))

    @Option(name: .customLong("leader-elect-renew-deadline"), help: "How long the leader keeps trying to renew before it gives up.")
    var renewDeadline: DurationArgument = DurationArgument(.seconds(10))

    @Option(name: .customLong("leader-elect-retry-period"), help: "How often to try to acquire or renew the lease.")
    var retryPeriod: DurationArgument = DurationArgument(.seconds(2))

    @Option(name: .customLong("metrics-bind-address"), help: "Where /metrics listens: host:port, :port, or 0 to disable.")
    var metricsBindAddress: String = ":8080"

    @Option(name: .customLong("health-probe-bind-address"), help: "Where /healthz and /readyz listen: host:port, :port, or 0 to disable.")
    var healthProbeBindAddress: String = ":8081"

    func validate() throws {
        guard source == "cluster" || (source.hasPrefix("files:") && source.count > "files:".count) else {
            throw ValidationError("--source must be cluster or files:DIR")
        }
        guard maxConcurrentReconciles >= 1 else { throw ValidationError("--max-concurrent-reconciles must be at least 1") }
        guard resyncPeriod >= 1, interval >= 1 else { throw ValidationError("--resync-period and --interval must be at least 1") }
        if leaderElect {
            do {
                try LeaderElectionConfig(namespace: "", leaseDuration: leaseDuration.value, renewDeadline: renewDeadline.value,
                                         retryPeriod: retryPeriod.value).validate()
            } catch {
                throw ValidationError("\(error) (flags --leader-elect-lease-duration, --leader-elect-renew-deadline, --leader-elect-retry-period)")
            }
        }
        _ = try bindAddresses()
    }

    func bindAddresses() throws -> (metrics: BindAddress?, probes: BindAddress?) {
        do {
            return (try BindAddress.parse(metricsBindAddress), try BindAddress.parse(healthProbeBindAddress))
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            // Metrics and logging backends come first: anything created before would not be exported.
            Telemetry.bootstrapLogging(format: logFormat.format)
            // SIGTERM/SIGINT are trapped from the start: one that arrives before the service group runs (start-up)
            // still ends the process cleanly (exit 0), not by the signal's default action.
            let early = EarlyShutdown()
            let trapped = await UnixSignalsSequence(trapping: [.sigterm, .sigint])
            let signalWatcher = Task {
                for await _ in trapped { if let group = early.signal() { await group.triggerGracefulShutdown() } }
            }
            defer { signalWatcher.cancel() }
            let metrics = Telemetry.bootstrap()
            var config = try common.loadConfig()
            if allowEmpty { config.allowEmpty = true }
            let opened = try await common.openRegistry()
            defer { Task { await opened.close() } }
            let logger = Logger(label: "mir")
            let loader = KubeConfigLoader()
            let kube = try (kubeconfig == nil && context == nil ? loader.loadInCluster() : nil)
                ?? loader.load(kubeconfigPath: kubeconfig, context: context)
            let client = try KubeClient(config: kube)
            defer { Task { try? await client.shutdown() } }
            // Only the embedded registry can be mir dev's (its build jobs push nowhere else).
            if common.localRegistryDirectory != nil { try await checkDevRegistry(client: client) }

            let service: any Service
            let synced: @Sendable () -> Bool
            if source == "cluster" {
                let election = leaderElect
                    ? LeaderElectionConfig(namespace: leaseNamespace ?? client.defaultNamespace, leaseName: leaseName,
                                           leaseDuration: leaseDuration.value, renewDeadline: renewDeadline.value,
                                           retryPeriod: retryPeriod.value) : nil
                let manager = ControllerManager(client: client, registry: opened.registry, config: config, options: ControllerOptions(
                    maxConcurrentReconciles: maxConcurrentReconciles, resyncPeriod: .seconds(resyncPeriod), leaderElection: election),
                    logger: logger)
                service = manager
                synced = { manager.hasSynced }
                say("mir run: watching ManagedImages on \(kube.server) (registry \(opened.registry.displayName))"
                    + (election.map { ", leader election on Lease \($0.namespace)/\($0.leaseName) as \($0.identity)" } ?? ""))
            } else {
                let directory = String(source.dropFirst("files:".count))
                let files = FileSourceController(
                    paths: [directory], config: config, registry: opened.registry,
                    builder: KubernetesJobBuilder(client: client, settings: config.builder),
                    records: ClusterBuildRecordStore(client: client, namespace: config.builder.buildNamespace),
                    interval: .seconds(interval), logger: logger)
                service = files
                synced = { files.hasSynced }
                say("mir run: reconciling \(directory) (registry \(opened.registry.displayName))")
            }

            // /healthz, /readyz (ready once the caches have synced, leading or not) and /metrics.
            let checks = HealthChecks.standard()
            checks.add("informer-sync", to: .readyz) {
                guard synced() else { throw HealthCheckFailure("caches have not synced yet") }
            }
            let addresses = try bindAddresses()
            var telemetry: TelemetryServer?
            if addresses.metrics != nil || addresses.probes != nil {
                let server = TelemetryServer(configuration: TelemetryServer.Configuration(
                    metricsAddress: addresses.metrics, probesAddress: addresses.probes), registry: metrics, healthChecks: checks)
                telemetry = server
                Task {
                    guard let bound = try? await server.listeningAddresses() else { return }
                    if let address = bound.metrics { say("mir run: metrics on http://\(hostPort(address))/metrics") }
                    if let address = bound.probes { say("mir run: probes on http://\(hostPort(address))/healthz and /readyz") }
                }
            }
            let group = Telemetry.makeServiceGroup(services: [service], telemetry: telemetry, logger: logger)
            if early.install(group) {
                do {
                    try await group.run()
                } catch let lost as LeaderElectionLost {
                    // As controller-runtime: exit 1 so the process restarts as a candidate.
                    throw CLIError.failed("\(lost) (Lease \(lost.lease), identity \(lost.identity))")
                } catch where early.signalled {
                    // Signalled between install and run: the group refuses to start; that is a clean stop.
                }
            }
            say("mir run: stopped")
        }
    }
}

extension Run {
    /// Against `mir dev`: its build jobs push to the registry it recorded; any other registry here would never see
    /// their images. (A cluster without the record is not checked.)
    func checkDevRegistry(client: KubeClient) async throws {
        let recorded: String
        do {
            let map = try await client.get(ConfigMap.self, name: DevRegistryMarker.name, namespace: DevRegistryMarker.namespace)
            guard map.metadata.labels?["app.kubernetes.io/managed-by"] == "mir-dev", let value = map.data?[DevRegistryMarker.key] else { return }
            recorded = value
        } catch let error as KubeAPIError where error.isNotFound || error.isForbidden {
            return
        }
        let mine = try LocalRegistrySpec(parsing: common.registry).map { DevRegistryMarker.value(directory: $0.directory, oci: $0.ociEndpoint) } ?? common.registry
        guard mine == recorded else {
            throw CLIError.failed("the registry \(common.registry) (\(mine)) is not the one mir dev's build jobs push to (\(recorded)): "
                + "their images would never be seen. Run with --registry \(recorded)")
        }
    }
}

enum LogFormatChoice: String, ExpressibleByArgument, CaseIterable {
    case text, json
    var format: LogFormat { self == .json ? .json : .text }
}

/// A duration flag: `1500ms`, `15s`, `2m`, or a plain number of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    var value: Duration
    init(_ value: Duration) { self.value = value }

    init?(argument: String) {
        let units: [(suffix: String, make: (Double) -> Duration)] = [
            ("ms", { .milliseconds($0) }), ("s", { .seconds($0) }), ("m", { .seconds($0 * 60) }), ("", { .seconds($0) }),
        ]
        for unit in units where argument.hasSuffix(unit.suffix) {
            guard let number = Double(argument.dropLast(unit.suffix.count)), number >= 0, number.isFinite else { continue }
            value = unit.make(number)
            return
        }
        return nil
    }

    var defaultValueDescription: String {
        let milliseconds = value.components.seconds * 1000 + value.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}

/// `host:port` of a bound socket (`[v6]:port` for IPv6).
func hostPort(_ address: SocketAddress) -> String {
    let host = address.ipAddress ?? "?"
    return (host.contains(":") ? "[\(host)]" : host) + ":\(address.port ?? 0)"
}

/// A shutdown signal seen before the service group exists: the group is not started then.
final class EarlyShutdown: Sendable {
    private let state = Mutex<(group: ServiceGroup?, signalled: Bool)>((nil, false))

    /// Records a signal; returns the group to shut down, if it exists.
    func signal() -> ServiceGroup? { state.withLock { $0.signalled = true; return $0.group } }

    /// Registers the group; false when a signal came first (do not run it).
    func install(_ group: ServiceGroup) -> Bool {
        state.withLock { s in
            s.group = group
            return !s.signalled
        }
    }

    var signalled: Bool { state.withLock { $0.signalled } }
}
