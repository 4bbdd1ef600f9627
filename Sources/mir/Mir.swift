import Foundation
import ArgumentParser

@main
struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mir",
        abstract: "Managed Image Registry: keeps Python runtime images built, current and tidy in AWS ECR.",
        subcommands: [Validate.self, CRD.self, Admission.self, PlanCommand.self, Apply.self, Images.self, Run.self, Dev.self, Version.self]
    )

    /// Parses and runs a command. Usage errors exit 2 (ArgumentParser would use 64); help and version exit 0.
    static func main() async {
        ParentWatch.startIfRequested()
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

/// `MIR_EXIT_WITH_PARENT=1`: when the process that started mir goes away, mir stops as if sent SIGTERM (gracefully;
/// forcibly 10 s later). For supervisors and test harnesses, so a long-running `mir run` or `mir dev` never outlives
/// whoever started it.
enum ParentWatch {
    static func startIfRequested() {
        guard ProcessInfo.processInfo.environment["MIR_EXIT_WITH_PARENT"] == "1" else { return }
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.25) }
            kill(getpid(), SIGTERM)
            Thread.sleep(forTimeInterval: 10)
            Foundation.exit(1)
        }
    }
}
