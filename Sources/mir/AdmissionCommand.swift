import ArgumentParser
import Foundation
import MirSpec

/// `mir admission`: the ValidatingAdmissionPolicy, its binding and the params ConfigMap generated from mir's config
/// (the committed Manifests/admission/mir-catalog.yaml is this output for Manifests/controller/mir.yaml).
struct Admission: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admission",
        abstract: "Print the ValidatingAdmissionPolicy (with its binding and params ConfigMap) that checks specs against mir's config.")

    @Option(name: .long, help: "The mir config file (defaults apply without one).")
    var config: String?

    @Option(name: [.short, .customLong("output-file")], help: "Write to this file instead of standard output.")
    var outputFile: String?

    @Flag(name: .long, help: "Exit 1 when --output-file differs from the generated policy (for CI); writes nothing.")
    var check = false

    func run() async throws {
        try await runReportingErrors {
            let loaded = try loadConfigFile(config)
            let text: String
            do { text = try AdmissionPolicyGenerator.yaml(config: loaded, configFile: config) } catch {
                throw CLIError.failed("\(config ?? "the default config"): \(error)")
            }
            guard let outputFile else {
                if check { throw CLIError.usage("--check needs --output-file") }
                print(text, terminator: "")
                return
            }
            if check {
                let current = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
                guard current == text else {
                    throw CLIError.failed("\(outputFile) is not the generated admission policy; run `mir admission\(config.map { " --config \($0)" } ?? "") -o \(outputFile)`")
                }
                return
            }
            do { try text.write(toFile: outputFile, atomically: true, encoding: .utf8) } catch {
                throw CLIError.failed("cannot write \(outputFile): \(error.localizedDescription)")
            }
        }
    }
}
