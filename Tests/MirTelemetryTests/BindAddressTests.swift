import MirTelemetry
import Testing

@Suite("BindAddress: controller-runtime's flag syntax")
struct BindAddressTests {
    @Test("host:port, :port, [v6]:port and 0")
    func parses() throws {
        #expect(try BindAddress.parse(":8080") == BindAddress(host: "0.0.0.0", port: 8080))
        #expect(try BindAddress.parse("127.0.0.1:0") == BindAddress(host: "127.0.0.1", port: 0))
        #expect(try BindAddress.parse("[::1]:8081") == BindAddress(host: "::1", port: 8081))
        #expect(try BindAddress.parse("0") == nil)
        #expect(try BindAddress.parse("[::1]:8081")?.description == "[::1]:8081")
        #expect(BindAddress.defaultMetrics.port == 8080)
        #expect(BindAddress.defaultProbes.port == 8081)
    }

    @Test("malformed addresses are rejected with the text and the problem", arguments: ["8080", "host:", ":http", ":70000", "::1:8080", "[::1:80", "::1]:80", "[]:80"])
    func rejects(_ text: String) {
        #expect(throws: BindAddressError.self) { try BindAddress.parse(text) }
        do {
            _ = try BindAddress.parse(text)
        } catch {
            #expect(error.text == text)
            #expect(error.description.contains(text))
        }
    }
}
