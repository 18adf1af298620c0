"""/metrics latency over one keep-alive connection, as Prometheus scrapes; prints
"p50 max" in milliseconds.

    scrape_latency.py URL SCRAPES plain|prometheus

plain: no Accept, no Accept-Encoding (the uncompressed text format).
prometheus: the exact request headers Prometheus 2.42 sends (OpenMetrics first, gzip); the
body is read whole, as Prometheus reads it before decompressing."""
import http.client
import sys
import time
import urllib.parse

PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
              "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}

url, scrapes, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode not in ("plain", "prometheus"):
    sys.exit(f"mode must be plain or prometheus, not {mode}")
parts = urllib.parse.urlsplit(url)
connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
headers = PROMETHEUS_HEADERS if mode == "prometheus" else {"Accept-Encoding": "identity"}
latencies = []
for _ in range(scrapes + 1):
    started = time.perf_counter()
    connection.request("GET", parts.path or "/", headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"{url}: status {response.status}")
    if mode == "prometheus" and response.getheader("Content-Encoding") != "gzip":
        sys.exit(f"{url}: no gzip body for Prometheus' headers")
    latencies.append((time.perf_counter() - started) * 1000)
connection.close()
latencies = sorted(latencies[1:])  # the first request also opens the connection
print(f"{latencies[len(latencies) // 2]:.3f} {latencies[-1]:.3f}")
