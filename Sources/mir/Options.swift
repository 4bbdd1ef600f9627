import ArgumentParser
import Foundation
import MirModel
import MirRegistry
import MirLocalRegistry
import MirSpec
import MirBuild
import MirCore
import MirBuildEngine

/// Flags every command that talks to a registry shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The mir config file (defaults apply without one).")
    var config: String?

    @Option(name: .long, help: "The registry: local[:DIR][,oci=URL] (the embedded registry, default local:.mir/registry; with oci=, images live in that OCI registry) or ecr.")
    var registry: String = "local"

    @Option(name: .long, help: "Override the config's repositoryPrefix.")
    var prefix: String?

    @Option(name: .long, help: "Directory for mir's build records.")
    var state: String = ".mir/state"

    @Option(name: .long, help: "AWS region for --registry ecr (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).")
    var region: String?

    @Option(name: .customLong("endpoint-url"), help: "Override the ECR endpoint (else AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL).")
    var endpointURL: String?

    @Option(name: .long, help: "AWS profile for --registry ecr (else AWS_PROFILE).")
    var profile: String?

    func loadConfig() throws -> MirConfig {
        var config = try loadConfigFile(self.config)
        if let prefix {
            if let problem = SpecGrammar.repositoryPrefixProblem(prefix) { throw CLIError.usage("--prefix \(problem)") }
            config.repositoryPrefix = prefix
        }
        return config
    }

    func buildRecords() -> any BuildRecordStore {
        FileBuildRecordStore(directory: (state as NSString).appendingPathComponent("builds"))
    }
}

/// A registry opened for one command, with call counting and cleanup.
struct OpenedRegistry {
    var registry: CountingRegistry
    var close: @Sendable () async -> Void
    /// Credentials a build engine needs to push to this registry (ECR's GetAuthorizationToken).
    var credentials: any RegistryCredentialSource = NoCredentials()

    /// Runs `body`, then closes the registry whether or not `body` threw.
    func using<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }
}

extension CommonOptions {
    /// The directory of `--registry local[:DIR]`, or nil for another registry.
    var localRegistryDirectory: String? {
        if registry == "local" { return ".mir/registry" }
        if registry.hasPrefix("local:"), registry.count > "local:".count { return String(registry.dropFirst("local:".count)) }
        return nil
    }

    func openRegistry() async throws -> OpenedRegistry {
        let spec = registry
        if let local = try LocalRegistrySpec(parsing: spec) {
            let control = try LocalRegistry(directory: local.directory)
            guard let endpoint = local.ociEndpoint else { return OpenedRegistry(registry: CountingRegistry(control), close: {}) }
            return OpenedRegistry(registry: CountingRegistry(OCIDataPlaneRegistry(control: control, images: OCIDistributionClient(endpoint: endpoint))),
                                  close: {})
        }
        if spec == "ecr" {
            return try await openECR()
        }
        throw CLIError.usage("unknown registry '\(spec)': use local[:DIR][,oci=URL] or ecr")
    }
}

/// Reads the config file (defaults without one); problems become diagnostics (exit 1).
func loadConfigFile(_ path: String?) throws -> MirConfig {
    do { return try ConfigLoader.load(path: path) }
    catch { throw CLIError.diagnostics(error.diagnostics) }
}

enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case diagnostics([Diagnostic])
    case failed(String)

    var description: String {
        switch self {
        case .usage(let m): return "error: \(m)"
        case .diagnostics(let d): return d.map(\.description).joined(separator: "\n")
        case .failed(let m): return "error: \(m)"
        }
    }
}

/// Runs a command body, mapping errors to mir's exit codes: 1 for validation/apply errors, 2 for usage.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        printError(error.description)
        if case .usage = error { throw ExitCode(2) }
        throw ExitCode(1)
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Loads and validates specs; prints diagnostics (errors and notes) to stderr.
func loadSpecs(_ paths: [String], config: MirConfig, quietNotes: Bool = false) -> SpecLoadResult {
    let result = SpecLoader.load(paths: paths, config: config)
    for d in result.diagnostics where !(quietNotes && d.severity == .note) {
        printError(d.description)
    }
    return result
}

/// Specs → desired state. Throws (exit 1) when any spec failed: a CLI pass never acts on a partial view.
func desiredState(specs: [String], config: MirConfig) throws -> DesiredState {
    let loaded = loadSpecs(specs, config: config)
    guard loaded.isComplete else {
        throw CLIError.failed("\(loaded.errors.count) error(s) in specs; nothing was changed")
    }
    let resolved = try DesiredStateResolver.resolve(loaded.images, config: config)
    return DesiredState(images: resolved, isComplete: true, repositoryPrefix: config.repositoryPrefix, platformVersion: config.platformVersion,
                        ownership: .files(config))
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
