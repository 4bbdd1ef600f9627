import Crypto
import Foundation
import MirModel
import MirRegistry
import Synchronization

/// The `simulate` builder, for demos and tests. After `delay` it records an image with the expected tag in the
/// registry (a synthetic manifest annotated as simulated) and reports a `pip list` derived from the
/// requirements. Everything it produces says "simulated".
///
/// - The build context is rendered first, so input the renderer refuses fails the build as it would for real.
/// - An unsatisfiable specifier set fails the build (like pip's `ResolutionImpossible`).
/// - A child needs its parent's tag to be built (as `FROM parent:tag` needs the image): it inherits the libraries
///   of the parent's succeeded record, or only pip/setuptools/wheel when the image is in the registry without a
///   record; otherwise the build fails.
/// - One build per (image, tag): the builder writes its records to `records` (`Running` naming this process, with a
///   heartbeat refreshed while it runs, then the outcome; each write a compare-and-swap) and returns the existing
///   record instead of building again when there is a succeeded one or a failed simulated one (unless the reason
///   is `manual`, which forces a new build), or a running simulated one whose process is alive. A `Running` record
///   of a dead process reads as `Abandoned` and is built again. Concurrent calls for the same (image, tag) in one
///   process share one build.
public struct SimulateBuilder: ImageBuilder {
    public let registry: any ImageRegistry
    public let records: any BuildRecordStore
    public let delay: Duration
    private let inFlight = InFlightBuilds()

    public init(registry: any ImageRegistry, records: any BuildRecordStore, delay: Duration) {
        self.registry = registry
        self.records = records
        self.delay = delay
    }

    public var name: String { "simulate" }
    public var isSimulation: Bool { true }

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        let key = "\(request.image.name)\n\(request.image.tag)"
        return try await inFlight.run(key: key) { try await self.buildOnce(request) }
    }

    /// The builder writes its own records (`Running` with its process and heartbeat, then the outcome), each a
    /// compare-and-swap on the version it read: the caller must not write the returned record again.
    public var writesRecords: Bool { true }

    private func buildOnce(_ request: BuildRequest) async throws -> BuildRecord {
        let image = request.image
        let existing = try await records.record(image: image.name, tag: image.tag)
        if let existing, shouldReuse(existing, request) { return existing }

        let started = Date().millisecondPrecision
        var record = BuildRecord(image: image.name, tag: image.tag, state: .running, reason: request.reason.rawValue,
                                 specDigest: image.specDigest, platformVersion: request.platformVersion,
                                 parentTag: image.parentTag, pythonVersion: image.pythonVersion, builder: name,
                                 simulated: true, startedAt: started, message: "simulated build running")
        record.owner = .current
        record.heartbeatAt = started
        record.version = existing?.version
        do {
            record = try await records.put(record)
        } catch let conflict as BuildRecordConflict {
            // Another process took this build between our read and our write: its record stands.
            if let now = try await records.record(image: image.name, tag: image.tag),
               now.state != .abandoned, now.state != .lost { return now }
            throw conflict
        }
        let heartbeat = Heartbeat(records: records, record: record)
        let beating = Task { await heartbeat.run() }
        let outcome: Result<[PipLibrary], Failure>
        do {
            try await Task.sleep(for: delay)
            outcome = await simulate(request)
        } catch {
            beating.cancel()
            throw error
        }
        beating.cancel()
        await beating.value
        record = try heartbeat.latest()
        record.finishedAt = Date().millisecondPrecision
        record.heartbeatAt = nil
        switch outcome {
        case .success(let libraries):
            record.state = .succeeded
            record.pipLibraries = libraries
            record.message = "simulated build: recorded \(image.repositoryName):\(image.tag) (no image content)"
        case .failure(let failure):
            record.state = .failed
            record.message = "simulated build failed: \(failure.message)"
            if failure.reason != .buildFailed { record.failure = BuildFailure(reason: failure.reason, cause: failure.message) }
        }
        return try await records.put(record)
    }

    private func shouldReuse(_ existing: BuildRecord, _ request: BuildRequest) -> Bool {
        switch existing.state {
        case .succeeded: return request.reason != .manual
        case .failed: return existing.builder == name && request.reason != .manual
        case .running, .submitted: return existing.builder == name
        case .abandoned, .lost: return false
        }
    }

    private struct Failure: Error {
        var message: String
        var reason: BuildFailure.Reason = .buildFailed
    }

    private func simulate(_ request: BuildRequest) async -> Result<[PipLibrary], Failure> {
        let image = request.image
        do {
            _ = try BuildContextRenderer.dockerfile(for: request)
        } catch {
            return .failure(Failure(message: error.description))
        }
        var inherited = SimulatedPipResolver.baseLibraries
        if case .managed(let parentName, let parentTag, let parentRepository) = image.base {
            if let parentRecord = try? await records.record(image: parentName, tag: parentTag), parentRecord.state == .succeeded {
                inherited = parentRecord.pipLibraries
            } else if await imageExists(repository: parentRepository, tag: parentTag) {
                // Built before records were kept: FROM works, but the parent's libraries are unknown.
                inherited = SimulatedPipResolver.baseLibraries
            } else {
                return .failure(Failure(message: "base image \(parentName):\(parentTag) has no succeeded build and is not in the registry"))
            }
        }
        let libraries: [PipLibrary]
        do {
            libraries = try SimulatedPipResolver.libraries(for: image.image.spec.pipRequirements, inheriting: inherited)
        } catch {
            return .failure(Failure(message: error.description))
        }
        let manifest = Self.manifest(for: request, libraries: libraries)
        do {
            try await request.pushTarget?.verify(repositoryName: image.repositoryName)
        } catch {
            return .failure(Failure(message: "\(error)", reason: error is RepositoryNotOwned ? .repositoryNotOwned : .buildFailed))
        }
        do {
            _ = try await registry.putImage(repositoryName: image.repositoryName, manifest: manifest, tag: image.tag)
        } catch let error as RegistryError where error.code == .imageAlreadyExists {
            // The same simulated image is already recorded under this tag.
        } catch {
            return .failure(Failure(message: "could not record the image: \(error)"))
        }
        return .success(libraries)
    }

    private func imageExists(repository: String, tag: String) async -> Bool {
        let page = try? await registry.describeImages(repositoryName: repository, imageIds: [ImageIdentifier(tag: tag)],
                                                      maxResults: nil, nextToken: nil)
        return page?.items.contains { $0.tags.contains(tag) } ?? false
    }

    /// A synthetic OCI image manifest (canonical JSON) annotated `dev.mir.simulated: true`. Its config digest
    /// covers the image identity and its libraries, so the same build always gives the same manifest.
    public static func manifest(for request: BuildRequest, libraries: [PipLibrary]) -> String {
        let image = request.image
        let config = JSONValue.object([
            "architecture": .string("amd64"),
            "os": .string("linux"),
            "rootfs": .object(["type": .string("layers"), "diff_ids": .array([])]),
            "config": .object(["Labels": .object([
                "dev.mir.image": .string(image.name),
                "dev.mir.tag": .string(image.tag),
                "dev.mir.simulated": .string("true"),
                "dev.mir.pip-libraries": .string(libraries.map { "\($0.name)==\($0.version)" }.joined(separator: " ")),
            ])]),
        ]).canonicalText
        let configDigest = "sha256:" + SHA256.hash(data: Data(config.utf8)).map { String(format: "%02x", $0) }.joined()
        return JSONValue.object([
            "schemaVersion": .number(2),
            "mediaType": .string("application/vnd.oci.image.manifest.v1+json"),
            "config": .object([
                "mediaType": .string("application/vnd.oci.image.config.v1+json"),
                "digest": .string(configDigest),
                "size": .number(Double(config.utf8.count)),
            ]),
            "layers": .array([]),
            "annotations": .object([
                "dev.mir.simulated": .string("true"),
                "dev.mir.image": .string(image.name),
                "dev.mir.tag": .string(image.tag),
                "dev.mir.spec-digest": .string(image.specDigest),
                "dev.mir.platform-version": .string(request.platformVersion),
                "org.opencontainers.image.base.name": .string(request.baseImageReference),
                "org.opencontainers.image.description": .string("simulated build by mir: no image content"),
            ]),
        ]).canonicalText
    }
}

/// Refreshes a `Running` record's heartbeat every `BuildRecord.heartbeatInterval` (compare-and-swap) until cancelled.
public final class Heartbeat: Sendable {
    let records: any BuildRecordStore
    private let state: Mutex<(record: BuildRecord, failure: (any Error & Sendable)?)>

    public init(records: any BuildRecordStore, record: BuildRecord) {
        self.records = records
        self.state = Mutex((record, nil))
    }

    /// The record as last stored, or the error that stopped the heartbeat (e.g. a conflict).
    public func latest() throws -> BuildRecord {
        let (record, failure) = state.withLock { ($0.record, $0.failure) }
        if let failure { throw failure }
        return record
    }

    public func run(interval: Duration = .seconds(BuildRecord.heartbeatInterval)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            guard var record = try? latest() else { return }
            record.heartbeatAt = Date().millisecondPrecision
            do {
                let stored = try await records.put(record)
                state.withLock { $0.record = stored }
            } catch {
                // e.g. a conflict: the final write fails with it.
                let failure: any Error & Sendable = (error as? BuildRecordConflict)
                    ?? BuildRecordStoreError(operation: "heartbeat", path: "\(record.image):\(record.tag)", message: "\(error)")
                state.withLock { $0.failure = failure }
                return
            }
        }
    }
}

/// Shares one running build among concurrent callers with the same key.
actor InFlightBuilds {
    private var running: [String: Task<BuildRecord, Error>] = [:]

    func run(key: String, _ body: @escaping @Sendable () async throws -> BuildRecord) async throws -> BuildRecord {
        if let task = running[key] { return try await task.value }
        let task = Task { try await body() }
        running[key] = task
        defer { running[key] = nil }
        return try await task.value
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
