"""/metrics latency with CONCURRENCY scrapers each doing PER_WORKER scrapes at once; prints
"p50 p99" in milliseconds.

    concurrent_scrapes.py URL CONCURRENCY PER_WORKER"""
import concurrent.futures
import sys
import time
import urllib.request

url, concurrency, per_worker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def worker(_):
    latencies = []
    for _ in range(per_worker):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
    samples = sorted(ms for batch in pool.map(worker, range(concurrency)) for ms in batch)
p50 = samples[len(samples) // 2]
p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
print(f"{p50:.2f} {p99:.2f}")
