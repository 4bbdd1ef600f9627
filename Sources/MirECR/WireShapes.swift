import Foundation

// awsJson1_1 request and response members of the ECR operations mir calls (service-2.json, 2015-09-21).
// Optional members are left out when nil; timestamps are epoch seconds.

struct WireTag: Codable, Sendable {
    var Key: String
    var Value: String
}

struct WireImageId: Codable, Sendable {
    var imageDigest: String?
    var imageTag: String?
}

struct WireRepository: Decodable, Sendable {
    var repositoryArn: String
    var registryId: String
    var repositoryName: String
    var repositoryUri: String
    var createdAt: WireTimestamp?
    var imageTagMutability: String?
}

struct WireImageDetail: Decodable, Sendable {
    var imageDigest: String
    var imageTags: [String]?
    var imageSizeInBytes: Int?
    var imagePushedAt: WireTimestamp?
}

/// A timestamp: a JSON number of epoch seconds (ECR), or a date string (moto's GetAuthorizationToken).
struct WireTimestamp: Decodable, Sendable {
    var date: Date

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            date = Date(timeIntervalSince1970: seconds)
            return
        }
        let text = try container.decode(String.self)
        if let seconds = Double(text) {
            date = Date(timeIntervalSince1970: seconds)
            return
        }
        for format in ["yyyy-MM-dd HH:mm:ssxxxxx", "yyyy-MM-dd HH:mm:ss.SSSSSSxxxxx", "yyyy-MM-dd'T'HH:mm:ssxxxxx",
                       "yyyy-MM-dd'T'HH:mm:ss.SSSxxxxx", "yyyy-MM-dd'T'HH:mm:ss'Z'"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let parsed = formatter.date(from: text) {
                date = parsed
                return
            }
        }
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "unrecognised timestamp '\(text)'")
    }
}

struct EmptyOutput: Decodable, Sendable {}

struct DescribeRepositoriesInput: Encodable, Sendable {
    var registryId: String?
    var repositoryNames: [String]?
    var maxResults: Int?
    var nextToken: String?
}

struct DescribeRepositoriesOutput: Decodable, Sendable {
    var repositories: [WireRepository]?
    var nextToken: String?
}

struct CreateRepositoryInput: Encodable, Sendable {
    var repositoryName: String
    var tags: [WireTag]?
    var imageTagMutability: String?
}

struct RepositoryOutput: Decodable, Sendable {
    var repository: WireRepository
}

struct DeleteRepositoryInput: Encodable, Sendable {
    var repositoryName: String
    var force: Bool?
}

struct RepositoryNameInput: Encodable, Sendable {
    var repositoryName: String
}

struct LifecyclePolicyOutput: Decodable, Sendable {
    var lifecyclePolicyText: String?
}

struct PutLifecyclePolicyInput: Encodable, Sendable {
    var repositoryName: String
    var lifecyclePolicyText: String
}

struct ListImagesInput: Encodable, Sendable {
    var repositoryName: String
    var maxResults: Int?
    var nextToken: String?
}

struct ListImagesOutput: Decodable, Sendable {
    var imageIds: [WireImageId]?
    var nextToken: String?
}

struct DescribeImagesInput: Encodable, Sendable {
    var repositoryName: String
    var imageIds: [WireImageId]?
    var maxResults: Int?
    var nextToken: String?
}

struct DescribeImagesOutput: Decodable, Sendable {
    var imageDetails: [WireImageDetail]?
    var nextToken: String?
}

struct PutImageInput: Encodable, Sendable {
    var repositoryName: String
    var imageManifest: String
    var imageManifestMediaType: String?
    var imageTag: String?
}

struct PutImageOutput: Decodable, Sendable {
    struct Image: Decodable, Sendable { var imageId: WireImageId? }
    var image: Image?
}

struct ResourceArnInput: Encodable, Sendable {
    var resourceArn: String
}

struct ListTagsOutput: Decodable, Sendable {
    var tags: [WireTag]?
}

struct TagResourceInput: Encodable, Sendable {
    var resourceArn: String
    var tags: [WireTag]
}

struct GetAuthorizationTokenInput: Encodable, Sendable {}

struct GetAuthorizationTokenOutput: Decodable, Sendable {
    struct Data: Decodable, Sendable {
        var authorizationToken: String?
        var expiresAt: WireTimestamp?
        var proxyEndpoint: String?
    }
    var authorizationData: [Data]?
}
