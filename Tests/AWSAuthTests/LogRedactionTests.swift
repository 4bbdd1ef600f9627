import AWSAuth
import AWSSigV4
import Foundation
import Testing

/// Issue 3 §6: logs at the most verbose level never contain a secret key, session token, web identity token or
/// Authorization header value.
@Suite struct LogRedactionTests {
    @Test func traceLogsNeverContainSecrets() async throws {
        let logs = LogStore()
        let clock = ManualClock()
        let secrets = ["SECRETKEYVALUE", "SESSIONTOKENVALUE", "WEBIDENTITYJWT", "PODAUTHTOKEN", "IMDSSESSIONTOKEN"]
        let credentialsBody = #"{"AccessKeyId":"ASIALOG","SecretAccessKey":"SECRETKEYVALUE","Token":"SESSIONTOKENVALUE","Expiration":"\#(clock.date.addingTimeInterval(1200).formatted(.iso8601))"}"#
        let stsBody = """
            <AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIALOG</AccessKeyId>
            <SecretAccessKey>SECRETKEYVALUE</SecretAccessKey><SessionToken>SESSIONTOKENVALUE</SessionToken>
            <Expiration>\(clock.date.addingTimeInterval(1200).formatted(.iso8601))</Expiration></Credentials></AssumeRoleWithWebIdentityResult>
            </AssumeRoleWithWebIdentityResponse>
            """
        let server = try await ScriptedServer(routes: [
            "POST /": [ScriptedResponse(body: stsBody),
                       ScriptedResponse(status: 400, body: "<ErrorResponse><Error><Code>ExpiredTokenException</Code><Message>expired</Message></Error></ErrorResponse>")],
            "GET /creds": [ScriptedResponse(body: credentialsBody), ScriptedResponse(status: 500, body: "{}")],
            "PUT /latest/api/token": [ScriptedResponse(body: "IMDSSESSIONTOKEN")],
            "GET /latest/meta-data/iam/security-credentials/": [ScriptedResponse(body: "role")],
            "GET /latest/meta-data/iam/security-credentials/role": [ScriptedResponse(body: credentialsBody)],
        ])
        defer { server.stop() }

        // Web identity: success, then (mandatory window) a failing refresh.
        let web = try Sandbox()
        web.environment.merge(["AWS_WEB_IDENTITY_TOKEN_FILE": try web.write("t", "WEBIDENTITYJWT"), "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
                               "AWS_ENDPOINT_URL_STS": server.baseURL + "/"]) { $1 }
        let webChain = web.chain(clock: clock, logs: logs)
        #expect(try await webChain.credentials().secretAccessKey == "SECRETKEYVALUE")
        // Container: success, then failing refreshes.
        let container = try Sandbox(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds"])
        container.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = try container.write("p", "PODAUTHTOKEN")
        let containerChain = container.chain(clock: clock, logs: logs)
        #expect(try await containerChain.credentials().sessionToken == "SESSIONTOKENVALUE")
        // IMDS with a session token.
        let imds = try Sandbox(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])
        imds.environment["AWS_EC2_METADATA_DISABLED"] = nil
        let imdsChain = imds.chain(clock: clock, logs: logs)
        #expect(try await imdsChain.credentials().accessKeyId == "ASIALOG")
        // Environment credentials.
        let env = try Sandbox(["AWS_ACCESS_KEY_ID": "AKIALOG", "AWS_SECRET_ACCESS_KEY": "SECRETKEYVALUE", "AWS_SESSION_TOKEN": "SESSIONTOKENVALUE"])
        _ = try await env.chain(clock: clock, logs: logs).credentials()

        clock.advance(by: 900)  // all cached credentials are now in the mandatory window; refreshes fail
        await #expect(throws: AWSCredentialError.self) { try await webChain.credentials() }
        await #expect(throws: AWSCredentialError.self) { try await containerChain.credentials() }

        let all = logs.all
        #expect(all.count > 10, "the flows should have logged at trace/debug level")
        #expect(all.contains { $0.contains("ASIALOG") })  // access key ids may be logged …
        for line in all {
            for secret in secrets {
                #expect(!line.contains(secret), "a log line leaks \(secret): \(line)")  // … secrets never
            }
        }
        // Errors surfaced to callers do not carry them either.
        do { _ = try await webChain.credentials() } catch {
            for secret in secrets { #expect(!"\(error)".contains(secret)) }
        }
    }
}
