import MirModel
import MirSpec

/// Validation of ManagedImages read from the cluster, with MirSpec's rules (the same as for files).
enum SpecValidation {
    /// Error messages for `images` (an image and its ancestors).
    static func errors(_ images: [ManagedImage], config: MirConfig) -> [String] {
        SpecLoader.validate(images, config: config).filter { $0.severity == .error }.map(\.description)
    }
}
