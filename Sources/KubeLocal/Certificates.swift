import Crypto
import Foundation
import SwiftASN1
import X509

/// The serving credentials of the local control plane: a CA and a serving certificate for 127.0.0.1/localhost,
/// both ECDSA P-256, kept as PEM files in the state directory and reused across restarts.
struct ServingCertificates: Sendable {
    var caCertificatePEM: String
    var certificatePEM: String
    var privateKeyPEM: String

    static let caFile = "ca.crt"
    static let certificateFile = "serving.crt"
    static let keyFile = "serving.key"

    /// Loads the certificates from `directory`, or generates and writes them when absent or expiring.
    static func loadOrCreate(in directory: URL, now: Date = Date()) throws -> ServingCertificates {
        let fm = FileManager.default
        let ca = directory.appendingPathComponent(caFile)
        let cert = directory.appendingPathComponent(certificateFile)
        let key = directory.appendingPathComponent(keyFile)
        if let caPEM = try? String(contentsOf: ca, encoding: .utf8), let certPEM = try? String(contentsOf: cert, encoding: .utf8),
           let keyPEM = try? String(contentsOf: key, encoding: .utf8),
           let parsed = try? Certificate(pemEncoded: certPEM), parsed.notValidAfter > now.addingTimeInterval(86400) {
            return ServingCertificates(caCertificatePEM: caPEM, certificatePEM: certPEM, privateKeyPEM: keyPEM)
        }
        let generated = try generate(now: now)
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(generated.caCertificatePEM.utf8).write(to: ca)
        try Data(generated.certificatePEM.utf8).write(to: cert)
        try Data(generated.privateKeyPEM.utf8).write(to: key)
        for file in [ca, cert, key] { try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path) }
        return generated
    }

    static func generate(now: Date = Date()) throws -> ServingCertificates {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("mir")
            CommonName("mir local control plane CA")
        }
        let caPublicKey = Certificate.PublicKey(caKey.publicKey)
        let caCertificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: caPublicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caPublicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))

        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("mir")
            CommonName("localhost")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(2 * 365 * 86400),
            issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: caPublicKey).keyIdentifier)
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))

        return ServingCertificates(caCertificatePEM: try caCertificate.serializeAsPEM().pemString,
                                   certificatePEM: try certificate.serializeAsPEM().pemString,
                                   privateKeyPEM: key.pemRepresentation)
    }
}
