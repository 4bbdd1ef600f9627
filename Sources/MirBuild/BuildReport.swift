import Foundation
import MirModel

/// Why a build report (a `report` container's termination message) could not be read.
public struct BuildReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "decode build report: \(message)" }
}

/// What the controller could make of a build's report.
public enum BuildReportState: Sendable, Hashable {
    /// The whole pip list.
    case complete
    /// Only the first libraries fitted in the termination message; `total` were installed.
    case truncated(total: Int)
    /// No report, or one that cannot be decoded: the pip list is unknown (never shown as an empty list).
    case unreadable(String)
}

/// The build report: the `pip list` of a freshly built image, written by the Job's `report` container to its
/// termination message (at most 4096 bytes) and read by the controller.
///
/// Format: `z:` followed by base64 of a zlib stream of the JSON document
/// `{"libraries":[{"name":…,"version":…},…],"total":N,"truncated":false}`. When the full list does not fit,
/// the longest prefix that fits is written with `"truncated":true` (`total` keeps the full count).
public enum BuildReport {
    /// Kubernetes truncates every termination message to 4096 bytes.
    public static let maxMessageBytes = 4096
    public static let prefix = "z:"

    /// The fixed Python program the `report` container runs (no user data). Arguments, both optional:
    /// the output path (default `/dev/termination-log`) and a JSON file to report instead of running pip.
    /// When `pip list` fails it falls back to the list saved at build time (`/opt/mir/pip-list.json`).
    public static let script = """
        import base64,json,subprocess,sys,zlib
        LIMIT=\(maxMessageBytes)
        out=sys.argv[1] if len(sys.argv)>1 else '/dev/termination-log'
        try:
            if len(sys.argv)>2:
                raw=open(sys.argv[2],'rb').read()
            else:
                raw=subprocess.run([sys.executable,'-m','pip','list','--format=json','--disable-pip-version-check'],check=True,stdout=subprocess.PIPE).stdout
        except Exception:
            raw=open('\(BuildContextRenderer.pipListPath)','rb').read()
        libs=[{'name':str(d['name']),'version':str(d['version'])} for d in json.loads(raw)]
        def enc(n):
            doc={'libraries':libs[:n],'total':len(libs),'truncated':n<len(libs)}
            return '\(prefix)'+base64.b64encode(zlib.compress(json.dumps(doc,separators=(',',':'),sort_keys=True).encode(),9)).decode()
        msg=enc(len(libs))
        if len(msg)>LIMIT:
            lo,hi=0,len(libs)
            while lo<hi:
                mid=(lo+hi+1)//2
                if len(enc(mid))<=LIMIT: lo=mid
                else: hi=mid-1
            msg=enc(lo)
        open(out,'w').write(msg)
        """

    private struct Document: Codable {
        var libraries: [PipLibrary]
        var total: Int?
        var truncated: Bool
    }

    /// Reads a termination message. Also accepts a plain `pip list --format=json` array (not truncated).
    /// `total` is the number of libraries installed (more than `libraries.count` when the list was cut).
    public static func decode(terminationMessage: String) throws(BuildReportError) -> (libraries: [PipLibrary], truncated: Bool, total: Int) {
        let text = terminationMessage.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix(prefix) {
            guard let compressed = Data(base64Encoded: String(text.dropFirst(prefix.count))) else {
                throw BuildReportError("the text after \(prefix) is not base64")
            }
            let json: [UInt8]
            do {
                json = try Zlib.inflate([UInt8](compressed), maxOutput: 4 << 20)
            } catch {
                throw BuildReportError("the data is not a valid zlib stream (\(error))")
            }
            guard let document = try? JSONDecoder().decode(Document.self, from: Data(json)) else {
                throw BuildReportError("the decompressed data is not a report document")
            }
            let total = max(document.total ?? document.libraries.count, document.libraries.count)
            let cut = document.truncated || total > document.libraries.count
            return (document.libraries, cut, total)
        }
        if text.hasPrefix("[") {
            guard let libraries = try? JSONDecoder().decode([PipLibrary].self, from: Data(text.utf8)) else {
                throw BuildReportError("the message is not a pip list JSON array")
            }
            return (libraries, false, libraries.count)
        }
        throw BuildReportError(text.isEmpty ? "the message is empty" : "unknown format (expected \(prefix)…)")
    }

    /// The image digest kaniko wrote to its termination message (`--digest-file=/dev/termination-log`):
    /// `sha256:` and 64 lowercase hex digits, or nil when the message is something else (e.g. a log tail).
    public static func imageDigest(kanikoTerminationMessage message: String) -> String? {
        let text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = text.utf8.dropFirst(7)
        guard hex.count == 64, hex.allSatisfy({ BuildInputGrammar.isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        return text
    }

    /// Writes a report in the same format (stored, uncompressed zlib blocks), cutting the list to the longest
    /// prefix that fits in `limit` bytes. Used by simulations and tests.
    public static func encode(libraries: [PipLibrary], limit: Int = maxMessageBytes) -> String {
        func encoded(_ count: Int) -> String {
            let document = Document(libraries: Array(libraries.prefix(count)), total: libraries.count,
                                    truncated: count < libraries.count)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let json = (try? encoder.encode(document)) ?? Data("{\"libraries\":[],\"truncated\":true}".utf8)
            return prefix + Data(Zlib.deflateStored([UInt8](json))).base64EncodedString()
        }
        let full = encoded(libraries.count)
        guard full.utf8.count > limit else { return full }
        var low = 0, high = libraries.count
        while low < high {
            let middle = (low + high + 1) / 2
            if encoded(middle).utf8.count <= limit { low = middle } else { high = middle - 1 }
        }
        return encoded(low)
    }
}
