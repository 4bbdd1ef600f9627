import Foundation
import Testing
@testable import KubeClient
import MirModel

@Suite struct WireFormatTests {
    @Test func pathsForCoreGroupAndScopes() {
        #expect(ConfigMap.resourceType.path(namespace: "ns1", name: "cm") == "/api/v1/namespaces/ns1/configmaps/cm")
        #expect(ConfigMap.resourceType.path() == "/api/v1/configmaps")
        #expect(Namespace.resourceType.path(name: "team-a") == "/api/v1/namespaces/team-a")
        #expect(ManagedImageResource.resourceType.path(namespace: "ignored", name: "web", subresource: "status")
                == "/apis/mir.dev/v1alpha1/managedimages/web/status")
        #expect(Job.resourceType.path(namespace: "b") == "/apis/batch/v1/namespaces/b/jobs")
        #expect(Lease.resourceType.apiVersion == "coordination.k8s.io/v1")
        #expect(Pod.resourceType.apiVersion == "v1")
        #expect(ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
                .path(namespace: "a b", name: "x/y") == "/api/v1/namespaces/a%20b/pods/x%2Fy")
    }

    @Test func queryValuesArePercentEncoded() {
        let q = KubeClient.queryString([("labelSelector", "app in (a,b),tier=web"), ("limit", "5")])
        #expect(q == "?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%3Dweb&limit=5")
        #expect(KubeClient.queryString([]) == "")
    }

    @Test func statusBodyBecomesTypedError() throws {
        let body = #"""
        {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
         "message":"widgets.example.com \"foo\" is invalid: spec.x: Invalid value","reason":"Invalid",
         "details":{"name":"foo","group":"example.com","kind":"Widget",
                    "causes":[{"reason":"FieldValueInvalid","message":"bad","field":"spec.x"}]},"code":422}
        """#
        let error = KubeAPIError(operation: "create widgets \"foo\"", statusCode: 422, body: Data(body.utf8))
        #expect(error.reason == "Invalid")
        #expect(error.isInvalid && !error.isConflict && !error.isNotFound)
        #expect(error.details?.causes?.first?.field == "spec.x")
        #expect(error.details?.kind == "Widget")
        #expect(error.description.hasPrefix("create widgets \"foo\": Invalid (422)"))
    }

    @Test func nonStatusBodyFallsBackToHTTPCode() {
        let error = KubeAPIError(operation: "get x", statusCode: 409, body: Data("<html>busy</html>".utf8))
        #expect(error.reason == "Conflict")
        #expect(error.isConflict)
        #expect(error.message == "<html>busy</html>")
        let gone = KubeAPIError(operation: "list x", statusCode: 410, body: Data())
        #expect(gone.isGone)
        let exists = KubeAPIError(operation: "create", statusCode: 409, reason: "AlreadyExists", message: "")
        #expect(exists.isAlreadyExists && !exists.isConflict)
    }

    @Test func lineBufferJoinsSplitLinesAndSplitsJoinedOnes() {
        var buffer = LineBuffer()
        #expect(buffer.append(Array(#"{"a":"#.utf8)).isEmpty)
        let first = buffer.append(Array("1}\n{\"b\":2}\n\n{\"c\"".utf8))
        #expect(first.map { String(decoding: $0, as: UTF8.self) } == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(buffer.append(Array(":3}".utf8)).isEmpty)
        #expect(buffer.finish().map { String(decoding: $0, as: UTF8.self) } == #"{"c":3}"#)
        #expect(buffer.finish() == nil)
    }

    @Test func watchLinesDecodeToEvents() throws {
        let added = try KubeClient.decodeWatchLine(Array(#"{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"7"},"data":{"k":"v"}}}"#.utf8),
                                                   as: ConfigMap.self, operation: "watch")
        guard case .added(let cm) = added else { Issue.record("expected ADDED, got \(added)"); return }
        #expect(cm.data?["k"] == "v")
        #expect(cm.metadata.resourceVersion == "7")

        // A bookmark carries only the version; the typed model must not be required to decode it.
        let bookmark = try KubeClient.decodeWatchLine(Array(#"{"type":"BOOKMARK","object":{"kind":"Job","metadata":{"resourceVersion":"99"}}}"#.utf8),
                                                      as: Job.self, operation: "watch")
        guard case .bookmark(let rv) = bookmark else { Issue.record("expected BOOKMARK"); return }
        #expect(rv == "99")

        let error = try KubeClient.decodeWatchLine(Array(#"{"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410,"message":"too old resource version: 1 (5)"}}"#.utf8),
                                                   as: ConfigMap.self, operation: "watch configmaps")
        guard case .error(let apiError) = error else { Issue.record("expected ERROR"); return }
        #expect(apiError.isGone && apiError.statusCode == 410)

        #expect(throws: KubeClientError.self) {
            try KubeClient.decodeWatchLine(Array(#"{"type":"WHAT","object":{}}"#.utf8), as: ConfigMap.self, operation: "watch")
        }
    }

    @Test func metadataKeepsUnknownFieldsThroughARoundTrip() throws {
        let text = #"""
        {"metadata":{"name":"web","resourceVersion":"5","labels":{"a":"b"},"selfLink":"/x",
                     "managedFields":[{"manager":"kubectl","operation":"Apply"}],
                     "creationTimestamp":"2026-01-02T03:04:05Z"},
         "spec":{"base":{"imageType":"standard"},"pythonVersion":"3.12","futureField":{"x":1}},
         "status":{"phase":"Ready","observedGeneration":2}}
        """#
        var object = try KubeJSON.decoder().decode(ManagedImageResource.self, from: Data(text.utf8))
        #expect(object.metadata.unknownFields["selfLink"] == .string("/x"))
        #expect(object.metadata.creationTimestamp == Date(timeIntervalSince1970: 1_767_323_045))
        let spec = try object.decodedSpec()
        #expect(spec.pythonVersion == "3.12")
        #expect(spec.base == .imageType("standard"))
        #expect(spec.deletionPolicy == .delete)
        #expect(spec.pipRequirements.isEmpty)
        object.metadata.labels?["c"] = "d"
        let back = try KubeJSON.toJSONValue(object)
        #expect(back["metadata"]?["managedFields"]?.arrayValue?.first?["manager"] == .string("kubectl"))
        #expect(back["metadata"]?["labels"]?["c"] == .string("d"))
        #expect(back["metadata"]?["creationTimestamp"] == .string("2026-01-02T03:04:05Z"))
        #expect(back["spec"]?["futureField"]?["x"] == .number(1))
        #expect(back["status"]?["phase"] == .string("Ready"))
    }

    @Test func invalidSpecDoesNotBreakDecodingTheObject() throws {
        let text = #"{"metadata":{"name":"bad"},"spec":{"base":{"imageType":"a","image":"b"}}}"#
        let object = try KubeJSON.decoder().decode(ManagedImageResource.self, from: Data(text.utf8))
        #expect(object.metadata.name == "bad")
        #expect(throws: (any Error).self) { try object.decodedSpec() }
    }

    @Test func microTimeHasMicroseconds() throws {
        let date = Date(timeIntervalSince1970: 1_767_323_045.25)
        #expect(KubeJSON.formatMicroTime(date) == "2026-01-02T03:04:05.250000Z")
        let lease = Lease(metadata: ObjectMeta(name: "l"), spec: .init(holderIdentity: "me", renewTime: MicroTime(date)))
        let json = try KubeJSON.toJSONValue(lease)
        #expect(json["spec"]?["renewTime"] == .string("2026-01-02T03:04:05.250000Z"))
        let back = try KubeJSON.fromJSONValue(json, as: Lease.self)
        #expect(abs(back.spec!.renewTime!.date.timeIntervalSince(date)) < 0.000_01)
    }

    @Test func deleteOptionsEncodeAsDeleteOptionsKind() throws {
        let options = DeleteOptions(propagationPolicy: .foreground, preconditions: .init(uid: "u1"), dryRun: true)
        let json = try KubeJSON.toJSONValue(options)
        #expect(json["kind"] == .string("DeleteOptions"))
        #expect(json["propagationPolicy"] == .string("Foreground"))
        #expect(json["preconditions"]?["uid"] == .string("u1"))
        #expect(json["dryRun"] == .array([.string("All")]))
    }
}
