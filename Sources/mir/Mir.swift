import ArgumentParser

@main
struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mir",
        abstract: "Managed Image Registry: keeps Python runtime images built, current and tidy in AWS ECR.",
        subcommands: [Validate.self, PlanCommand.self, Apply.self, Images.self, Version.self]
    )
}
