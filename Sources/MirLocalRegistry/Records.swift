import Foundation
import MirRegistry

/// One stored image: a manifest, its content digest and the tags pointing at it.
struct ImageRecord: Codable, Sendable, Hashable {
    /// Push order within the repository; the stable order of ListImages/DescribeImages.
    var seq: Int
    var digest: String
    /// Sorted; empty for an untagged image.
    var tags: [String]
    var manifest: String
    var sizeInBytes: Int?
    var pushedAt: Date
}

/// One stored repository with everything ECR keeps about it that mir uses.
struct RepositoryRecord: Codable, Sendable, Hashable {
    /// Creation order in the registry; the stable order of DescribeRepositories.
    var seq: Int
    var name: String
    var createdAt: Date
    /// In the order first written; keys unique.
    var tags: [ResourceTag]
    var lifecyclePolicyText: String?
    /// By `seq`.
    var images: [ImageRecord]
    var nextImageSeq: Int
    /// nil in registries written before mutability was recorded: MUTABLE, ECR's default.
    var imageTagMutability: ImageTagMutability? = nil
}

/// One line of the journal: a whole repository record written, or a repository removed.
struct JournalEntry: Codable, Sendable {
    var put: RepositoryRecord?
    var delete: String?

    static func put(_ record: RepositoryRecord) -> JournalEntry { JournalEntry(put: record, delete: nil) }
    static func delete(_ name: String) -> JournalEntry { JournalEntry(put: nil, delete: name) }
}

/// The first line of a snapshot file: format 2 writes it, then one repository record per line (JSON Lines), so a
/// snapshot is read and written a record at a time, never as one document of the whole registry. Format 1 files
/// (one `Snapshot` document, written before) are one line whose header fields are the same.
struct SnapshotHeader: Codable, Sendable {
    var format: Int
    var generation: Int
    var nextSeq: Int
}

/// The full snapshot of format 1 (read for registries written before format 2).
struct Snapshot: Codable, Sendable {
    static let currentFormat = 2
    var format: Int
    /// Which journal (`journal-<generation>.log`) continues this snapshot.
    var generation: Int
    var nextSeq: Int
    var repositories: [RepositoryRecord]
}

/// The registry's state in memory: repositories by name, and their creation order for paging.
struct RegistryState: Sendable {
    private(set) var nextSeq = 1
    private(set) var repositories: [String: RepositoryRecord] = [:]
    /// (seq, name) ascending by seq.
    private(set) var order: [(seq: Int, name: String)] = []

    init() {}

    init(snapshot: Snapshot) {
        nextSeq = snapshot.nextSeq
        for record in snapshot.repositories { apply(.put(record)) }
    }

    init(nextSeq: Int) {
        self.nextSeq = nextSeq
    }

    /// The repositories in creation order (a snapshot's records).
    var records: some Sequence<RepositoryRecord> { order.lazy.map { repositories[$0.name]! } }

    var count: Int { repositories.count }

    /// Index in `order` of the first repository created after `seq`.
    func orderIndex(after seq: Int) -> Int {
        var low = 0, high = order.count
        while low < high {
            let mid = (low + high) / 2
            if order[mid].seq <= seq { low = mid + 1 } else { high = mid }
        }
        return low
    }

    mutating func apply(_ entry: JournalEntry) {
        if let record = entry.put {
            if repositories.updateValue(record, forKey: record.name) == nil {
                let index = orderIndex(after: record.seq)
                order.insert((record.seq, record.name), at: index)
            }
            nextSeq = max(nextSeq, record.seq + 1)
        }
        if let name = entry.delete, let record = repositories.removeValue(forKey: name) {
            let index = orderIndex(after: record.seq - 1)
            if index < order.count, order[index].name == name { order.remove(at: index) }
        }
    }
}
