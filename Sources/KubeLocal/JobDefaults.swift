import MirModel

/// What the API server defaults on a new Job once it has a uid: unless `spec.manualSelector` is true, the selector
/// `batch.kubernetes.io/controller-uid: <uid>` and, on the pod template, the labels `controller-uid`,
/// `batch.kubernetes.io/controller-uid`, `job-name` and `batch.kubernetes.io/job-name`. So `kubectl logs job/X` (which
/// lists pods by the Job's selector) finds exactly that Job's pods.
enum JobDefaults {
    static let controllerUIDLabel = "batch.kubernetes.io/controller-uid"
    static let legacyControllerUIDLabel = "controller-uid"
    static let jobNameLabel = "batch.kubernetes.io/job-name"
    static let legacyJobNameLabel = "job-name"

    static func withGeneratedSelector(_ job: JSONValue) -> JSONValue {
        guard job["spec"]?["manualSelector"]?.boolValue != true,
              let uid = job["metadata"]?["uid"]?.stringValue, let name = job["metadata"]?["name"]?.stringValue else { return job }
        var j = job
        j.set(["spec", "selector"], .object(["matchLabels": .object([controllerUIDLabel: .string(uid)])]))
        var labels = j["spec"]?["template"]?["metadata"]?["labels"]?.objectValue ?? [:]
        labels[controllerUIDLabel] = .string(uid)
        labels[legacyControllerUIDLabel] = .string(uid)
        labels[jobNameLabel] = .string(name)
        labels[legacyJobNameLabel] = .string(name)
        j.set(["spec", "template", "metadata", "labels"], .object(labels))
        return j
    }
}
