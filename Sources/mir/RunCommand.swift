import ArgumentParser
import MirTelemetry
import Foundation
import KubeClient
import Logging
import MirBuild
import MirController
import MirModel
import ServiceLifecycle

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

    @Flag(name: .customLong("leader-elect"), inversion: .prefixedNo, help: "Leader election through a Lease (only the leader writes).")
    var leaderElect = true

    @Option(name: .customLong("lease-namespace"), help: "Namespace of the Lease (default: the client's namespace).")
    var leaseNamespace: String?

    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line). Secrets are redacted in both.")
    var logFormat: LogFormatChoice = .text

    @Option(name: .customLong("lease-name"), help: "Name of the Lease.")
    var leaseName: String = "mir-controller"

    func validate() throws {
        guard source == "cluster" || (source.hasPrefix("files:") && source.count > "files:".count) else {
            throw ValidationError("--source must be cluster or files:DIR")
        }
        guard maxConcurrentReconciles >= 1 else { throw ValidationError("--max-concurrent-reconciles must be at least 1") }
        guard resyncPeriod >= 1, interval >= 1 else { throw ValidationError("--resync-period and --interval must be at least 1") }
    }

    func run() async throws {
        try await runReportingErrors {
            let config = try common.loadConfig()
            let opened = try await common.openRegistry()
            defer { Task { await opened.close() } }
            Telemetry.bootstrapLogging(format: logFormat.format)
            let logger = Logger(label: "mir")
            let loader = KubeConfigLoader()
            let kube = try (kubeconfig == nil && context == nil ? loader.loadInCluster() : nil)
                ?? loader.load(kubeconfigPath: kubeconfig, context: context)
            let client = try KubeClient(config: kube)
            defer { Task { try? await client.shutdown() } }

            let service: any Service
            if source == "cluster" {
                let election = leaderElect
                    ? LeaderElectionConfig(namespace: leaseNamespace ?? client.defaultNamespace, leaseName: leaseName) : nil
                service = ControllerManager(client: client, registry: opened.registry, config: config, options: ControllerOptions(
                    maxConcurrentReconciles: maxConcurrentReconciles, resyncPeriod: .seconds(resyncPeriod), leaderElection: election),
                    logger: logger)
                print("mir run: watching ManagedImages on \(kube.server) (registry \(opened.registry.displayName))")
            } else {
                let directory = String(source.dropFirst("files:".count))
                service = FileSourceController(
                    paths: [directory], config: config, registry: opened.registry,
                    builder: KubernetesJobBuilder(client: client, settings: config.builder),
                    records: ClusterBuildRecordStore(client: client, namespace: config.builder.buildNamespace),
                    interval: .seconds(interval), logger: logger)
                print("mir run: reconciling \(directory) (registry \(opened.registry.displayName))")
            }
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}

enum LogFormatChoice: String, ExpressibleByArgument, CaseIterable {
    case text, json
    var format: LogFormat { self == .json ? .json : .text }
}
