import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The Python base images the real-build tests build FROM, made once per machine from Debian's packages (no
/// image is pulled from the internet):
///
/// - `base`: `debootstrap --variant=minbase` of bookworm with python3, python3-pip and python3-venv from the
///   machine's own apt mirror; `EXTERNALLY-MANAGED` removed (as in the official python images), the host's CA
///   bundle copied in (so pip inside a build trusts the same TLS chain as the host), `python` → `python3`.
/// - `nonRoot`: `base` with a virtual environment in /opt/venv owned by uid 1001, first on PATH, and
///   `USER 1001` — a stand-in for base images that run as a non-root user (Red Hat UBI's python images).
/// - `externallyManaged`: `base` with `EXTERNALLY-MANAGED` put back: a Python that refuses pip installs (PEP 668).
///
/// The debootstrapped root filesystem is cached under `MIR_TEST_CACHE` (default `~/.cache/mir-tests`) and the
/// images in buildah's storage, both under a key of everything that goes into them, so a change to the fixture
/// (or to the mirror or the CA bundle) makes them again. A file lock makes concurrent test processes wait for one
/// another; within a process one task makes them.
public enum PythonBaseImage {
    /// Bump when the recipe changes.
    static let recipeVersion = "mir-python-base-v1"
    static let suite = "bookworm"
    static let packages = ["python3", "python3-pip", "python3-venv"]

    /// Where the tests' catalog finds them in a registry.
    public struct Names: Sendable {
        public var base: String
        public var nonRoot: String
        public var externallyManaged: String
    }

    /// The repository paths (and tag) in the registry the images are pushed to.
    public static let baseRepository = "library/python", nonRootRepository = "library/python-nonroot",
                      externallyManagedRepository = "library/python-pep668", tag = "3.11-slim-bookworm"
    /// The uid the non-root variant runs as.
    public static let nonRootUser = "1001"

    /// Makes the images (once) and pushes them to `registry`; returns the full references.
    public static func push(to registry: DistributionRegistry) async throws -> Names {
        let local = try await maker.ensure()
        let names = Names(base: "\(registry.host)/\(baseRepository):\(tag)",
                          nonRoot: "\(registry.host)/\(nonRootRepository):\(tag)",
                          externallyManaged: "\(registry.host)/\(externallyManagedRepository):\(tag)")
        for (source, destination) in [(local.base, names.base), (local.nonRoot, names.nonRoot), (local.externallyManaged, names.externallyManaged)] {
            try await Shell.run(local.buildah, ["push", "--tls-verify=false", "--quiet", source, "docker://" + destination], what: "push \(destination)")
        }
        return names
    }

    static let maker = Maker()

    struct LocalImages: Sendable {
        var buildah: String
        var base: String
        var nonRoot: String
        var externallyManaged: String
    }

    actor Maker {
        private var made: Task<LocalImages, Error>?
        func ensure() async throws -> LocalImages {
            if let made, let images = try? await made.value { return images }
            let task = Task { try await PythonBaseImage.make() }
            made = task
            return try await task.value
        }
    }

    static let nonRootDockerfile = """
        RUN ["python","-m","venv","/opt/venv"]
        RUN ["chown","-R","\(nonRootUser):0","/opt/venv"]
        ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        USER \(nonRootUser)
        """
    static let externallyManagedDockerfile = """
        RUN ["python","-c","import os,sysconfig; open(os.path.join(sysconfig.get_path('stdlib'),'EXTERNALLY-MANAGED'),'w').write('[externally-managed]\\\\nError=This Python is managed by the OS (mir test fixture).\\\\n')"]
        """

    static func make() async throws -> LocalImages {
        let buildah = try await ToolLocator.require("buildah")
        let debootstrap = try await ToolLocator.require("debootstrap")
        let mirror = try AptSources.mirror(suite: suite)
        let caBundle = "/etc/ssl/certs/ca-certificates.crt"
        let caDigest = (FileManager.default.contents(atPath: caBundle)).map { hex(SHA256.hash(data: $0)) } ?? "none"
        let key = String(hex(SHA256.hash(data: Data([recipeVersion, suite, packages.joined(separator: ","), mirror, caDigest].joined(separator: "\n").utf8))).prefix(16))
        let baseName = "localhost/mir-test/python-base:\(key)"
        func variantName(_ stem: String, _ dockerfile: String) -> String {
            "localhost/mir-test/\(stem):" + String(hex(SHA256.hash(data: Data((key + dockerfile).utf8))).prefix(16))
        }
        let images = LocalImages(buildah: buildah, base: baseName,
                                 nonRoot: variantName("python-nonroot", nonRootDockerfile),
                                 externallyManaged: variantName("python-pep668", externallyManagedDockerfile))

        let cache = URL(fileURLWithPath: ProcessInfo.processInfo.environment["MIR_TEST_CACHE"]
                        ?? (NSHomeDirectory() + "/.cache/mir-tests"))
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        return try await FileLock.holding(cache.appendingPathComponent("python-base.lock").path) {
            if try await !exists(buildah, baseName) {
                let rootfs = cache.appendingPathComponent("python-base-\(key)")
                let marker = rootfs.appendingPathComponent(".complete")
                if !FileManager.default.fileExists(atPath: marker.path) {
                    try? FileManager.default.removeItem(at: rootfs)
                    let partial = cache.appendingPathComponent("python-base-\(key).partial")
                    try? FileManager.default.removeItem(at: partial)
                    try await Shell.run(debootstrap, ["--variant=minbase", "--include=" + packages.joined(separator: ","), suite, partial.path, mirror],
                                        what: "debootstrap \(suite) from \(mirror)")
                    let prepare = """
                        set -eu
                        r=$1
                        rm -f "$r"/usr/lib/python3*/EXTERNALLY-MANAGED
                        mkdir -p "$r/etc/ssl/certs"
                        cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
                        ln -sf python3 "$r/usr/bin/python"
                        rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
                        """
                    try await Shell.run("/bin/sh", ["-c", prepare, "prepare", partial.path], what: "prepare the root filesystem")
                    try FileManager.default.moveItem(at: partial, to: rootfs)
                    _ = FileManager.default.createFile(atPath: marker.path, contents: Data())
                }
                let commit = """
                    set -eu
                    buildah=$1; rootfs=$2; name=$3
                    c=$("$buildah" from scratch)
                    trap '"$buildah" rm "$c" >/dev/null 2>&1 || true' EXIT
                    m=$("$buildah" mount "$c")
                    cp -a "$rootfs"/. "$m"/
                    rm -f "$m/.complete"
                    "$buildah" umount "$c" >/dev/null
                    "$buildah" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --cmd python3 "$c"
                    "$buildah" commit --quiet "$c" "$name" >/dev/null
                    """
                try await Shell.run("/bin/sh", ["-c", commit, "commit", buildah, rootfs.path, baseName], what: "commit \(baseName)")
            }
            for (name, body) in [(images.nonRoot, nonRootDockerfile), (images.externallyManaged, externallyManagedDockerfile)] {
                guard try await !exists(buildah, name) else { continue }
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-variant-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                try Data("FROM \(baseName)\n\(body)\n".utf8).write(to: folder.appendingPathComponent("Dockerfile"))
                try await Shell.run(buildah, ["bud", "--isolation", "chroot", "--pull=false", "--quiet", "--tag", name,
                                              "--file", folder.appendingPathComponent("Dockerfile").path, folder.path], what: "build \(name)")
            }
            return images
        }
    }

    static func exists(_ buildah: String, _ name: String) async throws -> Bool {
        try await ProcessRunner.run(URL(fileURLWithPath: buildah), ["inspect", "--type", "image", name]).status == 0
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// The machine's Debian mirror, read from its apt sources (deb822 `*.sources` and one-line `*.list` files): the URI
/// of the first `deb` source that offers the suite. Never a hard-coded host.
public enum AptSources {
    public struct NotFound: Error, CustomStringConvertible {
        public var suite: String
        public var description: String { "no apt source in /etc/apt offers the suite \(suite); cannot debootstrap" }
    }

    public static func mirror(suite: String, root: String = "/etc/apt") throws -> String {
        var files = [root + "/sources.list"]
        let directory = root + "/sources.list.d"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            where name.hasSuffix(".sources") || name.hasSuffix(".list") {
            files.append(directory + "/" + name)
        }
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            if let uri = file.hasSuffix(".sources") ? fromDeb822(text, suite: suite) : fromOneLine(text, suite: suite) { return uri }
        }
        throw NotFound(suite: suite)
    }

    /// Deb822: stanzas separated by blank lines, `Types:`, `URIs:`, `Suites:`, `Enabled:`.
    static func fromDeb822(_ text: String, suite: String) -> String? {
        for stanza in text.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix("#") {
                guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" ") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let types = (fields["types"] ?? "").split(separator: " ")
            let suites = (fields["suites"] ?? "").split(separator: " ")
            guard types.contains("deb"), suites.contains(Substring(suite)), fields["enabled"]?.lowercased() != "no",
                  let uri = fields["uris"]?.split(separator: " ").first else { continue }
            return String(uri)
        }
        return nil
    }

    /// One-line: `deb [options] URI SUITE COMPONENT…`.
    static func fromOneLine(_ text: String, suite: String) -> String? {
        for line in text.split(separator: "\n") {
            var words = line.split(separator: " ").map(String.init)
            guard words.first == "deb" else { continue }
            words.removeFirst()
            if words.first?.hasPrefix("[") == true {
                while let word = words.first, !word.hasSuffix("]") { words.removeFirst() }
                if !words.isEmpty { words.removeFirst() }
            }
            guard words.count >= 2, words[1] == suite else { continue }
            return words[0]
        }
        return nil
    }
}

/// Runs a command for the fixture; a failure throws with the command's output.
enum Shell {
    struct Failure: Error, CustomStringConvertible {
        var what: String
        var output: String
        var description: String { "\(what) failed: \(output.suffix(2000))" }
    }

    static func run(_ executable: String, _ arguments: [String], what: String) async throws {
        let result = try await ProcessRunner.run(URL(fileURLWithPath: executable), arguments)
        guard result.status == 0 else { throw Failure(what: what, output: result.output) }
    }
}

/// An exclusive `flock(2)` on a file, held while `body` runs; waiting happens on a thread of its own.
public enum FileLock {
    public static func holding<T: Sendable>(_ path: String, _ body: () async throws -> T) async throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Shell.Failure(what: "lock \(path)", output: String(cString: strerror(errno))) }
        defer { close(fd) }
        let locked: Bool = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: flock(fd, LOCK_EX) == 0) }.start()
        }
        guard locked else { throw Shell.Failure(what: "lock \(path)", output: String(cString: strerror(errno))) }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
