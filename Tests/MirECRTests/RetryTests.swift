import Foundation
import MirRegistry
import Testing
@testable import MirECR

@Suite("Retry classification, backoff, quota and the retry loop")
struct RetryTests {
    private func service(_ code: String, _ status: Int = 400) -> ECRServiceError {
        ECRServiceError(code: code, message: "m", httpStatus: status)
    }

    @Test("ECR-correct classification", arguments: [
        ("ThrottlingException", 400, RetryClass.throttling),
        ("Throttling", 400, .throttling),
        ("TooManyRequestsException", 400, .throttling),
        ("429", 429, .throttling),
        ("ServerException", 500, .transient),
        ("500", 500, .transient),
        ("502", 502, .transient),
        ("503", 503, .transient),
        ("504", 504, .transient),
        ("ServiceUnavailable", 503, .transient),
        ("RequestTimeout", 408, .transient),
        ("LimitExceededException", 400, .nonRetryable),
        ("InvalidParameterException", 400, .nonRetryable),
        ("AccessDenied", 403, .nonRetryable),
        ("AccessDeniedException", 400, .nonRetryable),
        ("SignatureDoesNotMatch", 403, .nonRetryable),
        ("RepositoryNotFoundException", 400, .nonRetryable),
        ("RepositoryAlreadyExistsException", 400, .nonRetryable),
        ("ImageNotFoundException", 400, .nonRetryable),
        ("LifecyclePolicyNotFoundException", 400, .nonRetryable),
        ("RepositoryNotEmptyException", 400, .nonRetryable),
        ("ValidationException", 400, .nonRetryable),
        ("404", 404, .nonRetryable),
    ])
    func classification(code: String, status: Int, expected: RetryClass) {
        #expect(ECRRetryClassifier.classify(service(code, status)) == expected)
    }

    @Test("connection resets are transient, timeouts are timeouts")
    func transportClassification() {
        #expect(ECRRetryClassifier.classify(.connection("reset by peer")) == .transient)
        #expect(ECRRetryClassifier.classify(.timeout("read")) == .timeout)
    }

    @Test("full-jitter exponential backoff capped at 20 s")
    func backoff() {
        let backoff = ExponentialBackoff()
        #expect(backoff.delay(afterAttempt: 1, random: 0.5) == 0.5)
        #expect(backoff.delay(afterAttempt: 2, random: 0.5) == 1)
        #expect(backoff.delay(afterAttempt: 4, random: 0.5) == 4)
        #expect(backoff.delay(afterAttempt: 6, random: 0.999) < 20)
        #expect(backoff.delay(afterAttempt: 6, random: 0.999) > 19.9)
        #expect(backoff.delay(afterAttempt: 30, random: 0.999) < 20)
        #expect(backoff.delay(afterAttempt: 3, random: 0) == 0)
    }

    @Test("retry quota: 5 per retry, 10 per timeout retry, refunds on success, stops when empty")
    func quota() {
        let quota = RetryQuota(capacity: 22)
        #expect(quota.acquire(for: .throttling) == 5)
        #expect(quota.acquire(for: .timeout) == 10)
        #expect(quota.availableCapacity == 7)
        #expect(quota.acquire(for: .transient) == 5)
        #expect(quota.acquire(for: .transient) == nil)
        quota.release(acquired: 15)
        #expect(quota.availableCapacity == 17)
        quota.release(acquired: 0)
        #expect(quota.availableCapacity == 18)
        quota.release(acquired: 100)
        #expect(quota.availableCapacity == 22)
    }

    private func client(_ transport: ScriptedTransport, maxAttempts: Int = 3, quota: RetryQuota = RetryQuota(),
                        clock: VirtualClock = VirtualClock(), limiter: AdaptiveRateLimiter? = nil) -> ECRClient {
        ECRClient(endpoint: URL(string: "http://127.0.0.1:9")!, authorizer: PlaceholderAuthorizer(), transport: transport,
                  retryPolicy: RetryPolicy(mode: .standard, maxAttempts: maxAttempts), rateLimiter: limiter,
                  retryQuota: quota, clock: clock, random: { 0.5 })
    }

    @Test("throttling twice, then success: three attempts with growing backoff")
    func retriesThrottling() async throws {
        let transport = ScriptedTransport([.answer(.error("ThrottlingException", "Rate exceeded")),
                                           .answer(.error("ThrottlingException", "Rate exceeded")),
                                           .answer(.ok(#"{"repositories":[]}"#))])
        let clock = VirtualClock()
        let quota = RetryQuota()
        let response = try await client(transport, quota: quota, clock: clock).send("DescribeRepositories", body: Array("{}".utf8))
        #expect(response.status == 200)
        #expect(transport.attempts == 3)
        #expect(clock.sleeps == [0.5, 1.0])
        #expect(quota.availableCapacity == RetryQuota.defaultCapacity)
    }

    @Test("non-retryable codes are tried once", arguments: ["LimitExceededException", "InvalidParameterException",
                                                              "RepositoryAlreadyExistsException", "AccessDeniedException"])
    func notRetried(code: String) async {
        let transport = ScriptedTransport([], fallback: .answer(.error(code)))
        await #expect(throws: ECRCallError.self) {
            _ = try await client(transport).send("CreateRepository", body: [])
        }
        #expect(transport.attempts == 1)
    }

    @Test("max attempts is honoured and the last error reported with its attempt count")
    func maxAttempts() async {
        let transport = ScriptedTransport([], fallback: .answer(.error("ServerException", "boom", status: 500)))
        do {
            _ = try await client(transport, maxAttempts: 5).send("ListImages", body: [])
            Issue.record("expected a failure")
        } catch {
            guard case .service(let serviceError, let operation, let attempts) = error else { Issue.record("\(error)"); return }
            #expect(serviceError.code == "ServerException")
            #expect(operation == "ListImages")
            #expect(attempts == 5)
        }
        #expect(transport.attempts == 5)
    }

    @Test("connection resets and timeouts are retried; a timeout retry costs 10")
    func transportRetries() async throws {
        let transport = ScriptedTransport([.fail(.connection("reset")), .fail(.timeout("read"))], fallback: .answer(.ok("{}")))
        let quota = RetryQuota(capacity: 100)
        _ = try await client(transport, quota: quota).send("ListImages", body: [])
        #expect(transport.attempts == 3)
        // 5 + 10 taken, all refunded by the success.
        #expect(quota.availableCapacity == 100)
        let failing = ScriptedTransport([], fallback: .fail(.timeout("read")))
        let small = RetryQuota(capacity: 12)
        await #expect(throws: ECRCallError.self) { _ = try await client(failing, maxAttempts: 10, quota: small).send("ListImages", body: []) }
        // One timeout retry (10) fits, the second does not: the quota stops retrying before max attempts.
        #expect(failing.attempts == 2)
    }

    @Test("the request is awsJson1_1 with the ECR target, re-authorized on every attempt; no-input ops send {}")
    func wireShape() async throws {
        let transport = ScriptedTransport([.answer(.error("ThrottlingException"))], fallback: .answer(.ok(#"{"repositories":[]}"#)))
        let registry = ECRRegistry(client: client(transport), region: "us-east-1", clock: VirtualClock())
        _ = try await registry.describeRepositories(names: ["mir/a"], maxResults: nil, nextToken: nil)
        #expect(transport.operations == ["DescribeRepositories", "DescribeRepositories"])
        #expect(transport.bodies.allSatisfy { $0 == #"{"repositoryNames":["mir/a"]}"# })
        #expect(transport.header("Content-Type") == ["application/x-amz-json-1.1", "application/x-amz-json-1.1"])
        #expect(transport.header("X-Amz-Target") == ["AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
                                                     "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"])
        #expect(transport.header("Authorization").allSatisfy { $0?.hasPrefix("AWS4-HMAC-SHA256") == true })
        let tokenTransport = ScriptedTransport([.answer(.ok(#"{"authorizationData":[{"authorizationToken":"QVdTOnNlY3JldA==","expiresAt":1795790529.5}]}"#))])
        let token = try await ECRRegistry(client: client(tokenTransport), region: "us-east-1").getAuthorizationToken()
        #expect(tokenTransport.bodies == ["{}"])
        #expect(token.username == "AWS")
        #expect(token.password == "secret")
        #expect(token.expiresAt == Date(timeIntervalSince1970: 1795790529.5))
    }
}
