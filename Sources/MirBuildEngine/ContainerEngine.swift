import Foundation

/// The OCI build engines mir drives. All three take the same command-line shape (build a Dockerfile, tag, push,
/// run a command in the built image); buildah is the one that needs no daemon and no container runtime.
public enum EngineKind: String, Sendable, Hashable, CaseIterable, Codable {
    case buildah, podman, docker

    /// The order engines are looked for when none is chosen.
    public static let detectionOrder: [EngineKind] = [.buildah, .podman, .docker]
}

/// Why no engine could be used.
public struct EngineUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    public var requested: EngineKind?
    public var description: String {
        if let requested { return "the build engine \(requested.rawValue) is not installed (not found on PATH)" }
        return "no build engine found on PATH (looked for \(EngineKind.detectionOrder.map(\.rawValue).joined(separator: ", "))); install buildah (Debian package buildah)"
    }
}

/// One engine binary and the command lines mir gives it. Argument construction is pure, so it is tested without
/// running anything; credentials are never part of a command line (only the path of a 0600 auth file).
public struct ContainerEngine: Sendable, Hashable {
    public var kind: EngineKind
    /// Absolute path of the binary.
    public var executable: String

    public init(kind: EngineKind, executable: String) {
        self.kind = kind
        self.executable = executable
    }

    /// The engine of kind `preferred`, or the first of `EngineKind.detectionOrder` found on `searchPath`.
    public static func locate(_ preferred: EngineKind?, searchPath: String? = ProcessInfo.processInfo.environment["PATH"]) throws(EngineUnavailable) -> ContainerEngine {
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
            + ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        func find(_ kind: EngineKind) -> ContainerEngine? {
            for directory in directories where !directory.isEmpty {
                let candidate = directory + "/" + kind.rawValue
                if FileManager.default.isExecutableFile(atPath: candidate) { return ContainerEngine(kind: kind, executable: candidate) }
            }
            return nil
        }
        if let preferred {
            guard let engine = find(preferred) else { throw EngineUnavailable(requested: preferred) }
            return engine
        }
        for kind in EngineKind.detectionOrder {
            if let engine = find(kind) { return engine }
        }
        throw EngineUnavailable(requested: nil)
    }

    /// Plain HTTP without TLS is used only for registries on the loopback interface (a local distribution registry).
    public static func isLoopbackRegistry(_ reference: String) -> Bool {
        let host = registryHost(of: reference)
        let name: String
        if host.hasPrefix("[") {
            name = String(host.dropFirst().prefix { $0 != "]" })
        } else {
            name = String(host.prefix { $0 != ":" })
        }
        if name == "localhost" || name == "::1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The registry host (with port) of an image reference; `docker.io` when the first component is not a host.
    public static func registryHost(of reference: String) -> String {
        guard let slash = reference.firstIndex(of: "/") else { return "docker.io" }
        let first = String(reference[..<slash])
        if first.contains(".") || first.contains(":") || first == "localhost" || first.hasPrefix("[") { return first }
        return "docker.io"
    }

    /// Builds `dockerfile` (with an empty `context` folder) into the local image `tag`.
    public func buildArguments(dockerfile: String, context: String, tag: String, baseImage: String, authFile: String?) -> [String] {
        switch kind {
        case .buildah:
            return ["bud", "--isolation", "chroot", "--tls-verify=\(!Self.isLoopbackRegistry(baseImage))"]
                + auth(authFile) + ["--file", dockerfile, "--tag", tag, context]
        case .podman:
            return ["build", "--tls-verify=\(!Self.isLoopbackRegistry(baseImage))"]
                + auth(authFile) + ["--file", dockerfile, "--tag", tag, context]
        case .docker:
            return ["build", "--file", dockerfile, "--tag", tag, context]
        }
    }

    /// Pushes the local image `tag` to the registry its name points at, writing the pushed digest to `digestFile`
    /// (docker has no digest file: its output names the digest).
    public func pushArguments(tag: String, digestFile: String, authFile: String?) -> [String] {
        switch kind {
        case .buildah, .podman:
            return ["push", "--tls-verify=\(!Self.isLoopbackRegistry(tag))", "--digestfile", digestFile] + auth(authFile)
                + [tag, "docker://" + tag]
        case .docker:
            return ["push", tag]
        }
    }

    /// The environment an engine needs for an auth file: docker reads `config.json` from `DOCKER_CONFIG`.
    public func environment(authFile: String?) -> [String: String] {
        guard let authFile, kind == .docker else { return [:] }
        return ["DOCKER_CONFIG": (authFile as NSString).deletingLastPathComponent]
    }

    /// `podman`/`docker run` of the report step as the Job's report container runs it: uid/gid 65534, read-only
    /// root filesystem, a writable `/tmp`, no network, the container's environment. (buildah has no `run
    /// --read-only`: see `ReportRunner`.)
    public func runReportArguments(image: String, environment: [(String, String)], command: [String]) -> [String] {
        precondition(kind != .buildah, "buildah runs the report through ReportRunner")
        var arguments = ["run", "--rm", "--read-only", "--user", "65534:65534", "--tmpfs", "/tmp:rw,size=64m,mode=1777",
                         "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        for (key, value) in environment { arguments += ["--env", "\(key)=\(value)"] }
        guard let entrypoint = command.first else { return arguments + [image] }
        return arguments + ["--entrypoint", entrypoint, image] + command.dropFirst()
    }

    private func auth(_ authFile: String?) -> [String] {
        authFile.map { ["--authfile", $0] } ?? []
    }
}
