"""The probe target for the benchmark: tools/mitratest's stub server on 127.0.0.1 (a free port,
written to the file named by the first argument) answering /health with a small JSON body."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from mitratest import stub  # noqa: E402

BODY = b'{"status":"ok","service":"agent-mitra","checks":{"database":"ok"}}'

# Every path answers (the checks use /health); a thousand checks fire at once, hence the backlog.
stub.serve({"GET *": stub.reply(200, BODY, "application/json")}, port=0, port_file=sys.argv[1], backlog=4096)
