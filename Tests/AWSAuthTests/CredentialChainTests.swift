import AWSAuth
import AWSSigV4
import AsyncHTTPClient
import Foundation
import Testing

/// A temporary HOME with optional shared files; the environment points IMDS off unless a test turns it on.
final class Sandbox {
    let directory: URL
    var environment: [String: String]

    init(_ extra: [String: String] = [:]) throws {
        directory = try TestPaths.temporaryDirectory()
        environment = ["HOME": directory.path, "AWS_EC2_METADATA_DISABLED": "true"].merging(extra) { $1 }
    }

    @discardableResult func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func chain(clock: ManualClock = ManualClock(), logs: LogStore = LogStore(), timing: CredentialFetchTiming = .fastForTests)
        -> DefaultCredentialChain
    {
        DefaultCredentialChain(environment: environment, httpClient: .shared, now: clock.now, logger: logs.logger(), timing: timing)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

extension CredentialFetchTiming {
    static var fastForTests: CredentialFetchTiming {
        var timing = CredentialFetchTiming()
        timing.containerRetryDelay = .milliseconds(20)
        timing.metadataTimeout = .milliseconds(500)
        return timing
    }
}

@Suite struct EnvironmentAndSharedFileTests {
    @Test func environmentComesFirstAndCarriesTheSessionToken() async throws {
        let sandbox = try Sandbox([
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
            "AWS_CREDENTIAL_EXPIRATION": "2030-01-02T03:04:05Z",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/never-called",
        ])
        try sandbox.write(".aws/credentials", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = filesecret\n")
        let chain = sandbox.chain()
        let credentials = try await chain.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "AKIAENV", secretAccessKey: "envsecret", sessionToken: "envtoken",
                                              expiration: Date(timeIntervalSince1970: 1_893_553_445)))
        #expect(await chain.resolvedProviderName() == "environment")
    }

    @Test func sharedFilesFollowTheProfileAndFileOverrides() async throws {
        let sandbox = try Sandbox()
        let credentialsFile = try sandbox.write("custom/creds", """
            # comment
            [default]
            aws_access_key_id = AKIADEFAULT
            aws_secret_access_key = defaultsecret

            [ci]
            aws_access_key_id=AKIACI
            aws_secret_access_key=cisecret
            aws_session_token = citoken
            """)
        let configFile = try sandbox.write("custom/config", """
            [default]
            region = eu-west-1
            [profile ci]
            region = ap-southeast-2
            s3 =
              max_concurrent_requests = 10
            [profile fromconfig]
            aws_access_key_id = AKIACONFIG
            aws_secret_access_key = configsecret
            [sso-session x]
            region = us-west-2
            """)
        sandbox.environment["AWS_SHARED_CREDENTIALS_FILE"] = credentialsFile
        sandbox.environment["AWS_CONFIG_FILE"] = configFile
        #expect(try await sandbox.chain().credentials().accessKeyId == "AKIADEFAULT")
        #expect(AWSConfigResolver.region(environment: sandbox.environment) == "eu-west-1")

        sandbox.environment["AWS_PROFILE"] = "ci"
        let ci = try await sandbox.chain().credentials()
        #expect(ci == AWSCredentials(accessKeyId: "AKIACI", secretAccessKey: "cisecret", sessionToken: "citoken"))
        #expect(AWSConfigResolver.region(environment: sandbox.environment) == "ap-southeast-2")
        sandbox.environment["AWS_DEFAULT_REGION"] = "sa-east-1"
        #expect(AWSConfigResolver.region(environment: sandbox.environment) == "sa-east-1")
        sandbox.environment["AWS_REGION"] = "us-east-2"
        #expect(AWSConfigResolver.region(environment: sandbox.environment) == "us-east-2")

        sandbox.environment["AWS_PROFILE"] = "fromconfig"
        #expect(try await sandbox.chain().credentials().accessKeyId == "AKIACONFIG")
        #expect(try SharedConfigFiles.parseINI("[sso-session x]\nregion = us-west-2\n", configStyle: true).isEmpty)
    }

    @Test func defaultFilesLiveUnderHome() async throws {
        let sandbox = try Sandbox()
        try sandbox.write(".aws/credentials", "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = homesecret\n")
        let chain = sandbox.chain()
        #expect(try await chain.credentials().accessKeyId == "AKIAHOME")
        #expect(await chain.resolvedProviderName() == "shared files (profile default)")
    }

    @Test func nothingConfiguredReportsEveryProvider() async throws {
        let sandbox = try Sandbox()
        do {
            _ = try await sandbox.chain().credentials()
            Issue.record("expected noCredentials")
        } catch let AWSCredentialError.noCredentials(tried) {
            #expect(tried.count == 5)
            #expect(tried.last == "instance metadata: disabled")
        }
    }
}

@Suite struct ParsingTests {
    @Test func timestampsFromAWSEndpoints() throws {
        #expect(SigV4Signer.amzDate(try #require(parseForTest("2026-11-27T15:42:08Z"))) == "20261127T154208Z")
        let fractional = try #require(parseForTest("2026-11-27T14:58:00.776976Z"))
        #expect(abs(fractional.timeIntervalSince1970 - 1_795_791_480.776976) < 0.001)
        #expect(parseForTest("2026-11-27T16:42:08+01:00") == parseForTest("2026-11-27T15:42:08Z"))
        #expect(parseForTest("not a date") == nil)
        #expect(parseForTest("2026-13-01T00:00:00Z") == nil)
    }

    /// Parses through the public surface: an env expiration.
    func parseForTest(_ text: String) -> Date? {
        EnvironmentCredentials.load(from: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_CREDENTIAL_EXPIRATION": text])?.expiration
    }
}

/// Issue 8, problem 13: a malformed line in a shared file is an error naming the file and line, and the chain stops
/// there (it used to be skipped, and the chain fell through to container or instance metadata credentials).
@Suite struct MalformedSharedFileTests {
    @Test func aMalformedCredentialsLineStopsTheChainNamingFileAndLine() async throws {
        let sandbox = try Sandbox(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/never-called"])
        let path = try sandbox.write(".aws/credentials", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key filesecret\n")
        do {
            _ = try await sandbox.chain().credentials()
            Issue.record("credentials were found despite the malformed file")
        } catch let error as AWSCredentialError {
            #expect(error == .malformedFile(path: path, line: 3, message: "expected key = value"), "\(error)")
            #expect(error.description.hasPrefix("\(path):3: malformed AWS shared file"), "\(error)")
        }
    }

    @Test func malformedConfigLinesAreNamed() {
        let cases: [(String, Int, String)] = [
            ("[default\nregion = us-east-1\n", 1, "a section header must be [name]"),
            ("region = us-east-1\n[default]\n", 1, "a setting before any [section]"),
            ("# c\n[profile a]\n= x\n", 3, "a setting without a name"),
        ]
        for (text, line, message) in cases {
            #expect(throws: AWSCredentialError.malformedFile(path: "config", line: line, message: message)) {
                try SharedConfigFiles.parseINI(text, configStyle: true, path: "config")
            }
        }
        // Comments, blank lines, continuation lines and other sections are fine.
        let good = "# c\n; c\n\n[default]\ns3 =\n  max_concurrent_requests = 4\n[sso-session x]\nsso_region = us-east-1\n"
        #expect(throws: Never.self) { _ = try SharedConfigFiles.parseINI(good, configStyle: true, path: "config") }
    }
}
