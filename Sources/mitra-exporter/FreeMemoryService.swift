import CMallocTuning
import ServiceLifecycle

/// Gives the heap's free pages back to the system every few seconds.
///
/// glibc returns freed memory only from the top of its heap. What a scrape, a sample or a
/// burst of probes frees in the middle stays resident: 16 concurrent scrapes of one
/// PostgreSQL instance's body left about 3 MiB behind, a scrape of 1,000 checks some 6 MB.
/// Trimming when at least `minimumFree` bytes are free costs a walk of the free lists and a
/// page fault per page the next scrape touches again, which at a scrape every few seconds is
/// far less than keeping those pages for good.
struct FreeMemoryService: Service {
    var period: Duration = .seconds(5)
    var minimumFree = 512 * 1024

    func run() async throws {
        let (period, minimumFree) = (period, minimumFree)
        // Ends at graceful shutdown: the sleep is cancelled and throws.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: period)
                _ = mitra_return_free_heap(minimumFree)
            }
        }
    }
}
