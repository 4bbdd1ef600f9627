import ArgumentParser
import Foundation
import KubeLocal
import MirBuild
import MirBuildEngine
import MirLocalRegistry
import MirModel

/// `mir dev`: runs mir's local control plane so anyone can try mir with kubectl and no cluster.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a local Kubernetes-compatible control plane with mir's CRD installed (build Jobs run for real or simulated; no cluster needed).")

    @Option(name: .long, help: "State directory (certificates, token, snapshot).")
    var state: String = ".mir/dev"

    @Option(name: .long, help: "HTTPS port on 127.0.0.1 (0 picks a free port).")
    var port: Int = 6443

    @Option(name: .long, help: "Where to write the kubeconfig.")
    var kubeconfig: String = ".mir/kubeconfig"

    @Option(name: .long, help: "The ManagedImage CRD manifest (default: Manifests/crd/mir.dev_managedimages.yaml, searched upwards from the current directory).")
    var crd: String?

    @Option(name: .long, help: "The embedded registry build jobs push to: local[:DIR][,oci=URL] (share it with `mir run --registry`; without oci=, real jobs push to a docker-registry mir dev starts).")
    var registry: String = "local"

    @Option(name: .long, help: "How build Jobs run: real (built and pushed with the local build engine) or simulated (a SIMULATION). Default: real when a build engine is found, else simulated.")
    var jobs: DevJobsMode?

    @Option(name: .long, help: "The build engine for real jobs: buildah, podman or docker (default: the first found, in that order).")
    var engine: DevEngineChoice?

    @Flag(name: .long, help: "Do not start a docker-registry for real build jobs (then pass --registry local[:DIR],oci=URL).")
    var noOciRegistry = false

    func run() async throws {
        // Signals are trapped before anything is started or announced: one that arrives during start-up (or right
        // after the control plane logs that it serves) still ends in a graceful stop, never the default action.
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            sources.append(source)
        }
        let stateURL = URL(fileURLWithPath: state)
        let kubeconfigURL = URL(fileURLWithPath: kubeconfig)
        guard let crdURL = crd.map({ URL(fileURLWithPath: $0) }) ?? LocalControlPlane.findManagedImageCRD() else {
            throw ValidationError("cannot find \(LocalControlPlane.crdPath) in this directory or above; pass --crd FILE")
        }
        let crdText = try String(contentsOf: crdURL, encoding: .utf8)
        let jobsSetup = try await DevJobsSetup.prepare(jobs: jobs, engineKind: engine?.kind, registry: registry, startRegistry: !noOciRegistry,
                                                       stateDirectory: stateURL.path)
        let running: RunningControlPlane
        do {
            let simulate = SimulateBuilder(registry: try LocalRegistry(directory: jobsSetup.registryDirectory),
                                           records: FileBuildRecordStore(directory: stateURL.appendingPathComponent("simulated-builds").path),
                                           settings: BuilderSettings())
            var configuration = ControlPlaneConfiguration(stateDirectory: stateURL, port: port, builder: JobSimulation(simulate), kubeconfigPath: kubeconfigURL)
            configuration.jobEngine = jobsSetup.engine.map { EngineJobAdapter(engine: $0) }
            running = try await LocalControlPlane().start(configuration)
            try await running.apply(yaml: crdText)
            // Where the build jobs push, recorded in the cluster so that `mir run` can refuse another registry.
            try await running.apply(yaml: DevRegistryMarker.manifest(value: jobsSetup.registryValue))
        } catch {
            await jobsSetup.startedRegistry?.stop()
            throw error
        }
        say(jobsSetup.banner(serving: running.url.absoluteString))
        say("kubectl --kubeconfig \(kubeconfigURL.path) get managedimages")
        say("Deployments, Services, RBAC and the other kinds an install creates are stored, not run: there is no kubelet, so a Deployment stays at 0 available replicas")
        say("run the controller against it (same registry): \(DevRegistryMarker.runCommand(kubeconfig: kubeconfigURL.path, registry: jobsSetup.registryValue))")
        for await _ in signals { break }
        sources.forEach { $0.cancel() }
        say("stopping")
        await running.shutdown()
        await jobsSetup.startedRegistry?.stop()
    }

}

/// `mir dev` records the absolute path of the registry its simulated build jobs push to in ConfigMap
/// `default/mir-dev` (key `registry`); `mir run` reads it at start and refuses a different registry: otherwise every
/// build succeeds into a registry the controller does not observe (PushNotVisible).
enum DevRegistryMarker {
    static let namespace = "default"
    static let name = "mir-dev"
    static let key = "registry"

    /// `directory` made absolute, symbolic links resolved (so two spellings of one directory compare equal).
    static func absolutePath(_ directory: String) -> String {
        URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// `local:<absolute directory>[,oci=<URL>]`: the one spelling `mir dev` records and `mir run` compares.
    static func value(directory: String, oci: OCIEndpoint?) -> String {
        "local:" + absolutePath(directory) + (oci.map { ",oci=" + $0.baseURL } ?? "")
    }

    static func manifest(value: String) -> String {
        let document: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("ConfigMap"),
            "metadata": .object(["name": .string(name), "namespace": .string(namespace),
                                 "labels": .object(["app.kubernetes.io/managed-by": .string("mir-dev")])]),
            "data": .object([key: .string(value)]),
        ])
        return document.canonicalText
    }

    /// The exact `mir run` command line that shares the registry.
    static func runCommand(kubeconfig: String, registry: String) -> String {
        "mir run --kubeconfig \(shellQuoted(kubeconfig)) --registry \(shellQuoted(registry))"
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-:+=,@".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Writes a line to stdout unbuffered (so scripts and tests reading a pipe or file see it at once).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
