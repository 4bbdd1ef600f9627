// Local control plane (see issue 4): an in-process, Kubernetes-compatible API server for `mir dev` and tests.
import Foundation
import KubeRBAC
import Logging
import MirBuild
import MirModel
import MirRegistry
import NIOCore
import NIOPosix
import NIOSSL

/// How to run the local control plane.
public struct ControlPlaneConfiguration: Sendable {
    /// Where certificates, the token and the database (`state.db`, SQLite) live, mode 0700 with files 0600. nil keeps
    /// everything in memory (certificates are still generated, for HTTPS).
    public var stateDirectory: URL?
    /// HTTPS port on 127.0.0.1; 0 picks a free one.
    public var port: Int
    /// Also serve plain HTTP (for tests) on this port; 0 picks a free one; nil disables it.
    public var insecurePort: Int?
    /// The bearer token; nil reuses the state directory's token or generates one.
    public var token: String?
    /// Whether the plain-HTTP listener demands the token too.
    public var insecureRequiresToken: Bool
    /// The builder the simulated job runner runs Jobs with; nil disables the job runner.
    public var builder: (any ImageBuilder)?
    /// Runs build Jobs for real with this engine (instead of simulating them with `builder`).
    public var jobEngine: (any JobBuildEngine)?
    public var jobRunner: JobRunnerConfiguration
    /// Where `start` writes a kubeconfig; nil writes none.
    public var kubeconfigPath: URL?
    /// How many revisions the store keeps after compaction (lists at and watches from older resourceVersions get
    /// 410 Expired).
    public var watchHistoryLimit: Int
    /// How long an Event lives after its last write (the API server's `--event-ttl`, default 1 h).
    public var eventTTL: Duration
    /// How often watches that allow bookmarks get one.
    public var bookmarkInterval: Duration
    /// Further bearer tokens and the users they authenticate, for reviews (`kubectl auth can-i`) as another identity;
    /// `token` is always `UserInfo.mirDevAdmin`.
    public var users: [String: UserInfo] = [:]

    public init(stateDirectory: URL? = nil, port: Int = 0, insecurePort: Int? = nil, token: String? = nil,
                insecureRequiresToken: Bool = false, builder: (any ImageBuilder)? = nil,
                jobRunner: JobRunnerConfiguration = JobRunnerConfiguration(), kubeconfigPath: URL? = nil,
                watchHistoryLimit: Int = 5000, bookmarkInterval: Duration = .seconds(30), eventTTL: Duration = .seconds(3600)) {
        self.stateDirectory = stateDirectory
        self.port = port
        self.insecurePort = insecurePort
        self.token = token
        self.insecureRequiresToken = insecureRequiresToken
        self.builder = builder
        self.jobEngine = nil
        self.jobRunner = jobRunner
        self.kubeconfigPath = kubeconfigPath
        self.watchHistoryLimit = watchHistoryLimit
        self.bookmarkInterval = bookmarkInterval
        self.eventTTL = eventTTL
    }
}

/// Errors of the local control plane, naming the operation.
public enum ControlPlaneError: Error, CustomStringConvertible, Sendable {
    case startFailed(String)
    case applyFailed(String)
    case kubeconfigWriteFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .startFailed(let r): return "starting the local control plane failed: \(r)"
        case .applyFailed(let r): return "applying a manifest to the local control plane failed: \(r)"
        case .kubeconfigWriteFailed(let p, let r): return "writing the kubeconfig \(p) failed: \(r)"
        }
    }
}

/// mir's local control plane: an in-process API server that the real `kubectl` (v1.32) works against.
///
/// What it serves (reference kubernetes-api.md §A–C):
/// - Kinds: namespaces, pods, events, configmaps, secrets, serviceaccounts (v1), jobs (batch/v1), leases
///   (coordination.k8s.io/v1), customresourcedefinitions (apiextensions.k8s.io/v1) and every kind a CRD registers.
/// - Discovery in the non-aggregated form (`/api`, `/apis`, `APIResourceList`s with shortNames, categories, verbs and
///   `/status`); a minimal `/openapi/v3` (per group version, PATCH operations with `fieldValidation`) so kubectl's
///   default validation defers to the server. No `/openapi/v2`, no aggregated discovery, no protobuf/CBOR.
/// - Verbs: get, list (limit/continue, label selectors, field selectors `metadata.name`/`metadata.namespace` and
///   `involvedObject.*` on Events), watch (synthetic ADDED for RV unset/"0", replay from history, BOOKMARKs when
///   allowed, 410 ERROR event when too old, `timeoutSeconds`), create (AlreadyExists, generateName, dryRun),
///   update (Conflict; CRs must carry resourceVersion), delete and deletecollection, JSON patch, merge patch.
/// - Strategic merge patch (built-in kinds only) is approximated as a merge patch: lists are replaced, `$`-directives
///   dropped.
/// - Server-side apply: creates when missing, merges the applied configuration (objects merge, lists atomic) and
///   removes fields the same field manager applied before but omits now. `managedFields` are not kept, so there is
///   no conflict detection between managers (`force` is accepted and ignored) and apply history is lost on restart.
/// - `/status` subresource rules, generation bumps on non-metadata/non-status changes, finalizers with
///   deletionTimestamp, owner-reference garbage collection (Background, Foreground with `foregroundDeletion`, Orphan;
///   Jobs default to Orphan as in Kubernetes). Deleting a namespace removes its objects at once.
/// - Tables for `kubectl get` (CRD additionalPrinterColumns with priority; a few computed columns for built-ins).
/// - CRD schemas: types, required, enum, pattern, length/item/value bounds, list-type map/set uniqueness, defaults,
///   pruning (400 under `fieldValidation=Strict`, a `Warning` header under Warn) and `x-kubernetes-validations` in
///   the CEL subset of `CELRule`; rules outside it are not evaluated and reported in a `Warning` header.
/// - A job runner (`JobRunner`): real when a `JobBuildEngine` is configured (`RealPodRun`), else a simulation with the
///   configured builder (see `JobBuildAnnotations`); container logs through `pods/log` (`PodLogStore`).
public struct LocalControlPlane: Sendable {
    public init() {}

    /// Where the ManagedImage CRD lives in a checkout of mir.
    public static let crdPath = "Manifests/crd/mir.dev_managedimages.yaml"

    /// The ManagedImage CRD manifest found in `directory` (default: the current one) or up to seven levels above.
    public static func findManagedImageCRD(from directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> URL? {
        var dir = directory
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent(crdPath)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return nil
    }

    /// Starts the server (HTTPS with a generated CA, and optionally plain HTTP), the simulated job runner,
    /// and writes the kubeconfig when configured.
    public func start(_ configuration: ControlPlaneConfiguration) async throws -> RunningControlPlane {
        var logger = Logger(label: "mir.kubelocal")
        logger.logLevel = .info
        let fm = FileManager.default
        if let dir = configuration.stateDirectory {
            do {
                try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir.path)
            } catch {
                throw ControlPlaneError.startFailed("creating the state directory \(dir.path): \(error)")
            }
        }
        let certificates: ServingCertificates
        do {
            certificates = try configuration.stateDirectory.map { try ServingCertificates.loadOrCreate(in: $0) } ?? ServingCertificates.generate()
        } catch {
            throw ControlPlaneError.startFailed("generating certificates: \(error)")
        }
        let token = try configuration.token ?? Self.loadOrCreateToken(configuration.stateDirectory)
        let state: ClusterState
        do {
            state = try ClusterState(historyLimit: configuration.watchHistoryLimit,
                                     databaseURL: configuration.stateDirectory?.appendingPathComponent(Self.databaseFile),
                                     legacySnapshotURL: configuration.stateDirectory?.appendingPathComponent("snapshot.json"),
                                     eventTTL: configuration.eventTTL)
            try await state.bootstrap()
        } catch {
            throw ControlPlaneError.startFailed("loading the stored objects: \(error)")
        }

        let tls: NIOSSLContext
        do {
            let serverConfig = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificates.certificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificates.privateKeyPEM.utf8), format: .pem)))
            tls = try NIOSSLContext(configuration: serverConfig)
        } catch {
            throw ControlPlaneError.startFailed("loading the serving certificate: \(error)")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let requests = RequestCounter()
        // Container logs live with the state (as a kubelet keeps them on its node), else in a private temporary folder.
        let podLogs = configuration.stateDirectory.map { PodLogStore(directory: $0.appendingPathComponent("pod-logs")) } ?? PodLogStore.temporary()
        var secureHandler = APIHandler(state: state, token: token, bookmarkInterval: configuration.bookmarkInterval, counter: requests,
                                       users: configuration.users)
        secureHandler.podLogs = podLogs
        let secure = try await HTTPServer(host: "127.0.0.1", port: configuration.port, tls: tls, group: group,
                                          handler: secureHandler, logger: logger)
        var insecure: HTTPServer?
        if let port = configuration.insecurePort {
            var handler = APIHandler(state: state, token: configuration.insecureRequiresToken ? token : nil,
                                     bookmarkInterval: configuration.bookmarkInterval, counter: requests, users: configuration.users)
            handler.podLogs = podLogs
            insecure = try await HTTPServer(host: "127.0.0.1", port: port, tls: nil, group: group, handler: handler, logger: logger)
        }
        var runner: JobRunner?
        let mode: JobRunnerMode? = configuration.jobEngine.map { .real($0) } ?? configuration.builder.map { .simulated($0) }
        if let mode {
            let r = JobRunner(state: state, mode: mode, logs: podLogs, configuration: configuration.jobRunner)
            try await r.start()
            runner = r
            switch mode {
            case .real(let engine): logger.info("job runner: real (build Jobs are built and pushed with \(engine.name))")
            case .simulated(let builder): logger.info("job runner: SIMULATION (no container runs; builds are simulated by \(builder.name))")
            }
        }
        let running = RunningControlPlane(
            url: URL(string: "https://127.0.0.1:\(secure.port)")!,
            insecureURL: insecure.map { URL(string: "http://127.0.0.1:\($0.port)")! },
            token: token, caCertificatePEM: certificates.caCertificatePEM, kubeconfigPath: configuration.kubeconfigPath,
            state: state, servers: [secure] + (insecure.map { [$0] } ?? []), runner: runner, requests: requests, podLogDirectory: podLogs.directory,
            eventSweeper: Self.sweepEvents(state, every: Self.sweepInterval(configuration.eventTTL)))
        if let path = configuration.kubeconfigPath { try running.writeKubeconfig(to: path) }
        logger.info("local control plane serving on \(running.url)")
        return running
    }

    /// The SQLite database in the state directory.
    public static let databaseFile = "state.db"

    /// How often expired Events are looked for: a tenth of the time to live, between 100 ms and a minute.
    static func sweepInterval(_ ttl: Duration) -> Duration {
        min(max(ttl / 10, .milliseconds(100)), .seconds(60))
    }

    private static func sweepEvents(_ state: ClusterState, every interval: Duration) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await state.expireEvents()
            }
        }
    }

    private static func loadOrCreateToken(_ directory: URL?) throws -> String {
        let file = directory?.appendingPathComponent("token")
        if let file, let text = try? String(contentsOf: file, encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { return trimmed }
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        if let file {
            try Data(token.utf8).write(to: file)
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        }
        return token
    }
}

/// A running local control plane.
public final class RunningControlPlane: Sendable {
    /// The HTTPS endpoint (`https://127.0.0.1:PORT`).
    public let url: URL
    /// The plain-HTTP endpoint, when configured.
    public let insecureURL: URL?
    /// The bearer token clients must send.
    public let token: String
    /// The CA that signed the serving certificate (PEM).
    public let caCertificatePEM: String
    /// Where `start` wrote the kubeconfig, if anywhere.
    public let kubeconfigPath: URL?
    /// The resource requests served so far, by verb and resource (the job runner's own writes are not requests).
    public let requests: RequestCounter
    /// Where container logs are kept (`<namespace>/<pod>/<container>.log`).
    public let podLogDirectory: URL
    let state: ClusterState
    private let servers: [HTTPServer]
    private let runner: JobRunner?
    private let eventSweeper: Task<Void, Never>

    init(url: URL, insecureURL: URL?, token: String, caCertificatePEM: String, kubeconfigPath: URL?, state: ClusterState,
         servers: [HTTPServer], runner: JobRunner?, requests: RequestCounter, podLogDirectory: URL, eventSweeper: Task<Void, Never>) {
        self.podLogDirectory = podLogDirectory
        self.url = url
        self.insecureURL = insecureURL
        self.token = token
        self.caCertificatePEM = caCertificatePEM
        self.kubeconfigPath = kubeconfigPath
        self.state = state
        self.servers = servers
        self.runner = runner
        self.requests = requests
        self.eventSweeper = eventSweeper
    }

    /// Stops the job runner and the event sweeper, ends every watch, closes the listeners and the database.
    public func shutdown() async {
        eventSweeper.cancel()
        await runner?.stop()
        await state.endAllWatches()
        for server in servers { await server.shutdown() }
        await state.close()
    }

    /// What the store wrote so far (rows and bytes), for tests and benchmarks that count work.
    public func storageStatistics() async -> StorageStatistics { await state.storageStatistics }

    /// The kubeconfig text for this control plane (context `mir-dev`, the CA inline, the bearer token).
    public func kubeconfig() -> String {
        let ca = Data(caCertificatePEM.utf8).base64EncodedString()
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: mir-dev
          cluster:
            server: \(url.absoluteString)
            certificate-authority-data: \(ca)
        users:
        - name: mir-dev
          user:
            token: \(token)
        contexts:
        - name: mir-dev
          context:
            cluster: mir-dev
            user: mir-dev
            namespace: default
        current-context: mir-dev

        """
    }

    /// Writes the kubeconfig (mode 0600), creating parent directories.
    public func writeKubeconfig(to path: URL) throws {
        do {
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(kubeconfig().utf8).write(to: path, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path.path)
        } catch {
            throw ControlPlaneError.kubeconfigWriteFailed(path: path.path, reason: "\(error)")
        }
    }

    /// Creates or replaces every object of a YAML stream (as `kubectl apply` would, without the 3-way diff).
    /// Returns `kind/name` of each applied object.
    @discardableResult
    public func apply(yaml: String) async throws -> [String] {
        let documents: [JSONValue]
        do { documents = try JSONValue.yamlDocuments(yaml) } catch { throw ControlPlaneError.applyFailed("invalid YAML: \(error)") }
        var applied: [String] = []
        for document in documents where document != .null {
            guard let apiVersion = document["apiVersion"]?.stringValue, let kind = document["kind"]?.stringValue,
                  let name = document["metadata"]?["name"]?.stringValue else {
                throw ControlPlaneError.applyFailed("a document lacks apiVersion, kind or metadata.name")
            }
            guard let info = await state.resource(apiVersion: apiVersion, kind: kind) else {
                throw ControlPlaneError.applyFailed("no resource serves \(kind) in \(apiVersion)")
            }
            let namespace = info.namespaced ? (document["metadata"]?["namespace"]?.stringValue ?? "default") : nil
            do {
                _ = try await state.patch(info, namespace: namespace, name: name, type: .apply, patch: document, subresource: nil,
                                          options: WriteOptions(fieldValidation: "Strict", fieldManager: "mir"))
            } catch let error as APIError {
                throw ControlPlaneError.applyFailed(error.message)
            }
            applied.append("\(info.plural).\(info.group)/\(name)")
        }
        return applied
    }
}
