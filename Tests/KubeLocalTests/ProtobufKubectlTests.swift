import AsyncHTTPClient
import Foundation
@testable import KubeLocal
import KubeProtobuf
import MirModel
import MirTestSupport
import NIOCore
import SwiftProtobuf
import Testing

/// kubectl's imperative `create` commands send protobuf for built-in kinds; against the local control plane they
/// work, and store what the same command sends as JSON (`--dry-run=client -o json`, created with `kubectl create -f`).
@Suite(.serialized) struct ProtobufKubectlTests {
    struct Case {
        var resource: String
        var name: String
        var arguments: [String]
        /// A kind this decoder covers that `mir dev` may not serve (yet): when it is not in discovery, kubectl must get
        /// the server's NotFound, never a refused body.
        var optional = false
    }

    @Test(.timeLimit(.minutes(4))) func imperativeCreatesMatchTheirJSON() async throws {
        try await withKubectlCluster("proto-kubectl", configure: {
            $0.builder = FakeBuilder()
            $0.jobRunner = JobRunnerConfiguration(backoffBase: .milliseconds(10))
        }) { try await session($0.kubectl, $0.dir) }
    }

    private func session(_ kubectl: Kubectl, _ dir: URL) async throws {
        let binary = Data((0...255).map { UInt8($0) } + [0xff, 0xfe, 0x00])
        let binaryFile = dir.appendingPathComponent("blob.bin")
        try binary.write(to: binaryFile)
        let password = "p@ss w0rd!é ünïcödé \"quoted\""
        let cases = [
            Case(resource: "namespace", name: "proto-ns", arguments: ["create", "namespace", "proto-ns"]),
            Case(resource: "configmap", name: "proto-cm",
                 arguments: ["create", "configmap", "proto-cm", "--from-literal=greeting=hello world", "--from-file=blob=\(binaryFile.path)"]),
            Case(resource: "secret", name: "proto-secret",
                 arguments: ["create", "secret", "generic", "proto-secret", "--from-literal=password=\(password)",
                             "--from-file=key=\(binaryFile.path)", "--type=Opaque"]),
            Case(resource: "serviceaccount", name: "proto-sa", arguments: ["create", "serviceaccount", "proto-sa"]),
            Case(resource: "job", name: "proto-job",
                 arguments: ["create", "job", "proto-job", "--image=busybox:1.36", "--", "/bin/sh", "-c", "echo hi && sleep 1"]),
            Case(resource: "deployment", name: "proto-deploy",
                 arguments: ["create", "deployment", "proto-deploy", "--image=nginx:1.27", "--replicas=2", "--port=80"], optional: true),
            Case(resource: "role", name: "proto-role",
                 arguments: ["create", "role", "proto-role", "--verb=get,list", "--resource=pods,configmaps"], optional: true),
            Case(resource: "rolebinding", name: "proto-rb",
                 arguments: ["create", "rolebinding", "proto-rb", "--role=proto-role", "--user=alice", "--serviceaccount=default:proto-sa"],
                 optional: true),
            Case(resource: "clusterrole", name: "proto-cr",
                 arguments: ["create", "clusterrole", "proto-cr", "--verb=get", "--resource=namespaces"], optional: true),
            Case(resource: "clusterrole", name: "proto-cr-agg", arguments: ["create", "clusterrole", "proto-cr-agg", "--aggregation-rule=team=a"],
                 optional: true),
            Case(resource: "clusterrolebinding", name: "proto-crb",
                 arguments: ["create", "clusterrolebinding", "proto-crb", "--clusterrole=proto-cr", "--group=devs"], optional: true),
            Case(resource: "service", name: "proto-svc", arguments: ["create", "service", "clusterip", "proto-svc", "--tcp=80:8080"],
                 optional: true),
            Case(resource: "poddisruptionbudget", name: "proto-pdb",
                 arguments: ["create", "poddisruptionbudget", "proto-pdb", "--selector=app=x", "--min-available=50%"], optional: true),
        ]
        let resources = try await kubectl.run("api-resources", "-o", "name")
        try #require(resources.status == 0, "\(resources.stderr)")
        let served = Set(resources.stdout.split(separator: "\n").map { String($0.split(separator: ".").first ?? "") })
        for c in cases {
            if c.optional && !served.contains(c.resource + "s") && !served.contains(c.resource + "es") {
                let refused = try await run(kubectl, c.arguments)
                #expect(refused.status != 0 && refused.stderr.contains("the server could not find the requested resource") && !refused.stderr.contains("UnsupportedMediaType"),
                        "\(c.arguments): \(refused.stderr)")
                continue
            }
            // What kubectl sends when it sends JSON.
            let dryRunArguments = insert(["--dry-run=client", "-o", "json"], into: c.arguments)
            let dryRun = try await run(kubectl, dryRunArguments)
            try #require(dryRun.status == 0, "\(dryRun.stderr)")
            let expected = try #require(JSONValue.parse(dryRun.stdout))

            // The imperative command: protobuf on the wire.
            let created = try await run(kubectl, insert(["-v=8"], into: c.arguments))
            #expect(created.status == 0, "\(c.arguments): \(created.stderr)")
            #expect(created.stderr.contains("Content-Type: application/vnd.kubernetes.protobuf"), "\(c.arguments) did not send protobuf")
            #expect(created.stdout.contains("/\(c.name) created"), "\(created.stdout)")

            // The same object through the JSON path, under another name.
            let twinName = "\(c.name)-json"
            var twin = expected
            twin.set(["metadata", "name"], .string(twinName))
            let twinFile = dir.appendingPathComponent("\(twinName).json")
            try twin.jsonData.write(to: twinFile)
            let twinCreated = try await kubectl.run("create", "-f", twinFile.path)
            #expect(twinCreated.status == 0, "\(twinCreated.stderr)")

            let stored = try await get(kubectl, c.resource, c.name)
            let storedTwin = try await get(kubectl, c.resource, twinName)
            // Every field kubectl's JSON holds is stored as such.
            #expect(contains(stored, expected, path: ""), "\(c.resource): \(stored.canonicalText)\nvs\n\(expected.canonicalText)")
            // And the protobuf-made object equals the JSON-made one but for identity and server clocks.
            #expect(normalized(stored, c) == normalized(storedTwin, c, renaming: (twinName, c.name, storedTwin, stored)),
                    "\(c.resource): \(stored.canonicalText)\nvs\n\(storedTwin.canonicalText)")

            if c.resource == "secret" {
                #expect(stored["data"]?["password"]?.stringValue.flatMap { Data(base64Encoded: $0) } == Data(password.utf8))
                #expect(stored["data"]?["key"]?.stringValue.flatMap { Data(base64Encoded: $0) } == binary)
                let value = try await kubectl.run("get", "secret", c.name, "-o", "jsonpath={.data.password}")
                #expect(Data(base64Encoded: value.stdout) == Data(password.utf8), "\(value.stdout)")
            }
            if c.resource == "configmap" {
                #expect(stored["data"]?["greeting"] == .string("hello world"))
                #expect(stored["binaryData"]?["blob"]?.stringValue.flatMap { Data(base64Encoded: $0) } == binary)
            }
            if c.resource == "job" {
                let container = stored["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first
                #expect(container?["image"] == .string("busybox:1.36"))
                #expect(container?["command"] == .array([.string("/bin/sh"), .string("-c"), .string("echo hi && sleep 1")]))
            }
        }
        // Created a second time: the server's AlreadyExists, as for JSON.
        let again = try await kubectl.run("create", "configmap", "proto-cm", "--from-literal=a=b")
        #expect(again.status != 0 && again.stderr.contains("configmaps \"proto-cm\" already exists"), "\(again.stderr)")
    }

    /// kubectl with an argument array (`Kubectl.run` is variadic).
    private func run(_ kubectl: Kubectl, _ arguments: [String]) async throws -> ProcessRunner.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = kubectl.home.path
        environment["KUBECACHEDIR"] = kubectl.home.appendingPathComponent("cache").path
        environment["KUBECONFIG"] = nil
        return try await ProcessRunner.run(URL(fileURLWithPath: Kubectl.executable ?? "/usr/bin/kubectl"),
                                           ["--kubeconfig", kubectl.kubeconfig.path] + arguments, environment: environment)
    }

    private func insert(_ extra: [String], into arguments: [String]) -> [String] {
        guard let dashes = arguments.firstIndex(of: "--") else { return arguments + extra }
        return Array(arguments[..<dashes]) + extra + Array(arguments[dashes...])
    }

    private func get(_ kubectl: Kubectl, _ resource: String, _ name: String) async throws -> JSONValue {
        let result = try await kubectl.run("get", resource, name, "-o", "json")
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(JSONValue.parse(result.stdout))
    }

    /// Whether every field of `expected` is in `actual` with the same value (a `null` creationTimestamp is the server's to set).
    private func contains(_ actual: JSONValue, _ expected: JSONValue, path: String) -> Bool {
        switch expected {
        case .object(let fields):
            guard case .object = actual else { return false }
            return fields.allSatisfy { key, value in
                if key == "creationTimestamp" && value == .null { return true }
                guard let a = actual[key] else { return value == .object([:]) }
                return contains(a, value, path: path + "." + key)
            }
        default:
            return actual == expected
        }
    }

    /// Drops identity and clocks; the twin's name and uid become the original's wherever they appear (job labels).
    private func normalized(_ object: JSONValue, _ c: Case, renaming: (String, String, JSONValue, JSONValue)? = nil) -> JSONValue {
        var text = object.canonicalText
        if let (from, to, fromObject, toObject) = renaming {
            if let fromUID = fromObject["metadata"]?["uid"]?.stringValue, let toUID = toObject["metadata"]?["uid"]?.stringValue {
                text = text.replacingOccurrences(of: fromUID, with: toUID)
            }
            text = text.replacingOccurrences(of: "\"\(from)\"", with: "\"\(to)\"")
        }
        var value = JSONValue.parse(text) ?? .null
        for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] { value.set(["metadata", field], nil) }
        // Controllers' status and the allocated cluster IP are the server's, not the request's.
        if !["namespace", "configmap", "secret", "serviceaccount"].contains(c.resource) { value.set(["status"], nil) }
        if c.resource == "service" {
            value.set(["spec", "clusterIP"], nil)
            value.set(["spec", "clusterIPs"], nil)
        }
        return value
    }
}

/// Protobuf bodies over HTTP: 201 with the JSON object, 415 naming the kind for what the subset cannot carry.
@Suite struct ProtobufHTTPTests {
    private func post(_ cluster: TestCluster, _ path: String, _ body: Data) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: cluster.base + path)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/vnd.kubernetes.protobuf,application/json")
        request.headers.add(name: "Content-Type", value: KubeProtobufBody.mediaType)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await cluster.client.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        return HTTPResult(status: Int(response.status.code), headers: response.headers,
                          body: Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
    }

    @Test func createsAnswersJSONAndRefusesWhatItCannotCarry() async throws {
        try await withCluster(crd: false) { cluster in
            var configMap = K8s_Io_Api_Core_V1_ConfigMap()
            configMap.metadata.name = "from-proto"
            configMap.metadata.creationTimestamp = .init()
            configMap.data = ["k": "v"]
            configMap.binaryData = ["b": Data([0, 1, 2, 254])]
            let created = try await post(cluster, "/api/v1/namespaces/default/configmaps",
                                         try KubeProtobufBody.envelope(configMap, apiVersion: "v1", kind: "ConfigMap"))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.headers.first(name: "Content-Type") == "application/json")
            let object = created.json
            #expect((object["data"] as? [String: String]) == ["k": "v"])
            #expect((object["binaryData"] as? [String: String]) == ["b": Data([0, 1, 2, 254]).base64EncodedString()])
            let read = try await cluster.call(.GET, "/api/v1/namespaces/default/configmaps/from-proto")
            #expect((read.json["binaryData"] as? [String: String]) == ["b": Data([0, 1, 2, 254]).base64EncodedString()])

            // A kind the subset has no schema for: 415, naming it.
            var spec = K8s_Io_Api_Core_V1_PodSpec()
            spec.nodeName = "n"
            let pod = try await post(cluster, "/api/v1/namespaces/default/pods", try KubeProtobufBody.envelope(spec, apiVersion: "v1", kind: "Pod"))
            #expect(pod.status == 415, "\(pod.text)")
            #expect((pod.json["message"] as? String)?.contains("Pod (v1) must be sent as JSON") == true, "\(pod.text)")
            #expect(pod.json["reason"] as? String == "UnsupportedMediaType")

            // A field outside the subset (ConfigMap has no field 7): 415, naming the kind and the field; nothing stored.
            var carrier = K8s_Io_Apimachinery_Pkg_Apis_Meta_V1_ObjectMeta()
            carrier.generation = 3  // field 7, a varint
            var withUnknown = K8s_Io_Api_Core_V1_ConfigMap()
            withUnknown.metadata.name = "has-unknown"
            withUnknown = try K8s_Io_Api_Core_V1_ConfigMap(serializedBytes: try withUnknown.serializedData() + carrier.serializedData())
            let refused = try await post(cluster, "/api/v1/namespaces/default/configmaps",
                                         try KubeProtobufBody.envelope(withUnknown, apiVersion: "v1", kind: "ConfigMap"))
            #expect(refused.status == 415, "\(refused.text)")
            #expect((refused.json["message"] as? String)?.contains("ConfigMap (v1) has fields mir dev's protobuf subset does not know: field 7 of k8s.io.api.core.v1.ConfigMap") == true,
                    "\(refused.text)")
            let missing = try await cluster.call(.GET, "/api/v1/namespaces/default/configmaps/has-unknown")
            #expect(missing.status == 404)

            // Not protobuf at all: 400.
            let garbage = try await post(cluster, "/api/v1/namespaces/default/configmaps", Data([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff, 0x01, 0x0a]))
            #expect(garbage.status == 400, "\(garbage.text)")
        }
    }
}
