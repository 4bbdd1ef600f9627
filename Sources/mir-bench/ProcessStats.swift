import AsyncHTTPClient
import Foundation
import NIOCore

/// CPU time and peak RSS of a child process, from Linux's /proc (the kernel's own accounting).
struct ProcessStats {
    /// User + system CPU seconds.
    var cpuSeconds: Double
    /// Peak resident set size (VmHWM), bytes.
    var peakRSS: Int
    /// Current resident set size (VmRSS), bytes.
    var rss: Int

    static func of(_ pid: Int32) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kilobytes(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            }
            return 0
        }
        return ProcessStats(cpuSeconds: (utime + stime) / ticks, peakRSS: kilobytes("VmHWM") * 1024, rss: kilobytes("VmRSS") * 1024)
    }
}

/// Prometheus text exposition, summed per metric name (over all label sets) or read for one series.
struct Exposition {
    var text: String

    static func fetch(_ url: String) async throws -> Exposition {
        Exposition(text: try await httpGet(url).body)
    }

    /// The sum of every sample of `name` (any labels), optionally only the series whose labels contain `containing`.
    func sum(_ name: String, containing: String? = nil) -> Double {
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " ") else { continue }
            if let containing, !line.contains(containing) { continue }
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += value }
        }
        return total
    }

    /// Per-label-set values of `name`, keyed by the value of `label`.
    func byLabel(_ name: String, _ label: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let range = line.range(of: label + "=\""), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let rest = line[range.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            values[String(rest[..<end]), default: 0] += value
        }
        return values
    }
}

func httpGet(_ url: String) async throws -> (status: Int, body: String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 64 << 20)
    return (Int(response.status.code), String(buffer: body))
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
