/// RFC 3986 percent-encoding of UTF-8 text (Foundation's `addingPercentEncoding` is not in
/// FoundationEssentials).
public enum PercentEncoding {
    /// What a query component may hold unencoded besides the unreserved characters, as
    /// Foundation's `.urlQueryAllowed`.
    public static let queryCharacters = "!$&'()*+,;=:@/?"

    /// `text` with every byte except ASCII letters, digits, `-._~` and the `keeping`
    /// characters written as `%XX` (upper-case hex).
    public static func encode(_ text: String, keeping: String = "") -> String {
        let kept = Set(keeping.utf8)
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where kept.contains(byte):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }
}
