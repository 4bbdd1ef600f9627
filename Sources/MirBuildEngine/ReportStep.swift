import Foundation
import MirBuild

/// Runs the report step — the exact program of the build Job's `report` container (`BuildReport.script`) — in a
/// built image, as the Job runs it: uid and gid 65534, a read-only root filesystem, a writable `/tmp`, the
/// image's environment with the container's `env` over it. Its termination message is the report mir reads.
public enum ReportStep {
    /// Where the report is written inside the container (the termination message file of the Job's container is
    /// `/dev/termination-log`; here it lives on the writable /tmp).
    static let messagePath = "/tmp/termination-log"
    static let marker = "@@mir-termination-message@@"

    /// The result: the termination message (what follows the marker) and the command's exit code.
    public struct Outcome: Sendable, Hashable {
        public var exitCode: Int32
        public var terminationMessage: String
        public var logTail: [String]
    }

    /// buildah has no `run --read-only`: the image is mounted (`buildah from` + `buildah mount`), and in a private
    /// mount namespace the root is bind-mounted read-only, a tmpfs goes on /tmp, and the program runs chrooted as
    /// 65534:65534 with exactly the container's environment.
    static let buildahScript = """
        set -eu
        root=$1; shift
        program=$1; shift
        mkdir -p "$root/tmp"
        mount --make-rprivate /
        mount --bind "$root" "$root"
        mount -o remount,bind,ro "$root"
        mount -t tmpfs -o size=64m,mode=1777 mir-report-tmp "$root/tmp"
        status=0
        chroot --userspec=65534:65534 --groups=65534 "$root" /usr/bin/env -i "$@" python -c "$program" \(messagePath) || status=$?
        echo "\(marker)"
        cat "$root\(messagePath)" 2>/dev/null || true
        exit $status
        """

    /// The container's environment: the image's `Env` with the Job's report container `env` over it, and a default
    /// PATH as container runtimes give one.
    public static func environment(image: [String]) -> [(String, String)] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ key: String, _ value: String) {
            if values[key] == nil { order.append(key) }
            values[key] = value
        }
        for entry in image {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else { continue }
            set(String(entry[..<eq]), String(entry[entry.index(after: eq)...]))
        }
        if values["PATH"] == nil { set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") }
        for (key, value) in BuildJobManifest.reportEnvironment { set(key, value) }
        return order.map { ($0, values[$0]!) }
    }

    /// `program`: the report container's program (tests pass a probe).
    public static func run(engine: ContainerEngine, image: String, log: BuildLog, program: String = BuildReport.script) async throws -> Outcome {
        switch engine.kind {
        case .buildah: return try await runWithBuildah(engine: engine, image: image, log: log, program: program)
        case .podman, .docker:
            let result = try await CommandRunner.run(
                engine.executable,
                engine.runReportArguments(image: image, environment: BuildJobManifest.reportEnvironment,
                                          command: ["python", "-c", program, "/dev/stdout"]),
                log: log, keepOutput: true)
            let message = result.output.split(separator: "\n").last { $0.hasPrefix(BuildReport.prefix) }.map(String.init) ?? ""
            return Outcome(exitCode: result.exitCode, terminationMessage: message, logTail: result.tail)
        }
    }

    static func runWithBuildah(engine: ContainerEngine, image: String, log: BuildLog, program: String) async throws -> Outcome {
        let tls = "--tls-verify=\(!ContainerEngine.isLoopbackRegistry(image))"
        let from = try await CommandRunner.run(engine.executable, ["from", "--pull=false", tls, image], log: log, keepOutput: true)
        guard from.succeeded, let container = from.tail.last?.trimmingCharacters(in: .whitespaces), !container.isEmpty else {
            return Outcome(exitCode: from.exitCode == 0 ? 1 : from.exitCode, terminationMessage: "", logTail: from.tail)
        }
        do {
            let outcome = try await runMounted(engine: engine, image: image, container: container, log: log, program: program)
            await removeContainer(engine: engine, container: container, log: log)
            return outcome
        } catch {
            await removeContainer(engine: engine, container: container, log: log)
            throw error
        }
    }

    static func runMounted(engine: ContainerEngine, image: String, container: String, log: BuildLog, program: String) async throws -> Outcome {
        let inspect = try await CommandRunner.run(engine.executable, ["inspect", "--type", "image", image], keepOutput: true)
        let imageEnvironment = inspect.succeeded ? imageEnv(inspectOutput: inspect.output) : []
        let mount = try await CommandRunner.run(engine.executable, ["mount", container], log: log, keepOutput: true)
        guard mount.succeeded, let root = mount.tail.last?.trimmingCharacters(in: .whitespaces), root.hasPrefix("/") else {
            return Outcome(exitCode: mount.exitCode == 0 ? 1 : mount.exitCode, terminationMessage: "", logTail: mount.tail)
        }
        let assignments = environment(image: imageEnvironment).map { "\($0.0)=\($0.1)" }
        let result = try await CommandRunner.run(
            "/usr/bin/unshare", ["--mount", "--fork", "--", "/bin/sh", "-c", buildahScript, "mir-report", root, program] + assignments,
            log: log, keepOutput: true)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let message = lines.firstIndex(of: marker).map { lines[($0 + 1)...].joined(separator: "\n") } ?? ""
        return Outcome(exitCode: result.exitCode, terminationMessage: message.trimmingCharacters(in: .whitespacesAndNewlines),
                       logTail: result.tail)
    }

    /// The image's `Env` from `buildah inspect --type image` (its OCI config).
    static func imageEnv(inspectOutput: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(inspectOutput.utf8)) as? [String: Any],
              let oci = object["OCIv1"] as? [String: Any], let config = oci["config"] as? [String: Any] else { return [] }
        return config["Env"] as? [String] ?? []
    }

    /// Unmounts and removes the working container, even when the build was cancelled.
    static func removeContainer(engine: ContainerEngine, container: String, log: BuildLog) async {
        await Task.detached {
            _ = try? await CommandRunner.run(engine.executable, ["umount", container], log: log)
            _ = try? await CommandRunner.run(engine.executable, ["rm", container], log: log)
        }.value
    }
}
