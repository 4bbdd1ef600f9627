import MirModel

/// A user-supplied value that a build context refuses to render, naming the field.
public struct BuildContextError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field, e.g. `spec.pipRequirements[1].versionSpecifier`.
    public var field: String
    public var value: String
    public var reason: String

    public init(field: String, value: String, reason: String) {
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String {
        "render build context: \(field): \(reason) (value \(DockerfileText.jsonString(String(value.prefix(80)))))"
    }
}

/// Renders the build context (a Dockerfile) of one build.
///
/// Every `RUN` is in exec form (a JSON array: no shell ever parses user data), every argument is a JSON
/// string literal in pure ASCII, positional arguments follow `--`, and every user string is checked again
/// against the validator's grammar (`BuildInputGrammar`, i.e. MirModel's `SpecGrammar`) before it is written: a value that fails throws
/// `BuildContextError`. The final step runs a fixed script that saves `pip list --format=json` to
/// `/opt/mir/pip-list.json`.
public enum BuildContextRenderer {
    /// Where the image keeps its pip list report.
    public static let pipListPath = "/opt/mir/pip-list.json"

    /// The fixed Python program of the last build step. It contains no user data.
    public static let pipListScript =
        "import os,subprocess,sys; os.makedirs('/opt/mir',exist_ok=True); "
        + "out=subprocess.run([sys.executable,'-m','pip','list','--format=json','--disable-pip-version-check'],"
        + "check=True,stdout=subprocess.PIPE).stdout; open('\(pipListPath)','wb').write(out)"

    /// The instructions a rendered Dockerfile may contain.
    public static let instructions: Set<String> = ["FROM", "LABEL", "ARG", "RUN", "USER"]

    /// The fixed shell program of the apt step; the packages are its positional parameters.
    public static let aptScript = "set -e; apt-get update; apt-get install -y --no-install-recommends -- \"$@\"; apt-get clean; rm -rf /var/lib/apt/lists/*"
    /// The fixed shell program of the dnf step; the packages are its positional parameters.
    public static let dnfScript = "set -e; dnf install -y --setopt=install_weak_deps=False -- \"$@\"; dnf clean all; rm -rf /var/cache/dnf"

    public static func dockerfile(for request: BuildRequest) throws(BuildContextError) -> String {
        let image = request.image
        let spec = image.image.spec
        try check(request.baseImageReference, "baseImageReference", BuildInputGrammar.isImageReference, "is not an image reference")
        try check(image.name, "metadata.name", BuildInputGrammar.isDNSLabel, "is not a DNS-1123 label")
        try check(image.tag, "tag", BuildInputGrammar.isImageTag, "is not an image tag")
        try check(request.platformVersion, "platformVersion", BuildInputGrammar.isPlatformVersion,
                  "must be 1-63 of [A-Za-z0-9._-], starting and ending alphanumeric")

        var lines: [String] = []
        lines.append("FROM \(request.baseImageReference)")
        lines.append("LABEL " + [
            ("dev.mir.image", image.name), ("dev.mir.tag", image.tag), ("dev.mir.platform-version", request.platformVersion),
        ].map { "\($0.0)=\(DockerfileText.jsonString($0.1))" }.joined(separator: " "))

        // OS packages, grouped by type in declaration order.
        var apt: [String] = [], rpm: [String] = []
        for (index, requirement) in spec.packageRequirements.enumerated() {
            let type = requirement.type ?? image.packageType
            let field = "spec.packageRequirements[\(index)]"
            try check(requirement.name, field + ".name", { BuildInputGrammar.isPackageName($0, type: type) },
                      "is not a valid \(type.rawValue) package name")
            var argument = requirement.name
            if let version = requirement.versionSpecifier {
                try check(version, field + ".versionSpecifier", { BuildInputGrammar.isPackageVersion($0, type: type) },
                          "is not a valid \(type.rawValue) package version")
                argument += (type == .apt ? "=" : "-") + version
            }
            if type == .apt { apt.append(argument) } else { rpm.append(argument) }
        }
        // OS packages need root: a base that runs as another user switches to root for them and back afterwards.
        // Each package manager runs in one RUN that also removes its caches (apt's lists), so no layer keeps them.
        // The package names reach `sh -c` as positional parameters ("$@"), never as shell text.
        let osPackages = !apt.isEmpty || !rpm.isEmpty
        if let user = image.baseUser {
            try check(user, "baseImages.user", SpecGrammar.isImageUser, "is not a user name or uid")
        }
        if osPackages, image.baseUser != nil { lines.append("USER root") }
        if !apt.isEmpty {
            lines.append("ARG DEBIAN_FRONTEND=noninteractive")
            lines.append("RUN " + DockerfileText.execForm(["sh", "-c", aptScript, "apt-install"] + apt))
        }
        if !rpm.isEmpty {
            lines.append("RUN " + DockerfileText.execForm(["sh", "-c", dnfScript, "dnf-install"] + rpm))
        }
        if osPackages, let user = image.baseUser { lines.append("USER \(user)") }

        let pipArguments = try pipRequirementArguments(spec.pipRequirements)
        if !pipArguments.isEmpty {
            lines.append("RUN " + DockerfileText.execForm(
                ["python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--"] + pipArguments))
        }
        // The report is saved under /opt/mir, which only root may write: a non-root base switches for this step too.
        if image.baseUser != nil { lines.append("USER root") }
        lines.append("RUN " + DockerfileText.execForm(["python", "-c", pipListScript]))
        if let user = image.baseUser { lines.append("USER \(user)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The pip command-line arguments for requirements: `name` followed by the specifier set without blanks
    /// (a bare version becomes `==version`). Throws when a name or a specifier fails its grammar.
    public static func pipRequirementArguments(_ requirements: [PipRequirement]) throws(BuildContextError) -> [String] {
        var arguments: [String] = []
        for (index, requirement) in requirements.enumerated() {
            let field = "spec.pipRequirements[\(index)]"
            try check(requirement.name, field + ".name", BuildInputGrammar.isPipProjectName, "is not a PEP 508 project name")
            var argument = requirement.name
            if let specifier = requirement.versionSpecifier {
                guard let clauses = BuildInputGrammar.parsePipSpecifier(specifier) else {
                    throw BuildContextError(field: field + ".versionSpecifier", value: specifier,
                                            reason: "is not a PEP 440 version specifier set")
                }
                argument += clauses.map(\.description).joined(separator: ",")
            }
            arguments.append(argument)
        }
        return arguments
    }

    static func check(_ value: String, _ field: String, _ isValid: (String) -> Bool, _ reason: String) throws(BuildContextError) {
        guard isValid(value) else { throw BuildContextError(field: field, value: value, reason: reason) }
    }
}

/// Text helpers for Dockerfiles.
public enum DockerfileText {
    /// A JSON string literal in pure ASCII: `"` and `\` escaped, every control character and every non-ASCII
    /// scalar (including U+2028/U+2029) as `\uXXXX` (UTF-16, surrogate pairs above U+FFFF).
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }

    /// A JSON array of string literals, as exec-form instructions take it: `["a","b"]`.
    public static func execForm(_ arguments: [String]) -> String {
        "[" + arguments.map(jsonString).joined(separator: ",") + "]"
    }
}
