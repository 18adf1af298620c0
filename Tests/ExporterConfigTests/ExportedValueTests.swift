@testable import ExporterConfig
import Foundation
import Testing

@Suite struct RedactorEncodingTests {
    static let secret = #"p@ss w"rd/ü+"#

    /// A secret is hidden also in the forms the exporter itself produces from it.
    @Test(arguments: [
        #"{"password":"p@ss w\"rd/ü+"}"#,                       // JSON-escaped (request bodies)
        "https://host/login?pw=p%40ss%20w%22rd%2F%C3%BC%2B",    // percent-encoded
        "pw=p%40ss+w%22rd%2F%C3%BC%2B&x=1",                     // form-encoded
        "pw=p%40ss%20w%22rd%2f%c3%bc%2b",                       // percent-encoded, lower-case escapes
        "X-Secret: " + Data(secret.utf8).base64EncodedString(), // base64
        "Authorization: Basic " + Data("agent:\(secret)".utf8).base64EncodedString(), // base64 as in basic auth
    ])
    func encodedSecretIsRedacted(_ text: String) {
        let redacted = Redactor(secrets: [Self.secret]).redact(text)
        #expect(redacted.contains(Redactor.placeholder), "\(text) -> \(redacted)")
        #expect(!redacted.contains("rd/"))
        #expect(!redacted.contains("w%22rd"))
        #expect(!redacted.contains(Data(Self.secret.utf8).base64EncodedString().prefix(12)))
    }

    @Test func unrelatedBase64IsKept() {
        let text = "Authorization: Basic " + Data("agent:something-else".utf8).base64EncodedString()
        #expect(Redactor(secrets: [Self.secret]).redact(text) == text)
    }
}

@Suite struct ExportedValueTests {
    @Test func secretReferencesAreFoundButEscapesAreNot() {
        #expect(ConfigValue.secretReference(in: "a ${env:X} b") != nil)
        #expect(ConfigValue.secretReference(in: "${file:/etc/x}") != nil)
        #expect(ConfigValue.secretReference(in: "$${env:X}") == nil)
        #expect(ConfigValue.secretReference(in: "${token}") == nil)
        #expect(ConfigValue.secretReference(in: "plain") == nil)
    }

    @Test(arguments: [
        ("lic_schema.auth_events", #""lic_schema"."auth_events""#),
        ("Auth_Events", #""auth_events""#),
        (#""Audit"."Events""#, #""Audit"."Events""#),
        (#""we""ird""#, #""we""ird""#),
        ("événements", #""événements""#),
    ])
    func identifiersAreQuoted(_ text: String, _ quoted: String) throws {
        #expect(try #require(SQLIdentifier(parsing: text)).quoted == quoted)
    }

    @Test(arguments: ["", "a.b.c", "x; DROP TABLE y", "a b", "1abc", "\"open", "a.", ".a", "t)--", "\"\""])
    func nonIdentifiersAreRejected(_ text: String) {
        #expect(SQLIdentifier(parsing: text) == nil)
    }
}
