import Foundation
import MirLocalRegistry
import MirRegistry
import MirTestSupport
import Testing

/// The embedded registry with its images in a real OCI distribution registry (Debian's docker-registry on loopback).
@Suite("RealBuild OCI data plane") struct OCIDataPlaneTests {
    /// Pushes a tiny image (no layers, a label) with buildah to `reference`, and the same image to `alsoAs`.
    static func pushScratchImage(_ reference: String, label: String, alsoAs: String? = nil) async throws {
        let buildah = try await ToolLocator.require("buildah")
        let script = """
            set -eu
            c=$("$0" from scratch)
            trap '"$0" rm "$c" >/dev/null 2>&1 || true' EXIT
            "$0" config --label "mir.test=$2" "$c"
            "$0" commit --quiet "$c" "$1" >/dev/null
            "$0" push --tls-verify=false --quiet "$1" "docker://$1"
            if [ -n "$3" ]; then "$0" push --tls-verify=false --quiet "$1" "docker://$3"; fi
            """
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, buildah, reference, label, alsoAs ?? ""])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func imagesAreReadFromAndDeletedInTheOCIRegistry() async throws {
        try await DistributionRegistry.with { oci in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-oci-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let endpoint = try OCIEndpoint(parsing: oci.url.absoluteString)
            let registry = OCIDataPlaneRegistry(control: try LocalRegistry(directory: folder.path), images: OCIDistributionClient(endpoint: endpoint))
            let created = try await registry.createRepository(name: "mir/data", tags: [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            #expect(created.uri == "\(oci.host)/mir/data")
            #expect(try await registry.describeRepositories(names: ["mir/data"], maxResults: nil, nextToken: nil).items.first?.uri == created.uri)
            #expect(try await registry.describeImages(repositoryName: "mir/data", imageIds: nil, maxResults: nil, nextToken: nil).items.isEmpty)

            try await Self.pushScratchImage("\(created.uri):one", label: "a", alsoAs: "\(created.uri):also-one")
            try await Self.pushScratchImage("\(created.uri):two", label: "b")
            let one = try #require(try await oci.digest("mir/data", tag: "one"))
            let two = try #require(try await oci.digest("mir/data", tag: "two"))
            #expect(one != two)

            let details = try await registry.describeImages(repositoryName: "mir/data", imageIds: nil, maxResults: nil, nextToken: nil).items
            #expect(Set(details.map { "\($0.digest) \($0.tags)" }) == ["\(one) [\"also-one\", \"one\"]", "\(two) [\"two\"]"])
            let byTag = try await registry.describeImages(repositoryName: "mir/data", imageIds: [.init(tag: "two")], maxResults: nil, nextToken: nil)
            #expect(byTag.items.map(\.digest) == [two])
            await #expect(throws: RegistryError.self) {
                _ = try await registry.describeImages(repositoryName: "mir/data", imageIds: [.init(tag: "three")], maxResults: nil, nextToken: nil)
            }
            // Paged listing of (digest, tag) pairs.
            var ids: [ImageIdentifier] = []
            var token: String?
            repeat {
                let page = try await registry.listImages(repositoryName: "mir/data", maxResults: 2, nextToken: token)
                ids += page.items
                token = page.nextToken
            } while token != nil
            #expect(Set(ids.compactMap(\.tag)) == ["one", "also-one", "two"])

            // Only real images go in: a manifest naming blobs the registry lacks is refused, clearly.
            let fake = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(String(repeating: "0", count: 64))","size":2},"layers":[]}"#
            let refused = await #expect(throws: RegistryError.self) { _ = try await registry.putImage(repositoryName: "mir/data", manifest: fake, tag: "sim") }
            #expect(refused?.code == .invalidParameter && refused?.message.contains("holds real images only") == true)

            // Deleting the repository: refused while it holds images (as ECR does), then with force its manifests go too.
            let notEmpty = await #expect(throws: RegistryError.self) { _ = try await registry.deleteRepository(name: "mir/data", force: false) }
            #expect(notEmpty?.code == .repositoryNotEmpty)
            #expect(try await oci.tags("mir/data").count == 3)
            _ = try await registry.deleteRepository(name: "mir/data", force: true)
            #expect(try await oci.tags("mir/data").isEmpty)
            #expect(try await oci.digest("mir/data", tag: "one") == nil)
            await #expect(throws: RegistryError.self) { _ = try await registry.describeRepositories(names: ["mir/data"], maxResults: nil, nextToken: nil) }
        }
    }

    @Test func endpointsAreLoopbackOrHTTPS() throws {
        #expect(try OCIEndpoint(parsing: "http://127.0.0.1:5000").host == "127.0.0.1:5000")
        #expect(try OCIEndpoint(parsing: "http://localhost:5000/").baseURL == "http://localhost:5000")
        #expect(try OCIEndpoint(parsing: "https://registry.example.com").host == "registry.example.com")
        for bad in ["http://10.0.0.1:5000", "http://registry.example.com", "ftp://127.0.0.1", "127.0.0.1:5000", "http://127.0.0.1:5000/v2", "http://u:p@127.0.0.1:5000"] {
            #expect(throws: OCIEndpoint.Invalid.self, "\(bad)") { try OCIEndpoint(parsing: bad) }
        }
    }
}
