"""The probe target for the benchmark: a threaded HTTP server on 127.0.0.1 (a free port,
written to the file named by the first argument) answering /health with a small JSON body."""
import http.server
import sys

BODY = b'{"status":"ok","service":"agent-mitra","checks":{"database":"ok"}}'


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a thousand checks fire at once.
    request_queue_size = 4096


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
