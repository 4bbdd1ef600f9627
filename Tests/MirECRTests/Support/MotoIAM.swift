import Foundation
import MirTestSupport

/// Access keys of an IAM user created in moto.
struct IAMUserKeys: Sendable, Decodable, Hashable {
    var accessKeyId: String
    var secretAccessKey: String
}

/// Bootstraps IAM users in a moto server (moto-ecr-fidelity.md §3): with auth off, creates one user per
/// policy, attaches the policy inline and makes an access key; the caller then enforces auth with
/// `resetAuth("0")`. Uses boto3 (installed with moto) as the IAM client.
enum MotoIAM {
    /// - Parameter users: user name → policy document (JSON text).
    static func createUsers(on moto: MotoServer, _ users: [String: String]) throws -> [String: IAMUserKeys] {
        let spec = try JSONSerialization.data(withJSONObject: users)
        let script = """
        import boto3, json, sys
        spec = json.loads(sys.stdin.read())
        iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        out = {}
        for name, policy in sorted(spec.items()):
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName=name + "-policy", PolicyDocument=policy)
            key = iam.create_access_key(UserName=name)["AccessKey"]
            out[name] = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
        print(json.dumps(out))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, moto.url.absoluteString]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(spec)
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MotoServer.HarnessError.request("IAM bootstrap failed: \(errorText.suffix(800))")
        }
        return try JSONDecoder().decode([String: IAMUserKeys].self, from: data)
    }

    /// An identity policy allowing exactly `actions` on `*` (moto only matches ECR against `*`).
    static func policy(allowing actions: [String]) -> String {
        let document: [String: Any] = ["Version": "2012-10-17",
                                       "Statement": [["Effect": "Allow", "Action": actions, "Resource": "*"]]]
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
