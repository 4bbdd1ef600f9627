/// A listen address in controller-runtime's flag syntax: `host:port`, `:port` (all IPv4 interfaces),
/// `[v6]:port`, or `0` to disable the listener.
public struct BindAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host to bind (`0.0.0.0` for `:port`).
    public var host: String
    /// The port; `0` asks the kernel for a free one (learn it from ``TelemetryServer/listeningAddresses()``).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// controller-runtime's default metrics address, `:8080`.
    public static let defaultMetrics = BindAddress(host: "0.0.0.0", port: 8080)
    /// kubebuilder's default health probe address, `:8081`.
    public static let defaultProbes = BindAddress(host: "0.0.0.0", port: 8081)

    /// Parses a flag value; returns `nil` for `0` (disabled). Throws ``BindAddressError`` for anything else
    /// that is not `host:port`.
    public static func parse(_ text: String) throws(BindAddressError) -> BindAddress? {
        if text == "0" { return nil }
        guard let colon = text.lastIndex(of: ":") else { throw BindAddressError(text: text, problem: "expected host:port") }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw BindAddressError(text: text, problem: "the port must be a number from 0 to 65535")
        }
        if host.hasPrefix("[") || host.hasSuffix("]") {
            guard host.count > 2, host.hasPrefix("["), host.hasSuffix("]") else {
                throw BindAddressError(text: text, problem: "an IPv6 host needs both brackets, e.g. [::1]:8080")
            }
            host = String(host.dropFirst().dropLast())
        }
        if host.isEmpty { host = "0.0.0.0" }
        if host.contains(":") && !text.hasPrefix("[") {
            throw BindAddressError(text: text, problem: "write IPv6 hosts in brackets, e.g. [::1]:8080")
        }
        return BindAddress(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A listen address that could not be parsed.
public struct BindAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var problem: String
    public var description: String { "invalid bind address '\(text)': \(problem)" }
}
