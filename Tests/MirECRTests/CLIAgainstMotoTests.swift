import Foundation
import Testing
import MirTestSupport

/// The `mir` binary against moto, as a user runs it: `--registry ecr --endpoint-url …`, credentials from the
/// environment, every request SigV4-signed (and, in the enforced run, verified by moto).
@Suite("mir CLI against moto")
struct CLIAgainstMotoTests {
    typealias Run = ProcessRunner.Result

    static let binary = ProcessRunner.mirBinary(packageRoot: MotoServer.packageRoot)

    /// Runs mir from the package root (Examples/ is there), off the cooperative pool.
    func mir(_ arguments: [String], moto: MotoServer, accessKey: String = "testing", secret: String = "testing", state: URL) async throws -> Run {
        let args = arguments + ["--registry", "ecr", "--region", "us-east-1", "--endpoint-url", moto.url.absoluteString,
                                "--config", "Examples/mir.yaml", "--state", state.path]
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("AWS_") { env[key] = nil }
        env["AWS_ACCESS_KEY_ID"] = accessKey
        env["AWS_SECRET_ACCESS_KEY"] = secret
        env["AWS_CONFIG_FILE"] = state.appendingPathComponent("no-config").path
        env["AWS_SHARED_CREDENTIALS_FILE"] = state.appendingPathComponent("no-credentials").path
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        return try await ProcessRunner.run(Self.binary, args, in: MotoServer.packageRoot, environment: env)
    }

    func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mir-ecr-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func examplesConvergeOnMoto() async throws {
        let state = try tempDir()
        defer { try? FileManager.default.removeItem(at: state) }
        try await MotoServer.with { moto in
            let apply = try await mir(["apply", "--specs", "Examples/specs", "--yes", "--stats", "--builds-dir", state.appendingPathComponent("builds").path], moto: moto, state: state)
            #expect(apply.status == 0, "\(apply.output)")
            #expect(apply.stdout.contains("Plan: 7 to create, 7 to update, 7 to build, 0 to delete."), "\(apply.stdout)")
            #expect(apply.stdout.contains("on ecr"), "\(apply.stdout)")
            #expect(apply.stdout.contains("CreateRepository: 7"), "\(apply.stdout)")
            let plan = try await mir(["plan", "--specs", "Examples/specs"], moto: moto, state: state)
            #expect(plan.status == 0, "\(plan.output)")
            #expect(plan.stdout.contains("No changes."), "\(plan.stdout)")
            let list = try await mir(["images", "list", "--specs", "Examples/specs"], moto: moto, state: state)
            #expect(list.stdout.contains("123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/ml-base") || list.stdout.contains("mir/ml-base"), "\(list.output)")
        }
    }

    @Test func examplesConvergeWithIAMEnforcedUsingTheDocumentedControllerPolicy() async throws {
        let state = try tempDir()
        defer { try? FileManager.default.removeItem(at: state) }
        try await MotoServer.with { moto in
            let controller = try IAMPolicies.rewrittenForMoto(try IAMPolicies.load("controller-policy.json"))
            var withoutLifecycle = try IAMPolicies.load("controller-policy.json")
            withoutLifecycle["Statement"] = IAMPolicies.statements(withoutLifecycle).map { statement -> [String: Any] in
                var s = statement
                if let actions = s["Action"] as? [String] { s["Action"] = actions.filter { $0 != "ecr:PutLifecyclePolicy" } }
                return s
            }
            let keys = try MotoIAM.createUsers(on: moto, [
                "controller": controller,
                "no-lifecycle": try IAMPolicies.rewrittenForMoto(withoutLifecycle),
                "seed-only": MotoIAM.policy(allowing: ["ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeImages",
                                                       "ecr:PutLifecyclePolicy", "ecr:ListImages", "ecr:GetAuthorizationToken"]),
            ])
            try await moto.resetAuth("0")
            let ctl = try #require(keys["controller"])

            // A policy missing one action: a clear AccessDenied naming it.
            let denied = try await mir(["apply", "--specs", "Examples/specs/ml-base.yaml", "--yes"], moto: moto,
                                       accessKey: keys["no-lifecycle"]!.accessKeyId, secret: keys["no-lifecycle"]!.secretAccessKey, state: state)
            #expect(denied.status == 1, "\(denied.output)")
            #expect(denied.output.contains("AccessDenied") && denied.output.contains("not authorized to perform ecr:PutLifecyclePolicy"), "\(denied.output)")

            // A wrong secret: a clear signature error, nothing changed.
            let wrong = try await mir(["plan", "--specs", "Examples/specs"], moto: moto, accessKey: ctl.accessKeyId, secret: "wrong-secret", state: state)
            #expect(wrong.status == 1, "\(wrong.output)")
            #expect(wrong.output.contains("SignatureDoesNotMatch"), "\(wrong.output)")

            // The documented controller policy: the Examples converge, signatures verified by moto.
            let apply = try await mir(["apply", "--specs", "Examples/specs", "--yes", "--builds-dir", state.appendingPathComponent("builds").path],
                                      moto: moto, accessKey: ctl.accessKeyId, secret: ctl.secretAccessKey, state: state)
            #expect(apply.status == 0, "\(apply.output)")
            let plan = try await mir(["plan", "--specs", "Examples/specs"], moto: moto, accessKey: ctl.accessKeyId, secret: ctl.secretAccessKey, state: state)
            #expect(plan.stdout.contains("No changes."), "\(plan.output)")

            // Exactly the seed's permissions: mir says what is off, carries on, and never deletes.
            let seed = try #require(keys["seed-only"])
            let degraded = try await mir(["plan", "--specs", "Examples/specs/ml-base.yaml"], moto: moto,
                                         accessKey: seed.accessKeyId, secret: seed.secretAccessKey, state: state)
            #expect(degraded.status == 0, "\(degraded.output)")
            #expect(degraded.stdout.contains("garbage collection") && degraded.stdout.contains("DescribeRepositories"), "\(degraded.stdout)")
            #expect(degraded.stdout.contains("0 to delete"), "\(degraded.stdout)")
        }
    }
}
