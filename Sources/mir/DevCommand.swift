import ArgumentParser
import Foundation
import KubeLocal
import MirBuild
import MirLocalRegistry
import MirModel

/// `mir dev`: runs mir's local control plane so anyone can try mir with kubectl and no cluster.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a local Kubernetes-compatible control plane with mir's CRD installed (simulated jobs; no cluster needed).")

    @Option(name: .long, help: "State directory (certificates, token, snapshot).")
    var state: String = ".mir/dev"

    @Option(name: .long, help: "HTTPS port on 127.0.0.1 (0 picks a free port).")
    var port: Int = 6443

    @Option(name: .long, help: "Where to write the kubeconfig.")
    var kubeconfig: String = ".mir/kubeconfig"

    @Option(name: .long, help: "The ManagedImage CRD manifest (default: Manifests/crd/mir.dev_managedimages.yaml, searched upwards from the current directory).")
    var crd: String?

    @Option(name: .long, help: "The embedded registry the simulated job runner pushes to: local[:DIR] (share it with `mir run --registry`).")
    var registry: String = "local"

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
        guard registry == "local" || registry.hasPrefix("local:") else { throw ValidationError("mir dev runs builds against the embedded registry: --registry local[:DIR]") }
        let registryDirectory = registry == "local" ? LocalRegistry.defaultDirectory : String(registry.dropFirst("local:".count))
        let simulate = SimulateBuilder(registry: try LocalRegistry(directory: registryDirectory),
                                       records: FileBuildRecordStore(directory: stateURL.appendingPathComponent("simulated-builds").path),
                                       settings: BuilderSettings())
        let running = try await LocalControlPlane().start(ControlPlaneConfiguration(
            stateDirectory: stateURL, port: port, builder: JobSimulation(simulate), kubeconfigPath: kubeconfigURL))
        try await running.apply(yaml: crdText)
        // Where the simulated jobs push, recorded in the cluster so that `mir run` can refuse another registry.
        let registryPath = DevRegistryMarker.absolutePath(registryDirectory)
        try await running.apply(yaml: DevRegistryMarker.manifest(registryPath: registryPath))
        say("mir local control plane (simulated jobs, pushing to local:\(registryPath)) serving on \(running.url.absoluteString)")
        say("kubectl --kubeconfig \(kubeconfigURL.path) get managedimages")
        say("Deployments, Services, RBAC and the other kinds an install creates are stored, not run: there is no kubelet, so a Deployment stays at 0 available replicas")
        say("run the controller against it (same registry): \(DevRegistryMarker.runCommand(kubeconfig: kubeconfigURL.path, registryPath: registryPath))")
        for await _ in signals { break }
        sources.forEach { $0.cancel() }
        say("stopping")
        await running.shutdown()
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

    static func manifest(registryPath: String) -> String {
        let document: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("ConfigMap"),
            "metadata": .object(["name": .string(name), "namespace": .string(namespace),
                                 "labels": .object(["app.kubernetes.io/managed-by": .string("mir-dev")])]),
            "data": .object([key: .string("local:" + registryPath)]),
        ])
        return document.canonicalText
    }

    /// The exact `mir run` command line that shares the registry.
    static func runCommand(kubeconfig: String, registryPath: String) -> String {
        "mir run --kubeconfig \(shellQuoted(kubeconfig)) --registry \(shellQuoted("local:" + registryPath))"
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-:+=,@".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Writes a line to stdout unbuffered (so scripts and tests reading a pipe or file see it at once).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
