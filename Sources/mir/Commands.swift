import ArgumentParser
import Foundation
import MirModel
import MirRegistry
import MirSpec
import MirBuild
import MirCore
import MirBuildEngine

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check ManagedImage specs (files or directories) and the config.")

    @Argument(help: "Spec files or directories (recursive *.yaml / *.yml).")
    var paths: [String]

    @Option(name: .long, help: "The mir config file.")
    var config: String?

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, github
    }

    @Option(name: [.short, .customLong("output")],
            help: "text (compiler-style, on stderr), json (a report on stdout) or github (GitHub Actions annotations on stdout).")
    var output: Format = .text

    func run() async throws {
        try await runReportingErrors {
            guard !paths.isEmpty else { throw CLIError.usage("give at least one spec file or directory") }
            let config = try loadConfigFile(self.config)
            let loaded: SpecLoadResult
            switch output {
            case .text:
                loaded = loadSpecs(paths, config: config)
            case .json:
                loaded = SpecLoader.load(paths: paths, config: config)
                print(DiagnosticOutput.json(loaded))
            case .github:
                loaded = SpecLoader.load(paths: paths, config: config)
                let lines = DiagnosticOutput.github(loaded.diagnostics)
                if !lines.isEmpty { print(lines) }
            }
            guard loaded.isComplete else {
                throw CLIError.failed("\(loaded.errors.count) error(s) in \(loaded.files.count) file(s)")
            }
            if output == .text { print("\(loaded.images.count) image(s) valid in \(loaded.files.count) file(s)") }
        }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show what apply would do. Changes nothing.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var planning: PlanningOptions

    @Option(name: [.short, .customLong("output")], help: "text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        try await runReportingErrors {
            let session = try await Session.open(common: common, specs: planning.specs)
            let (plan, _) = try await session.opened.using { try await session.plan(options: planning.planOptions(config: session.config)) }
            switch output {
            case .text:
                print(PlanOutput.text(plan, registry: session.opened.registry.displayName, prefix: session.config.repositoryPrefix,
                                      images: session.desired.images.count), terminator: "")
            case .json:
                print(PlanOutput.json(plan).prettyText)
            }
        }
    }
}

/// Flags that shape a plan (plan and apply).
struct PlanningOptions: ParsableArguments {
    @Option(name: .long, help: "Spec files or directories.")
    var specs: [String] = []

    @Option(name: .customLong("max-deletions"), help: "At most this many repository deletions per pass.")
    var maxDeletions: Int = 5

    @Option(name: .long, help: "Adopt the existing, un-owned repository of this image (repeatable).")
    var adopt: [String] = []

    @Flag(name: .customLong("retry-failed"), help: "Build again a tag whose last build failed.")
    var retryFailed = false

    @Flag(name: .customLong("allow-empty"), help: "Let an empty desired state delete repositories (config allowEmpty).")
    var allowEmpty = false

    func planOptions(config: MirConfig) -> PlanOptions {
        PlanOptions(maxDeletions: maxDeletions, adopt: Set(adopt), forceDelete: config.forceDeleteRepositories, retryFailedBuilds: retryFailed,
                    allowEmpty: allowEmpty || config.allowEmpty, maxDeletionFraction: config.maxDeletionFraction)
    }

    func validate() throws {
        guard !specs.isEmpty else { throw ValidationError("--specs PATH is required") }
        guard maxDeletions >= 0 else { throw ValidationError("--max-deletions must be 0 or more") }
    }
}

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make the registry match the specs: create repositories, keep lifecycle policies, start builds, delete what was removed.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var planning: PlanningOptions

    @Option(name: .long, help: "render (write Dockerfile and kaniko Job under .mir/builds; default), buildah|podman|docker (build, push and report for real with that engine), local (the config's builder.engine, else the first of buildah, podman, docker found) or simulate (a simulation for demos and tests).")
    var builder: BuilderChoice = .render

    @Option(name: .customLong("builds-dir"), help: "Where builds keep their Dockerfile, Job manifest and build.log.")
    var buildsDir: String = ".mir/builds"

    @Flag(name: .long, help: "Apply without asking.")
    var yes = false

    @Flag(name: .long, help: "Print registry API calls by operation when done.")
    var stats = false

    @Option(name: .customLong("lock-timeout"), help: "How long to wait for another mir apply on the same state directory or registry to finish (e.g. 30s; 0: fail at once).")
    var lockTimeout: DurationArgument = DurationArgument(.zero)

    func run() async throws {
        try await runReportingErrors {
            // One apply at a time per state directory and per local registry directory (flock; a killed holder
            // releases it). Held until this process exits.
            var locks: [ApplyLock] = []
            var directories = [common.state]
            if let registryDirectory = common.localRegistryDirectory { directories.append(registryDirectory) }
            for directory in directories {
                do {
                    locks.append(try await ApplyLock.acquire(directory: directory, timeout: lockTimeout.value))
                } catch let busy as ApplyLockBusy {
                    throw CLIError.failed(busy.description)
                }
            }
            // Temporary files of killed runs (atomic writes cut short) are removed while holding the lock.
            AtomicFile.removeLeftovers(under: common.state)
            AtomicFile.removeLeftovers(under: buildsDir)
            let session = try await Session.open(common: common, specs: planning.specs)
            try await session.opened.using { try await apply(session) }
            withExtendedLifetime(locks) {}
        }
    }

    func apply(_ session: Session) async throws {
            let (plan, observed) = try await session.plan(options: planning.planOptions(config: session.config))
            let simulated = builder == .simulate
            print(PlanOutput.text(plan, registry: session.opened.registry.displayName, prefix: session.config.repositoryPrefix,
                                  images: session.desired.images.count, simulatedBuilder: simulated), terminator: "")
            if simulated {
                print("\nNote: the simulate builder is a SIMULATION: images it records are not real builds.")
            }
            // A repository that could not be read was skipped: the pass did not converge (exit 1), though the rest applied.
            let unread = plan.warnings.contains { if case .readFailed = $0 { return true }; return false }
            guard !plan.isEmpty else {
                if stats { printStats(session.opened.registry.counter) }
                if unread { throw ExitCode(1) }
                return
            }
            if !yes {
                guard isatty(0) == 1 else { throw CLIError.failed("the plan has changes; re-run with --yes to apply them non-interactively") }
                print("\nApply these changes? Only 'yes' is accepted: ", terminator: "")
                guard readLine() == "yes" else { throw CLIError.failed("apply cancelled") }
            }
            print("")
            let imageBuilder: any ImageBuilder
            switch builder {
            case .render: imageBuilder = RenderBuilder(outputDirectory: buildsDir, settings: session.config.builder)
            case .simulate:
                imageBuilder = SimulateBuilder(registry: session.opened.registry, records: session.records, settings: session.config.builder)
            case .buildah, .podman, .docker, .local:
                let engine = try builder.engine(config: session.config)
                print("Building with \(engine.kind.rawValue) (\(engine.executable)); logs under \(buildsDir)/<image>/<tag>/build.log")
                imageBuilder = EngineBuilder(engine: engine, buildsDirectory: buildsDir, records: session.records,
                                             credentials: session.opened.credentials, progress: { line in print("  " + line); fflush(nil) })
            }
            let applier = Applier(registry: session.opened.registry, builder: imageBuilder, records: session.records,
                                  maxConcurrentBuilds: session.config.maxConcurrentBuilds)
            fflush(nil)
            let report = await applier.apply(plan, desired: session.desired, observed: observed) { p in
                print(ApplyOutput.progress(p))
                fflush(nil)
            }
            let failures = report.failures
            print("\nApply complete: \(report.succeededCount) of \(plan.actions.count) action(s) done, \(failures.count) failed.")
            if stats { printStats(session.opened.registry.counter) }
            if !failures.isEmpty || unread { throw ExitCode(1) }
    }

    func printStats(_ counter: CallCounter) {
        print("\nRegistry calls (\(counter.total) in all):")
        for (op, n) in counter.calls.sorted(by: { $0.key < $1.key }) { print("  \(op): \(n)") }
        for (op, n) in counter.errors.sorted(by: { $0.key < $1.key }) { print("  errors \(op): \(n)") }
    }
}

enum BuilderChoice: String, ExpressibleByArgument, CaseIterable {
    case render, simulate, buildah, podman, docker, local

    /// The build engine for the engine choices: the named one, or (`local`) the config's `builder.engine`, else the
    /// first found of buildah, podman, docker.
    func engine(config: MirConfig) throws -> ContainerEngine {
        let kind: EngineKind?
        switch self {
        case .buildah: kind = .buildah
        case .podman: kind = .podman
        case .docker: kind = .docker
        default: kind = config.builder.engine.flatMap(EngineKind.init(rawValue:))
        }
        do { return try ContainerEngine.locate(kind) } catch { throw CLIError.failed(error.description) }
    }
}

enum ApplyOutput {
    static func progress(_ p: ApplyProgress) -> String {
        let head = "[\(p.index)/\(p.total)] \(PlanOutput.symbol(p.action)) \(PlanOutput.line(p.action))"
        switch p.outcome {
        case .succeeded(let detail): return "\(head): done\(detail.map { " (\($0))" } ?? "")"
        case .failed(let m): return "\(head): FAILED: \(m)"
        case .skipped(let why): return "\(head): skipped: \(why)"
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print mir's version.")
    func run() { print(BuildInfo.line) }
}

/// Config, specs, registry and build records for one command.
struct Session {
    var config: MirConfig
    var desired: DesiredState
    var opened: OpenedRegistry
    var records: any BuildRecordStore

    static func open(common: CommonOptions, specs: [String]) async throws -> Session {
        let config = try common.loadConfig()
        let desired = try desiredState(specs: specs, config: config)
        let opened = try await common.openRegistry()
        return Session(config: config, desired: desired, opened: opened, records: common.buildRecords())
    }

    func plan(options: PlanOptions) async throws -> (Plan, ObservedState) {
        let observed = try await Observer(registry: opened.registry, records: records).observe(desired)
        return (Planner.plan(desired: desired, observed: observed, options: options), observed)
    }
}

extension JSONValue {
    /// Indented JSON with sorted keys.
    var prettyText: String { prettyJSON(self) }
}
