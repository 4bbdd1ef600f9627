// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "mir",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mir", targets: ["mir"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Domain model: specs, config, diagnostics, JSON values, ECR lifecycle rules. No I/O.
        .target(name: "MirModel", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The registry port: ECR-shaped operations and error vocabulary.
        .target(name: "MirRegistry", dependencies: ["MirModel"]),
        // Adapter: the embedded, on-disk registry (`--registry local[:DIR]`).
        .target(name: "MirLocalRegistry", dependencies: ["MirRegistry", "MirModel", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio")]),
        // Adapter: ManagedImage specs and config from YAML files.
        .target(name: "MirSpec", dependencies: ["MirModel", "Yams"]),
        // Content-addressed tags, build contexts, the builder port and the render/simulate builders.
        .target(name: "MirBuild", dependencies: ["MirModel", "MirRegistry", .product(name: "Crypto", package: "swift-crypto")]),
        // Adapter: real builds with a local OCI engine (buildah, podman, docker) behind MirBuild's builder port.
        .target(name: "MirBuildEngine", dependencies: ["MirBuild", "MirModel", .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system")]),
        // Observe → plan (pure) → apply.
        .target(name: "MirCore", dependencies: ["MirModel", "MirRegistry", "MirBuild"]),
        // AWS Signature Version 4: a pure value type.
        .target(name: "AWSSigV4", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // AWS credential chain (env, web identity, shared files, container, IMDS) with refresh.
        .target(name: "AWSAuth", dependencies: ["AWSSigV4", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log")]),
        // Adapter: AWS ECR over awsJson1_1, with retries and client-side rate limiting.
        .target(name: "MirECR", dependencies: ["MirRegistry", "MirModel", "AWSSigV4", "AWSAuth", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        // A reusable, scriptable fault-injecting HTTP server for ECR: proxies to a real speaker (moto) or answers
        // itself, and injects throttling, 5xx, connection resets, latency, JSON/XML auth errors, limits and paging.
        .target(name: "ECRFaultInjection", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        // Kubernetes API client: config (kubeconfig, in-cluster, exec), verbs, watch, reflector, work queue.
        .target(name: "KubeClient", dependencies: ["MirModel", "Yams", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log")]),
        // Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) of built-in kinds → the JSON object
        // Go's encoding/json gives; Generated/ is protoc-gen-swift's output for the .proto subset in Protos/ (scripts/gen-proto).
        .target(name: "KubeProtobuf", dependencies: ["MirModel", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // mir's local control plane: an in-process Kubernetes-compatible API server (`mir dev`).
        .target(name: "KubeLocal", dependencies: ["MirModel", "MirBuild", "MirRegistry", "KubeRBAC", "KubeProtobuf",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"), "Yams", .product(name: "GRDB", package: "GRDB.swift")]),
        // The controller (`mir run`): watches, work queue, build Jobs, status, events, finalizers, leader election.
        .target(name: "MirController", dependencies: ["MirCore", "MirBuild", "MirModel", "MirRegistry", "MirSpec", "KubeClient", "MirTelemetry",
            .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        // Operations: Prometheus metrics backend, health probes, the /healthz /readyz /metrics server, JSON logs.
        .target(name: "MirTelemetry", dependencies: [
            .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        // Kubernetes RBAC as a pure value: roles, aggregation, bindings, the authorizer's decision, unused grants.
        .target(name: "KubeRBAC"),
        // Helpers shared by test targets: child processes that never starve the concurrent test process, moto's server.
        .target(name: "MirTestSupport", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto")]),
        // The thin CLI.
        .executableTarget(name: "mir", dependencies: [
            "MirModel", "MirRegistry", "MirLocalRegistry", "MirSpec", "MirBuild", "MirBuildEngine", "MirCore", "MirECR", "KubeClient", "KubeLocal", "MirController", "MirTelemetry",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Benchmarks (scripts/bench): counted cost and measured time of the registry, the planner and the controller.
        .executableTarget(name: "mir-bench", dependencies: [
            "MirModel", "MirRegistry", "MirLocalRegistry", "MirBuild", "MirCore", "KubeClient", "KubeLocal", "MirController",
            "MirTestSupport", .product(name: "Logging", package: "swift-log"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
        ]),

        .testTarget(name: "MirModelTests", dependencies: ["MirModel", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MirLocalRegistryTests", dependencies: ["MirLocalRegistry", "MirRegistry", "MirModel", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MirSpecTests", dependencies: ["MirSpec", "MirModel", .product(name: "PropertyBased", package: "swift-property-based")],
                    exclude: ["Corpus"]),
        .testTarget(name: "MirBuildTests", dependencies: ["MirBuild", "MirModel", "MirRegistry", "MirLocalRegistry", "MirTestSupport", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MirBuildEngineTests", dependencies: ["MirBuildEngine", "MirBuild", "MirModel", "MirRegistry", "MirLocalRegistry", "MirECR", "MirTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MirCoreTests", dependencies: ["MirCore", "MirModel", "MirRegistry", "MirBuild", "MirLocalRegistry", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MirCLITests", dependencies: ["MirModel", "MirRegistry", "MirLocalRegistry", "MirTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "AWSSigV4Tests", dependencies: ["AWSSigV4"]),
        .testTarget(name: "AWSAuthTests", dependencies: ["AWSAuth", "AWSSigV4", "MirTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MirECRTests", dependencies: ["MirECR", "MirRegistry", "MirModel", "AWSSigV4", "AWSAuth", "ECRFaultInjection", "MirTestSupport",
            "MirCore", "MirBuild", "MirLocalRegistry",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "KubeLocal", "MirModel"]),
        .testTarget(name: "MirControllerTests", dependencies: ["MirController", "MirCore", "MirBuild", "MirModel", "MirRegistry",
            "KubeClient", "KubeLocal", "MirLocalRegistry", "MirECR", "ECRFaultInjection", "MirTestSupport", .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "MetricsTestKit", package: "swift-metrics")]),
        .testTarget(name: "KubeLocalTests", dependencies: ["KubeLocal", "KubeProtobuf", "MirModel", "MirBuild", "MirTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "MirTelemetryTests", dependencies: ["MirTelemetry",
            .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]),
        .testTarget(name: "KubeRBACTests", dependencies: ["KubeRBAC"]),
        // The install: Containerfile/scripts/image, the Helm chart Charts/mir (Helm's engine, kubernetes-validate),
        // Manifests/, and the controller's RBAC proven end to end against the local control plane.
        .testTarget(name: "MirInstallTests", dependencies: ["KubeRBAC", "KubeLocal", "MirBuild", "MirLocalRegistry", "MirModel",
            "MirTestSupport", "Yams"]),
    ],
    swiftLanguageModes: [.v6]
)
