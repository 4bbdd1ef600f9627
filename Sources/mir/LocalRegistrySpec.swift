import MirLocalRegistry

/// `--registry local[:DIR][,oci=URL]`: the embedded registry in DIR (default `.mir/registry`), with its images in the
/// OCI distribution registry at URL when `oci=` is given (e.g. `local,oci=http://127.0.0.1:5000`).
struct LocalRegistrySpec: Equatable {
    var directory: String
    var ociEndpoint: OCIEndpoint?

    /// nil when `text` is not a `local` registry.
    init?(parsing text: String) throws {
        guard text == "local" || text.hasPrefix("local:") || text.hasPrefix("local,") else { return nil }
        var rest = text.dropFirst("local".count)
        var options: [Substring] = []
        if let comma = rest.firstIndex(of: ",") {
            options = rest[rest.index(after: comma)...].split(separator: ",", omittingEmptySubsequences: false)
            rest = rest[..<comma]
        }
        if rest.hasPrefix(":") {
            directory = String(rest.dropFirst())
            guard !directory.isEmpty else { throw CLIError.usage("--registry local:DIR needs a directory") }
        } else {
            directory = LocalRegistry.defaultDirectory
        }
        for option in options {
            guard option.hasPrefix("oci=") else {
                throw CLIError.usage("--registry local: unknown option '\(option)' (the only option is oci=URL)")
            }
            do { ociEndpoint = try OCIEndpoint(parsing: String(option.dropFirst(4))) }
            catch { throw CLIError.usage("--registry local: \(error)") }
        }
    }
}
