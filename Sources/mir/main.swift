import ArgumentParser
import MirModel

struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mir", abstract: "Managed Image Registry controller.",
                                                    subcommands: [Dev.self])
}

/// Top-level code resolves `Mir.main()` to the synchronous overload; inside an async function the async one wins,
/// so async subcommands (`mir dev`) run.
func runMir() async {
    await Mir.main()
}

await runMir()
