import Foundation

/// The real kubectl (installed by scripts/setup) with a given kubeconfig; KUBECACHEDIR and HOME point at `home`,
/// and KUBECONFIG from the environment is ignored.
public final class Kubectl: Sendable {
    public let kubeconfig: URL
    public let home: URL

    public init(kubeconfig: URL, home: URL) {
        self.kubeconfig = kubeconfig
        self.home = home
    }

    /// kubectl on PATH, if any.
    public static var executable: String? { ProcessRunner.which("kubectl") }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECACHEDIR"] = home.appendingPathComponent("cache").path
        environment["HOME"] = home.path
        environment["KUBECONFIG"] = nil
        return environment
    }

    /// Starts `kubectl --kubeconfig … arguments` in the background (`get -w`, `wait`, a blocking `delete`).
    public func start(_ arguments: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(URL(fileURLWithPath: Self.executable ?? "/usr/bin/kubectl"), ["--kubeconfig", kubeconfig.path] + arguments,
                              environment: environment, outputDirectory: home)
    }

    /// Runs kubectl to completion.
    public func run(_ arguments: String...) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(URL(fileURLWithPath: Self.executable ?? "/usr/bin/kubectl"), ["--kubeconfig", kubeconfig.path] + arguments,
                                    environment: environment)
    }
}
