import Foundation
import MirModel
import MirTestSupport

/// `mir apply --registry ecr` against moto, beside the BASELINE (bench/boto3_reconciler.py, a hand-written boto3
/// reconciler that checks less): calls and wall time for a first converge and a steady pass, with the analytic
/// minimum for what each one checks.
struct ECRBenchmark {
    let mir: URL
    let baseline: URL
    let scratch: URL

    struct Pass {
        var calls: [String: Int] = [:]
        var total: Int { calls.values.reduce(0, +) }
        var wall: Duration = .zero
    }

    struct Row {
        var size: Int
        var mirFirst = Pass(), mirSteady = Pass(), baseFirst = Pass(), baseSteady = Pass()
        /// ceil(N/1000) listing pages.
        var pages: Int { (size + 999) / 1000 }
        /// Create + put policy per image, and the listing.
        var minimumFirst: Int { 2 * size + pages }
        /// What mir checks per image on a steady pass: ownership tags, policy, image tags; and the listing.
        var minimumSteadyMir: Int { 3 * size + pages }
        /// What the baseline checks per image on a steady pass: the policy; and the listing.
        var minimumSteadyBaseline: Int { size + pages }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(credentials) { $1 }
    }
    static let credentials = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                              "AWS_EC2_METADATA_DISABLED": "true"]

    func run(sizes: [Int]) async throws -> [Row] {
        let moto = try await MotoServer.start()
        var rows: [Row] = []
        do {
            for size in sizes { rows.append(try await run(size: size, endpoint: moto.url.absoluteString)) }
        } catch {
            await moto.stop()
            throw error
        }
        await moto.stop()
        return rows
    }

    func run(size: Int, endpoint: String) async throws -> Row {
        var row = Row(size: size)
        let dir = scratch.appendingPathComponent("ecr-\(size)")
        let specs = dir.appendingPathComponent("specs")
        try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
        let prefix = "mir\(size)/"
        try """
            repositoryPrefix: \(prefix)
            builder:
              buildNamespace: mir-builds
            """.write(to: dir.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)
        let documents = (0..<size).map { i in
            "apiVersion: mir.dev/v1alpha1\nkind: ManagedImage\nmetadata:\n  name: img-\(i)\nspec:\n"
                + "  base: {imageType: standard}\n  pythonVersion: \"3.12\"\n  pipRequirements: [{name: requests}]\n"
        }
        try documents.joined(separator: "---\n").write(to: specs.appendingPathComponent("fleet.yaml"), atomically: true, encoding: .utf8)
        try MirConfig.defaultLifecyclePolicy.canonicalText.write(to: dir.appendingPathComponent("policy.json"), atomically: true, encoding: .utf8)

        func mirApply() async throws -> Pass {
            let started = ContinuousClock.now
            let result = try await ProcessRunner.run(mir, [
                "apply", "--registry", "ecr", "--endpoint-url", endpoint, "--config", "mir.yaml", "--specs", "specs", "--yes", "--stats",
            ], in: dir, environment: Self.environment)
            var pass = Pass(wall: ContinuousClock.now - started)
            guard result.status == 0 else { throw Failure(description: "mir apply failed: \(result.output.suffix(2000))") }
            var inStats = false
            for line in result.stdout.split(separator: "\n") {
                if line.hasPrefix("Registry calls") { inStats = true; continue }
                guard inStats, line.hasPrefix("  "), !line.hasPrefix("  errors") else { continue }
                let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":")
                if parts.count == 2, let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) { pass.calls[String(parts[0])] = n }
            }
            return pass
        }
        func baselinePass() async throws -> Pass {
            let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), [
                "python3", baseline.path, "--endpoint-url", endpoint, "--prefix", "base\(size)/", "--images", "\(size)",
                "--policy", dir.appendingPathComponent("policy.json").path,
            ], in: dir, environment: Self.environment)
            guard result.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                  let calls = object["calls"] as? [String: Int], let wall = object["seconds"] as? Double else {
                throw Failure(description: "the boto3 baseline failed: \(result.output.suffix(2000))")
            }
            return Pass(calls: calls, wall: .seconds(wall))
        }
        row.mirFirst = try await mirApply()
        row.mirSteady = try await mirApply()
        row.baseFirst = try await baselinePass()
        row.baseSteady = try await baselinePass()
        try? FileManager.default.removeItem(at: dir)
        return row
    }
}
