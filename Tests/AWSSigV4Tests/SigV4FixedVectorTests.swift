import AWSSigV4
import Foundation
import Testing

/// Fixed vectors: the ECR vector from the project's AWS reference (botocore + plain HMAC) and two cases of the AWS
/// SigV4 test suite (`get-vanilla`, `get-vanilla-query-order-key-case`).
@Suite struct SigV4FixedVectorTests {
    static let exampleCredentials = AWSCredentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z
    static let exampleDate = Date(timeIntervalSince1970: 1_440_938_160)
    static let ecrURL = URL(string: "https://api.ecr.us-east-1.amazonaws.com/")!
    static let ecrHeaders: [(name: String, value: String)] = [
        (name: "Content-Type", value: "application/x-amz-json-1.1"),
        (name: "X-Amz-Target", value: "AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
    ]
    static let ecrBody = Array(#"{"repositoryName":"team/app"}"#.utf8)

    static func header(_ name: String, in headers: [(name: String, value: String)]) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    @Test func ecrCreateRepositoryVector() {
        let signer = SigV4Signer(credentials: Self.exampleCredentials, region: "us-east-1", service: "ecr")
        let canonical = signer.canonicalRequest(
            method: "POST", url: Self.ecrURL, headers: Self.ecrHeaders, body: Self.ecrBody, date: Self.exampleDate)
        #expect(canonical == """
            POST
            /

            content-type:application/x-amz-json-1.1
            host:api.ecr.us-east-1.amazonaws.com
            x-amz-date:20150830T123600Z
            x-amz-target:AmazonEC2ContainerRegistry_V20150921.CreateRepository

            content-type;host;x-amz-date;x-amz-target
            7044bc5104f9ea3d5ceccdc019ee73945d4c2f36bc8118c4df9586c70ecc643a
            """)
        let toSign = signer.stringToSign(canonicalRequest: canonical, date: Self.exampleDate)
        #expect(toSign.hasPrefix("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/ecr/aws4_request\n0fbba5ba"))
        #expect(toSign.hasSuffix("429eb9"))
        #expect(signer.signature(stringToSign: toSign, date: Self.exampleDate)
            == "4676e4c383308a1ffbd6dd9da1c28b437e0ea0c74418477728804b5d45ebbb49")

        let sent = signer.sign(method: "POST", url: Self.ecrURL, headers: Self.ecrHeaders, body: Self.ecrBody, date: Self.exampleDate)
        #expect(Self.header("Host", in: sent) == ["api.ecr.us-east-1.amazonaws.com"])
        #expect(Self.header("X-Amz-Date", in: sent) == ["20150830T123600Z"])
        #expect(Self.header("X-Amz-Security-Token", in: sent).isEmpty)
        #expect(Self.header("Authorization", in: sent) == [
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                + "Signature=4676e4c383308a1ffbd6dd9da1c28b437e0ea0c74418477728804b5d45ebbb49",
        ])
        #expect(Self.header("Content-Type", in: sent) == ["application/x-amz-json-1.1"])
    }

    @Test func ecrVectorWithSessionTokenSignsTheToken() {
        var credentials = Self.exampleCredentials
        credentials.sessionToken = "SESSIONTOKEN"
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ecr")
        let stale = Self.ecrHeaders + [(name: "x-amz-security-token", value: "OLD"), (name: "Authorization", value: "stale")]
        let sent = signer.sign(method: "POST", url: Self.ecrURL, headers: stale, body: Self.ecrBody, date: Self.exampleDate)
        #expect(Self.header("X-Amz-Security-Token", in: sent) == ["SESSIONTOKEN"])
        let authorization = Self.header("Authorization", in: sent)
        #expect(authorization.count == 1)
        #expect(authorization.first?.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,") == true)
        #expect(authorization.first?.hasSuffix("Signature=a33369fa20ec51641dd02226f42c5b55e72419c99cebb5383f3d8cee6d5bd263") == true)
    }

    @Test func awsSuiteGetVanilla() {
        let signer = SigV4Signer(credentials: Self.exampleCredentials, region: "us-east-1", service: "service")
        let sent = signer.sign(method: "GET", url: URL(string: "https://example.amazonaws.com/")!, headers: [], body: [], date: Self.exampleDate)
        #expect(Self.header("Authorization", in: sent).first?.hasSuffix(
            "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == true)
    }

    @Test func awsSuiteQueryOrder() {
        let signer = SigV4Signer(credentials: Self.exampleCredentials, region: "us-east-1", service: "service")
        let url = URL(string: "https://example.amazonaws.com/?Param2=value2&Param1=value1")!
        let canonical = signer.canonicalRequest(method: "GET", url: url, headers: [], body: [], date: Self.exampleDate)
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == "Param1=value1&Param2=value2")
        let toSign = signer.stringToSign(canonicalRequest: canonical, date: Self.exampleDate)
        #expect(signer.signature(stringToSign: toSign, date: Self.exampleDate)
            == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }
}

@Suite struct SigV4HelperTests {
    @Test(arguments: [
        ("https://Example.COM/", "example.com"),
        ("https://example.com:443/", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("http://example.com:443/", "example.com:443"),
        ("https://127.0.0.1:5000/x", "127.0.0.1:5000"),
        ("https://user:pw@example.com:8443/", "example.com:8443"),
        ("http://[::1]:8080/", "[::1]:8080"),
    ])
    func hostHeaderLikeBotocore(url: String, expected: String) {
        #expect(SigV4Signer.hostHeader(for: URL(string: url)!) == expected)
    }

    @Test(arguments: [
        ("", ""), ("/", "/"), ("//", "/"), ("/a/./b/../c", "/a/c"), ("/../a", "/a"), ("/a//b/", "/a/b/"),
        ("/a/.", "/a"), ("/a/b/..", "/a"), ("/..", "/"),
    ])
    func removeDotSegmentsLikeBotocore(path: String, expected: String) {
        #expect(SigV4Signer.removeDotSegments(path) == expected)
    }

    @Test func trimAllFoldsWhitespace() {
        #expect(SigV4Signer.trimAll("  a   b\t\tc \n") == "a b c")
        #expect(SigV4Signer.trimAll("   ") == "")
        #expect(SigV4Signer.trimAll("x\u{A0}y") == "x y")
    }

    @Test func uriEncodeKeepsOnlyUnreserved() {
        #expect(SigV4Signer.uriEncode("a b/c~-._é*+") == "a%20b%2Fc~-._%C3%A9%2A%2B")
        #expect(SigV4Signer.uriEncode("/a b/", keepingSlash: true) == "/a%20b/")
    }

    @Test func amzDateIsUTCAndTruncated() {
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160.999)) == "20150830T123600Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 4_102_444_799)) == "20991231T235959Z")
    }

    @Test func signingKeyDependsOnDayAndIsStableAcrossCalls() {
        let signer = SigV4Signer(credentials: SigV4FixedVectorTests.exampleCredentials, region: "us-east-1", service: "iam")
        let day1 = SigV4FixedVectorTests.exampleDate
        let key1 = signer.signingKey(date: day1)
        #expect(signer.signingKey(date: day1.addingTimeInterval(3600)) == key1)
        let key2 = signer.signingKey(date: day1.addingTimeInterval(86_400))
        #expect(key2 != key1)
        #expect(signer.signingKey(date: day1) == key1)
        // AWS documentation example: the signing key for 20150830/us-east-1/iam.
        #expect(key1.map { String(format: "%02x", $0) }.joined()
            == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func descriptionRedactsSecrets() {
        let credentials = AWSCredentials(accessKeyId: "AKIDVISIBLE", secretAccessKey: "SECRETVALUE123", sessionToken: "TOKENVALUE456")
        for text in [credentials.description, credentials.debugDescription, "\(credentials)", String(reflecting: credentials)] {
            #expect(text.contains("AKIDVISIBLE"))
            #expect(!text.contains("SECRETVALUE123"))
            #expect(!text.contains("TOKENVALUE456"))
        }
    }
}
