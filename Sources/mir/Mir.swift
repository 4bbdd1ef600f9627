import Foundation
import ArgumentParser

@main
struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mir",
        abstract: "Managed Image Registry: keeps Python runtime images built, current and tidy in AWS ECR.",
        subcommands: [Validate.self, PlanCommand.self, Apply.self, Images.self, Run.self, Dev.self, Version.self]
    )

    /// Parses and runs a command. Usage errors exit 2 (ArgumentParser would use 64); help and version exit 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                printError("Run 'mir help' for usage.")
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
