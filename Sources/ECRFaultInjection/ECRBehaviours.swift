import Foundation
import Synchronization

/// Ready-made rules that add the ECR behaviour moto lacks.
extension FaultRule {
    /// The list key of each paginated ECR operation (botocore's paginators-1.json).
    public static let paginatedOperations: [String: String] = [
        "DescribeRepositories": "repositories",
        "ListImages": "imageIds",
        "DescribeImages": "imageDetails",
    ]

    /// Real ECR pagination on top of an upstream that returns everything in one page (moto): honours
    /// `maxResults` (1–1000, default `defaultPageSize`), returns an opaque `nextToken`, rejects a bad token or an
    /// out-of-range `maxResults` with InvalidParameterException. Requests naming `repositoryNames`/`imageIds`
    /// pass through, as in ECR.
    public static func ecrPagination(defaultPageSize: Int = 100) -> FaultRule {
        FaultRule(.operations(Set(paginatedOperations.keys)), action: .custom { request, forward in
            let input = request.jsonBody ?? [:]
            if input["repositoryNames"] != nil || input["imageIds"] != nil { return try await forward(request) }
            let pageSize: Int
            if let raw = input["maxResults"] {
                guard let value = raw as? Int, (1...1000).contains(value) else {
                    return .ecrError("InvalidParameterException", message: "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
                }
                pageSize = value
            } else {
                pageSize = defaultPageSize
            }
            var offset = 0
            if let token = input["nextToken"] {
                guard let token = token as? String, let decoded = PageToken.decode(token) else {
                    return .ecrError("InvalidParameterException", message: "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid pagination token'")
                }
                offset = decoded
            }
            let response = try await forward(request)
            guard response.status == 200, let operation = request.operation, let key = paginatedOperations[operation],
                  var object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any],
                  let items = object[key] as? [Any] else { return response }
            let start = min(offset, items.count)
            let end = min(start + pageSize, items.count)
            object[key] = Array(items[start..<end])
            if end < items.count {
                object["nextToken"] = PageToken.encode(end)
            } else {
                object.removeValue(forKey: "nextToken")
            }
            return .json(object)
        })
    }

    /// ECR's repositories-per-registry quota: CreateRepository beyond `limit` live repositories (counted through
    /// this server) fails with LimitExceededException, as real ECR does.
    public static func repositoryQuota(_ limit: Int) -> FaultRule {
        let live = Mutex(0)
        return FaultRule(.operations(["CreateRepository", "DeleteRepository"]), action: .custom { request, forward in
            if request.operation == "CreateRepository" {
                if live.withLock({ $0 }) >= limit {
                    return .ecrError("LimitExceededException", message: "The operation did not succeed because it would have exceeded a service limit for your account. Repositories per registry: \(limit)")
                }
                let response = try await forward(request)
                if response.status == 200 { live.withLock { $0 += 1 } }
                return response
            }
            let response = try await forward(request)
            if response.status == 200 { live.withLock { $0 = max(0, $0 - 1) } }
            return response
        })
    }

    /// ECR's 50-tags-per-repository limit on CreateRepository and TagResource (counting the tags in the request):
    /// TooManyTagsException beyond it.
    public static func tagLimit(_ limit: Int = 50) -> FaultRule {
        FaultRule(.operations(["CreateRepository", "TagResource"]), action: .custom { request, forward in
            let tags = (request.jsonBody?["tags"] as? [Any])?.count ?? 0
            if tags > limit {
                return .ecrError("TooManyTagsException", message: "The list of tags on the repository is over the limit. The maximum number of tags that can be assigned to a repository is \(limit).")
            }
            return try await forward(request)
        })
    }
}

/// The fake's opaque pagination token.
enum PageToken {
    static func encode(_ offset: Int) -> String {
        Data("mir-fake-page:\(offset)".utf8).base64EncodedString()
    }

    static func decode(_ token: String) -> Int? {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("mir-fake-page:") else { return nil }
        return Int(text.dropFirst("mir-fake-page:".count))
    }
}
