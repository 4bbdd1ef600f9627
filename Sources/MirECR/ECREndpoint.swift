import Foundation

/// An AWS partition as ECR's endpoint rules see it (botocore `partitions.json`).
public struct AWSPartition: Sendable, Hashable {
    public var id: String
    public var dnsSuffix: String
    public var dualStackDnsSuffix: String
    /// Matches the partition's region names.
    public var regionPattern: String

    public static let all: [AWSPartition] = [
        AWSPartition(id: "aws", dnsSuffix: "amazonaws.com", dualStackDnsSuffix: "api.aws",
                     regionPattern: #"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"#),
        AWSPartition(id: "aws-cn", dnsSuffix: "amazonaws.com.cn", dualStackDnsSuffix: "api.amazonwebservices.com.cn",
                     regionPattern: #"^cn\-\w+\-\d+$"#),
        AWSPartition(id: "aws-us-gov", dnsSuffix: "amazonaws.com", dualStackDnsSuffix: "api.aws",
                     regionPattern: #"^us\-gov\-\w+\-\d+$"#),
        AWSPartition(id: "aws-iso", dnsSuffix: "c2s.ic.gov", dualStackDnsSuffix: "api.aws.ic.gov",
                     regionPattern: #"^us\-iso\-\w+\-\d+$"#),
        AWSPartition(id: "aws-iso-b", dnsSuffix: "sc2s.sgov.gov", dualStackDnsSuffix: "api.aws.scloud",
                     regionPattern: #"^us\-isob\-\w+\-\d+$"#),
        AWSPartition(id: "aws-iso-e", dnsSuffix: "cloud.adc-e.uk", dualStackDnsSuffix: "api.cloud-aws.adc-e.uk",
                     regionPattern: #"^eu\-isoe\-\w+\-\d+$"#),
        AWSPartition(id: "aws-iso-f", dnsSuffix: "csp.hci.ic.gov", dualStackDnsSuffix: "api.aws.hci.ic.gov",
                     regionPattern: #"^us\-isof\-\w+\-\d+$"#),
        AWSPartition(id: "aws-eusc", dnsSuffix: "amazonaws.eu", dualStackDnsSuffix: "api.amazonwebservices.eu",
                     regionPattern: #"^eusc\-(de)\-\w+\-\d+$"#),
    ]

    /// The partition of a region; unknown regions fall back to `aws`, as botocore's `aws.partition` does.
    /// The ARN partition name (`aws`, `aws-cn`, …) is `id`.
    public static func of(region: String) -> AWSPartition {
        // Order matters: the more specific US patterns before the generic one.
        let ordered = all.filter { $0.id != "aws" } + all.filter { $0.id == "aws" }
        for partition in ordered where region.range(of: partition.regionPattern, options: .regularExpression) != nil {
            return partition
        }
        return all[0]
    }
}

/// Errors from resolving the ECR endpoint.
public struct ECREndpointError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// ECR's endpoint rules (botocore `endpoint-rule-set-1.json` for ecr 2015-09-21):
/// standard `https://api.ecr.{region}.{dnsSuffix}`, FIPS `https://api.ecr-fips.{region}.{dnsSuffix}`,
/// dual-stack `https://ecr.{region}.{dualStackDnsSuffix}`, FIPS+dual-stack `https://ecr-fips.{region}.{dualStackDnsSuffix}`;
/// an override is used as given and cannot be combined with FIPS or dual-stack.
public enum ECREndpointResolver {
    public static func resolve(region: String?, useFIPS: Bool = false, useDualStack: Bool = false,
                               endpointOverride: URL? = nil) throws(ECREndpointError) -> URL {
        if let endpointOverride {
            if useFIPS { throw ECREndpointError(message: "Invalid Configuration: FIPS and custom endpoint are not supported") }
            if useDualStack { throw ECREndpointError(message: "Invalid Configuration: Dualstack and custom endpoint are not supported") }
            return endpointOverride
        }
        guard let region, !region.isEmpty else {
            throw ECREndpointError(message: "Invalid Configuration: Missing Region (pass --region or set AWS_REGION / AWS_DEFAULT_REGION)")
        }
        guard isValidHostLabel(region) else {
            throw ECREndpointError(message: "Invalid Configuration: '\(region)' is not a valid region name")
        }
        let partition = AWSPartition.of(region: region)
        let host: String
        switch (useFIPS, useDualStack) {
        case (false, false): host = "api.ecr.\(region).\(partition.dnsSuffix)"
        case (true, false): host = "api.ecr-fips.\(region).\(partition.dnsSuffix)"
        case (false, true): host = "ecr.\(region).\(partition.dualStackDnsSuffix)"
        case (true, true): host = "ecr-fips.\(region).\(partition.dualStackDnsSuffix)"
        }
        guard let url = URL(string: "https://\(host)") else {
            throw ECREndpointError(message: "Invalid Configuration: cannot form an endpoint for region '\(region)'")
        }
        return url
    }

    static func isValidHostLabel(_ label: String) -> Bool {
        label.range(of: #"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$"#, options: .regularExpression) != nil
    }
}
