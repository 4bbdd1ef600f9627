import ArgumentParser
import Foundation
import MirSpec

/// `mir crd`: the ManagedImage CRD generated from mir's model and grammars (the committed
/// Manifests/crd/mir.dev_managedimages.yaml is this output).
struct CRD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crd", abstract: "Print the ManagedImage CustomResourceDefinition generated from mir's model and grammars.")

    @Option(name: [.short, .customLong("output-file")], help: "Write to this file instead of standard output.")
    var outputFile: String?

    @Flag(name: .long, help: "Exit 1 when --output-file differs from the generated CRD (for CI); writes nothing.")
    var check = false

    func run() async throws {
        try await runReportingErrors {
            let text = CRDGenerator.yaml()
            guard let outputFile else {
                if check { throw CLIError.usage("--check needs --output-file") }
                print(text, terminator: "")
                return
            }
            if check {
                let current = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
                guard current == text else { throw CLIError.failed("\(outputFile) is not the generated CRD; run `mir crd -o \(outputFile)`") }
                return
            }
            do { try text.write(toFile: outputFile, atomically: true, encoding: .utf8) } catch {
                throw CLIError.failed("cannot write \(outputFile): \(error.localizedDescription)")
            }
        }
    }
}
