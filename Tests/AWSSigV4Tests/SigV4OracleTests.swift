import AWSSigV4
import Foundation
import Testing

/// Signs ≥200 deterministic, varied requests with both `SigV4Signer` and botocore's `SigV4Auth`
/// (Tests/Oracles/sigv4_oracle.py) and requires identical canonical requests, strings to sign, signatures and
/// Authorization headers.
@Suite struct SigV4OracleTests {
    static let caseCount = 240

    @Test func signerMatchesBotocoreOnGeneratedRequests() throws {
        var generator = OracleCaseGenerator(seed: 0x5EED_5167_0004)
        let cases = (0..<Self.caseCount).map { generator.next(id: "case-\($0)") }
        let results = try BotocoreOracle.sign(cases.map(\.oracleCase))
        try #require(results.count == cases.count, "oracle returned \(results.count) results for \(cases.count) cases")

        var mismatches = 0
        for (generated, expected) in zip(cases, results) {
            try #require(expected.id == generated.oracleCase.id)
            let signer = SigV4Signer(credentials: generated.credentials, region: generated.oracleCase.region,
                                     service: generated.oracleCase.service)
            let canonical = signer.canonicalRequest(method: generated.oracleCase.method, url: generated.url,
                                                    headers: generated.headers, body: generated.body, date: generated.date)
            let toSign = signer.stringToSign(canonicalRequest: canonical, date: generated.date)
            let signature = signer.signature(stringToSign: toSign, date: generated.date)
            let sent = signer.sign(method: generated.oracleCase.method, url: generated.url, headers: generated.headers,
                                   body: generated.body, date: generated.date)
            let authorization = sent.filter { $0.name == "Authorization" }.map(\.value)
            let context = "\(generated.oracleCase.id): \(generated.url.absoluteString)"
            #expect(canonical == expected.canonical_request, "canonical request differs for \(context)")
            #expect(toSign == expected.string_to_sign, "string to sign differs for \(context)")
            #expect(signature == expected.signature, "signature differs for \(context)")
            #expect(authorization == [expected.authorization], "Authorization differs for \(context)")
            if canonical != expected.canonical_request || signature != expected.signature { mismatches += 1 }
        }
        #expect(mismatches == 0)
        // The generator really produced the variety the oracle test is meant to cover.
        let urls = cases.map(\.url.absoluteString)
        #expect(urls.contains { $0.contains("/../") } && urls.contains { $0.contains("/./") } && urls.contains { $0.contains("//a") || $0.contains("//b") })
        #expect(urls.contains { $0.contains("%C3%") } && urls.contains { $0.contains("%20") } && urls.contains { $0.contains("?") })
        #expect(cases.contains { $0.credentials.sessionToken != nil } && cases.contains { $0.credentials.sessionToken == nil })
        #expect(cases.contains { $0.body.isEmpty } && cases.contains { $0.body.contains(0xFF) || $0.body.contains(0x00) })
        #expect(Set(cases.map(\.oracleCase.service)).count >= 4 && Set(cases.map(\.oracleCase.region)).count >= 4)
    }
}

/// One request in the oracle's JSON input format.
struct OracleCase: Codable {
    var id: String
    var method: String
    var url: String
    var params: [[String]]
    var headers: [[String]]
    var body_hex: String
    var access_key: String
    var secret_key: String
    var token: String?
    var region: String
    var service: String
    var timestamp: String
}

struct OracleResult: Codable {
    var id: String
    var canonical_request: String
    var string_to_sign: String
    var signature: String
    var authorization: String
}

struct GeneratedCase {
    var oracleCase: OracleCase
    var url: URL
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var credentials: AWSCredentials
    var date: Date
}

/// Runs Tests/Oracles/sigv4_oracle.py with `python3` (or `$MIR_PYTHON`).
enum BotocoreOracle {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func sign(_ cases: [OracleCase]) throws -> [OracleResult] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Oracles/sigv4_oracle.py")
        let python = ProcessInfo.processInfo.environment["MIR_PYTHON"] ?? "python3"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mir-sigv4-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.json"), output = directory.appendingPathComponent("out.json")
        let errors = directory.appendingPathComponent("err.txt")
        try JSONEncoder().encode(cases).write(to: input)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script.path]
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure(description: "the botocore SigV4 oracle failed (exit \(process.terminationStatus)): \(stderr)"
                + " — is botocore installed? Run scripts/setup (or set MIR_PYTHON to a python with botocore).")
        }
        return try JSONDecoder().decode([OracleResult].self, from: Data(contentsOf: output))
    }
}

/// SplitMix64: a small deterministic generator, so the cases are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates varied requests: methods, hosts and ports, paths with dots/slashes/spaces/UTF-8/reserved characters,
/// queries needing encoding (some left raw on the wire), duplicate and odd-spaced headers, headers botocore never signs,
/// empty/text/binary bodies, with and without session tokens, several services and regions.
struct OracleCaseGenerator {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(state: seed) }

    static let methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get", "Post"]
    static let endpoints = [
        "https://api.ecr.us-east-1.amazonaws.com", "https://Example.AmazonAWS.com", "http://127.0.0.1:5000",
        "https://example.com:443", "http://example.com:80", "http://localhost:8080", "https://sts.eu-west-1.amazonaws.com:8443",
        "https://s3.amazonaws.com",
    ]
    static let regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "sa-east-1"]
    static let services = ["ecr", "sts", "execute-api", "iam", "lambda", "s3", "service"]
    static let segments = [
        "a", "b", "repo", "team app", "ünïcödé", "日本", "..", ".", "a.b", "~tilde", "x:y", "me@host", "plus+sign",
        "eq=1", "semi;colon", "bang!", "paren(1)", "star*", "comma,list", "dollar$", "quote'", "amp&", "slash/inside",
        "percent%25", "arn:aws:lambda:us-east-1:123:function:f", "-_.", "",
    ]
    static let queryTexts = [
        "", "a", "B", "value", "with space", "slash/ed", "eq=uals", "amp&ersand", "plus+", "star*", "tilde~",
        "ünï", "🙂", "colon:at@", "comma,semi;", "question?", "hash#", "percent%", "paren()", "bang!", "dollar$",
        "quote'", "MiXeD", "Action", "Version", "2011-06-15", "x-id", "Z", "z", "_u", "-",
    ]
    static let headerPool: [(String, [String])] = [
        ("Content-Type", ["application/x-amz-json-1.1", "application/x-www-form-urlencoded; charset=utf-8", "text/plain"]),
        ("X-Amz-Target", ["AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", "AWSLambda.Invoke"]),
        ("X-Custom", ["  leading", "trailing   ", "  many   inner\t\tspaces  ", "a\tb", "", "   ", "café", "x  ,  y"]),
        ("x-MiXeD-Case", ["Value", "VALUE  two"]),
        ("User-Agent", ["mir/1.0", "Boto3/1.43"]),
        ("X-Amzn-Trace-Id", ["Root=1-abc"]),
        ("Expect", ["100-continue"]),
        ("Connection", ["keep-alive"]),
        ("Content-Length", ["0", "42"]),
        ("Accept", ["application/json", "*/*"]),
        ("X-Amz-Date", ["19990101T000000Z"]),
        ("Authorization", ["AWS4-HMAC-SHA256 stale"]),
        ("X-Amz-Security-Token", ["stale-token"]),
        ("Host", ["custom.example.com", "Custom.Example.com:9000"]),
    ]

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

    /// Wire form of a path segment or query part: unreserved stay; `keepRaw` characters stay unencoded (valid in a URL,
    /// but the signer must encode them); everything else is percent-encoded.
    func wire(_ text: String, keepRaw: Set<Character>) -> String {
        text.map { keepRaw.contains($0) ? String($0) : SigV4Signer.uriEncode(String($0)) }.joined()
    }

    mutating func next(id: String) -> GeneratedCase {
        let endpoint = pick(Self.endpoints)
        let service = pick(Self.services)
        let region = pick(Self.regions)
        let method = pick(Self.methods)

        // Path.
        var path = ""
        let segmentCount = Int.random(in: 0...5, using: &random)
        let rawPathCharacters: Set<Character> = chance(50) ? [":", "@", "!", "$", "'", "(", ")", "*", "+", ",", ";", "="] : []
        for _ in 0..<segmentCount {
            let segment = pick(Self.segments)
            path += "/" + (segment == "." || segment == ".." ? segment : wire(segment, keepRaw: rawPathCharacters))
        }
        if segmentCount == 0 ? chance(70) : chance(25) { path += "/" }

        // Query.
        var params: [[String]] = []
        var queryParts: [String] = []
        let rawQueryCharacters: Set<Character> = chance(50) ? [":", "@", "!", "$", "'", "(", ")", "*", "+", ",", ";", "/", "?"] : []
        for _ in 0..<(chance(55) ? Int.random(in: 1...5, using: &random) : 0) {
            var key = pick(Self.queryTexts)
            if key.isEmpty { key = "k" }
            let value = chance(15) && !params.isEmpty ? params[params.count - 1][1] + "2" : pick(Self.queryTexts)
            if chance(15), let previous = params.last { key = previous[0] }  // repeated key, different value
            params.append([key, value])
            let wireKey = wire(key, keepRaw: rawQueryCharacters.subtracting(["=", "&"]))
            queryParts.append(value.isEmpty && chance(50) ? wireKey : "\(wireKey)=\(wire(value, keepRaw: rawQueryCharacters))")
        }
        let urlString = endpoint + path + (queryParts.isEmpty ? "" : "?" + queryParts.joined(separator: "&"))
        guard let url = URL(string: urlString) else { fatalError("generated an invalid URL: \(urlString)") }

        // Headers, some repeated.
        var headers: [(name: String, value: String)] = []
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            let (name, values) = pick(Self.headerPool)
            headers.append((name: chance(20) ? name.lowercased() : name, value: pick(values)))
            if chance(15) { headers.append((name: name.uppercased(), value: pick(values))) }
        }

        // Body.
        let body: [UInt8] = switch Int.random(in: 0..<3, using: &random) {
        case 0: []
        case 1: Array(#"{"repositoryName":"team/app-\#(Int.random(in: 0...999, using: &random))"}"#.utf8)
        default: (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            + [0x00, 0xFF]
        }

        let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let secret = String((0..<40).map { _ in pick(secretAlphabet) })
        let accessKey = (chance(50) ? "AKIA" : "ASIA") + String((0..<16).map { _ in pick(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) })
        let token: String? = chance(50) ? "FQoGZXIvYXdzE" + String((0..<Int.random(in: 8...200, using: &random)).map { _ in pick(secretAlphabet) }) : nil
        let seconds = Double(Int.random(in: 946_684_800...2_051_222_400, using: &random)) + Double(Int.random(in: 0...999, using: &random)) / 1000
        let date = Date(timeIntervalSince1970: seconds)

        let endpointBase = endpoint  // botocore gets the URL without the query plus raw params
        let oracleCase = OracleCase(
            id: id, method: method, url: endpointBase + path, params: params,
            headers: headers.map { [$0.name, $0.value] },
            body_hex: body.map { String(format: "%02x", $0) }.joined(),
            access_key: accessKey, secret_key: secret, token: token, region: region, service: service,
            timestamp: SigV4Signer.amzDate(date))
        return GeneratedCase(oracleCase: oracleCase, url: url, headers: headers, body: body,
                             credentials: AWSCredentials(accessKeyId: accessKey, secretAccessKey: secret, sessionToken: token),
                             date: date)
    }
}
