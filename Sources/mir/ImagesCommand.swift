import ArgumentParser
import Foundation
import MirModel
import MirCore
import MirBuild
import MirRegistry

struct Images: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show images and their status, observed from the registry and build records.",
                                                    subcommands: [List.self, Get.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List images (phase, tag, repository).")

        @OptionGroup var common: CommonOptions
        @Option(name: .long, help: "Spec files or directories; with them, status compares against what the specs describe (Outdated etc.).")
        var specs: [String] = []
        @Option(name: .long, help: "Only images with this pip library installed, optionally at an exact version: NAME or NAME==VERSION (repeatable; all must match).")
        var pip: [String] = []
        @Option(name: [.short, .customLong("output")], help: "text or json.")
        var output: OutputFormat = .text

        func run() async throws {
            try await runReportingErrors {
                let filters = try pip.map { text -> PipLibraryFilter in
                    guard let f = PipLibraryFilter(parsing: text) else { throw CLIError.usage("--pip takes NAME or NAME==VERSION, got '\(text)'") }
                    return f
                }
                let statuses = try await observeStatuses(common: common, specs: specs)
                    .filter { s in filters.allSatisfy { $0.matches(s.pipLibraries) } }
                switch output {
                case .json: print(prettyJSON(statuses))
                case .text: print(ImagesOutput.table(statuses), terminator: "")
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one image in detail, with its pip libraries.")

        @OptionGroup var common: CommonOptions
        @Argument(help: "The image name.")
        var name: String
        @Option(name: .long, help: "Spec files or directories.")
        var specs: [String] = []
        @Option(name: [.short, .customLong("output")], help: "text or json.")
        var output: OutputFormat = .text

        func run() async throws {
            try await runReportingErrors {
                guard let s = try await observeStatuses(common: common, specs: specs).first(where: { $0.name == name }) else {
                    throw CLIError.failed("image \"\(name)\" not found")
                }
                switch output {
                case .json: print(prettyJSON(s))
                case .text: print(ImagesOutput.detail(s), terminator: "")
                }
            }
        }
    }
}

func observeStatuses(common: CommonOptions, specs: [String]) async throws -> [ImageStatus] {
    let config = try common.loadConfig()
    let opened = try await common.openRegistry()
    return try await opened.using { try await observeStatuses(config: config, registry: opened.registry, records: common.buildRecords(), specs: specs) }
}

func observeStatuses(config: MirConfig, registry: any ImageRegistry, records: any BuildRecordStore, specs: [String]) async throws -> [ImageStatus] {
    if specs.isEmpty {
        let desired = DesiredState(images: [], isComplete: false, repositoryPrefix: config.repositoryPrefix, platformVersion: config.platformVersion)
        let observed = try await Observer(registry: registry, records: records).observe(desired)
        return StatusDeriver.observedStatuses(observed: observed, prefix: config.repositoryPrefix)
    }
    let desired = try desiredState(specs: specs, config: config)
    let observed = try await Observer(registry: registry, records: records).observe(desired)
    return StatusDeriver.statuses(desired: desired, observed: observed)
}

enum ImagesOutput {
    static func table(_ rows: [ImageStatus]) -> String {
        let header = ["NAME", "PHASE", "TAG", "PYTHON", "REPOSITORY", "REASON"]
        let body = rows.map { s in
            [s.name, s.phase.rawValue, s.currentTag ?? s.desiredTag ?? "<none>", s.pythonVersion ?? "", s.repository,
             s.reason + (s.simulated ? " (simulated)" : "")]
        }
        guard !body.isEmpty else { return "No images found.\n" }
        let all = [header] + body
        let widths = (0..<header.count).map { i in all.map { $0[i].count }.max()! }
        return all.map { row in
            row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n") + "\n"
    }

    static func detail(_ s: ImageStatus) -> String {
        var out = ""
        func field(_ k: String, _ v: String?) { out += "\(k):".padding(toLength: 17, withPad: " ", startingAt: 0) + (v ?? "<none>") + "\n" }
        field("Name", s.name)
        field("Phase", s.phase.rawValue + (s.simulated ? " (simulated build)" : ""))
        field("Reason", s.reason)
        field("Message", s.message)
        field("Repository", s.repository)
        field("Repository URI", s.repositoryURI)
        field("Current tag", s.currentTag)
        field("Desired tag", s.desiredTag)
        field("Python", s.pythonVersion)
        field("Platform", s.platformVersion)
        field("Builder", s.builder)
        field("Child images", s.childImages.isEmpty ? nil : s.childImages.joined(separator: ", "))
        out += "Pip libraries:\(s.pipLibraries.isEmpty ? " <none>" : "")\n"
        for lib in s.pipLibraries.sorted(by: { $0.name.lowercased() < $1.name.lowercased() }) { out += "  \(lib.name)==\(lib.version)\n" }
        return out
    }
}
