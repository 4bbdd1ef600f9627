import Foundation
import MirModel

/// One change to a stored object, as watchers see it: the object as stored (its canonical JSON, sent as it is by
/// watches without selectors), decoded by the watchers that need to look into it. Bytes, not trees, wait in the
/// queues of slow watchers.
struct WatchEvent: Sendable {
    var type: String
    var json: Data
    /// The object before a MODIFIED change (for selector transitions), as stored.
    var previousJSON: Data?
    var resourceVersion: Int
    var resourceKey: String

    var object: JSONValue { (try? JSONValue.decode(json)) ?? .null }
    var previous: JSONValue? { previousJSON.flatMap { try? JSONValue.decode($0) } }
}

/// What a watch stream receives.
enum WatchSignal: Sendable {
    case event(WatchEvent)
    case bookmark
    case end
}

/// Options shared by every write.
struct WriteOptions: Sendable {
    var dryRun = false
    /// `Strict`, `Warn` or `Ignore`.
    var fieldValidation = "Warn"
    var fieldManager: String? = nil
    var force = false
}

struct WriteResult: Sendable {
    var object: JSONValue
    var created = false
    var warnings: [String] = []
}

struct DeleteRequest: Sendable {
    var propagationPolicy: String? = nil
    var preconditionUID: String? = nil
    var preconditionResourceVersion: String? = nil
    var dryRun = false
}

/// A reference to one stored object: its resource (`ResourceInfo.key`) and its key within it (`namespace/name`, or
/// `name` when cluster-scoped).
struct ObjectRef: Sendable, Hashable, Comparable {
    var resource: String
    var key: String

    static func < (a: ObjectRef, b: ObjectRef) -> Bool { (a.resource, a.key) < (b.resource, b.key) }
}

/// An object as read from the store: its canonical JSON (type meta included, as `commit` writes it), decoded when
/// needed. Lists and watches send the bytes as they are.
struct StoredObject: Sendable {
    let json: Data

    init(json: Data) { self.json = json }
    init(_ object: JSONValue) { json = object.jsonData }

    /// The decoded object (`null` for bytes that are not JSON, which the store never writes).
    var value: JSONValue { (try? JSONValue.decode(json)) ?? .null }

    /// Whether the bytes can be sent as an object of a resource as they are: canonical JSON of an object whose first
    /// key is `apiVersion` (objects written by `commit` carry their type; rows of an old import may not).
    var carriesTypeMeta: Bool { json.starts(with: Self.typedPrefix) }
    private static let typedPrefix = Data(#"{"apiVersion":"#.utf8)
}

/// One object of a list: its storage key and its stored JSON, decoded on demand (`object`).
struct ListedObject: Sendable {
    var key: String
    var stored: StoredObject
    var object: JSONValue { stored.value }
}

/// The object store and the API semantics on top of it: one actor, so every verb is atomic.
///
/// Storage is a `KineStore`: one SQLite table keyed by revision, where every write appends a row (a write costs
/// O(object)), lists at a revision and watches from a revision are queries, and compaction keeps the last
/// `historyLimit` revisions (older ones get 410 Expired). As with kine, objects live only in the store: memory holds
/// each live object's key and the revision of its current row (a read is a primary-key lookup), and the indexes — by
/// UID, by owner UID for the garbage collector, by label for selectors. Memory grows with the number of objects, not
/// their size.
/// Events expire `eventTTL` after their last write, as with the API server's `--event-ttl` (default 1 h).
actor ClusterState {
    private(set) var registry = ResourceRegistry()
    /// Resource → storage key → the revision of the object's current row in the store.
    private var objects: [String: [String: Int]] = [:]
    private let store: KineStore
    /// The revision that created each live object (the store's `create_revision`).
    private var createRevisions: [ObjectRef: Int] = [:]
    private var uidIndex: [String: ObjectRef] = [:]
    /// Owner UID → the objects that name it in `ownerReferences`.
    private var ownerIndex: [String: Set<ObjectRef>] = [:]
    /// Resource → `key=value` of a label → the storage keys of the objects that carry it. A list with an equality
    /// label selector reads its candidates here instead of scanning the resource (the controller lists one image's
    /// Jobs and Pods, `mir.dev/image=<name>`, on every reconcile).
    private var labelIndex: [String: [String: Set<String>]] = [:]
    /// When each stored Event expires.
    private var eventExpiry: [String: Date] = [:]
    let eventTTL: Duration
    /// Server-side apply: the last configuration each field manager applied, per object (not persisted).
    private var appliedConfigurations: [String: [String: JSONValue]] = [:]
    private var watchers: [UUID: (key: String, continuation: AsyncStream<WatchSignal>.Continuation)] = [:]
    /// A snapshot file of the in-memory store that came before the SQLite one: imported once, then removed.
    private let legacySnapshotURL: URL?
    private let clock: @Sendable () -> Date

    /// - Parameters:
    ///   - historyLimit: how many revisions compaction keeps for lists at and watches from a revision.
    ///   - databaseURL: the SQLite file (created with mode 0600); nil keeps the database in memory.
    ///   - eventTTL: how long an Event lives after its last write.
    init(historyLimit: Int = 5000, databaseURL: URL? = nil, legacySnapshotURL: URL? = nil, eventTTL: Duration = .seconds(3600),
         clock: @escaping @Sendable () -> Date = { Date() }) throws {
        store = try KineStore(url: databaseURL, window: max(1, historyLimit))
        self.legacySnapshotURL = legacySnapshotURL
        self.eventTTL = eventTTL
        self.clock = clock
    }

    var currentResourceVersion: Int { store.currentRevision }

    /// What the store wrote so far.
    var storageStatistics: StorageStatistics { store.statistics }

    func resource(group: String, version: String, plural: String) -> ResourceInfo? {
        registry.find(group: group, version: version, plural: plural)
    }

    func resource(apiVersion: String, kind: String) -> ResourceInfo? { registry.find(apiVersion: apiVersion, kind: kind) }

    // MARK: Startup and storage

    /// The store's key prefix of a resource: `/group/plural/` (group `core` for the legacy group).
    static func storePrefix(group: String, plural: String) -> String { "/\(group.isEmpty ? "core" : group)/\(plural)/" }

    private static func storePrefix(_ info: ResourceInfo) -> String { storePrefix(group: info.group, plural: info.plural) }

    /// The resource key (`ResourceInfo.key`) and object key of a store key.
    private static func parseStoreKey(_ key: String) -> ObjectRef? {
        let parts = key.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty else { return nil }
        let rest = key.dropFirst(parts[1].count + 2)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let group = parts[1] == "core" ? "" : String(parts[1])
        let plural = String(rest[rest.startIndex..<slash])
        return ObjectRef(resource: group.isEmpty ? plural : "\(plural).\(group)", key: String(rest[rest.index(after: slash)...]))
    }

    /// Loads the stored objects (importing a legacy snapshot once) and makes sure the default namespaces exist.
    func bootstrap() throws {
        try importLegacySnapshot()
        // A page at a time: the values pass through memory once (to be indexed), never all together.
        let page = 5000
        var after: String?
        while true {
            let rows = try store.list(prefix: "/", after: after, limit: page)
            for row in rows {
                guard let ref = Self.parseStoreKey(row.key) else { continue }
                let object = try JSONValue.decode(row.value)
                objects[ref.resource, default: [:]][ref.key] = row.revision
                index(ref, object, createRevision: row.createRevision)
                if ref.resource == BuiltinResources.events.key, let expires = row.expires {
                    eventExpiry[ref.key] = Date(timeIntervalSince1970: expires)
                }
            }
            guard rows.count == page, let last = rows.last?.key else { break }
            after = last
        }
        for crd in try (objects[BuiltinResources.crds.key]?.keys.sorted() ?? []).compactMap({ try decodedObject(BuiltinResources.crds.key, $0) }) {
            registry.register(ResourceRegistry.resources(fromCRD: crd))
        }
        for namespace in ["default", "kube-system", "kube-public", "kube-node-lease", BuilderSettings().buildNamespace]
        where objects[BuiltinResources.namespaces.key]?[storageKey(nil, namespace)] == nil {
            _ = try create(BuiltinResources.namespaces, namespace: nil,
                           body: .object(["apiVersion": .string("v1"), "kind": .string("Namespace"),
                                          "metadata": .object(["name": .string(namespace)])]), options: WriteOptions())
        }
        try bootstrapRBAC()
    }

    /// Moves the objects of the snapshot file the in-memory store wrote (before SQLite) into the store, keeping their
    /// resourceVersions, merging Secrets' `stringData` into `data`; then deletes the file (it held `stringData` in plain text).
    private func importLegacySnapshot() throws {
        guard let url = legacySnapshotURL, FileManager.default.fileExists(atPath: url.path) else { return }
        if store.currentRevision == 0 {
            let snapshot = try JSONValue.decode(Data(contentsOf: url))
            var rows: [(revision: Int, key: String, object: JSONValue)] = []
            for (resource, items) in snapshot["objects"]?.objectValue ?? [:] {
                let (plural, group) = resource.firstIndex(of: ".").map { (String(resource[..<$0]), String(resource[resource.index(after: $0)...])) }
                    ?? (resource, "")
                for var item in items.arrayValue ?? [] {
                    if resource == BuiltinResources.secrets.key { item = try Self.mergeStringData(item) }
                    let rv = Int(item["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0
                    rows.append((rv, Self.storePrefix(group: group, plural: plural) + storageKey(item), item))
                }
            }
            // One row per object, at its own resourceVersion (the global counter made them distinct).
            var next = 0
            for row in rows.sorted(by: { $0.revision < $1.revision }) {
                next = max(next + 1, row.revision)
                var object = row.object
                object.set(["metadata", "resourceVersion"], .string(String(next)))
                try store.importRow(revision: next, key: row.key, value: object.jsonData)
            }
            try store.importFinished(revision: max(next, snapshot["resourceVersion"]?.intValue ?? 0))
        }
        try FileManager.default.removeItem(at: url)
    }

    /// Closes the store.
    func close() {
        endAllWatches()
        store.close()
    }

    // MARK: Reads

    private func storageKey(_ object: JSONValue) -> String {
        storageKey(object["metadata"]?["namespace"]?.stringValue, object["metadata"]?["name"]?.stringValue ?? "")
    }

    private func storageKey(_ namespace: String?, _ name: String) -> String {
        guard let namespace, !namespace.isEmpty else { return name }
        return "\(namespace)/\(name)"
    }

    /// The current object `key` of `resource`, decoded.
    private func decodedObject(_ resource: String, _ key: String) throws -> JSONValue? {
        guard let revision = objects[resource]?[key] else { return nil }
        do {
            return try store.value(at: revision).map { try JSONValue.decode($0) }
        } catch {
            throw APIError.storage(error)
        }
    }

    /// The current objects `keys` of a resource (in that order), read from the store in batches.
    private func load(_ info: ResourceInfo, _ keys: some Collection<String>) throws -> [ListedObject] {
        let map = objects[info.key] ?? [:]
        let values: [Int: Data]
        do {
            values = try store.values(at: keys.compactMap { map[$0] })
        } catch {
            throw APIError.storage(error)
        }
        return keys.compactMap { key in
            map[key].flatMap { values[$0] }.map { ListedObject(key: key, stored: typed(info, StoredObject(json: $0))) }
        }
    }

    func get(_ info: ResourceInfo, namespace: String?, name: String) throws -> JSONValue {
        guard let object = try decodedObject(info.key, storageKey(namespace, name)) else { throw APIError.notFound(info, name) }
        return withTypeMeta(info, object)
    }

    /// The current objects of a resource (in one namespace or all), sorted by namespace/name, and the list
    /// resourceVersion. Only candidates are read: with `key=value` terms in `labels`, the objects the label index
    /// gives for all of them (the other terms are still matched by the caller).
    func list(_ info: ResourceInfo, namespace: String?, labels: LabelSelector = LabelSelector()) throws -> (items: [ListedObject], resourceVersion: Int) {
        (try load(info, candidateKeys(info, namespace: namespace, labels: labels)), store.currentRevision)
    }

    /// The keys of the current objects carrying every `key=value` of `labels` (from the label index: the smallest
    /// term's set, intersected with the others'), sorted.
    private func candidateKeys(_ info: ResourceInfo, namespace: String?, labels: LabelSelector) -> [String] {
        let sets = labels.equalities.map { labelIndex[info.key]?["\($0.key)=\($0.value)"] ?? [] }.sorted { $0.count < $1.count }
        var candidates = sets.first
        for set in sets.dropFirst() where !(candidates?.isEmpty ?? true) { candidates!.formIntersection(set) }
        let keys = candidates.map(Array.init) ?? Array((objects[info.key] ?? [:]).keys)
        return keys.filter { namespace == nil || $0.hasPrefix("\(namespace!)/") }.sorted()
    }

    /// The objects of a resource selected by `labels` and `matching` (every one when nil) as they were at `revision`
    /// (now when nil), sorted by key, only those after the key `after` when given. Throws `APIError.expired` when the
    /// revision is compacted.
    ///
    /// With a `limit`, objects are read and matched a chunk at a time, only until `limit` + 1 match (a page of a paged
    /// list reads about a page, not the rest of the resource): at the current revision from the candidate keys in
    /// memory, at a past one from the store's rows in key order. An object is decoded only to be matched: at the
    /// current revision the label index answers `key=value` selectors, so a list selected by them alone sends the
    /// stored bytes as they are. `remaining` is how many objects follow the page when that is known without reading
    /// them (the current revision, no selector — as Kubernetes, which leaves it unset for selectors).
    func list(_ info: ResourceInfo, namespace: String?, at revision: Int?, after: String?, labels: LabelSelector = LabelSelector(),
              limit: Int? = nil, matching: ((JSONValue) -> Bool)? = nil) throws
        -> (items: [ListedObject], resourceVersion: Int, remaining: Int?) {
        let chunk = max(64, (limit ?? 0) + 1)
        var items: [ListedObject] = []
        func take(_ listed: [ListedObject], matchLabels: Bool) {
            let predicate: ((JSONValue) -> Bool)? = matchLabels
                ? { labels.matches($0) && (matching?($0) ?? true) }
                : matching
            for object in listed {
                if let predicate {
                    guard predicate(object.object) else { continue }
                }
                items.append(object)
            }
        }
        guard let revision, revision != store.currentRevision else {
            var keys = candidateKeys(info, namespace: namespace, labels: labels)[...]
            if let after { keys = keys.drop { $0 <= after } }
            var next = keys.startIndex
            while next < keys.endIndex {
                let end = limit == nil ? keys.endIndex : min(next + chunk, keys.endIndex)
                take(try load(info, keys[next..<end]), matchLabels: !labels.isEqualitiesOnly)
                next = end
                if let limit, items.count > limit { break }
            }
            let remaining = limit.flatMap { limit in
                matching == nil && labels.selectsEverything && keys.count > limit ? keys.count - limit : nil
            }
            return (items, store.currentRevision, remaining)
        }
        let prefix = Self.storePrefix(info) + (namespace.map { "\($0)/" } ?? "")
        var cursor = after.map { Self.storePrefix(info) + $0 }
        while true {
            let rows: [KineRow]
            do {
                rows = try store.list(prefix: prefix, at: revision, after: cursor, limit: limit == nil ? nil : chunk)
            } catch KineError.compacted {
                throw APIError.expired("The resourceVersion for the provided list is too old.")
            } catch {
                throw APIError.storage(error)
            }
            take(rows.compactMap { row in
                Self.parseStoreKey(row.key).map { ListedObject(key: $0.key, stored: typed(info, StoredObject(json: row.value))) }
            }, matchLabels: !labels.selectsEverything)
            cursor = rows.last?.key
            if limit == nil || rows.count < chunk || items.count > limit! { break }
        }
        return (items, revision, nil)
    }

    /// How many rows the store holds (live objects, superseded versions in the window, tombstones in the window).
    func rowCount() throws -> Int { try store.rowCount() }

    /// True when a list/continue at `resourceVersion` can no longer be served consistently.
    func isCompacted(_ rv: Int) -> Bool { rv < store.compactRevision }

    /// `stored` with its type meta (the bytes themselves when they carry it, as everything `commit` wrote does).
    private func typed(_ info: ResourceInfo, _ stored: StoredObject) -> StoredObject {
        stored.carriesTypeMeta ? stored : StoredObject(withTypeMeta(info, stored.value))
    }

    private func withTypeMeta(_ info: ResourceInfo, _ object: JSONValue) -> JSONValue {
        // Stored objects carry their type already (commit sets it): no copy.
        if object["kind"]?.stringValue == info.kind, object["apiVersion"]?.stringValue == info.apiVersion { return object }
        var o = object
        o.set(["apiVersion"], .string(info.apiVersion))
        o.set(["kind"], .string(info.kind))
        return o
    }

    // MARK: Watch

    /// Registers a watcher. With `fromResourceVersion` nil or 0 the caller first gets the current objects
    /// (synthetic ADDED); otherwise the stored changes after that version are replayed into the stream.
    func watch(_ info: ResourceInfo, fromResourceVersion: Int?) throws
        -> (id: UUID, stream: AsyncStream<WatchSignal>, initial: [ListedObject]) {
        let (stream, continuation) = AsyncStream<WatchSignal>.makeStream()
        let id = UUID()
        var initial: [ListedObject] = []
        if let from = fromResourceVersion, from > 0 {
            let rows: [KineRow]
            do {
                rows = try store.changes(prefix: Self.storePrefix(info), after: from)
            } catch KineError.compacted(_, let compactRevision) {
                throw APIError.expired("too old resource version: \(from) (\(compactRevision + 1))")
            } catch {
                throw APIError.storage(error)
            }
            for row in rows {
                let stored = typed(info, StoredObject(json: row.value))
                let type = row.deleted ? "DELETED" : row.created ? "ADDED" : "MODIFIED"
                let previous = type == "MODIFIED" ? row.previousValue.map { typed(info, StoredObject(json: $0)).json } : nil
                continuation.yield(.event(WatchEvent(type: type, json: stored.json, previousJSON: previous,
                                                     resourceVersion: row.revision, resourceKey: info.key)))
            }
        } else {
            initial = try list(info, namespace: nil).items
        }
        watchers[id] = (info.key, continuation)
        return (id, stream, initial)
    }

    func signal(_ id: UUID, _ signal: WatchSignal) { watchers[id]?.continuation.yield(signal) }

    func stopWatch(_ id: UUID) {
        watchers[id]?.continuation.finish()
        watchers[id] = nil
    }

    /// Ends every watch (shutdown).
    func endAllWatches() {
        for (_, w) in watchers { w.continuation.yield(.end); w.continuation.finish() }
        watchers = [:]
    }

    // MARK: Commit

    /// Writes one version of an object (or its deletion) to the store, then to the in-memory view, then to watchers.
    @discardableResult
    private func commit(_ info: ResourceInfo, _ type: String, _ object: JSONValue, previous: JSONValue?) throws -> JSONValue {
        let revision = store.currentRevision + 1
        var stored = object
        stored.set(["metadata", "resourceVersion"], .string(String(revision)))
        stored = withTypeMeta(info, stored)
        let ref = ObjectRef(resource: info.key, key: storageKey(stored))
        let prevRevision = objects[info.key]?[ref.key] ?? 0
        // The version this write supersedes (to unindex): what the caller read — `previous`, or for a deletion the
        // object itself (its last state) — when it is that version, else read from the store.
        var existing: JSONValue?
        if prevRevision > 0 {
            let known = type == "DELETED" ? object : previous
            if let known, Int(known["metadata"]?["resourceVersion"]?.stringValue ?? "") == prevRevision {
                existing = known
            } else {
                existing = try decodedObject(info.key, ref.key)
            }
        }
        let createRevision = existing == nil ? revision : (createRevisions[ref] ?? prevRevision)
        var expires: Date?
        if info.key == BuiltinResources.events.key && type != "DELETED" { expires = clock().addingTimeInterval(Self.seconds(eventTTL)) }
        let json = stored.jsonData
        do {
            try store.append(key: Self.storePrefix(info) + ref.key, deleted: type == "DELETED", createRevision: createRevision,
                             prevRevision: prevRevision, expires: expires?.timeIntervalSince1970, value: json)
        } catch {
            throw APIError.storage(error)
        }
        if let existing { unindex(ref, existing) }
        if type == "DELETED" {
            objects[info.key]?[ref.key] = nil
            if info.key == BuiltinResources.events.key { eventExpiry[ref.key] = nil }
        } else {
            objects[info.key, default: [:]][ref.key] = revision
            index(ref, stored, createRevision: createRevision)
            if let expires { eventExpiry[ref.key] = expires }
        }
        let resourceWatchers = watchers.values.filter { $0.key == info.key }
        if !resourceWatchers.isEmpty {
            let previousJSON = type == "MODIFIED" ? previous.map { withTypeMeta(info, $0).jsonData } : nil
            let event = WatchEvent(type: type, json: json, previousJSON: previousJSON, resourceVersion: revision, resourceKey: info.key)
            for w in resourceWatchers { w.continuation.yield(.event(event)) }
        }
        return stored
    }

    private static func seconds(_ d: Duration) -> TimeInterval {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func index(_ ref: ObjectRef, _ object: JSONValue, createRevision: Int) {
        createRevisions[ref] = createRevision
        if let uid = object["metadata"]?["uid"]?.stringValue { uidIndex[uid] = ref }
        for owner in object["metadata"]?["ownerReferences"]?.arrayValue ?? [] {
            if let uid = owner["uid"]?.stringValue { ownerIndex[uid, default: []].insert(ref) }
        }
        for (key, value) in object["metadata"]?["labels"]?.objectValue ?? [:] {
            guard let value = value.stringValue else { continue }
            labelIndex[ref.resource, default: [:]]["\(key)=\(value)", default: []].insert(ref.key)
        }
    }

    private func unindex(_ ref: ObjectRef, _ object: JSONValue) {
        createRevisions[ref] = nil
        if let uid = object["metadata"]?["uid"]?.stringValue, uidIndex[uid] == ref { uidIndex[uid] = nil }
        for owner in object["metadata"]?["ownerReferences"]?.arrayValue ?? [] {
            guard let uid = owner["uid"]?.stringValue else { continue }
            ownerIndex[uid]?.remove(ref)
            if ownerIndex[uid]?.isEmpty == true { ownerIndex[uid] = nil }
        }
        for (key, value) in object["metadata"]?["labels"]?.objectValue ?? [:] {
            guard let value = value.stringValue else { continue }
            let term = "\(key)=\(value)"
            labelIndex[ref.resource]?[term]?.remove(ref.key)
            if labelIndex[ref.resource]?[term]?.isEmpty == true { labelIndex[ref.resource]?[term] = nil }
        }
    }

    // MARK: Event time to live

    /// Deletes the Events whose time to live passed (as etcd's lease expiry does for the API server); returns how many.
    @discardableResult
    func expireEvents() -> Int {
        let now = clock()
        let info = BuiltinResources.events
        var expired = 0
        for (key, date) in eventExpiry where date <= now {
            eventExpiry[key] = nil
            guard let object = try? decodedObject(info.key, key) else { continue }
            if (try? remove(info, object)) != nil { expired += 1 }
        }
        return expired
    }

    // MARK: Create

    func create(_ info: ResourceInfo, namespace: String?, body: JSONValue, options: WriteOptions) throws -> WriteResult {
        guard case .object = body else { throw APIError.badRequest("the body of the request was not a JSON object") }
        var object = body
        let meta = object["metadata"] ?? .object([:])
        if info.namespaced {
            let ns = namespace ?? meta["namespace"]?.stringValue ?? "default"
            if let bodyNamespace = meta["namespace"]?.stringValue, !bodyNamespace.isEmpty, bodyNamespace != ns {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            guard objects[BuiltinResources.namespaces.key]?[storageKey(nil, ns)] != nil else { throw APIError.namespaceNotFound(ns) }
            if try decodedObject(BuiltinResources.namespaces.key, storageKey(nil, ns))?["metadata"]?["deletionTimestamp"] != nil {
                throw APIError(code: 403, reason: "Forbidden",
                               message: "\(info.kind.lowercased()) \"\(meta["name"]?.stringValue ?? "")\" is forbidden: unable to create new content in namespace \(ns) because it is being terminated")
            }
            object.set(["metadata", "namespace"], .string(ns))
        } else {
            object.set(["metadata", "namespace"], nil)
        }
        if let rv = meta["resourceVersion"]?.stringValue, !rv.isEmpty {
            throw APIError.badRequest("resourceVersion should not be set on objects to be created")
        }
        var name = meta["name"]?.stringValue ?? ""
        if name.isEmpty {
            guard let prefix = meta["generateName"]?.stringValue, !prefix.isEmpty else {
                throw APIError.invalid(info, "", [.required("metadata.name", "Required value: name or generateName is required")])
            }
            var attempt = 0
            repeat {
                name = Self.generateName(prefix)
                attempt += 1
            } while objects[info.key]?[storageKey(object["metadata"]?["namespace"]?.stringValue, name)] != nil && attempt < 8
            object.set(["metadata", "name"], .string(name))
        }
        try validateName(info, name)
        if objects[info.key]?[storageKey(object["metadata"]?["namespace"]?.stringValue, name)] != nil {
            throw APIError.alreadyExists(info, name)
        }
        if info.hasStatus { object.set(["status"], nil) }
        var warnings: [String] = []
        if info.isCustom { object = try validateCustom(info, object, old: nil, options: options, warnings: &warnings) }
        warnings += try runAdmissionPolicies(AdmissionAttributes(info: info, operation: "CREATE", name: name,
            namespace: object["metadata"]?["namespace"]?.stringValue, object: object))
        if info.key == BuiltinResources.crds.key { object = try prepareCRD(object) }
        if info.key == BuiltinResources.namespaces.key { object.set(["status"], .object(["phase": .string("Active")])) }
        if info.key == BuiltinResources.jobs.key { object = Self.defaultJob(object) }
        if info.key == BuiltinResources.secrets.key { object = try Self.mergeStringData(object) }
        object.set(["metadata", "uid"], .string(UUID().uuidString.lowercased()))
        if info.key == BuiltinResources.jobs.key { object = JobDefaults.withGeneratedSelector(object) }
        object.set(["metadata", "creationTimestamp"], .string(KubeTime.format(clock())))
        object.set(["metadata", "generation"], .number(1))
        object = BuiltinBehaviour.defaulted(info, object)
        if let status = BuiltinBehaviour.status(info, object, now: KubeTime.format(clock())) { object.set(["status"], status) }
        object.set(["metadata", "managedFields"], nil)
        object.set(["metadata", "deletionTimestamp"], nil)
        object = withTypeMeta(info, object)
        if options.dryRun { return WriteResult(object: object, created: true, warnings: warnings) }
        let stored = try commit(info, "ADDED", object, previous: nil)
        if info.key == BuiltinResources.crds.key { registry.register(ResourceRegistry.resources(fromCRD: stored)) }
        return WriteResult(object: stored, created: true, warnings: warnings)
    }

    static func generateName(_ prefix: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(prefix.prefix(58)) + String((0..<5).map { _ in alphabet.randomElement()! })
    }

    private func validateName(_ info: ResourceInfo, _ name: String) throws {
        let label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
        if info.key == BuiltinResources.namespaces.key {
            if name.count > 63 || name.range(of: "^\(label)$", options: .regularExpression) == nil {
                throw APIError.invalid(info, name, [.invalidValue("metadata.name", .string(name),
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '\(label)')")])
            }
            return
        }
        let subdomain = "\(label)(\\.\(label))*"
        if name.count > 253 || name.range(of: "^\(subdomain)$", options: .regularExpression) == nil {
            throw APIError.invalid(info, name, [.invalidValue("metadata.name", .string(name),
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '\(subdomain)')")])
        }
    }

    private func validateCustom(_ info: ResourceInfo, _ object: JSONValue, old: JSONValue?, options: WriteOptions,
                                warnings: inout [String]) throws -> JSONValue {
        guard let schema = info.schema else { return object }
        let outcome = SchemaValidator(schema: schema).validate(object, old: old)
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        if !outcome.unknownFields.isEmpty {
            switch options.fieldValidation {
            case "Strict":
                let list = outcome.unknownFields.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
                throw APIError.badRequest("\(info.kind) in version \"\(info.version)\" cannot be handled as a \(info.kind): strict decoding error: \(list)")
            case "Warn":
                warnings += outcome.unknownFields.map { "unknown field \"\($0)\"" }
            default: break
            }
        }
        warnings += outcome.unevaluatedRules.map { "validation rule not evaluated by mir's local control plane: \($0)" }
        if !outcome.causes.isEmpty { throw APIError.invalid(info, name, outcome.causes) }
        return outcome.object
    }

    private func prepareCRD(_ crd: JSONValue) throws -> JSONValue {
        var object = crd
        let info = BuiltinResources.crds
        let name = crd["metadata"]?["name"]?.stringValue ?? ""
        guard let group = crd["spec"]?["group"]?.stringValue, let plural = crd["spec"]?["names"]?["plural"]?.stringValue,
              let kind = crd["spec"]?["names"]?["kind"]?.stringValue else {
            throw APIError.invalid(info, name, [.required("spec.names", "Required value")])
        }
        guard name == "\(plural).\(group)" else {
            throw APIError.invalid(info, name, [.invalidValue("metadata.name", .string(name), "must be spec.names.plural+\".\"+spec.group")])
        }
        let versions = crd["spec"]?["versions"]?.arrayValue ?? []
        if versions.filter({ $0["storage"]?.boolValue == true }).count != 1 {
            throw APIError.invalid(info, name, [.invalidValue("spec.versions", .array(versions), "must have exactly one version marked as storage version")])
        }
        if crd["spec"]?["names"]?["singular"] == nil { object.set(["spec", "names", "singular"], .string(kind.lowercased())) }
        if crd["spec"]?["names"]?["listKind"] == nil { object.set(["spec", "names", "listKind"], .string("\(kind)List")) }
        let now = JSONValue.string(KubeTime.format(clock()))
        let storage = versions.first { $0["storage"]?.boolValue == true }?["name"] ?? .null
        object.set(["status"], .object([
            "conditions": .array([
                .object(["type": .string("NamesAccepted"), "status": .string("True"), "reason": .string("NoConflicts"),
                         "message": .string("no conflicts found"), "lastTransitionTime": now]),
                .object(["type": .string("Established"), "status": .string("True"), "reason": .string("InitialNamesAccepted"),
                         "message": .string("the initial names have been accepted"), "lastTransitionTime": now]),
            ]),
            "acceptedNames": object["spec"]?["names"] ?? .object([:]),
            "storedVersions": .array([storage]),
        ]))
        return object
    }

    /// What the API server does with a Secret (core/v1 conversion): each `stringData` entry is base64-encoded into
    /// `data`, replacing a `data` entry of the same key, and `stringData` itself is never stored; `data` values must be
    /// base64. An empty `data` is omitted, as Go's `omitempty` does.
    static func mergeStringData(_ secret: JSONValue) throws -> JSONValue {
        func undecodable(_ reason: String) -> APIError {
            APIError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: \(reason)")
        }
        var data: [String: JSONValue] = [:]
        switch secret["data"] {
        case nil, .null?: break
        case .object(let entries)?:
            for (key, value) in entries {
                switch value {
                case .null: data[key] = .string("")
                case .string(let text):
                    if let offset = Self.invalidBase64Offset(text) { throw undecodable("illegal base64 data at input byte \(offset)") }
                    data[key] = value
                default: throw undecodable("data[\(key)]: expected a base64 string")
                }
            }
        default: throw undecodable("data: expected an object of base64 strings")
        }
        switch secret["stringData"] {
        case nil, .null?: break
        case .object(let entries)?:
            for (key, value) in entries {
                guard let text = value.stringValue else { throw undecodable("stringData[\(key)]: expected a string") }
                data[key] = .string(Data(text.utf8).base64EncodedString())
            }
        default: throw undecodable("stringData: expected an object of strings")
        }
        var merged = secret
        merged.set(["stringData"], nil)
        merged.set(["data"], data.isEmpty ? nil : .object(data))
        return merged
    }

    /// The offset of the first byte that makes `text` invalid standard (padded) base64, as Go's decoder reports it; nil when valid.
    static func invalidBase64Offset(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        func isAlphabet(_ b: UInt8) -> Bool {
            (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 43 || b == 47
        }
        var index = 0
        while index < bytes.count && isAlphabet(bytes[index]) { index += 1 }
        let padding = bytes.count - index
        if index < bytes.count {
            // Only one or two '=' may follow, ending the text on a multiple of four.
            guard padding <= 2, bytes[index...].allSatisfy({ $0 == 61 }), bytes.count % 4 == 0, index % 4 >= 2 else { return index }
            return nil
        }
        // An incomplete last quantum is reported at its start.
        return bytes.count % 4 == 0 ? nil : bytes.count - bytes.count % 4
    }

    private static func defaultJob(_ job: JSONValue) -> JSONValue {
        var j = job
        if j["spec"]?["backoffLimit"] == nil { j.set(["spec", "backoffLimit"], .number(6)) }
        if j["spec"]?["completions"] == nil { j.set(["spec", "completions"], .number(1)) }
        if j["spec"]?["parallelism"] == nil { j.set(["spec", "parallelism"], .number(1)) }
        return j
    }

    // MARK: Update

    func update(_ info: ResourceInfo, namespace: String?, name: String, body: JSONValue, subresource: String?,
                options: WriteOptions) throws -> WriteResult {
        guard case .object = body else { throw APIError.badRequest("the body of the request was not a JSON object") }
        if let bodyName = body["metadata"]?["name"]?.stringValue, bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        guard let existing = try decodedObject(info.key, storageKey(info.namespaced ? namespace : nil, name)) else {
            throw APIError.notFound(info, name)
        }
        let rv = body["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if rv.isEmpty {
            if info.isCustom {
                throw APIError.invalid(info, name, [.invalidValue("metadata.resourceVersion", .number(0), "must be specified for an update")])
            }
        } else if rv != existing["metadata"]?["resourceVersion"]?.stringValue {
            throw APIError.conflict(info, name)
        }
        return try replace(info, existing: existing, candidate: body, subresource: subresource, options: options)
    }

    /// Stores `candidate` over `existing` with the server's rules for metadata, status and generation.
    private func replace(_ info: ResourceInfo, existing: JSONValue, candidate: JSONValue, subresource: String?,
                         options: WriteOptions) throws -> WriteResult {
        let name = existing["metadata"]?["name"]?.stringValue ?? ""
        var object: JSONValue
        if subresource == "status" {
            object = existing
            object.set(["status"], candidate["status"])
        } else {
            object = candidate
            if info.hasStatus { object.set(["status"], existing["status"]) }
            for key in ["uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name"] {
                object.set(["metadata", key], existing["metadata"]?[key])
            }
            object.set(["metadata", "managedFields"], nil)
        }
        object = withTypeMeta(info, object)
        if info.key == BuiltinResources.secrets.key && subresource == nil { object = try Self.mergeStringData(object) }
        var warnings: [String] = []
        if info.isCustom { object = try validateCustom(info, object, old: existing, options: options, warnings: &warnings) }
        warnings += try runAdmissionPolicies(AdmissionAttributes(info: info, subresource: subresource, operation: "UPDATE", name: name,
            namespace: existing["metadata"]?["namespace"]?.stringValue, object: object, oldObject: existing))
        if existing["metadata"]?["deletionTimestamp"] != nil {
            let old = Set(existing["metadata"]?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            let new = object["metadata"]?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if new.contains(where: { !old.contains($0) }) {
                throw APIError.invalid(info, name, [.init(reason: "FieldValueForbidden",
                    message: "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\(new.filter { !old.contains($0) }.map { "\"\($0)\"" }.joined(separator: ", "))}",
                    field: "metadata.finalizers")])
            }
        }
        if info.key == BuiltinResources.crds.key && subresource == nil {
            object = try prepareCRD(object)
        }
        func body(_ o: JSONValue) -> JSONValue {
            var b = o
            b.set(["metadata"], nil)
            b.set(["status"], nil)
            return b
        }
        if subresource == nil { object = BuiltinBehaviour.defaulted(info, object, existing: existing) }
        if body(object) != body(existing) {
            object.set(["metadata", "generation"], .number(Double((existing["metadata"]?["generation"]?.intValue ?? 0) + 1)))
            if let status = BuiltinBehaviour.status(info, object, now: KubeTime.format(clock())) { object.set(["status"], status) }
        }
        var comparable = object
        comparable.set(["metadata", "resourceVersion"], existing["metadata"]?["resourceVersion"])
        if comparable == withTypeMeta(info, existing) {
            return WriteResult(object: withTypeMeta(info, existing), warnings: warnings)
        }
        if options.dryRun { return WriteResult(object: object, warnings: warnings) }
        let stored = try commit(info, "MODIFIED", object, previous: existing)
        if info.key == BuiltinResources.crds.key { registry.register(ResourceRegistry.resources(fromCRD: stored)) }
        if stored["metadata"]?["deletionTimestamp"] != nil && (stored["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty {
            try remove(info, stored)
        }
        return WriteResult(object: stored, warnings: warnings)
    }

    // MARK: Patch

    enum PatchType: Sendable { case json, merge, strategic, apply }

    func patch(_ info: ResourceInfo, namespace: String?, name: String, type: PatchType, patch: JSONValue,
               subresource: String?, options: WriteOptions) throws -> WriteResult {
        let ns = info.namespaced ? namespace : nil
        let manager = options.fieldManager ?? ""
        let appliedKey = "\(info.key)|\(storageKey(ns, name))"
        guard let existing = try decodedObject(info.key, storageKey(ns, name)) else {
            if type == .apply {
                var body = patch
                body.set(["metadata", "name"], .string(name))
                let result = try create(info, namespace: ns, body: body, options: options)
                if !options.dryRun { appliedConfigurations[appliedKey] = [manager: patch] }
                return result
            }
            throw APIError.notFound(info, name)
        }
        let current = withTypeMeta(info, existing)
        var patched: JSONValue
        switch type {
        case .merge: patched = Patching.mergePatch(current, patch)
        case .strategic: patched = StrategicMerge.patch(current, patch, info: info)
        case .json:
            do { patched = try Patching.jsonPatch(current, patch) } catch let error as Patching.JSONPatchError {
                throw APIError(code: 422, reason: "Invalid", message: error.message)
            }
        case .apply:
            var applied = patch
            for key in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"] { applied.set(["metadata", key], nil) }
            patched = Patching.applyMerge(current, applied)
            if let previous = appliedConfigurations[appliedKey]?[manager] {
                patched = Patching.removeOmitted(patched, previous: previous, current: applied)
            }
        }
        if let rv = patch["metadata"]?["resourceVersion"]?.stringValue, type != .apply,
           rv != existing["metadata"]?["resourceVersion"]?.stringValue {
            throw APIError.conflict(info, name)
        }
        if let patchedName = patched["metadata"]?["name"]?.stringValue, patchedName != name {
            throw APIError.badRequest("the name of the object (\(patchedName)) does not match the name on the URL (\(name))")
        }
        patched.set(["metadata", "resourceVersion"], existing["metadata"]?["resourceVersion"])
        let result = try replace(info, existing: existing, candidate: patched, subresource: subresource, options: options)
        if type == .apply && !options.dryRun { appliedConfigurations[appliedKey, default: [:]][manager] = patch }
        return result
    }

    // MARK: Delete and garbage collection

    /// Deletes an object. Returns the object and whether it is gone (false while finalizers hold it).
    func delete(_ info: ResourceInfo, namespace: String?, name: String, request: DeleteRequest) throws -> (object: JSONValue, removed: Bool) {
        guard let existing = try decodedObject(info.key, storageKey(info.namespaced ? namespace : nil, name)) else {
            throw APIError.notFound(info, name)
        }
        if let uid = request.preconditionUID, uid != existing["metadata"]?["uid"]?.stringValue {
            var e = APIError.conflict(info, name)
            e.message = "Operation cannot be fulfilled on \(info.qualifiedName) \"\(name)\": Precondition failed: UID in precondition: \(uid), UID in object meta: \(existing["metadata"]?["uid"]?.stringValue ?? "")"
            throw e
        }
        if let rv = request.preconditionResourceVersion, rv != existing["metadata"]?["resourceVersion"]?.stringValue {
            var e = APIError.conflict(info, name)
            e.message = "Operation cannot be fulfilled on \(info.qualifiedName) \"\(name)\": Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(existing["metadata"]?["resourceVersion"]?.stringValue ?? "")"
            throw e
        }
        if request.dryRun { return (withTypeMeta(info, existing), false) }
        if info.key == BuiltinResources.namespaces.key { return try terminateNamespace(existing) }
        let policy = request.propagationPolicy ?? (info.key == BuiltinResources.jobs.key ? "Orphan" : "Background")
        return try deleteObject(info, existing, policy: policy)
    }

    private func deleteObject(_ info: ResourceInfo, _ existing: JSONValue, policy: String) throws -> (object: JSONValue, removed: Bool) {
        let uid = existing["metadata"]?["uid"]?.stringValue ?? ""
        if policy == "Orphan" { try orphanDependents(of: uid) }
        var finalizers = existing["metadata"]?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if policy == "Foreground", !finalizers.contains("foregroundDeletion"), try !dependents(of: uid).isEmpty {
            finalizers.append("foregroundDeletion")
        }
        if finalizers.isEmpty {
            try remove(info, existing)
            return (withTypeMeta(info, existing), true)
        }
        var current = existing
        if existing["metadata"]?["deletionTimestamp"] == nil || finalizers != (existing["metadata"]?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? []) {
            var marked = existing
            if existing["metadata"]?["deletionTimestamp"] == nil {
                marked.set(["metadata", "deletionTimestamp"], .string(KubeTime.format(clock())))
                marked.set(["metadata", "deletionGracePeriodSeconds"], .number(0))
                marked.set(["metadata", "generation"], .number(Double((existing["metadata"]?["generation"]?.intValue ?? 0) + 1)))
            }
            marked.set(["metadata", "finalizers"], .array(finalizers.map { .string($0) }))
            current = try commit(info, "MODIFIED", marked, previous: existing)
        }
        if finalizers.contains("foregroundDeletion") { try processForeground(info, current) }
        let latest = try decodedObject(info.key, storageKey(current))
        return (latest.map { withTypeMeta(info, $0) } ?? withTypeMeta(info, current), latest == nil)
    }

    /// How long a deleted Namespace stays Terminating before its content and itself are removed.
    static let namespaceTerminationDelay: Duration = .seconds(3)

    /// Deletes a Namespace as the namespace controller does: marked Terminating at once (new objects are refused),
    /// its content and the Namespace removed a little later, so that deletes of its objects sent right after
    /// (`kubectl delete -k` deletes the Namespace first) still find them.
    private func terminateNamespace(_ existing: JSONValue) throws -> (object: JSONValue, removed: Bool) {
        let info = BuiltinResources.namespaces
        guard existing["metadata"]?["deletionTimestamp"] == nil else { return (withTypeMeta(info, existing), false) }
        var marked = existing
        marked.set(["metadata", "deletionTimestamp"], .string(KubeTime.format(clock())))
        marked.set(["metadata", "deletionGracePeriodSeconds"], .number(0))
        marked.set(["status", "phase"], .string("Terminating"))
        let stored = try commit(info, "MODIFIED", marked, previous: existing)
        let name = existing["metadata"]?["name"]?.stringValue ?? ""
        Task {
            try? await Task.sleep(for: Self.namespaceTerminationDelay)
            self.finishNamespaceTermination(name)
        }
        return (withTypeMeta(info, stored), false)
    }

    private func finishNamespaceTermination(_ name: String) {
        guard let namespace = try? decodedObject(BuiltinResources.namespaces.key, name), namespace["metadata"]?["deletionTimestamp"] != nil,
              (namespace["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty else { return }
        try? remove(BuiltinResources.namespaces, namespace)
    }

    /// Removes an object for good and lets the garbage collector react.
    private func remove(_ info: ResourceInfo, _ object: JSONValue) throws {
        guard objects[info.key]?[storageKey(object)] != nil else { return }
        try commit(info, "DELETED", object, previous: nil)
        appliedConfigurations["\(info.key)|\(storageKey(object))"] = nil
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        if info.key == BuiltinResources.namespaces.key {
            for r in registry.resources where r.namespaced {
                for key in (objects[r.key] ?? [:]).keys.sorted() where key.hasPrefix("\(name)/") {
                    if let o = try decodedObject(r.key, key) { try remove(r, o) }
                }
            }
        }
        if info.key == BuiltinResources.crds.key, let group = object["spec"]?["group"]?.stringValue,
           let plural = object["spec"]?["names"]?["plural"]?.stringValue {
            if let served = registry.resources.first(where: { $0.isCustom && $0.group == group && $0.plural == plural }) {
                for key in (objects[served.key] ?? [:]).keys.sorted() {
                    if let o = try decodedObject(served.key, key) { try commit(served, "DELETED", o, previous: nil) }
                }
                objects[served.key] = nil
            }
            registry.unregister(group: group, plural: plural)
        }
        let uid = object["metadata"]?["uid"]?.stringValue ?? ""
        // Background cascade: dependents whose last owner is gone are deleted.
        for (depInfo, dependent) in try dependents(of: uid) {
            guard let current = try decodedObject(depInfo.key, storageKey(dependent)) else { continue }
            var refs = current["metadata"]?["ownerReferences"]?.arrayValue ?? []
            refs.removeAll { $0["uid"]?.stringValue == uid }
            if refs.isEmpty {
                _ = try deleteObject(depInfo, current, policy: "Background")
            } else {
                var updated = current
                updated.set(["metadata", "ownerReferences"], .array(refs))
                try commit(depInfo, "MODIFIED", updated, previous: current)
            }
        }
        // A foreground-deleting owner may now be free to go.
        for ref in object["metadata"]?["ownerReferences"]?.arrayValue ?? [] {
            guard let ownerUID = ref["uid"]?.stringValue, case let (ownerInfo, owner)? = try find(uid: ownerUID) else { continue }
            if owner["metadata"]?["finalizers"]?.arrayValue?.contains(.string("foregroundDeletion")) == true {
                try processForeground(ownerInfo, owner)
            }
        }
    }

    private func processForeground(_ info: ResourceInfo, _ owner: JSONValue) throws {
        let uid = owner["metadata"]?["uid"]?.stringValue ?? ""
        for (depInfo, dependent) in try dependents(of: uid) where dependent["metadata"]?["deletionTimestamp"] == nil {
            _ = try deleteObject(depInfo, dependent, policy: "Foreground")
        }
        guard try dependents(of: uid).isEmpty, let current = try decodedObject(info.key, storageKey(owner)) else { return }
        var updated = current
        let finalizers = (current["metadata"]?["finalizers"]?.arrayValue ?? []).filter { $0 != .string("foregroundDeletion") }
        updated.set(["metadata", "finalizers"], finalizers.isEmpty ? nil : .array(finalizers))
        let stored = try commit(info, "MODIFIED", updated, previous: current)
        if finalizers.isEmpty { try remove(info, stored) }
    }

    private func orphanDependents(of uid: String) throws {
        for (depInfo, dependent) in try dependents(of: uid) {
            var updated = dependent
            let refs = (dependent["metadata"]?["ownerReferences"]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
            updated.set(["metadata", "ownerReferences"], refs.isEmpty ? nil : .array(refs))
            try commit(depInfo, "MODIFIED", updated, previous: dependent)
        }
    }

    /// The objects naming `uid` in their ownerReferences, from the owner index (sorted, for a stable order).
    private func dependents(of uid: String) throws -> [(ResourceInfo, JSONValue)] {
        guard !uid.isEmpty, let refs = ownerIndex[uid] else { return [] }
        return try refs.sorted().compactMap { ref in
            guard let info = registry.resources.first(where: { $0.key == ref.resource }), let o = try decodedObject(ref.resource, ref.key) else { return nil }
            return (info, o)
        }
    }

    private func find(uid: String) throws -> (ResourceInfo, JSONValue)? {
        guard let ref = uidIndex[uid], let info = registry.resources.first(where: { $0.key == ref.resource }),
              let o = try decodedObject(ref.resource, ref.key) else { return nil }
        return (info, o)
    }

    // MARK: System writes (the simulated job runner)

    /// Creates an object as the system, keeping its status.
    func systemCreate(_ info: ResourceInfo, _ object: JSONValue) throws -> JSONValue {
        let status = object["status"]
        var created = try create(info, namespace: object["metadata"]?["namespace"]?.stringValue, body: object, options: WriteOptions()).object
        if let status {
            let previous = created
            created.set(["status"], status)
            created = try commit(info, "MODIFIED", created, previous: previous)
        }
        return created
    }

    /// Changes an object's status as the system; returns nil when the object is gone (or the store failed).
    @discardableResult
    func systemUpdateStatus(_ info: ResourceInfo, namespace: String?, name: String,
                            _ mutate: @Sendable (inout JSONValue) -> Void) -> JSONValue? {
        guard let existing = try? decodedObject(info.key, storageKey(namespace, name)) else { return nil }
        var status = existing["status"] ?? .object([:])
        mutate(&status)
        guard status != existing["status"] else { return existing }
        var updated = existing
        updated.set(["status"], status)
        return try? commit(info, "MODIFIED", updated, previous: existing)
    }

    /// Deletes as the system (Background propagation); nothing when already gone.
    func systemDelete(_ info: ResourceInfo, namespace: String?, name: String) {
        guard let existing = try? decodedObject(info.key, storageKey(namespace, name)) else { return }
        _ = try? deleteObject(info, existing, policy: "Background")
    }
}
