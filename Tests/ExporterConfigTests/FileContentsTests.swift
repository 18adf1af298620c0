@testable import ExporterConfig
import Foundation
import Testing

@Suite struct FileContentsTests {
    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "mitra-file-contents-\(UUID().uuidString).yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsWholeFilesIncludingEmptyOnes() throws {
        let text = String(repeating: "checks: []\n", count: 20_000)  // larger than one read chunk
        let path = try temporaryFile(text)
        defer { unlink(path) }
        #expect(try FileContents.read(path).get() == Data(text.utf8))
        let empty = try temporaryFile("")
        defer { unlink(empty) }
        #expect(try FileContents.read(empty).get().isEmpty)
        #expect(try ConfigLoader.load(path: empty).checks.isEmpty)
    }

    @Test func failuresSayWhy() {
        func reason(_ path: String) -> String? {
            if case .failure(let failure) = FileContents.read(path) { failure.reason } else { nil }
        }
        #expect(reason("/nonexistent/mitra.yml") == "file does not exist")
        #expect(reason("/tmp")?.contains("directory") == true)
        // A device that never ends is refused instead of read forever.
        #expect(reason("/dev/zero") == "file is larger than 16 MiB")
    }

    @Test func webConfigOfADirectoryNamesTheFile() {
        do {
            _ = try WebConfig.load(path: "/tmp")
            Issue.record("a directory was accepted as a web config")
        } catch {
            #expect(error.description == "/tmp:1:1: is a directory, not a file")
        }
    }
}
