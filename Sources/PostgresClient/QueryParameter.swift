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

    /// The `PQsendQueryParams` type oid (0: let the server infer it) and format (0 text, 1 binary).
    var wireType: (type: UInt32, format: Int32) {
        switch self {
        case .text: (0, 0)
        case .int8Array: (Self.int8ArrayType, 1)
        }
    }

    /// The bytes the value takes when sent (text with its terminating NUL); nil for NULL.
    var wireLength: Int? {
        switch self {
        case .text(let value): value.map { $0.utf8.count + 1 }
        case .int8Array(let values): (values.isEmpty ? 12 : 20) + values.count * 12
        }
    }

    /// Writes the value as sent into `buffer`, `wireLength` bytes. Straight into the buffer
    /// libpq sends from: an array runs to thousands of elements every sample.
    func write(into buffer: UnsafeMutableRawBufferPointer) {
        switch self {
        case .text(let value):
            guard let value else { return }
            var offset = 0
            for byte in value.utf8 {
                buffer[offset] = byte
                offset += 1
            }
            buffer[offset] = 0
        case .int8Array(let values):
            // array_recv's layout, big-endian: dimensions, has-nulls flag, element type, then
            // per dimension its length and lower bound; then each element as length + value.
            buffer.storeBytes(of: Int32(values.isEmpty ? 0 : 1).bigEndian, toByteOffset: 0, as: Int32.self)
            buffer.storeBytes(of: Int32(0).bigEndian, toByteOffset: 4, as: Int32.self)
            buffer.storeBytes(of: Self.int8Type.bigEndian, toByteOffset: 8, as: UInt32.self)
            var offset = 12
            if !values.isEmpty {
                buffer.storeBytes(of: Int32(values.count).bigEndian, toByteOffset: 12, as: Int32.self)
                buffer.storeBytes(of: Int32(1).bigEndian, toByteOffset: 16, as: Int32.self)
                offset = 20
            }
            for value in values {
                buffer.storeBytes(of: Int32(8).bigEndian, toByteOffset: offset, as: Int32.self)
                buffer.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int64.self)
                offset += 12
            }
        }
    }

    static let int8Type: UInt32 = 20
    static let int8ArrayType: UInt32 = 1016
}
