import Foundation
import Testing
@testable import MirECR

@Suite("Endpoint rules and configuration from the environment")
struct ConfigurationTests {
    // Expected URLs were produced with botocore 1.43.11 (the request URL chosen by ECR's endpoint rule set).
    @Test("ECR endpoint rules", arguments: [
        ("us-east-1", false, false, "https://api.ecr.us-east-1.amazonaws.com"),
        ("us-east-1", true, false, "https://api.ecr-fips.us-east-1.amazonaws.com"),
        ("us-east-1", false, true, "https://ecr.us-east-1.api.aws"),
        ("us-east-1", true, true, "https://ecr-fips.us-east-1.api.aws"),
        ("cn-north-1", false, false, "https://api.ecr.cn-north-1.amazonaws.com.cn"),
        ("cn-north-1", false, true, "https://ecr.cn-north-1.api.amazonwebservices.com.cn"),
        ("cn-north-1", true, true, "https://ecr-fips.cn-north-1.api.amazonwebservices.com.cn"),
        ("us-gov-west-1", false, false, "https://api.ecr.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", true, false, "https://api.ecr-fips.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", false, false, "https://api.ecr.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", false, false, "https://api.ecr.us-isob-east-1.sc2s.sgov.gov"),
    ])
    func endpoints(region: String, fips: Bool, dualStack: Bool, expected: String) throws {
        #expect(try ECREndpointResolver.resolve(region: region, useFIPS: fips, useDualStack: dualStack).absoluteString == expected)
    }

    @Test("an override is used as given and cannot be combined with FIPS or dual-stack")
    func override() throws {
        let url = URL(string: "http://127.0.0.1:5000")!
        #expect(try ECREndpointResolver.resolve(region: "us-east-1", endpointOverride: url) == url)
        #expect(throws: ECREndpointError.self) { try ECREndpointResolver.resolve(region: "us-east-1", useFIPS: true, endpointOverride: url) }
        #expect(throws: ECREndpointError.self) { try ECREndpointResolver.resolve(region: "us-east-1", useDualStack: true, endpointOverride: url) }
        #expect(throws: ECREndpointError.self) { try ECREndpointResolver.resolve(region: nil) }
        #expect(throws: ECREndpointError.self) { try ECREndpointResolver.resolve(region: "us-east-1.evil.com/") }
    }

    @Test("flags beat environment variables, which follow the AWS CLI's names and order")
    func precedence() throws {
        let env = ["AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                   "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:2", "AWS_PROFILE": "p1", "AWS_DEFAULT_PROFILE": "p2",
                   "AWS_MAX_ATTEMPTS": "7", "AWS_RETRY_MODE": "standard", "MIR_ECR_MAX_REQUESTS_PER_SECOND": "4.5",
                   "AWS_ACCOUNT_ID": "123456789012", "HOME": "/nonexistent"]
        let fromEnv = try ECRConfiguration.fromEnvironment(env)
        #expect(fromEnv.region == "eu-west-1")
        #expect(fromEnv.endpointURL?.absoluteString == "http://127.0.0.1:2")
        #expect(fromEnv.profile == "p1")
        #expect(fromEnv.maxAttempts == 7)
        #expect(fromEnv.retryMode == .standard)
        #expect(fromEnv.maxRequestsPerSecond == 4.5)
        #expect(fromEnv.accountId == "123456789012")
        let flags = try ECRConfiguration.fromEnvironment(env, region: "ap-south-1", endpointURL: "http://127.0.0.1:3", profile: "cli")
        #expect(flags.region == "ap-south-1")
        #expect(flags.endpointURL?.absoluteString == "http://127.0.0.1:3")
        #expect(flags.profile == "cli")
        var fallback = env
        fallback["AWS_REGION"] = nil
        fallback["AWS_ENDPOINT_URL_ECR"] = nil
        fallback["AWS_PROFILE"] = nil
        let second = try ECRConfiguration.fromEnvironment(fallback)
        #expect(second.region == "us-west-2")
        #expect(second.endpointURL?.absoluteString == "http://127.0.0.1:1")
        #expect(second.profile == "p2")
        fallback["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
        #expect(try ECRConfiguration.fromEnvironment(fallback).endpointURL == nil)
    }

    @Test("defaults: adaptive retries, 3 attempts, no ceiling; legacy means 5 attempts")
    func defaults() throws {
        let configuration = try ECRConfiguration.fromEnvironment(["AWS_REGION": "us-east-1", "HOME": "/nonexistent"])
        #expect(configuration.retryMode == .adaptive)
        #expect(configuration.maxAttempts == 3)
        #expect(configuration.maxRequestsPerSecond == nil)
        #expect(try configuration.endpoint().absoluteString == "https://api.ecr.us-east-1.amazonaws.com")
        #expect(try ECRConfiguration.fromEnvironment(["AWS_REGION": "us-east-1", "AWS_RETRY_MODE": "legacy", "HOME": "/x"]).maxAttempts == 5)
    }

    @Test("region, FIPS and endpoint from the selected profile in AWS_CONFIG_FILE")
    func profileFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("aws-config-\(UUID().uuidString)")
        try """
        [default]
        region = us-east-2
        [profile fips]
        region = us-gov-west-1
        use_fips_endpoint = true
        max_attempts = 4
        [profile local]
        region = us-east-1
        endpoint_url = http://127.0.0.1:4566
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let base = ["AWS_CONFIG_FILE": file.path]
        #expect(try ECRConfiguration.fromEnvironment(base).region == "us-east-2")
        let fips = try ECRConfiguration.fromEnvironment(base, profile: "fips")
        #expect(try fips.endpoint().absoluteString == "https://api.ecr-fips.us-gov-west-1.amazonaws.com")
        #expect(fips.maxAttempts == 4)
        var env = base
        env["AWS_PROFILE"] = "local"
        #expect(try ECRConfiguration.fromEnvironment(env).endpointURL?.absoluteString == "http://127.0.0.1:4566")
    }

    @Test("bad settings are rejected with a message naming them")
    func invalid() {
        for (env, fragment) in [(["HOME": "/x"], "region"), (["AWS_REGION": "us-east-1", "AWS_RETRY_MODE": "turbo"], "retry mode"),
                                (["AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "0"], "max attempts"),
                                (["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "ftp://x"], "endpoint"),
                                (["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://x", "AWS_USE_FIPS_ENDPOINT": "true"], "FIPS")] {
            do {
                _ = try ECRConfiguration.fromEnvironment(env)
                Issue.record("accepted \(env)")
            } catch {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
    }
}
