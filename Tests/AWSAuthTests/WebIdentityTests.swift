import AWSAuth
import AWSSigV4
import Foundation
import MirTestSupport
import Testing

@Suite(.serialized) struct WebIdentityTests {
    static let roleArn = "arn:aws:iam::123456789012:role/web-role"

    static func stsSuccess(_ id: String, expiration: Date) -> ScriptedResponse {
        ScriptedResponse(status: 200, body: """
            <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleWithWebIdentityResult><Credentials>
                <AccessKeyId>\(id)</AccessKeyId><SecretAccessKey>secret-\(id)&amp;x</SecretAccessKey>
                <SessionToken>token-\(id)</SessionToken><Expiration>\(expiration.formatted(.iso8601))</Expiration>
              </Credentials><AssumedRoleUser><AssumedRoleId>AROA:s1</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/web-role/s1</Arn></AssumedRoleUser>
              </AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>
            </AssumeRoleWithWebIdentityResponse>
            """, headers: ["Content-Type": "text/xml"])
    }

    @Test func assumesRoleAgainstMotoAndRefreshesInTheMandatoryWindow() async throws {
        try await MotoServer.with { moto in
            let sandbox = try Sandbox()
            let tokenFile = try sandbox.write("token", "eyJ.not-a-real.jwt")
            sandbox.environment.merge([
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": Self.roleArn, "AWS_ROLE_SESSION_NAME": "mi-ctl",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": moto.url.absoluteString + "/",
            ]) { $1 }
            let clock = ManualClock(Date())
            let chain = sandbox.chain(clock: clock)
            let first = try await chain.credentials()
            #expect(await chain.resolvedProviderName() == "web identity")
            #expect(first.accessKeyId.hasPrefix("ASIA"))
            #expect(!first.secretAccessKey.isEmpty && (first.sessionToken?.isEmpty == false))
            let expiration = try #require(first.expiration)
            #expect(expiration > clock.date.addingTimeInterval(15 * 60))
            #expect(try await chain.credentials() == first)

            // Move into the mandatory window: the caller waits for a new AssumeRoleWithWebIdentity.
            clock.advance(by: expiration.timeIntervalSince(clock.date) - 5 * 60)
            let second = try await chain.credentials()
            #expect(second.accessKeyId != first.accessKeyId)
        }
    }

    @Test func sendsTheQueryProtocolUnsignedAndRereadsTheTokenFile() async throws {
        let clock = ManualClock()
        let server = try await ScriptedServer(routes: ["POST /": [
            Self.stsSuccess("ASIAFIRST", expiration: clock.date.addingTimeInterval(3600)),
            Self.stsSuccess("ASIASECOND", expiration: clock.date.addingTimeInterval(7200)),
        ]])
        defer { server.stop() }
        let sandbox = try Sandbox()
        let tokenFile = try sandbox.write("token", "token-v1\n")
        sandbox.environment.merge([
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": Self.roleArn,
            "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": server.baseURL + "/",
        ]) { $1 }
        let chain = sandbox.chain(clock: clock)
        // Concurrent first callers share one resolution (one STS call).
        async let a = chain.credentials(), b = chain.credentials(), c = chain.credentials()
        let (first, second, third) = try await (a, b, c)
        #expect(second == first && third == first)
        #expect(first == AWSCredentials(accessKeyId: "ASIAFIRST", secretAccessKey: "secret-ASIAFIRST&x", sessionToken: "token-ASIAFIRST",
                                        expiration: clock.date.addingTimeInterval(3600)))

        try sandbox.write("token", "token-v2")  // the kubelet rotated the token
        clock.advance(by: 3600 - 14 * 60)  // advisory window: old credentials now, one background refresh
        #expect(try await chain.credentials().accessKeyId == "ASIAFIRST")
        try await waitUntil { try await chain.credentials().accessKeyId == "ASIASECOND" }

        let requests = try await server.requests()
        #expect(requests.count == 2)
        for request in requests {
            #expect(request.method == "POST" && request.path == "/")
            #expect(request.header("Authorization") == nil)
            #expect(request.header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8")
        }
        let form = requests.map { Self.decodeForm($0.body) }
        #expect(form[0]["Action"] == "AssumeRoleWithWebIdentity" && form[0]["Version"] == "2011-06-15")
        #expect(form[0]["RoleArn"] == Self.roleArn)
        #expect(requests[0].body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb-role"))
        #expect(form[0]["RoleSessionName"]?.hasPrefix("mir-session-") == true)
        #expect(form[0]["WebIdentityToken"] == "token-v1")
        #expect(form[1]["WebIdentityToken"] == "token-v2")
    }

    @Test func stsErrorsAreTypedWithTheirCode() async throws {
        let server = try await ScriptedServer(routes: ["POST /": [ScriptedResponse(status: 400, body: """
            <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>
            <Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message>
            </Error><RequestId>r2</RequestId></ErrorResponse>
            """)]])
        defer { server.stop() }
        let sandbox = try Sandbox()
        sandbox.environment.merge([
            "AWS_WEB_IDENTITY_TOKEN_FILE": try sandbox.write("token", "tok"), "AWS_ROLE_ARN": Self.roleArn,
            "AWS_ENDPOINT_URL_STS": server.baseURL + "/",
            // Shared-file keys exist, but a configured web identity reports its error instead of falling through.
            "AWS_SHARED_CREDENTIALS_FILE": try sandbox.write("c", "[default]\naws_access_key_id=A\naws_secret_access_key=B\n"),
        ]) { $1 }
        await #expect(throws: AWSCredentialError.serviceError(
            operation: "sts:AssumeRoleWithWebIdentity", status: 400, code: "InvalidIdentityToken",
            message: "Couldn't retrieve verification key from your identity provider")) {
            try await sandbox.chain().credentials()
        }
    }

    @Test func regionalEndpointSelection() {
        typealias Config = WebIdentityCredentialFetcher.Configuration
        #expect(Config.stsEndpoint(region: "eu-west-1", environment: [:]) == "https://sts.eu-west-1.amazonaws.com/")
        #expect(Config.stsEndpoint(region: "cn-north-1", environment: [:]) == "https://sts.cn-north-1.amazonaws.com.cn/")
        #expect(Config.stsEndpoint(region: nil, environment: [:]) == "https://sts.amazonaws.com/")
        #expect(Config.stsEndpoint(region: "us-east-1", environment: ["AWS_STS_REGIONAL_ENDPOINTS": "legacy"]) == "https://sts.amazonaws.com/")
        let resolved = Config.resolve(environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn", "AWS_DEFAULT_REGION": "ap-south-1"])
        #expect(resolved == Config(roleArn: "arn", tokenFile: "/t", endpoint: "https://sts.ap-south-1.amazonaws.com/"))
        let fromProfile = Config.resolve(environment: [:], profile: ["web_identity_token_file": "/p", "role_arn": "arn2",
                                                                     "role_session_name": "s", "region": "us-west-2"])
        #expect(fromProfile == Config(roleArn: "arn2", tokenFile: "/p", roleSessionName: "s", endpoint: "https://sts.us-west-2.amazonaws.com/"))
        #expect(Config.resolve(environment: ["AWS_ROLE_ARN": "arn"]) == nil)
    }

    static func decodeForm(_ body: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }
}
