"""Python helpers shared by the test, demo, benchmark and reliability scripts.

    mitratest.stub        the one configurable stub HTTP server (routes, TLS, recording)
    mitratest.metadata    metric metadata of a /metrics page, compared with a golden file

Scripts outside tools/ import it with tools/ on sys.path (see e2e/servers.py). Python 3
standard library only.
"""
