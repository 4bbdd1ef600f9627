import ArgumentParser
import Foundation
import KubeLocal
import MirBuild
import MirBuildEngine
import MirLocalRegistry

/// `mir dev --jobs`: how build Jobs run.
enum DevJobsMode: String, ExpressibleByArgument, CaseIterable {
    /// Built and pushed for real with the local build engine, the report run in the built image.
    case real
    /// A SIMULATION: no container runs; the `simulate` builder stands in.
    case simulated
}

/// KubeLocal's real job runner over mir's local build engine: a kaniko container is built with the engine from the
/// context the job runner read from the Job's ConfigMap and pushed to its destination (the digest file is the
/// termination message); the report container's `python -c PROGRAM` runs as `ReportStep` runs it (uid 65534,
/// read-only root, the report container's environment over the image's).
struct EngineJobAdapter: JobBuildEngine {
    let engine: ContainerEngine
    var name: String { engine.kind.rawValue }

    struct Unsupported: Error, CustomStringConvertible {
        var description: String
    }

    func build(_ build: KanikoBuild, logPath: String) async throws -> ContainerRunResult {
        let log = BuildLog(path: logPath)
        let folder = try PrivateBuildFolder()
        defer { folder.remove() }
        let context = URL(fileURLWithPath: folder.path).appendingPathComponent("context")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        for (path, data) in build.context {
            let file = context.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file)
        }
        let dockerfileText = String(decoding: build.context[build.dockerfile] ?? Data(), as: UTF8.self)
        let base = Self.firstBaseImage(dockerfileText) ?? build.destination
        let lastStep = StepTracker()
        let built = try await CommandRunner.run(
            engine.executable,
            engine.buildArguments(dockerfile: context.appendingPathComponent(build.dockerfile).path, context: context.path,
                                  tag: build.destination, baseImage: base, authFile: nil),
            log: log) { line in
                if let step = BuildOutputAnalysis.step(in: line) { lastStep.set(step) }
            }
        guard built.succeeded else {
            // As kaniko ends its log: one line saying why the build failed (the termination message's last line).
            let failure = BuildOutputAnalysis.buildFailure(lastStep: lastStep.value, tail: built.tail, exitCode: built.exitCode, logPath: "")
            var summary = failure
            summary.logPath = nil
            log.write(line: "error building image: \(BuildOutputAnalysis.message(summary))")
            return ContainerRunResult(exitCode: Int(built.exitCode), terminationMessage: "")
        }
        let digestFile = folder.path + "/digest"
        let pushed = try await CommandRunner.run(engine.executable, engine.pushArguments(tag: build.destination, digestFile: digestFile, authFile: nil),
                                                 log: log)
        guard pushed.succeeded else { return ContainerRunResult(exitCode: Int(pushed.exitCode), terminationMessage: "") }
        let digest = (try? String(contentsOfFile: digestFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        log.write(line: "pushed \(build.destination)@\(digest)")
        return ContainerRunResult(exitCode: 0, terminationMessage: digest)
    }

    func run(image: String, command: [String], environment: [(String, String)], logPath: String) async throws -> ContainerRunResult {
        guard command.count == 3, command[0] == "python" || command[0].hasSuffix("/python") || command[0].hasPrefix("python3"), command[1] == "-c" else {
            throw Unsupported(description: "mir dev runs only `python -c PROGRAM` containers (a build Job's report container), not: "
                + command.prefix(3).joined(separator: " "))
        }
        let expected = BuildJobManifest.reportEnvironment.map { "\($0.0)=\($0.1)" }
        guard Set(environment.map { "\($0.0)=\($0.1)" }) == Set(expected) else {
            throw Unsupported(description: "mir dev runs the report container with its fixed environment (\(expected.joined(separator: " "))) only")
        }
        let outcome = try await ReportStep.run(engine: engine, image: image, log: BuildLog(path: logPath), program: command[2])
        // The image is in the registry: the engine's local copy goes, as nothing of a kaniko build stays on a node
        // (a child built later pulls its parent again; an image still in use is kept).
        if engine.kind != .docker { _ = try? await CommandRunner.run(engine.executable, ["rmi", image]) }
        return ContainerRunResult(exitCode: Int(outcome.exitCode), terminationMessage: outcome.terminationMessage)
    }

    /// The image of the Dockerfile's first `FROM` (to decide on TLS for a loopback registry).
    static func firstBaseImage(_ dockerfile: String) -> String? {
        for line in dockerfile.split(separator: "\n") {
            let words = line.split(separator: " ").filter { !$0.hasPrefix("--") }
            if words.first?.uppercased() == "FROM", words.count > 1 { return String(words[1]) }
        }
        return nil
    }
}

/// The last build step seen in the engine's output.
final class StepTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var step: BuildOutputAnalysis.Step?
    func set(_ s: BuildOutputAnalysis.Step) { lock.lock(); step = s; lock.unlock() }
    var value: BuildOutputAnalysis.Step? { lock.lock(); defer { lock.unlock() }; return step }
}

/// How `mir dev` runs build Jobs and where they push: decided at start, printed in the banner.
struct DevJobsSetup {
    var mode: DevJobsMode
    var engine: ContainerEngine?
    /// The registry `mir run` must use (`local:ABS[,oci=URL]`).
    var registryValue: String
    var registryDirectory: String
    var ociEndpoint: OCIEndpoint?
    /// The distribution registry mir dev started (stopped with it).
    var startedRegistry: LocalDistributionRegistry?
    /// Why the mode was chosen, for the banner.
    var note: String

    /// `jobs` nil: real when a build engine is found and an OCI registry is at hand (given with `oci=`, or
    /// docker-registry installed to start), else simulated.
    static func prepare(jobs: DevJobsMode?, engineKind: EngineKind?, registry: String, startRegistry: Bool, stateDirectory: String) async throws -> DevJobsSetup {
        guard let spec = try LocalRegistrySpec(parsing: registry) else {
            throw ValidationError("mir dev runs builds against the embedded registry: --registry local[:DIR][,oci=URL]")
        }
        var engine: ContainerEngine?
        var engineProblem = ""
        do { engine = try ContainerEngine.locate(engineKind) } catch { engineProblem = "\(error)" }
        let registryBinary = startRegistry && spec.ociEndpoint == nil ? LocalDistributionRegistry.locateBinary() : nil
        let mode: DevJobsMode
        var note: String
        if let jobs {
            mode = jobs
            note = "--jobs \(jobs.rawValue)"
        } else if engine == nil {
            mode = .simulated
            note = engineProblem
        } else if spec.ociEndpoint == nil && registryBinary == nil {
            mode = .simulated
            note = startRegistry ? "no OCI registry for real builds: docker-registry is not installed and --registry has no oci=URL"
                : "--no-oci-registry and --registry has no oci=URL: real builds have nowhere to push"
        } else {
            mode = .real
            note = "build engine found"
        }
        var setup = DevJobsSetup(mode: mode, engine: nil, registryValue: "", registryDirectory: spec.directory, ociEndpoint: spec.ociEndpoint,
                                 startedRegistry: nil, note: note)
        switch mode {
        case .simulated:
            guard spec.ociEndpoint == nil else {
                throw ValidationError("simulated build jobs push nothing to an OCI registry: use --registry local[:DIR] without oci= (or --jobs real)")
            }
        case .real:
            guard let engine else { throw ValidationError("--jobs real: \(engineProblem)") }
            setup.engine = engine
            if setup.ociEndpoint == nil {
                guard let registryBinary else {
                    throw ValidationError("--jobs real pushes to an OCI registry: install docker-registry (Debian package docker-registry) "
                        + "or pass --registry local[:DIR],oci=http://127.0.0.1:PORT")
                }
                let started = try await LocalDistributionRegistry.start(binary: registryBinary, stateDirectory: stateDirectory)
                setup.startedRegistry = started
                setup.ociEndpoint = try OCIEndpoint(parsing: started.baseURL)
            }
        }
        setup.registryValue = DevRegistryMarker.value(directory: spec.directory, oci: setup.ociEndpoint)
        return setup
    }

    /// The banner's first line.
    func banner(serving url: String) -> String {
        switch mode {
        case .simulated:
            return "mir local control plane (build jobs: SIMULATION, no image is built — \(note); registry \(registryValue)) serving on \(url)"
        case .real:
            let pushTo = startedRegistry.map { "docker-registry on \($0.host), started by mir dev and stopped with it (log \($0.logPath))" }
                ?? "the OCI registry \(ociEndpoint?.baseURL ?? "")"
            return "mir local control plane (build jobs: real, built with \(engine?.kind.rawValue ?? "?") and pushed to \(pushTo); registry \(registryValue)) serving on \(url)"
        }
    }
}

/// `mir dev --engine`.
enum DevEngineChoice: String, ExpressibleByArgument, CaseIterable {
    case buildah, podman, docker
    var kind: EngineKind { EngineKind(rawValue: rawValue)! }
}
