import Foundation
import MirModel

/// Reads a build engine's output: which step is running, and — when the build fails — which step failed, with
/// what exit code and, where it is recognisable, why. This is the adapter's boundary: the engines only speak
/// text, and everything past this point decides on the typed `BuildFailure`.
public enum BuildOutputAnalysis {
    /// A step line: buildah/podman `STEP 3/4: RUN …`, docker's classic builder `Step 3/4 : RUN …`.
    public struct Step: Sendable, Hashable {
        public var index: Int
        public var count: Int
        public var instruction: String
        /// The line as the engine printed it (trimmed).
        public var text: String
    }

    public static func step(in line: String) -> Step? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        for head in ["STEP ", "Step "] where trimmed.hasPrefix(head) {
            let rest = trimmed.dropFirst(head.count)
            guard let slash = rest.firstIndex(of: "/"), let index = Int(rest[..<slash]) else { return nil }
            let afterSlash = rest[rest.index(after: slash)...]
            let digits = afterSlash.prefix { $0.isNumber }
            guard let count = Int(digits) else { return nil }
            var body = afterSlash.dropFirst(digits.count)
            guard body.hasPrefix(":") || body.hasPrefix(" :") else { return nil }
            body = body.drop { $0 == " " || $0 == ":" }
            let instruction = String(body.prefix { $0 != " " }).uppercased()
            return Step(index: index, count: count, instruction: instruction, text: trimmed)
        }
        return nil
    }

    /// The exit status a failing RUN reports: buildah/podman `exit status N`, docker `returned a non-zero code: N`
    /// or `exit code: N`.
    public static func exitStatus(in lines: [String]) -> Int? {
        for line in lines.reversed() {
            for marker in ["exit status ", "returned a non-zero code: ", "exit code: "] {
                if let range = line.range(of: marker, options: .backwards) {
                    let digits = line[range.upperBound...].prefix { $0.isNumber }
                    if let code = Int(digits) { return code }
                }
            }
        }
        return nil
    }

    /// A cause recognisable in the output of a failed build, in words.
    public static func cause(in lines: [String]) -> String? {
        let text = lines.joined(separator: "\n").lowercased()
        if text.contains("externally-managed-environment") || text.contains("externally managed") {
            return "the base image's Python refuses pip installs (PEP 668 \"externally-managed-environment\"): use a base image whose Python allows them, as the official python images do, or a virtual environment on PATH"
        }
        if text.contains("resolutionimpossible") || text.contains("no matching distribution found") {
            return "pip could not find a version that satisfies a requirement"
        }
        if text.contains("unable to locate package") {
            return "apt could not find an OS package"
        }
        if text.contains("permission denied") && (text.contains("apt") || text.contains("dpkg") || text.contains("/var/lib")) {
            return "an OS package step ran without root (set the catalog entry's user so mir switches to root for it)"
        }
        return nil
    }

    /// Whether a failed push was refused by the registry (as opposed to, say, a network error).
    public static func isPushDenied(_ lines: [String]) -> Bool {
        let text = lines.joined(separator: "\n").lowercased()
        return text.contains("unauthorized") || text.contains("denied") || text.contains("authentication required")
            || text.contains("403 forbidden") || text.contains("status 401") || text.contains("status 403")
            || text.contains("no basic auth credentials")
    }

    /// Classifies a failed build command from its output and exit code.
    /// - Parameter lastStep: the last step line the engine printed, if any.
    public static func buildFailure(lastStep: Step?, tail: [String], exitCode: Int32, logPath: String) -> BuildFailure {
        // The FROM step pulls the base: failing there (or before any step) means the base could not be pulled.
        if lastStep == nil || lastStep?.instruction == "FROM" {
            return BuildFailure(reason: .baseImagePullFailed, step: lastStep?.text ?? "FROM", exitCode: Int(exitCode),
                                cause: pullCause(tail), logPath: logPath)
        }
        return BuildFailure(reason: .buildFailed, step: lastStep?.text, exitCode: exitStatus(in: tail) ?? Int(exitCode),
                            cause: cause(in: tail), logPath: logPath)
    }

    static func pullCause(_ lines: [String]) -> String? {
        let text = lines.joined(separator: "\n").lowercased()
        if text.contains("manifest unknown") || text.contains("not found") { return "the base image does not exist in its registry" }
        if text.contains("unauthorized") || text.contains("denied") || text.contains("authentication required") {
            return "the registry refused to serve the base image (credentials)"
        }
        if text.contains("connection refused") || text.contains("no such host") || text.contains("i/o timeout") {
            return "the base image's registry cannot be reached"
        }
        return nil
    }

    /// The one-line message of a failure: reason, step, exit code, cause, and — last — the log path.
    public static func message(_ failure: BuildFailure) -> String {
        var parts = [failure.reason.rawValue]
        if let step = failure.step { parts.append("at \(shorten(step, 160))") }
        if let code = failure.exitCode { parts.append("exit code \(code)") }
        var text = parts.joined(separator: " ")
        if let cause = failure.cause { text += ": \(cause)" }
        if let log = failure.logPath { text += "; full log: \(log)" }
        return text
    }

    static func shorten(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
