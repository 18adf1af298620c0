#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads for the configuration, web configuration and `${file:...}` secrets.
///
/// Uses open/read rather than `FileManager.contents(atPath:)`, which leaks a 4 KiB buffer
/// every time it reads an empty file (seen under LeakSanitizer); these files are read again
/// on every reload. Reads are capped so a reference to a device such as /dev/zero fails
/// instead of reading forever.
enum FileContents {
    static let limit = 16 << 20

    /// The file's bytes, or a short reason such as "file does not exist".
    static func read(_ path: String) -> Result<Data, Failure> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(Failure(errno: errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(errno: errno))
            }
            if count == 0 { return .success(Data(bytes)) }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return .failure(Failure(reason: "file is larger than \(limit >> 20) MiB")) }
        }
    }

    struct Failure: Error {
        let reason: String

        init(reason: String) { self.reason = reason }

        init(errno code: Int32) {
            switch code {
            case ENOENT: reason = "file does not exist"
            case EACCES: reason = "permission denied"
            case EISDIR: reason = "is a directory, not a file"
            default: reason = "cannot read file: \(String(cString: strerror(code)))"
            }
        }
    }
}
