// ECRFaultInjection: a scriptable HTTP server for testing ECR clients against what moto lacks.
//
// Usage (moto behind it as the real speaker):
//
//     let proxy = try await FaultInjectingServer.start(upstream: moto.url)
//     proxy.plan.add(.ecrPagination())                                   // real nextToken paging
//     proxy.plan.add(.repositoryQuota(10_000))                           // LimitExceededException past the quota
//     proxy.plan.add(FaultRule(.operation("ListImages"), times: 3, action: .respond(.throttling)))
//     proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .resetConnection))
//     proxy.plan.add(FaultRule(.any, delay: .milliseconds(50), action: .forward))   // latency on everything
//     … point the client at proxy.url …
//     proxy.requests(for: "ListImages").count                            // what reached the server
//     await proxy.stop()
//
// Without an upstream it is a pure fake: `FaultInjectingServer.start(fallback: { request in .json([...]) })`.
// Rules are consulted in order; the first matching rule with uses left decides. `FaultAction.custom` receives the
// request and a forwarder, so a suite can build any behaviour (per-account throttling, random faults at a rate,
// recorded latencies) on top of the upstream.
