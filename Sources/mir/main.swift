import ArgumentParser
import MirModel

struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mir", abstract: "Managed Image Registry controller.",
                                                    subcommands: [Dev.self])
}

// Top-level code picks the synchronous `main()`, so dispatch async subcommands by hand.
do {
    var command = try Mir.parseAsRoot()
    if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        try command.run()
    }
} catch {
    Mir.exit(withError: error)
}
