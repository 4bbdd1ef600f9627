import Foundation
import MirTestSupport
import Testing
import Yams

/// Paths and child processes shared by the install tests.
enum Install {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let chart = packageRoot.appendingPathComponent("Charts/mir")
    static let oracle = packageRoot.appendingPathComponent("Tests/Oracles/helm_chart.py")
    static var mirBinary: URL { ProcessRunner.mirBinary(packageRoot: packageRoot) }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs `python3 Tests/Oracles/helm_chart.py arguments…` and decodes its JSON answer. A missing helm-python-sdk
    /// or kubernetes-validate is a failure (scripts/setup installs them), never a skip.
    static func oracle(_ arguments: [String]) async throws -> Any {
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", oracle.path] + arguments)
        guard result.status == 0 else {
            throw Failure("helm_chart.py \(arguments.first ?? "") failed (run scripts/setup?): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }

    /// What `render` answers: the rendered objects (with the template each came from), or Helm's error.
    struct Rendered {
        var objects: [[String: Any]]
        var templates: [String]
        var notes: String
        var errorType: String?
        var error: String?

        func find(_ kind: String, _ name: String) -> [String: Any]? {
            objects.first { $0["kind"] as? String == kind && Install.name($0) == name }
        }
        var kinds: [String] { objects.compactMap { $0["kind"] as? String } }
    }

    static func render(_ values: [String: Any] = [:], name: String = "mir", namespace: String = "mir-system") async throws -> Rendered {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: values), as: UTF8.self)
        let answer = try #require(try await oracle(["render", chart.path, "--values", json, "--name", name, "--namespace", namespace]) as? [String: Any])
        guard answer["ok"] as? Bool == true else {
            return Rendered(objects: [], templates: [], notes: "", errorType: answer["errorType"] as? String, error: answer["error"] as? String)
        }
        let entries = answer["objects"] as? [[String: Any]] ?? []
        return Rendered(objects: entries.compactMap { $0["object"] as? [String: Any] },
                        templates: entries.compactMap { $0["template"] as? String }, notes: answer["notes"] as? String ?? "")
    }

    /// `kubectl kustomize Manifests`, as JSON objects.
    static func kustomize() async throws -> [[String: Any]] {
        let kubectl = try #require(ProcessRunner.which("kubectl"), "kubectl is not installed; run scripts/setup")
        let rendered = try await ProcessRunner.run(URL(fileURLWithPath: kubectl), ["kustomize", packageRoot.appendingPathComponent("Manifests").path])
        guard rendered.status == 0 else { throw Failure("kubectl kustomize failed: \(rendered.stderr)") }
        return try yamlDocuments(rendered.stdout)
    }

    static func yamlDocuments(_ text: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    static func name(_ object: [String: Any]) -> String? { metadata(object)["name"] as? String }
    static func namespace(_ object: [String: Any]) -> String? { metadata(object)["namespace"] as? String }
    static func metadata(_ object: [String: Any]) -> [String: Any] { object["metadata"] as? [String: Any] ?? [:] }
    static func labels(_ object: [String: Any]) -> [String: String] { metadata(object)["labels"] as? [String: String] ?? [:] }
    static func annotations(_ object: [String: Any]) -> [String: String] { metadata(object)["annotations"] as? [String: String] ?? [:] }

    static func podSpec(_ deployment: [String: Any]) -> [String: Any] {
        ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
    }
    static func container(_ deployment: [String: Any]) -> [String: Any] {
        (podSpec(deployment)["containers"] as? [[String: Any]])?.first ?? [:]
    }
    static func args(_ deployment: [String: Any]) -> [String] { container(deployment)["args"] as? [String] ?? [] }
    /// The value after `flag` in the container's args.
    static func flag(_ deployment: [String: Any], _ flag: String) -> String? {
        let args = args(deployment)
        guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
        return args[i + 1]
    }
    static func env(_ deployment: [String: Any]) -> [String: String] {
        (container(deployment)["env"] as? [[String: Any]] ?? []).reduce(into: [:]) { result, entry in
            if let name = entry["name"] as? String, let value = entry["value"] as? String { result[name] = value }
        }
    }
    static func templateAnnotations(_ deployment: [String: Any]) -> [String: String] {
        (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any])?["annotations"] as? [String: String] ?? [:]
    }

    /// Canonical JSON text (sorted keys), for comparing objects and printing differences.
    static func canonical(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a command to completion, ignoring its output (clean-up in `defer`).
    static func runAndWait(_ name: String, _ arguments: [String]) {
        guard let executable = ProcessRunner.which(name) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mir-install-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
