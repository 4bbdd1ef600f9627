import ArgumentParser
import MirModel

struct Mir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mir", abstract: "Managed Image Registry controller.")
}

await Mir.main()
