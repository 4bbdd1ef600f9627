import AWSAuth
import AWSSigV4
import Foundation
import Testing

func credentialsJSON(_ id: String, expiration: Date, extra: String = "") -> String {
    #"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"\#(id)","SecretAccessKey":"secret-\#(id)","Token":"token-\#(id)","Expiration":"\#(expiration.formatted(.iso8601))"\#(extra)}"#
}

@Suite struct ContainerCredentialTests {
    @Test func podIdentityFullURISendsTheTokenFileAndRereadsIt() async throws {
        let clock = ManualClock()
        let server = try await ScriptedServer(routes: ["GET /v1/credentials": [
            ScriptedResponse(body: credentialsJSON("ASIAPOD1", expiration: clock.date.addingTimeInterval(3600), extra: #","AccountId":"123456789012""#)),
            ScriptedResponse(body: credentialsJSON("ASIAPOD2", expiration: clock.date.addingTimeInterval(7200))),
        ]])
        defer { server.stop() }
        let sandbox = try Sandbox()
        sandbox.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.baseURL + "/v1/credentials"
        sandbox.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = try sandbox.write("pod-token", "pod-token-1\n")
        sandbox.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored-when-file-set"
        let chain = sandbox.chain(clock: clock)
        let first = try await chain.credentials()
        #expect(first == AWSCredentials(accessKeyId: "ASIAPOD1", secretAccessKey: "secret-ASIAPOD1", sessionToken: "token-ASIAPOD1",
                                        expiration: clock.date.addingTimeInterval(3600)))
        #expect(await chain.resolvedProviderName() == "container")

        try sandbox.write("pod-token", "pod-token-2")
        clock.advance(by: 3600 - 5 * 60)
        #expect(try await chain.credentials().accessKeyId == "ASIAPOD2")
        let requests = try await server.requests()
        #expect(requests.map { $0.header("Authorization") } == ["pod-token-1", "pod-token-2"])
        #expect(requests.allSatisfy { $0.header("Accept") == "application/json" })
    }

    @Test func retriesThenFailsOnNonOKStatus() async throws {
        let clock = ManualClock()
        let server = try await ScriptedServer(routes: [
            "GET /flaky": [ScriptedResponse(status: 500, body: "{}"), ScriptedResponse(body: credentialsJSON("ASIAOK", expiration: clock.date.addingTimeInterval(3600)))],
            "GET /broken": [ScriptedResponse(status: 403, body: #"{"code":"AccessDenied","message":"no"}"#)],
        ])
        defer { server.stop() }
        let sandbox = try Sandbox(["AWS_CONTAINER_AUTHORIZATION_TOKEN": "env-token"])
        sandbox.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.baseURL + "/flaky"
        #expect(try await sandbox.chain(clock: clock).credentials().accessKeyId == "ASIAOK")
        sandbox.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.baseURL + "/broken"
        await #expect(throws: AWSCredentialError.httpStatus(operation: "container credentials", status: 403, message: "AccessDenied: no")) {
            try await sandbox.chain(clock: clock).credentials()
        }
        let requests = try await server.requests()
        #expect(requests.filter { $0.path == "/flaky" }.count == 2)
        #expect(requests.filter { $0.path == "/broken" }.count == 3)
        #expect(requests.allSatisfy { $0.header("Authorization") == "env-token" })
    }

    @Test func rejectsForbiddenHostsAndHeaderInjection() async throws {
        typealias Config = ContainerCredentialFetcher.Configuration
        #expect(throws: AWSCredentialError.self) { try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"]) }
        #expect(throws: AWSCredentialError.self) { try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.169.254/x"]) }
        #expect(try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example.com/x"])?.url == "https://creds.example.com/x")
        #expect(try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"]) != nil)
        #expect(try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.2:8080/"]) != nil)
        #expect(try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://[::1]:8080/"]) != nil)
        #expect(try Config.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
                                                 "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/"])?.url
            == "http://169.254.170.2/v2/credentials/abc")
        #expect(try Config.resolve(environment: [:]) == nil)

        let server = try await ScriptedServer(routes: [:])
        defer { server.stop() }
        let sandbox = try Sandbox(["AWS_CONTAINER_AUTHORIZATION_TOKEN": "evil\r\nX-Injected: 1"])
        sandbox.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.baseURL + "/creds"
        await #expect(throws: AWSCredentialError.invalidConfiguration(provider: "container", message: "the authorization token contains CR or LF")) {
            try await sandbox.chain().credentials()
        }
        #expect(try await server.requests().isEmpty)
    }
}

@Suite struct InstanceMetadataTests {
    static let rolePath = "/latest/meta-data/iam/security-credentials/"

    func imdsSandbox(_ server: ScriptedServer, _ extra: [String: String] = [:]) throws -> Sandbox {
        let sandbox = try Sandbox(extra)
        sandbox.environment["AWS_EC2_METADATA_DISABLED"] = nil
        sandbox.environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.baseURL
        return sandbox
    }

    @Test func imdsV2TokenRoleAndCredentials() async throws {
        let clock = ManualClock()
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(body: "IMDS-SESSION-TOKEN")],
            "GET \(Self.rolePath)": [ScriptedResponse(body: "node-role")],
            "GET \(Self.rolePath)node-role": [
                ScriptedResponse(body: credentialsJSON("ASIAIMDS1", expiration: clock.date.addingTimeInterval(6 * 3600))),
                ScriptedResponse(body: credentialsJSON("ASIAIMDS2", expiration: clock.date.addingTimeInterval(12 * 3600))),
            ],
        ])
        defer { server.stop() }
        let chain = try imdsSandbox(server).chain(clock: clock)
        #expect(try await chain.credentials().accessKeyId == "ASIAIMDS1")
        #expect(await chain.resolvedProviderName() == "instance metadata")
        clock.advance(by: 6 * 3600 - 60)
        #expect(try await chain.credentials().accessKeyId == "ASIAIMDS2")

        let requests = try await server.requests()
        #expect(requests.map { "\($0.method) \($0.path)" } == [
            "PUT /latest/api/token", "GET \(Self.rolePath)", "GET \(Self.rolePath)node-role",
            "PUT /latest/api/token", "GET \(Self.rolePath)", "GET \(Self.rolePath)node-role",
        ])
        #expect(requests[0].header("X-aws-ec2-metadata-token-ttl-seconds") == "21600")
        #expect(requests.filter { $0.method == "GET" }.allSatisfy { $0.header("X-aws-ec2-metadata-token") == "IMDS-SESSION-TOKEN" })
    }

    @Test(arguments: [403, 404, 405])
    func tokenRefusalFallsBackToIMDSv1(status: Int) async throws {
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(status: status)],
            "GET \(Self.rolePath)": [ScriptedResponse(body: "r")],
            "GET \(Self.rolePath)r": [ScriptedResponse(body: credentialsJSON("ASIAV1", expiration: Date().addingTimeInterval(3600)))],
        ])
        defer { server.stop() }
        #expect(try await imdsSandbox(server).chain().credentials().accessKeyId == "ASIAV1")
        let gets = try await server.requests().filter { $0.method == "GET" }
        #expect(gets.count == 2 && gets.allSatisfy { $0.header("X-aws-ec2-metadata-token") == nil })
    }

    @Test func tokenTimeoutFallsBackToIMDSv1() async throws {
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(body: "late", delay: 1.5)],
            "GET \(Self.rolePath)": [ScriptedResponse(body: "r")],
            "GET \(Self.rolePath)r": [ScriptedResponse(body: credentialsJSON("ASIATIMEOUT", expiration: Date().addingTimeInterval(3600)))],
        ])
        defer { server.stop() }
        #expect(try await imdsSandbox(server).chain().credentials().accessKeyId == "ASIATIMEOUT")
    }

    @Test func badRequestAndDisabledV1FindNoCredentials() async throws {
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(status: 400)],
            "GET \(Self.rolePath)": [ScriptedResponse(body: "r")],
        ])
        defer { server.stop() }
        do {
            _ = try await imdsSandbox(server).chain().credentials()
            Issue.record("expected noCredentials")
        } catch let AWSCredentialError.noCredentials(tried) {
            #expect(tried.last?.contains("HTTP 400") == true)
        }
        #expect(try await server.requests().filter { $0.method == "GET" }.isEmpty)

        try await server.setRoutes(["PUT /latest/api/token": [ScriptedResponse(status: 404)]])
        let disabled = try imdsSandbox(server, ["AWS_EC2_METADATA_V1_DISABLED": "true"])
        await #expect(throws: AWSCredentialError.self) { try await disabled.chain().credentials() }
        #expect(try await server.requests().filter { $0.method == "GET" }.isEmpty)
    }

    @Test func retriesEmptyRoleAndRejectsErrorCodes() async throws {
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(body: "T")],
            "GET \(Self.rolePath)": [ScriptedResponse(status: 200, body: ""), ScriptedResponse(body: "r")],
            "GET \(Self.rolePath)r": [ScriptedResponse(body: "not json"),
                                      ScriptedResponse(body: credentialsJSON("ASIARETRY", expiration: Date().addingTimeInterval(3600)))],
        ])
        defer { server.stop() }
        let sandbox = try imdsSandbox(server, ["AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"])
        #expect(try await sandbox.chain().credentials().accessKeyId == "ASIARETRY")

        try await server.setRoutes([
            "PUT /latest/api/token": [ScriptedResponse(body: "T")],
            "GET \(Self.rolePath)": [ScriptedResponse(body: "r")],
            "GET \(Self.rolePath)r": [ScriptedResponse(body: #"{"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"}"#)],
        ])
        do {
            _ = try await sandbox.chain().credentials()
            Issue.record("expected noCredentials")
        } catch let AWSCredentialError.noCredentials(tried) {
            #expect(tried.last?.contains("AssumeRoleUnauthorizedAccess") == true)
        }
    }
}

@Suite struct InstanceMetadataStaticStabilityTests {
    @Test func expiringIMDSCredentialsAreExtended() async throws {
        let clock = ManualClock()
        let rolePath = InstanceMetadataTests.rolePath
        let server = try await ScriptedServer(routes: [
            "PUT /latest/api/token": [ScriptedResponse(body: "T")],
            "GET \(rolePath)": [ScriptedResponse(body: "r")],
            "GET \(rolePath)r": [ScriptedResponse(body: credentialsJSON("ASIASTALE", expiration: clock.date.addingTimeInterval(-60)))],
        ])
        defer { server.stop() }
        let sandbox = try Sandbox(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])
        sandbox.environment["AWS_EC2_METADATA_DISABLED"] = nil
        let credentials = try await sandbox.chain(clock: clock).credentials()
        let expiration = try #require(credentials.expiration)
        #expect(credentials.accessKeyId == "ASIASTALE")
        #expect(expiration >= clock.date.addingTimeInterval(12 * 60) && expiration <= clock.date.addingTimeInterval(20 * 60))
    }
}
