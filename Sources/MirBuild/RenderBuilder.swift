import Foundation
import MirModel

/// The `render` builder (default for `mir apply`): writes, per build, the Dockerfile and the exact ConfigMap and
/// kaniko Job the controller would create, to `<outputDirectory>/<image>/<tag>/{Dockerfile,job.yaml}`.
/// Nothing is built; the record says `Submitted`, with a deadline of `builder.activeDeadlineSeconds` (after it,
/// or once the repository is newer than the record, the record reads as `Lost` and is rendered again). Idempotent: rendering the same build again leaves the files
/// untouched.
public struct RenderBuilder: ImageBuilder {
    public let outputDirectory: String
    public let settings: BuilderSettings

    public init(outputDirectory: String, settings: BuilderSettings = BuilderSettings()) {
        self.outputDirectory = outputDirectory
        self.settings = settings
    }

    public var name: String { "render" }
    public var isSimulation: Bool { false }

    /// `<outputDirectory>/<image>/<tag>`.
    public func buildDirectory(image: String, tag: String) -> String {
        "\(outputDirectory)/\(image)/\(tag)"
    }

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        // Rendering checks every name first, so the image name and tag are safe path components below.
        let dockerfile = try BuildContextRenderer.dockerfile(for: request)
        let manifest = BuildJobManifest.manifestText(try BuildJobManifest.objects(for: request, settings: settings))
        let folder = buildDirectory(image: request.image.name, tag: request.image.tag)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try AtomicFile.writeIfChanged(Data(dockerfile.utf8), to: folder + "/Dockerfile")
            try AtomicFile.writeIfChanged(Data(manifest.utf8), to: folder + "/job.yaml")
        } catch {
            throw BuildRecordStoreError(operation: "render build", path: folder, message: "\(error)")
        }
        let image = request.image
        let submitted = Date().millisecondPrecision
        var record = BuildRecord(image: image.name, tag: image.tag, state: .submitted, reason: request.reason.rawValue,
                                 specDigest: image.specDigest, platformVersion: request.platformVersion,
                                 parentTag: image.parentTag, pythonVersion: image.pythonVersion, builder: name,
                                 simulated: false, startedAt: submitted,
                                 message: "rendered to \(folder)/ (run it with kubectl apply -f \(folder)/job.yaml)")
        // The Job cannot run longer than its activeDeadlineSeconds: past that without the tag, the record is Lost.
        record.deadline = submitted.addingTimeInterval(TimeInterval(settings.activeDeadlineSeconds))
        return record
    }
}
