import Foundation
import KubeProtobuf
import MirModel
import MirTestSupport
import SwiftProtobuf
import Testing

/// Protobuf request bodies decoded to the JSON Go's encoding/json writes for the same object. Messages are built with
/// SwiftProtobuf's encoder; one real kubectl request is kept as captured bytes.
@Suite struct ProtobufBodyTests {
    typealias ObjectMeta = K8s_Io_Apimachinery_Pkg_Apis_Meta_V1_ObjectMeta

    /// A Go sender writes every non-pointer field, zero or not: `name`, `generateName: ""`, `creationTimestamp: {}`, ….
    static func goMeta(_ name: String) -> ObjectMeta {
        var meta = ObjectMeta()
        meta.name = name
        meta.generateName = ""
        meta.namespace = ""
        meta.selfLink = ""
        meta.uid = ""
        meta.resourceVersion = ""
        meta.generation = 0
        meta.creationTimestamp = .init()
        return meta
    }

    @Test func secretBytesAndPointersFollowGoJSON() throws {
        var secret = K8s_Io_Api_Core_V1_Secret()
        secret.metadata = Self.goMeta("db")
        secret.metadata.labels = ["app": "db"]
        let binary = Data([0x00, 0xff, 0x10, 0x80, 0x7f])
        secret.data = ["password": Data("p@ss w0rd!é".utf8), "key": binary]
        secret.type = "Opaque"
        secret.immutable = false  // *bool: written although false
        let body = try KubeProtobufBody.envelope(secret, apiVersion: "v1", kind: "Secret")
        #expect(Array(body.prefix(4)) == [0x6b, 0x38, 0x73, 0x00])
        let json = try KubeProtobufBody.decode(body)
        let expected: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Secret"),
            "metadata": .object(["name": .string("db"), "creationTimestamp": .null, "labels": .object(["app": .string("db")])]),
            "data": .object(["password": .string(Data("p@ss w0rd!é".utf8).base64EncodedString()),
                             "key": .string(binary.base64EncodedString())]),
            "type": .string("Opaque"), "immutable": .bool(false),
        ])
        #expect(json == expected, "\(json.canonicalText)")
        #expect(Data(base64Encoded: json["data"]?["key"]?.stringValue ?? "") == binary)
    }

    @Test func jobWithTemplateQuantitiesAndTimes() throws {
        var container = K8s_Io_Api_Core_V1_Container()
        container.name = "main"
        container.image = "busybox:1.36"
        container.command = ["sh", "-c"]
        container.args = ["echo hi"]
        container.workingDir = ""
        container.env = [{ var e = K8s_Io_Api_Core_V1_EnvVar(); e.name = "MODE"; e.value = ""; return e }()]
        var limits: [String: K8s_Io_Apimachinery_Pkg_Api_Resource_Quantity] = [:]
        limits["cpu"] = { var q = K8s_Io_Apimachinery_Pkg_Api_Resource_Quantity(); q.string = "500m"; return q }()
        limits["memory"] = { var q = K8s_Io_Apimachinery_Pkg_Api_Resource_Quantity(); q.string = "64Mi"; return q }()
        container.resources.limits = limits
        container.stdin = false
        var job = K8s_Io_Api_Batch_V1_Job()
        job.metadata = Self.goMeta("j")
        job.metadata.creationTimestamp.seconds = 1_764_763_200  // 2025-12-03T12:00:00Z
        job.spec.backoffLimit = 0  // *int32: 0 is meaningful
        job.spec.ttlSecondsAfterFinished = 60
        job.spec.template.metadata = Self.goMeta("")
        job.spec.template.spec.containers = [container]
        job.spec.template.spec.restartPolicy = "Never"
        job.spec.template.spec.terminationGracePeriodSeconds = 0
        job.spec.template.spec.dnsPolicy = ""
        job.spec.template.spec.hostNetwork = false
        job.status.active = 0
        job.status.completedIndexes = ""
        let json = try KubeProtobufBody.decode(try KubeProtobufBody.envelope(job, apiVersion: "batch/v1", kind: "Job"))
        let expected: JSONValue = .object([
            "apiVersion": .string("batch/v1"), "kind": .string("Job"),
            "metadata": .object(["name": .string("j"), "creationTimestamp": .string("2025-12-03T12:00:00Z")]),
            "spec": .object([
                "backoffLimit": .number(0), "ttlSecondsAfterFinished": .number(60),
                "template": .object([
                    "metadata": .object(["creationTimestamp": .null]),
                    "spec": .object([
                        "containers": .array([.object([
                            "name": .string("main"), "image": .string("busybox:1.36"),
                            "command": .array([.string("sh"), .string("-c")]), "args": .array([.string("echo hi")]),
                            "env": .array([.object(["name": .string("MODE")])]),
                            "resources": .object(["limits": .object(["cpu": .string("500m"), "memory": .string("64Mi")])]),
                        ])]),
                        "restartPolicy": .string("Never"), "terminationGracePeriodSeconds": .number(0),
                    ]),
                ]),
            ]),
            "status": .object([:]),
        ])
        #expect(json == expected, "\(json.canonicalText)")
    }

    @Test func intOrStringAndNonOmitemptyFields() throws {
        var deployment = K8s_Io_Api_Apps_V1_Deployment()
        deployment.metadata = Self.goMeta("web")
        deployment.spec.replicas = 0
        deployment.spec.strategy.type = "RollingUpdate"
        deployment.spec.strategy.rollingUpdate.maxSurge = { var v = K8s_Io_Apimachinery_Pkg_Util_Intstr_IntOrString(); v.type = 1; v.strVal = "25%"; return v }()
        deployment.spec.strategy.rollingUpdate.maxUnavailable = { var v = K8s_Io_Apimachinery_Pkg_Util_Intstr_IntOrString(); v.type = 0; v.intVal = 1; return v }()
        var port = K8s_Io_Api_Core_V1_ContainerPort()
        port.containerPort = 0  // `json:"containerPort"`: written although 0
        var container = K8s_Io_Api_Core_V1_Container()
        container.ports = [port]  // no name: `json:"name"` is written as ""
        deployment.spec.template.spec.containers = [container]
        let json = try KubeProtobufBody.decode(try KubeProtobufBody.envelope(deployment, apiVersion: "apps/v1", kind: "Deployment"))
        #expect(json["spec"]?["replicas"] == .number(0))
        #expect(json["spec"]?["strategy"]?["rollingUpdate"] == .object(["maxSurge": .string("25%"), "maxUnavailable": .number(1)]))
        #expect(json["spec"]?["template"]?["spec"]?["containers"] == .array([.object([
            "name": .string(""), "ports": .array([.object(["containerPort": .number(0)])]), "resources": .object([:])])]))
        // A Role without rules: Go writes `"rules": null` (no omitempty).
        var role = K8s_Io_Api_Rbac_V1_Role()
        role.metadata = Self.goMeta("empty")
        let roleJSON = try KubeProtobufBody.decode(try KubeProtobufBody.envelope(role, apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role"))
        #expect(roleJSON["rules"] == .null)
        #expect(roleJSON.objectValue?.keys.contains("rules") == true)
    }

    /// Bytes a field of the subset's carrier message encodes, to stand for a field the subset leaves out.
    static func wire<M: SwiftProtobuf.Message>(_ carrier: M) throws -> Data { try carrier.serializedData() }

    @Test func unknownFieldsAreRefusedWithTheirPath() throws {
        // JobSpec field 11 is podFailurePolicy in Kubernetes, outside the subset. ObjectMeta's field 11 (labels) has the
        // same wire shape (length-delimited), so its encoding stands in for it.
        var carrier = ObjectMeta()
        carrier.labels = ["rules": "x"]
        var spec = K8s_Io_Api_Batch_V1_JobSpec()
        spec.parallelism = 1
        let specWithUnknown = try K8s_Io_Api_Batch_V1_JobSpec(serializedBytes: try spec.serializedData() + Self.wire(carrier))
        #expect(specWithUnknown.parallelism == 1)
        var job = K8s_Io_Api_Batch_V1_Job()
        job.metadata = Self.goMeta("j")
        job.spec = specWithUnknown
        // Container field 10 is livenessProbe; ObjectMeta's field 10 (deletionGracePeriodSeconds) stands in for it.
        var carrier10 = ObjectMeta()
        carrier10.deletionGracePeriodSeconds = 5
        var container = K8s_Io_Api_Core_V1_Container()
        container.name = "c"
        container = try K8s_Io_Api_Core_V1_Container(serializedBytes: try container.serializedData() + Self.wire(carrier10))
        job.spec.template.spec.containers = [K8s_Io_Api_Core_V1_Container(), container]
        let body = try KubeProtobufBody.envelope(job, apiVersion: "batch/v1", kind: "Job")
        #expect(throws: KubeProtobufError.unknownFields(apiVersion: "batch/v1", kind: "Job", fields: [
            "spec.template.spec.containers[1]: field 10 of k8s.io.api.core.v1.Container",
            "spec: field 11 of k8s.io.api.batch.v1.JobSpec",
        ])) { try KubeProtobufBody.decode(body) }
        do {
            _ = try KubeProtobufBody.decode(body)
            Issue.record("a Job with fields outside the subset was decoded")
        } catch {
            #expect(error.description.contains("Job (batch/v1)") && error.description.contains("send it as JSON"), "\(error)")
        }

        // At the top level too (Secret field 9 does not exist in Kubernetes at all).
        var secret = K8s_Io_Api_Core_V1_Secret()
        secret.metadata = Self.goMeta("s")
        var carrier9 = ObjectMeta()
        carrier9.deletionTimestamp = .init()
        let raw = try secret.serializedData() + Self.wire(carrier9)
        let bodyWithUnknown = try KubeProtobufBody.envelope(try K8s_Io_Api_Core_V1_Secret(serializedBytes: raw), apiVersion: "v1", kind: "Secret")
        #expect(throws: KubeProtobufError.unknownFields(apiVersion: "v1", kind: "Secret", fields: ["field 9 of k8s.io.api.core.v1.Secret"])) {
            try KubeProtobufBody.decode(bodyWithUnknown)
        }
    }

    @Test func envelopeErrors() throws {
        var pod = K8s_Io_Api_Core_V1_PodSpec()
        pod.nodeName = "n"
        let podBody = try KubeProtobufBody.envelope(pod, apiVersion: "v1", kind: "Pod")
        #expect(throws: KubeProtobufError.unsupportedKind(apiVersion: "v1", kind: "Pod")) { try KubeProtobufBody.decode(podBody) }
        #expect(throws: KubeProtobufError.missingEnvelope) { try KubeProtobufBody.decode(Data("{\"kind\":\"Pod\"}".utf8)) }
        var ns = K8s_Io_Api_Core_V1_Namespace()
        ns.metadata = Self.goMeta("ns")
        let full = try KubeProtobufBody.envelope(ns, apiVersion: "v1", kind: "Namespace")
        #expect(throws: (any Error).self) { try KubeProtobufBody.decode(full.prefix(full.count - 9)) }
        do {
            _ = try KubeProtobufBody.decode(full.prefix(full.count - 9))
        } catch {
            guard case .malformed = error else { Issue.record("expected .malformed, got \(error)"); return }
        }
        var unknown = K8s_Io_Apimachinery_Pkg_Runtime_Unknown()
        unknown.typeMeta.apiVersion = "v1"
        unknown.typeMeta.kind = "Namespace"
        unknown.raw = try ns.serializedData()
        unknown.contentEncoding = "gzip"
        let gz = Data([0x6b, 0x38, 0x73, 0x00]) + (try unknown.serializedData())
        #expect(throws: KubeProtobufError.unsupportedContentEncoding("gzip")) { try KubeProtobufBody.decode(gz) }
    }

    /// `kubectl auth can-i get /healthz` as kubectl 1.32 sent it (captured bytes), and a resource review built here: the
    /// JSON of `authorization/v1` types.go (`status.allowed` has no omitempty).
    @Test func selfSubjectAccessReviews() throws {
        let captured = "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163636573735265766965"
            + "77122f0a100a0012001a0022002a003200380042001211120f0a082f6865616c74687a12036765741a08080012001a0020001a002200"
        #expect(try KubeProtobufBody.decode(Self.bytes(hex: captured)) == .object([
            "kind": .string("SelfSubjectAccessReview"), "apiVersion": .string("authorization.k8s.io/v1"),
            "metadata": .object(["creationTimestamp": .null]),
            "spec": .object(["nonResourceAttributes": .object(["path": .string("/healthz"), "verb": .string("get")])]),
            "status": .object(["allowed": .bool(false)]),
        ]))
        var review = K8s_Io_Api_Authorization_V1_SelfSubjectAccessReview()
        review.spec.resourceAttributes.namespace = "team-a"
        review.spec.resourceAttributes.verb = "create"
        review.spec.resourceAttributes.resource = "pods"
        review.spec.resourceAttributes.subresource = "log"
        review.spec.resourceAttributes.group = ""
        let json = try KubeProtobufBody.decode(try KubeProtobufBody.envelope(review, apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview"))
        #expect(json["spec"] == .object(["resourceAttributes": .object([
            "namespace": .string("team-a"), "verb": .string("create"), "resource": .string("pods"), "subresource": .string("log")])]))
    }

    static func bytes(hex: String) -> Data {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return Data(bytes)
    }

    /// `kubectl create deployment d1 --image=nginx --replicas=2 --port=80` as kubectl 1.32 sent it (captured bytes):
    /// decoded, it equals what the same command prints with `--dry-run=client -o json`.
    @Test func capturedKubectlDeploymentEqualsItsDryRunJSON() async throws {
        let hex = "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b4010a1d0a02643112001a0022002a003200380042005a090a"
            + "03617070120264311284010802120b0a090a03617070120264311a6b0a1b0a0012001a0022002a003200380042005a090a03617070"
            + "12026431124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a0042006a007200800100880100900100a20100"
            + "1a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200"
        let decoded = try KubeProtobufBody.decode(Self.bytes(hex: hex))
        guard Kubectl.executable != nil else {
            Issue.record("kubectl is not installed; run scripts/setup")
            return
        }
        let home = try temporaryDirectory("proto-dryrun")
        defer { try? FileManager.default.removeItem(at: home) }
        // Client dry-run contacts no server; kubectl still wants a kubeconfig (port 1 is never dialled).
        let kubeconfig = home.appendingPathComponent("kubeconfig")
        try """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: unused}}]
        contexts: [{name: c, context: {cluster: c, user: u}}]
        current-context: c
        """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        let kubectl = Kubectl(kubeconfig: kubeconfig, home: home)
        let dryRun = try await kubectl.run("create", "deployment", "d1", "--image=nginx", "--replicas=2", "--port=80",
                                           "--dry-run=client", "-o", "json")
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(decoded == JSONValue.parse(dryRun.stdout), "\(decoded.canonicalText)\n\(dryRun.stdout)")
    }
}
