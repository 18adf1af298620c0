/// One `$n` parameter of a statement.
public enum QueryParameter: Sendable, Hashable {
    /// Text, which the server converts to the parameter's type (NULL as nil).
    case text(String?)
    /// An `int8[]` sent in PostgreSQL's binary array format: for arrays of thousands of
    /// numbers, which would otherwise be formatted here and parsed again by the server.
    case int8Array([Int64])

    /// The same value as PostgreSQL's text input would read it (`{1,2,3}` for an array):
    /// how recordings and messages show a parameter.
    public var text: String? {
        switch self {
        case .text(let value): value
        case .int8Array(let values): "{" + values.map { String($0) }.joined(separator: ",") + "}"
        }
    }

    /// The `PQsendQueryParams` type oid (0: let the server infer it), format (0 text, 1
    /// binary) and bytes of this parameter, NUL-terminated for text (nil for NULL).
    var wire: (type: UInt32, format: Int32, bytes: [UInt8]?) {
        switch self {
        case .text(let value):
            return (0, 0, value.map { Array($0.utf8) + [0] })
        case .int8Array(let values):
            // array_recv's layout, big-endian: dimensions, has-nulls flag, element type, then
            // per dimension its length and lower bound; then each element as length + value.
            // Written in place: this runs for thousands of elements every sample.
            let header = values.isEmpty ? 12 : 20
            let size = header + values.count * 12
            let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                raw.storeBytes(of: Int32(values.isEmpty ? 0 : 1).bigEndian, toByteOffset: 0, as: Int32.self)
                raw.storeBytes(of: Int32(0).bigEndian, toByteOffset: 4, as: Int32.self)
                raw.storeBytes(of: Self.int8Type.bigEndian, toByteOffset: 8, as: UInt32.self)
                if !values.isEmpty {
                    raw.storeBytes(of: Int32(values.count).bigEndian, toByteOffset: 12, as: Int32.self)
                    raw.storeBytes(of: Int32(1).bigEndian, toByteOffset: 16, as: Int32.self)
                }
                var offset = header
                for value in values {
                    raw.storeBytes(of: Int32(8).bigEndian, toByteOffset: offset, as: Int32.self)
                    raw.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int64.self)
                    offset += 12
                }
                initialized = size
            }
            return (Self.int8ArrayType, 1, bytes)
        }
    }

    static let int8Type: UInt32 = 20
    static let int8ArrayType: UInt32 = 1016
}
