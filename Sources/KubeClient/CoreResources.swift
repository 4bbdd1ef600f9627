import Foundation
import MirModel

/// core/v1 Namespace.
public struct Namespace: KubeResource, Hashable {
    public static let group = ""
    public static let version = "v1"
    public static let plural = "namespaces"
    public static let kind = "Namespace"
    public static let namespaced = false

    public var metadata: ObjectMeta
    public var status: Status?

    public struct Status: Sendable, Hashable, Codable {
        /// `Active` or `Terminating`.
        public var phase: String?
        public init(phase: String? = nil) { self.phase = phase }
    }

    public init(name: String, labels: [String: String]? = nil) {
        metadata = ObjectMeta(name: name, labels: labels)
    }
}

/// core/v1 ConfigMap.
public struct ConfigMap: KubeResource, Hashable {
    public static let group = ""
    public static let version = "v1"
    public static let plural = "configmaps"
    public static let kind = "ConfigMap"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var data: [String: String]?
    /// base64 values.
    public var binaryData: [String: String]?
    public var immutable: Bool?

    public init(metadata: ObjectMeta, data: [String: String]? = nil, binaryData: [String: String]? = nil, immutable: Bool? = nil) {
        self.metadata = metadata
        self.data = data
        self.binaryData = binaryData
        self.immutable = immutable
    }
}

/// coordination.k8s.io/v1 Lease (leader election).
public struct Lease: KubeResource, Hashable {
    public static let group = "coordination.k8s.io"
    public static let version = "v1"
    public static let plural = "leases"
    public static let kind = "Lease"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Sendable, Hashable, Codable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: MicroTime?
        public var renewTime: MicroTime?
        public var leaseTransitions: Int?
        public var strategy: String?
        public var preferredHolder: String?

        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: MicroTime? = nil,
                    renewTime: MicroTime? = nil, leaseTransitions: Int? = nil, strategy: String? = nil, preferredHolder: String? = nil) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
            self.strategy = strategy
            self.preferredHolder = preferredHolder
        }
    }

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// A reference to an object, as in `Event.involvedObject`.
public struct ObjectReference: Sendable, Hashable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil,
                uid: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }
}

/// core/v1 Event (what `kubectl describe` reads).
public struct Event: KubeResource, Hashable {
    public static let group = ""
    public static let version = "v1"
    public static let plural = "events"
    public static let kind = "Event"
    public static let namespaced = true

    public struct Source: Sendable, Hashable, Codable {
        public var component: String?
        public var host: String?
        public init(component: String? = nil, host: String? = nil) {
            self.component = component
            self.host = host
        }
    }

    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var source: Source?
    public var firstTimestamp: Date?
    public var lastTimestamp: Date?
    public var count: Int?
    /// `Normal` or `Warning`.
    public var type: String?
    public var eventTime: MicroTime?
    public var action: String?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(metadata: ObjectMeta, involvedObject: ObjectReference, reason: String? = nil, message: String? = nil,
                source: Source? = nil, firstTimestamp: Date? = nil, lastTimestamp: Date? = nil, count: Int? = nil,
                type: String? = nil, eventTime: MicroTime? = nil, action: String? = nil,
                reportingComponent: String? = nil, reportingInstance: String? = nil) {
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.source = source
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.count = count
        self.type = type
        self.eventTime = eventTime
        self.action = action
        self.reportingComponent = reportingComponent
        self.reportingInstance = reportingInstance
    }
}

/// batch/v1 Job. The pod template stays a `JSONValue` (it is written whole by the builder).
public struct Job: KubeResource, Hashable {
    public static let group = "batch"
    public static let version = "v1"
    public static let plural = "jobs"
    public static let kind = "Job"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Sendable, Hashable, Codable {
        public var template: JSONValue
        public var backoffLimit: Int?
        public var activeDeadlineSeconds: Int?
        public var ttlSecondsAfterFinished: Int?
        public var completions: Int?
        public var parallelism: Int?
        public var suspend: Bool?
        public var podFailurePolicy: JSONValue?
        public var selector: JSONValue?

        public init(template: JSONValue, backoffLimit: Int? = nil, activeDeadlineSeconds: Int? = nil,
                    ttlSecondsAfterFinished: Int? = nil, completions: Int? = nil, parallelism: Int? = nil,
                    suspend: Bool? = nil, podFailurePolicy: JSONValue? = nil, selector: JSONValue? = nil) {
            self.template = template
            self.backoffLimit = backoffLimit
            self.activeDeadlineSeconds = activeDeadlineSeconds
            self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
            self.completions = completions
            self.parallelism = parallelism
            self.suspend = suspend
            self.podFailurePolicy = podFailurePolicy
            self.selector = selector
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var startTime: Date?
        public var completionTime: Date?
        public var active: Int?
        public var succeeded: Int?
        public var failed: Int?
        public var ready: Int?
        public var terminating: Int?
        public var conditions: [JobCondition]?

        public init(startTime: Date? = nil, completionTime: Date? = nil, active: Int? = nil, succeeded: Int? = nil,
                    failed: Int? = nil, ready: Int? = nil, terminating: Int? = nil, conditions: [JobCondition]? = nil) {
            self.startTime = startTime
            self.completionTime = completionTime
            self.active = active
            self.succeeded = succeeded
            self.failed = failed
            self.ready = ready
            self.terminating = terminating
            self.conditions = conditions
        }
    }

    public struct JobCondition: Sendable, Hashable, Codable {
        /// `Complete`, `Failed`, `SuccessCriteriaMet`, `FailureTarget`, `Suspended`.
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastProbeTime: Date?
        public var lastTransitionTime: Date?

        public init(type: String, status: String, reason: String? = nil, message: String? = nil,
                    lastProbeTime: Date? = nil, lastTransitionTime: Date? = nil) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
            self.lastProbeTime = lastProbeTime
            self.lastTransitionTime = lastTransitionTime
        }
    }

    public init(metadata: ObjectMeta, spec: Spec?, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// core/v1 Pod: the spec stays a `JSONValue`; the status is typed as far as build results need.
public struct Pod: KubeResource, Hashable {
    public static let group = ""
    public static let version = "v1"
    public static let plural = "pods"
    public static let kind = "Pod"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: Status?

    public struct Status: Sendable, Hashable, Codable {
        public var phase: String?
        public var reason: String?
        public var message: String?
        public var startTime: Date?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?

        public init(phase: String? = nil, reason: String? = nil, message: String? = nil, startTime: Date? = nil,
                    containerStatuses: [ContainerStatus]? = nil, initContainerStatuses: [ContainerStatus]? = nil) {
            self.phase = phase
            self.reason = reason
            self.message = message
            self.startTime = startTime
            self.containerStatuses = containerStatuses
            self.initContainerStatuses = initContainerStatuses
        }
    }

    public struct ContainerStatus: Sendable, Hashable, Codable {
        public var name: String
        public var state: ContainerState?
        public var lastState: ContainerState?
        public var ready: Bool?
        public var restartCount: Int?
        public var image: String?
        public var imageID: String?

        public init(name: String, state: ContainerState? = nil, lastState: ContainerState? = nil, ready: Bool? = nil,
                    restartCount: Int? = nil, image: String? = nil, imageID: String? = nil) {
            self.name = name
            self.state = state
            self.lastState = lastState
            self.ready = ready
            self.restartCount = restartCount
            self.image = image
            self.imageID = imageID
        }
    }

    public struct ContainerState: Sendable, Hashable, Codable {
        public var waiting: JSONValue?
        public var running: JSONValue?
        public var terminated: Terminated?

        public init(waiting: JSONValue? = nil, running: JSONValue? = nil, terminated: Terminated? = nil) {
            self.waiting = waiting
            self.running = running
            self.terminated = terminated
        }
    }

    public struct Terminated: Sendable, Hashable, Codable {
        public var exitCode: Int
        public var reason: String?
        public var message: String?
        public var startedAt: Date?
        public var finishedAt: Date?

        public init(exitCode: Int, reason: String? = nil, message: String? = nil, startedAt: Date? = nil, finishedAt: Date? = nil) {
            self.exitCode = exitCode
            self.reason = reason
            self.message = message
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    public init(metadata: ObjectMeta, spec: JSONValue?, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// apiextensions.k8s.io/v1 CustomResourceDefinition. Versions and schemas stay `JSONValue`.
public struct CustomResourceDefinition: KubeResource, Hashable {
    public static let group = "apiextensions.k8s.io"
    public static let version = "v1"
    public static let plural = "customresourcedefinitions"
    public static let kind = "CustomResourceDefinition"
    public static let namespaced = false

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: JSONValue?

    public struct Spec: Sendable, Hashable, Codable {
        public var group: String
        public var names: Names
        /// `Namespaced` or `Cluster`.
        public var scope: String
        public var versions: [JSONValue]

        public init(group: String, names: Names, scope: String, versions: [JSONValue]) {
            self.group = group
            self.names = names
            self.scope = scope
            self.versions = versions
        }
    }

    public struct Names: Sendable, Hashable, Codable {
        public var plural: String
        public var singular: String?
        public var kind: String
        public var listKind: String?
        public var shortNames: [String]?
        public var categories: [String]?

        public init(plural: String, singular: String? = nil, kind: String, listKind: String? = nil,
                    shortNames: [String]? = nil, categories: [String]? = nil) {
            self.plural = plural
            self.singular = singular
            self.kind = kind
            self.listKind = listKind
            self.shortNames = shortNames
            self.categories = categories
        }
    }

    public init(metadata: ObjectMeta, spec: Spec, status: JSONValue? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// True when the `Established` condition is `True`.
    public var isEstablished: Bool {
        status?["conditions"]?.arrayValue?.contains {
            $0["type"]?.stringValue == "Established" && $0["status"]?.stringValue == "True"
        } ?? false
    }
}
