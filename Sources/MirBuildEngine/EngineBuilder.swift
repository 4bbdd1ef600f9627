import Foundation
import MirBuild
import MirModel

/// A real builder: builds the Dockerfile the kaniko Job carries (`BuildContextRenderer`, one renderer for both)
/// with a local OCI engine (buildah, podman or docker), tags it `<repositoryURI>:<tag>`, pushes it, records the
/// pushed digest and runs the Job's report step in the built image for the real `pip list`.
///
/// Every build writes its full log to `<buildsDirectory>/<image>/<tag>/build.log` (next to its Dockerfile); a
/// failure is typed (`BuildFailure`: BaseImagePullFailed, BuildFailed with the failing step and its exit code,
/// PushDenied) and its message ends with the log's path. Registry credentials reach the engine only through a
/// 0600 auth file in a private folder that is removed when the build ends.
public struct EngineBuilder: ImageBuilder {
    public let engine: ContainerEngine
    public let buildsDirectory: String
    public let records: any BuildRecordStore
    public let credentials: any RegistryCredentialSource
    /// Progress lines (one per step), for the terminal.
    public let progress: @Sendable (String) -> Void

    public init(engine: ContainerEngine, buildsDirectory: String, records: any BuildRecordStore,
                credentials: any RegistryCredentialSource = NoCredentials(), progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.engine = engine
        self.buildsDirectory = buildsDirectory
        self.records = records
        self.credentials = credentials
        self.progress = progress
    }

    public var name: String { engine.kind.rawValue }
    public var isSimulation: Bool { false }
    /// The builder writes its own records (`Running` with its process and heartbeat, then the outcome), each a
    /// compare-and-swap on the version it read: the caller must not write the returned record again.
    public var writesRecords: Bool { true }

    /// `<buildsDirectory>/<image>/<tag>`.
    public func buildDirectory(image: String, tag: String) -> String { "\(buildsDirectory)/\(image)/\(tag)" }

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        let image = request.image
        // Rendering checks every name first, so the image name and tag are safe path components below.
        let dockerfile = try BuildContextRenderer.dockerfile(for: request)
        let folder = buildDirectory(image: image.name, tag: image.tag)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(dockerfile.utf8).write(to: URL(fileURLWithPath: folder + "/Dockerfile"), options: .atomic)
        } catch {
            throw BuildRecordStoreError(operation: "prepare build", path: folder, message: "\(error)")
        }
        let logPath = folder + "/build.log"
        let log = BuildLog(path: logPath)
        var record = BuildRecord(image: image.name, tag: image.tag, state: .running, reason: request.reason.rawValue,
                                 specDigest: image.specDigest, platformVersion: request.platformVersion,
                                 parentTag: image.parentTag, pythonVersion: image.pythonVersion, builder: name,
                                 simulated: false, startedAt: Date().millisecondPrecision,
                                 message: "building with \(name); log: \(logPath)")
        record.owner = .current
        record.heartbeatAt = record.startedAt
        record.version = try await records.record(image: image.name, tag: image.tag)?.version
        record = try await records.put(record)
        let heartbeat = Heartbeat(records: records, record: record)
        let beating = Task { await heartbeat.run() }
        defer { beating.cancel() }

        let outcome: Outcome
        do {
            outcome = try await run(request, dockerfile: folder + "/Dockerfile", log: log, logPath: logPath)
        } catch let error as CancellationError {
            beating.cancel()
            await beating.value
            record = (try? heartbeat.latest()) ?? record
            record.state = .failed
            record.finishedAt = Date().millisecondPrecision
            record.message = "build cancelled; full log: \(logPath)"
            let finished = record
            _ = try? await Task.detached { try await records.put(finished) }.value
            throw error
        } catch {
            log.write(line: "error: \(error)")
            outcome = .failure(BuildFailure(reason: .buildFailed, step: "engine", cause: "\(error)", logPath: logPath))
        }
        beating.cancel()
        await beating.value
        record = try heartbeat.latest()
        record.heartbeatAt = nil
        record.finishedAt = Date().millisecondPrecision
        switch outcome {
        case .success(let built):
            record.state = .succeeded
            record.pipLibraries = built.libraries
            record.imageDigest = built.digest
            record.message = "pushed \(built.destination)\(built.digest.map { "@\($0)" } ?? "") (\(built.libraries.count) pip libraries"
                + (built.truncated ? ", list truncated" : "") + "); log: \(logPath)"
            progress("\(image.name):\(image.tag) pushed \(built.digest ?? "(digest unknown)"), \(built.libraries.count) pip libraries")
        case .failure(let failure):
            record.state = .failed
            record.failure = failure
            record.message = BuildOutputAnalysis.message(failure)
            progress("\(image.name):\(image.tag) FAILED: \(record.message ?? "")")
        }
        return try await records.put(record)
    }

    enum Outcome {
        case success(Built)
        case failure(BuildFailure)
    }

    struct Built {
        var destination: String
        var digest: String?
        var libraries: [PipLibrary]
        var truncated: Bool
    }

    /// Build, push, report. A failure of the engine is a `.failure`; only cancellation and I/O errors throw.
    func run(_ request: BuildRequest, dockerfile: String, log: BuildLog, logPath: String) async throws -> Outcome {
        let image = request.image
        let label = "\(image.name):\(image.tag)"
        let destination = "\(request.repositoryURI):\(image.tag)"
        let folder = try PrivateBuildFolder()
        defer { folder.remove() }
        var entries: [String: RegistryCredentials] = [:]
        for host in Set([ContainerEngine.registryHost(of: destination), ContainerEngine.registryHost(of: request.baseImageReference)]) {
            if let found = try await credentials.credentials(forHost: host) { entries[host] = found }
        }
        let authFile = entries.isEmpty ? nil : try folder.writeAuthFile(entries)
        if !entries.isEmpty { log.write(line: "(registry credentials for \(entries.keys.sorted().joined(separator: ", ")) in a private auth file)") }
        let context = folder.path + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: false)
        let environment = engine.environment(authFile: authFile)

        // 1. Build.
        progress("\(label) building FROM \(request.baseImageReference) with \(engine.kind.rawValue)")
        let lastStep = LastStep()
        let progress = self.progress
        let build = try await CommandRunner.run(
            engine.executable,
            engine.buildArguments(dockerfile: dockerfile, context: context, tag: destination, baseImage: request.baseImageReference, authFile: authFile),
            environment: environment, log: log
        ) { line in
            if let step = BuildOutputAnalysis.step(in: line) {
                lastStep.set(step)
                progress("\(label) \(BuildOutputAnalysis.shorten(step.text, 120))")
            }
        }
        guard build.succeeded else {
            return .failure(BuildOutputAnalysis.buildFailure(lastStep: lastStep.value, tail: build.tail, exitCode: build.exitCode, logPath: logPath))
        }

        // 2. Push, to a repository that is still this mir's (the build took a while).
        do {
            try await request.pushTarget?.verify(repositoryName: image.repositoryName)
        } catch {
            log.write(line: "error: not pushing: \(error)")
            return .failure(BuildFailure(reason: error is RepositoryNotOwned ? .repositoryNotOwned : .buildFailed, step: "push \(destination)",
                                         cause: "\(error)", logPath: logPath))
        }
        progress("\(label) pushing \(destination)")
        let digestFile = folder.path + "/digest"
        let push = try await CommandRunner.run(engine.executable, engine.pushArguments(tag: destination, digestFile: digestFile, authFile: authFile),
                                               environment: environment, log: log)
        guard push.succeeded else {
            let denied = BuildOutputAnalysis.isPushDenied(push.tail)
            return .failure(BuildFailure(reason: denied ? .pushDenied : .buildFailed, step: "push \(destination)", exitCode: Int(push.exitCode),
                                         cause: denied ? "the registry refused the push (credentials or permissions)" : nil, logPath: logPath))
        }
        let digest = Self.digest(file: digestFile, output: push.tail)

        // 3. Report: the Job's report container, run in the built image.
        progress("\(label) reporting pip list (uid 65534, read-only root)")
        let report = try await ReportStep.run(engine: engine, image: destination, log: log)
        guard report.exitCode == 0 else {
            return .failure(BuildFailure(reason: .buildFailed, step: "report", exitCode: Int(report.exitCode),
                                         cause: "the report step (pip list as uid 65534 on a read-only root) failed", logPath: logPath))
        }
        do {
            let decoded = try BuildReport.decode(terminationMessage: report.terminationMessage)
            return .success(Built(destination: destination, digest: digest, libraries: decoded.libraries, truncated: decoded.truncated))
        } catch {
            log.write(line: "error: \(error)")
            return .failure(BuildFailure(reason: .buildFailed, step: "report", exitCode: 0, cause: error.description, logPath: logPath))
        }
    }

    /// The pushed digest: the digest file buildah and podman write, or docker's `digest: sha256:…` line.
    static func digest(file: String, output: [String]) -> String? {
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if BuildReport.imageDigest(kanikoTerminationMessage: trimmed) != nil { return trimmed }
        }
        for line in output.reversed() {
            if let range = line.range(of: "digest: sha256:") {
                let hex = line[range.upperBound...].prefix { $0.isHexDigit }
                if hex.count == 64 { return "sha256:" + hex }
            }
        }
        return nil
    }
}

/// The last step line seen, shared with the output handler.
final class LastStep: @unchecked Sendable {
    private let lock = NSLock()
    private var step: BuildOutputAnalysis.Step?
    func set(_ s: BuildOutputAnalysis.Step) { lock.lock(); step = s; lock.unlock() }
    var value: BuildOutputAnalysis.Step? { lock.lock(); defer { lock.unlock() }; return step }
}
