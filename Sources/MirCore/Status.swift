import Foundation
import MirModel
import MirBuild

/// An image's phase, derived from observation (the seed's STATUS_* values).
public enum ImagePhase: String, Sendable, Hashable, Codable, CaseIterable {
    case buildingFirstTime = "BuildingFirstTime"
    case rebuilding = "Rebuilding"
    case ready = "Ready"
    case failed = "Failed"
    case outdated = "Outdated"
    /// Being deleted, or its deletion is blocked (the image is going away: not Ready).
    case deleting = "Deleting"
}

/// What `mir images` shows for one image.
public struct ImageStatus: Sendable, Hashable, Codable {
    public var name: String
    public var phase: ImagePhase
    /// Why the image is in this phase (CamelCase), e.g. `BuildSucceeded`, `PlatformUpgraded`.
    public var reason: String
    public var message: String
    public var repository: String
    public var repositoryURI: String?
    /// The tag the spec currently describes (nil when listed without specs).
    public var desiredTag: String?
    /// The tag of the image being served (the newest good build still in the registry).
    public var currentTag: String?
    public var pythonVersion: String?
    /// The platform version the current image was built with.
    public var platformVersion: String?
    public var pipLibraries: [PipLibrary]
    /// True when the current image came from the `simulate` builder.
    public var simulated: Bool
    public var childImages: [String]
    public var builder: String?
}

public enum StatusDeriver {
    /// Status of every desired image, in build order.
    public static func statuses(desired: DesiredState, observed: ObservedState) -> [ImageStatus] {
        desired.images.map { image in
            var s = status(of: image, desired: desired, observed: observed)
            s.childImages = desired.images.filter { $0.parentName == image.name }.map(\.name)
            return s
        }
    }

    static func status(of image: ResolvedImage, desired: DesiredState, observed: ObservedState) -> ImageStatus {
        let repo = observed.repositories[image.repositoryName]
        let current = observed.lastGoodBuild(of: image.name, repository: repo)
        let pending = observed.record(image: image.name, tag: image.tag)
        var s = ImageStatus(
            name: image.name, phase: .buildingFirstTime, reason: "", message: "", repository: image.repositoryName,
            repositoryURI: repo?.description?.uri, desiredTag: image.tag, currentTag: current?.tag,
            pythonVersion: image.pythonVersion, platformVersion: current?.platformVersion,
            pipLibraries: current?.pipLibraries ?? [], simulated: current?.simulated ?? false, childImages: [],
            builder: current?.builder)

        // Ready once the image is in the registry and its build is over: a build Job pushes first and reports the
        // installed pip libraries after, so a pushed tag whose build still runs is not Ready on that tag yet.
        let buildOver = pending.map { $0.state != .running && $0.state != .submitted } ?? true
        if (repo?.hasImage(tag: image.tag) == true && buildOver) || (pending?.state == .succeeded && repo?.hasImage(tag: image.tag) == nil) {
            s.phase = .ready
            s.reason = "BuildSucceeded"
            if let r = pending ?? current {
                s.currentTag = r.tag
                s.pipLibraries = r.pipLibraries
                s.simulated = r.simulated
                s.platformVersion = r.platformVersion
                s.builder = r.builder
            } else {
                s.currentTag = image.tag
            }
            s.message = s.simulated ? "simulated image \(image.tag) is in the registry" : "image \(image.tag) is in the registry"
            return s
        }
        let hasPrevious = current != nil
        if let pending {
            switch pending.state {
            case .submitted, .running:
                s.phase = hasPrevious ? .rebuilding : .buildingFirstTime
                s.reason = pending.state == .submitted ? "BuildSubmitted" : "BuildRunning"
                s.message = "build of \(image.tag) (\(pending.reason)) \(pending.state == .submitted ? "submitted to \(pending.builder)" : "running")"
                return s
            case .failed:
                s.phase = .failed
                s.reason = pending.failure?.reason.rawValue ?? "BuildFailed"
                s.message = pending.message ?? "build of \(image.tag) failed"
                return s
            case .succeeded, .abandoned, .lost:
                break  // recorded, but the image is gone from the registry, or the build is not under way: fall through
            }
        }
        guard let current else {
            s.phase = .buildingFirstTime
            s.reason = repo == nil ? "NotApplied" : "BuildPending"
            s.message = "no image built yet; run mir apply"
            return s
        }
        s.phase = .outdated
        switch BuildReason.inferred(for: image, previous: current, platformVersion: desired.platformVersion) {
        case .specChanged, .new, .manual:
            s.reason = "SpecChanged"
            s.message = "the spec or its base changed since \(current.tag) was built"
        case .platformUpgraded:
            s.reason = "PlatformUpgraded"
            s.message = "built for platform \(current.platformVersion); platform is now \(desired.platformVersion)"
        case .parentRebuilt:
            s.reason = "ParentRebuilt"
            s.message = "parent \(image.parentName ?? "") has a new image"
        }
        return s
    }

    /// Status of images known only from the registry and build records (no specs given).
    public static func observedStatuses(observed: ObservedState, prefix: String) -> [ImageStatus] {
        observed.repositories.values.filter { $0.isOwned != false }.sorted { $0.name < $1.name }.map { repo in
            let name = String(repo.name.dropFirst(prefix.count))
            let current = observed.lastGoodBuild(of: name, repository: repo)
            let latest = observed.buildRecords.filter { $0.image == name }.max { $0.startedAt < $1.startedAt }
            var s = ImageStatus(
                name: name, phase: .buildingFirstTime, reason: "NoBuild", message: "no build recorded", repository: repo.name,
                repositoryURI: repo.description?.uri, desiredTag: nil, currentTag: current?.tag, pythonVersion: current?.pythonVersion,
                platformVersion: current?.platformVersion, pipLibraries: current?.pipLibraries ?? [],
                simulated: current?.simulated ?? false, childImages: [], builder: current?.builder)
            if let latest, latest.tag != current?.tag {
                switch latest.state {
                case .failed: s.phase = .failed; s.reason = latest.failure?.reason.rawValue ?? "BuildFailed"; s.message = latest.message ?? "build failed"
                case .submitted, .running:
                    s.phase = current == nil ? .buildingFirstTime : .rebuilding
                    s.reason = "BuildSubmitted"; s.message = "build of \(latest.tag) under way"
                case .succeeded, .abandoned, .lost: break
                }
                if latest.state != .succeeded { return s }
            }
            if current != nil {
                s.phase = .ready; s.reason = "BuildSucceeded"; s.message = "current image \(current!.tag)"
            }
            return s
        }
    }
}

/// The seed SDK's `list_managed_images(pip_library_filters)`: a filter is a library name with an optional
/// exact installed version; every filter must match (AND). Names compare PEP 503-normalised.
public struct PipLibraryFilter: Sendable, Hashable {
    public var name: String
    public var version: String?

    public init(name: String, version: String? = nil) {
        self.name = name
        self.version = version
    }

    /// Parses `NAME` or `NAME==VERSION`.
    public init?(parsing text: String) {
        let parts = text.components(separatedBy: "==")
        guard parts.count <= 2, let n = parts.first, !n.isEmpty else { return nil }
        name = n
        version = parts.count == 2 ? parts[1] : nil
        if version == "" { return nil }
    }

    public func matches(_ libraries: [PipLibrary]) -> Bool {
        let wanted = SpecGrammar.normalizedPipName(name)
        return libraries.contains { SpecGrammar.normalizedPipName($0.name) == wanted && (version == nil || $0.version == version) }
    }
}
