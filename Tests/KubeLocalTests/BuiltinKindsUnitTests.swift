import Foundation
@testable import KubeLocal
import MirModel
import MirTestSupport
import Testing

/// Strategic merge driven by the official schemas, the OpenAPI documents and their protobuf encoding.
struct BuiltinKindsUnitTests {
    static func yaml(_ text: String) throws -> JSONValue { try JSONValue.yaml(text) }

    static let deployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d, labels: {a: "1"}}
    spec:
      replicas: 1
      template:
        spec:
          containers:
            - name: main
              image: app:1
              ports: [{containerPort: 80, name: http}]
              env: [{name: A, value: "1"}, {name: B, value: "2"}]
              args: [--x, --y]
            - name: sidecar
              image: side:1
          tolerations: [{key: k1, operator: Exists}]
    """

    func containers(_ object: JSONValue) -> [JSONValue] { object["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? [] }

    @Test func strategicMergeListsByKey() throws {
        let target = try Self.yaml(Self.deployment)
        let patch = try Self.yaml("""
        metadata: {labels: {a: null, b: "2"}}
        spec:
          template:
            spec:
              $setElementOrder/containers: [{name: main}, {name: sidecar}]
              containers:
                - name: main
                  image: app:2
                  env: [{name: B, value: "20"}, {name: C, value: "3"}, {name: A, $patch: delete}]
                  ports: [{containerPort: 8080, name: alt}]
                  args: [--z]
              tolerations: [{key: k2, operator: Exists}]
        """)
        let merged = StrategicMerge.patch(target, patch, info: BuiltinResources.deployments)
        #expect(merged["metadata"]?["labels"] == .object(["b": .string("2")]))
        let list = containers(merged)
        #expect(list.compactMap { $0["name"]?.stringValue } == ["main", "sidecar"])
        #expect(list[0]["image"] == .string("app:2") && list[1]["image"] == .string("side:1"))
        #expect(list[0]["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["B", "C"])
        #expect(list[0]["env"]?.arrayValue?.first?["value"] == .string("20"))
        // ports merge by containerPort; args (no patch strategy) and tolerations (atomic) are replaced.
        #expect(list[0]["ports"]?.arrayValue?.compactMap { $0["containerPort"]?.intValue } == [80, 8080])
        #expect(list[0]["args"] == .array([.string("--z")]))
        #expect(merged["spec"]?["template"]?["spec"]?["tolerations"]?.arrayValue?.count == 1)
        #expect(merged["spec"]?["template"]?["spec"]?["$setElementOrder/containers"] == nil, "directives are never stored")
    }

    @Test func strategicMergeReplaceAndDeleteDirectives() throws {
        let target = try Self.yaml(Self.deployment)
        let replaced = StrategicMerge.patch(target, try Self.yaml("""
        spec: {template: {spec: {containers: [{$patch: replace}, {name: only, image: o:1}]}}}
        """), info: BuiltinResources.deployments)
        #expect(containers(replaced).compactMap { $0["name"]?.stringValue } == ["only"])
        let deleted = StrategicMerge.patch(target, try Self.yaml("""
        spec: {template: {spec: {containers: [{name: sidecar, $patch: delete}]}}}
        """), info: BuiltinResources.deployments)
        #expect(containers(deleted).compactMap { $0["name"]?.stringValue } == ["main"])
        let mapReplaced = StrategicMerge.patch(target, try Self.yaml("metadata: {labels: {$patch: replace, z: \"9\"}}"),
                                               info: BuiltinResources.deployments)
        #expect(mapReplaced["metadata"]?["labels"] == .object(["z": .string("9")]))
    }

    @Test func everyServedBuiltinKindHasItsOfficialSchema() {
        for info in BuiltinResources.all {
            let definitions = BuiltinOpenAPI.definitions(info)
            #expect(definitions.values.contains { $0["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"]?.stringValue == info.kind },
                    "\(info.apiVersion) \(info.kind) has no schema: rerun scripts/gen-builtin-openapi")
        }
        // Every reference in the generated schemas resolves.
        let dangling = Set(BuiltinOpenAPI.schemas.values.flatMap(BuiltinOpenAPI.references)).subtracting(BuiltinOpenAPI.schemas.keys)
        #expect(dangling.isEmpty, "\(dangling)")
    }

    @Test("BuiltinOpenAPISchemas.swift is what scripts/gen-builtin-openapi generates from kubernetes-validate's schemas")
    func generatedSchemasAreInSync() async throws {
        let root = crdManifestURL.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"),
                                                 ["python3", root.appendingPathComponent("scripts/gen-builtin-openapi").path])
        #expect(result.status == 0, "scripts/gen-builtin-openapi failed (run scripts/setup for kubernetes-validate): \(result.stderr)")
        let committed = try String(contentsOf: root.appendingPathComponent("Sources/KubeLocal/BuiltinOpenAPISchemas.swift"), encoding: .utf8)
        #expect(result.stdout == committed, "rerun: scripts/gen-builtin-openapi > Sources/KubeLocal/BuiltinOpenAPISchemas.swift")
    }

    @Test func v3DocumentOfACustomResourceCarriesTheCRDSchema() throws {
        var registry = ResourceRegistry()
        let crd = try JSONValue.yaml(String(contentsOf: crdManifestURL, encoding: .utf8))
        registry.register(ResourceRegistry.resources(fromCRD: crd))
        let document = BuiltinOpenAPI.v3Document(registry, group: "mir.dev", version: "v1alpha1")
        let schemas = try #require(document["components"]?["schemas"]?.objectValue)
        let managedImage = try #require(schemas["dev.mir.v1alpha1.ManagedImage"])
        #expect(managedImage["properties"]?["spec"]?["properties"]?["pipRequirements"] != nil)
        #expect(managedImage["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"] == .string("ManagedImage"))
        #expect(schemas[BuiltinOpenAPI.objectMeta] != nil, "ObjectMeta, which metadata refers to, is in the document")
        let patch = document["paths"]?["/apis/mir.dev/v1alpha1/managedimages/{name}"]?["patch"]
        #expect(patch?["parameters"]?.arrayValue?.contains { $0["name"] == .string("fieldValidation") } == true)
    }

    /// Reads back protobuf fields (tag → payloads) to check the encoding of `/openapi/v2`.
    static func fields(_ bytes: [UInt8]) -> [Int: [[UInt8]]] {
        var out: [Int: [[UInt8]]] = [:]
        var i = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while i < bytes.count {
                let b = bytes[i]; i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return value
        }
        while i < bytes.count {
            let key = varint()
            switch key & 7 {
            case 0: out[Int(key >> 3), default: []].append(withUnsafeBytes(of: varint()) { Array($0) })
            case 1: out[Int(key >> 3), default: []].append(Array(bytes[i..<i + 8])); i += 8
            case 2:
                let n = Int(varint())
                out[Int(key >> 3), default: []].append(Array(bytes[i..<i + n])); i += n
            default: return out
            }
        }
        return out
    }

    @Test func v2ProtobufEncodesTheDefinitions() throws {
        let document = BuiltinOpenAPI.v2Document(ResourceRegistry())
        let definitionCount = try #require(document["definitions"]?.objectValue?.count)
        let top = Self.fields(Array(OpenAPIv2Protobuf.encode(document)))
        #expect(top[1]?.first.map { String(decoding: $0, as: UTF8.self) } == "2.0")
        let named = Self.fields(try #require(top[9]?.first))[1] ?? []
        #expect(named.count == definitionCount)
        let deployment = try #require(named.map(Self.fields).first { String(decoding: $0[1]?.first ?? [], as: UTF8.self) == "io.k8s.api.apps.v1.Deployment" })
        let schema = Self.fields(try #require(deployment[2]?.first))
        let description = String(decoding: schema[4]?.first ?? [], as: UTF8.self)
        #expect(description.hasPrefix("Deployment enables declarative updates"), "\(description)")
        let properties = Self.fields(try #require(schema[25]?.first))[1]?.map { String(decoding: Self.fields($0)[1]?.first ?? [], as: UTF8.self) }
        #expect(properties == ["apiVersion", "kind", "metadata", "spec", "status"])
        let extensions = (schema[31] ?? []).map(Self.fields)
        let gvk = try #require(extensions.first { String(decoding: $0[1]?.first ?? [], as: UTF8.self) == "x-kubernetes-group-version-kind" })
        let yaml = String(decoding: Self.fields(try #require(gvk[2]?.first))[2]?.first ?? [], as: UTF8.self)
        #expect(yaml.contains("\"kind\":\"Deployment\""), "\(yaml)")
    }
}
