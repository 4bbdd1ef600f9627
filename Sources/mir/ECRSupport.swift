extension CommonOptions {
    func openECR() async throws -> OpenedRegistry {
        throw CLIError.usage("--registry ecr is not available in this build")
    }
}
