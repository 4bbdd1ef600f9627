import Foundation
import MirRegistry
import Testing
@testable import MirECR

@Suite("ECR error decoding (botocore rules, moto XML)")
struct ErrorDecodingTests {
    private func decode(_ status: Int, _ body: String, headers: [(name: String, value: String)] = []) -> ECRServiceError {
        ECRErrorDecoder.decode(status: status, headers: headers, body: Array(body.utf8))
    }

    @Test("__type wins; the namespace before # and the suffix after : are trimmed")
    func typeTrimming() {
        #expect(decode(400, #"{"__type":"com.amazonaws.ecr#RepositoryNotFoundException","message":"gone"}"#).code == "RepositoryNotFoundException")
        #expect(decode(400, #"{"__type":"ThrottlingException:http://internal.amazon.com/coral/","message":"x"}"#).code == "ThrottlingException")
        #expect(decode(400, #"{"__type":"a.b#c#InvalidParameterException:http://x#y","message":"x"}"#).code == "InvalidParameterException")
        #expect(ECRErrorDecoder.trimCode("aws.protocoltests#Foo:bar") == "Foo")
    }

    @Test("without __type: X-Amzn-ErrorType, then the HTTP status")
    func fallbacks() {
        let fromHeader = decode(400, #"{"message":"slow down"}"#, headers: [("x-amzn-ErrorType", "ThrottlingException:http://internal")])
        #expect(fromHeader.code == "ThrottlingException")
        #expect(fromHeader.message == "slow down")
        let fromStatus = decode(503, "")
        #expect(fromStatus.code == "503")
        #expect(fromStatus.httpStatus == 503)
    }

    @Test("message, then Message; request id from x-amzn-RequestId")
    func messages() {
        #expect(decode(400, #"{"__type":"X","Message":"capital"}"#).message == "capital")
        #expect(decode(400, #"{"__type":"X","message":"lower","Message":"capital"}"#).message == "lower")
        #expect(decode(400, #"{"__type":"X"}"#, headers: [("X-Amzn-RequestId", "req-1")]).requestId == "req-1")
    }

    @Test("moto's XML auth errors")
    func xml() {
        let body = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ecr:DeleteRepository</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"
        let error = decode(403, body, headers: [("Content-Type", "text/html; charset=utf-8")])
        #expect(error.code == "AccessDenied")
        #expect(error.message.contains("ecr:DeleteRepository"))
        #expect(decode(403, "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>a &amp; b</Message></Error></Errors></ErrorResponse>").message == "a & b")
    }

    @Test("HTML 5xx has no code: the status is the code")
    func html() {
        let error = decode(500, "<!doctype html><title>500 Internal Server Error</title>")
        #expect(error.code == "500")
        #expect(ECRRetryClassifier.classify(error) == .transient)
    }

    @Test("AccessDenied (XML or JSON) reaches the port as .accessDenied naming the action")
    func accessDeniedMapping() {
        let xml = decode(403, "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not authorized to perform: ecr:DeleteRepository</Message></Error></Errors></ErrorResponse>")
        let json = decode(400, #"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: ecr:DeleteRepository on resource: arn"}"#)
        for error in [xml, json] {
            let mapped = ECRRegistry.registryError(.service(error, operation: "DeleteRepository", attempts: 1))
            #expect(mapped.code == .accessDenied)
            #expect(mapped.operation == "DeleteRepository")
            #expect(mapped.message == "not authorized to perform ecr:DeleteRepository")
            #expect(mapped.description == "DeleteRepository: AccessDeniedException: not authorized to perform ecr:DeleteRepository")
        }
    }

    @Test("issue 12 §6: the denied IAM action is a typed field: CreateRepository with tags is denied for ecr:TagResource")
    func deniedActionIsTyped() {
        let json = decode(400, #"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: ecr:TagResource on resource: arn:aws:ecr:us-east-1:1:repository/mir/x because no identity-based policy allows the ecr:TagResource action"}"#)
        let mapped = ECRRegistry.registryError(.service(json, operation: "CreateRepository", attempts: 1))
        #expect(mapped.code == .accessDenied && mapped.operation == "CreateRepository")
        #expect(mapped.deniedAction == "ecr:TagResource")
        #expect(mapped.message == "not authorized to perform ecr:TagResource")
        // No action in the message (moto's 403 without a body): the operation's own action.
        let bare = ECRRegistry.registryError(.service(decode(403, ""), operation: "DeleteRepository", attempts: 1))
        #expect(bare.deniedAction == "ecr:DeleteRepository")
    }

    @Test("signature and credential errors keep a clear code and explain themselves")
    func authMapping() {
        let signature = ECRRegistry.registryError(.service(decode(403, "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></Errors></ErrorResponse>"),
                                                           operation: "DescribeRepositories", attempts: 1))
        #expect(signature.code == .signatureDoesNotMatch)
        #expect(signature.message.contains("secret access key"))
        let invalidSignature = ECRRegistry.registryError(.service(decode(400, #"{"__type":"InvalidSignatureException","message":"bad"}"#), operation: "ListImages", attempts: 1))
        #expect(invalidSignature.code == .invalidSignature)
        let unknownKey = ECRRegistry.registryError(.service(decode(400, #"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#), operation: "ListImages", attempts: 1))
        #expect(unknownKey.code == .unrecognizedClient)
        #expect(unknownKey.message.contains("not accepted"))
    }

    @Test("ECR codes pass through unchanged; transport failures get their own codes")
    func passThrough() {
        let notFound = ECRRegistry.registryError(.service(decode(400, #"{"__type":"RepositoryNotFoundException","message":"The repository with name 'x' does not exist"}"#), operation: "DeleteRepository", attempts: 1))
        #expect(notFound.code == .repositoryNotFound)
        #expect(notFound.message == "The repository with name 'x' does not exist")
        let throttled = ECRRegistry.registryError(.service(decode(400, #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#), operation: "ListImages", attempts: 3))
        #expect(throttled.code == .throttling)
        #expect(throttled.message.contains("3 attempts"))
        #expect(ECRRegistry.registryError(.transport(.timeout("read"), operation: "ListImages", attempts: 3)).code == .requestTimeout)
        #expect(ECRRegistry.registryError(.transport(.connection("reset"), operation: "ListImages", attempts: 3)).code == .connectionFailed)
        #expect(ECRRegistry.registryError(.service(decode(502, "<html>bad gateway</html>"), operation: "ListImages", attempts: 3)).code == .server)
    }
}
