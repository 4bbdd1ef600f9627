import Foundation
import MirBuild
import MirModel
import PropertyBased
import Testing

@Suite struct BuildReportTests {
    static func libraries(_ count: Int, seed: Int = 0) -> [PipLibrary] {
        (0..<count).map { i in
            PipLibrary(name: "package-\(seed)-\(i)-\(String(i * 7919 + seed, radix: 36))", version: "\(i % 13).\(i % 7).\(i)")
        }
    }

    @Test func swiftEncodingRoundTrips() throws {
        let libraries = Self.libraries(20)
        let message = BuildReport.encode(libraries: libraries)
        #expect(message.hasPrefix("z:"))
        let decoded = try BuildReport.decode(terminationMessage: message)
        #expect(decoded.libraries == libraries)
        #expect(decoded.truncated == false)
    }

    @Test func swiftEncodingCutsAndMarksLargeLists() throws {
        let libraries = Self.libraries(500)
        let message = BuildReport.encode(libraries: libraries)
        #expect(message.utf8.count <= 4096)
        let decoded = try BuildReport.decode(terminationMessage: message)
        #expect(decoded.truncated)
        #expect(!decoded.libraries.isEmpty)
        #expect(Array(libraries.prefix(decoded.libraries.count)) == decoded.libraries)
        // The longest prefix that fits: one more library would not fit.
        let oneMore = BuildReport.encode(libraries: Array(libraries.prefix(decoded.libraries.count + 1)), limit: .max)
        #expect(oneMore.utf8.count > 4096)
    }

    @Test func kanikoDigest() {
        let digest = "sha256:" + String(repeating: "0a", count: 32)
        #expect(BuildReport.imageDigest(kanikoTerminationMessage: digest + "\n") == digest)
        #expect(BuildReport.imageDigest(kanikoTerminationMessage: "error building image: exit status 1") == nil)
        #expect(BuildReport.imageDigest(kanikoTerminationMessage: "sha256:" + String(repeating: "G", count: 64)) == nil)
        #expect(BuildReport.imageDigest(kanikoTerminationMessage: "sha256:abc") == nil)
    }

    @Test func plainPipListIsAccepted() throws {
        let decoded = try BuildReport.decode(terminationMessage: #"[{"name":"pip","version":"24.0"}]"#)
        #expect(decoded.libraries == [PipLibrary(name: "pip", version: "24.0")])
        #expect(!decoded.truncated)
    }

    @Test(arguments: ["", "garbage", "z:!!!", "z:" + Data("not zlib".utf8).base64EncodedString(), "[{\"name\":1}]"])
    func invalidMessagesThrow(message: String) {
        #expect(throws: BuildReportError.self) { try BuildReport.decode(terminationMessage: message) }
    }

    @Test func corruptedStreamsNeverYieldWrongData() async throws {
        let message = BuildReport.encode(libraries: Self.libraries(30))
        let bytes = [UInt8](Data(base64Encoded: String(message.dropFirst(2)))!)
        await propertyCheck(count: 200, input: Gen.int(in: 0...(bytes.count - 1)), Gen<UInt8>.value(in: 1...255)) { index, flip in
            var corrupted = bytes
            corrupted[index] ^= flip
            let text = "z:" + Data(corrupted).base64EncodedString()
            // A corrupted stream fails cleanly, or (a flip in an informational header bit) still yields the original.
            if let decoded = try? BuildReport.decode(terminationMessage: text) {
                #expect(decoded.libraries == Self.libraries(30))
            }
        }
        let cut = "z:" + Data(bytes.prefix(bytes.count / 2)).base64EncodedString()
        #expect(throws: BuildReportError.self) { try BuildReport.decode(terminationMessage: cut) }
    }

    // MARK: Against Python's zlib and the real report script

    func runScript(list: [PipLibrary]?) throws -> String {
        let python = try #require(python3Path)
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var arguments = ["-c", BuildReport.script, directory + "/termination-log"]
        if let list {
            let data = try JSONEncoder().encode(list)
            try data.write(to: URL(fileURLWithPath: directory + "/list.json"))
            arguments.append(directory + "/list.json")
        }
        let result = try runProcess(python, arguments)
        #expect(result.status == 0, "\(result.error)")
        return try String(contentsOfFile: directory + "/termination-log", encoding: .utf8)
    }

    @Test(.enabled(if: python3Path != nil)) func reportScriptRoundTrips() throws {
        let libraries = Self.libraries(40, seed: 3)
        let message = try runScript(list: libraries)
        #expect(message.hasPrefix("z:"))
        let decoded = try BuildReport.decode(terminationMessage: message)
        #expect(decoded.libraries == libraries)
        #expect(!decoded.truncated)
    }

    @Test(.enabled(if: python3Path != nil)) func reportScriptCutsLargeListsToFit() throws {
        let libraries = Self.libraries(3000, seed: 11)
        let message = try runScript(list: libraries)
        #expect(message.utf8.count <= 4096)
        let decoded = try BuildReport.decode(terminationMessage: message)
        #expect(decoded.truncated)
        #expect(decoded.libraries.count > 100)   // compression makes far more fit than plain JSON would
        #expect(Array(libraries.prefix(decoded.libraries.count)) == decoded.libraries)
    }

    @Test(.enabled(if: python3Path != nil)) func reportScriptRunsPipList() throws {
        let decoded = try BuildReport.decode(terminationMessage: try runScript(list: nil))
        #expect(decoded.libraries.contains { $0.name.lowercased() == "pip" })
    }

    /// Every zlib flavour Python writes (stored, fixed and dynamic Huffman, all levels) decodes.
    @Test(.enabled(if: python3Path != nil)) func decodesEveryZlibFlavour() throws {
        let python = try #require(python3Path)
        let program = """
            import base64,json,sys,zlib
            doc=json.dumps({'libraries':[{'name':'lib%d'%i,'version':'%d.%d'%(i%5,i)} for i in range(int(sys.argv[1]))],'truncated':False}).encode()
            for level in (0,1,6,9):
                for strategy in (zlib.Z_DEFAULT_STRATEGY,zlib.Z_FIXED,zlib.Z_HUFFMAN_ONLY,zlib.Z_RLE):
                    c=zlib.compressobj(level,zlib.DEFLATED,15,9,strategy)
                    print('z:'+base64.b64encode(c.compress(doc)+c.flush()).decode())
            """
        for count in [0, 1, 25, 400] {
            let result = try runProcess(python, ["-c", program, String(count)])
            #expect(result.status == 0, "\(result.error)")
            let messages = result.output.split(separator: "\n")
            #expect(messages.count == 16)
            for message in messages {
                let decoded = try BuildReport.decode(terminationMessage: String(message))
                #expect(decoded.libraries.count == count)
                #expect(decoded.libraries.last == (count > 0 ? PipLibrary(name: "lib\(count - 1)", version: "\((count - 1) % 5).\(count - 1)") : nil))
            }
        }
    }
}
