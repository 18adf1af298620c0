"""Table tests of mitratest.metadata: what the golden comparison must catch and what it must
let through. Run: PYTHONPATH=tools python3 -m unittest mitratest.test_metadata"""

import unittest

from mitratest import metadata

PAGE = """# HELP api_requests_total Requests by route.
# TYPE api_requests_total counter
api_requests_total{route="/a",status="200"} 3
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{route="/a",le="0.1"} 1
latency_seconds_bucket{route="/a",le="+Inf"} 2
latency_seconds_sum{route="/a"} 0.3
latency_seconds_count{route="/a"} 2
# HELP up Whether it is up.
# TYPE up gauge
up 1
"""
LATER = PAGE + """# HELP errors_total Errors by kind.
# TYPE errors_total counter
errors_total{kind="timeout"} 1
"""


def golden_of(*pages):
    parsed = [metadata.parse(page, "page") for page in pages]
    rendered = metadata.render(metadata.union(parsed), set(parsed[0]))
    return {line.split("\t")[0]: dict(zip(("type", "presence", "labels", "help"), line.split("\t")[1:]))
            for line in rendered.splitlines() if not line.startswith("#")}


def problems(golden, *pages):
    parsed = [metadata.parse(page, "page") for page in pages]
    return metadata.compare(golden, metadata.render(metadata.union(parsed), set(parsed[0])))


class MetadataTests(unittest.TestCase):
    def setUp(self):
        self.golden = golden_of(PAGE, LATER)

    def test_golden_records_names_types_labels_and_presence(self):
        self.assertEqual(self.golden["latency_seconds"],
                         {"type": "histogram", "presence": "always", "labels": "route", "help": "Latency."})
        self.assertEqual(self.golden["errors_total"]["presence"], "sometimes")
        self.assertEqual(self.golden["up"]["labels"], "-")

    def test_same_metadata_other_values_pass(self):
        self.assertEqual(problems(self.golden, PAGE.replace("} 3", "} 9").replace('"/a"', '"/b"')), [])

    def test_a_sometimes_family_may_be_absent(self):
        self.assertEqual(problems(self.golden, PAGE), [])

    def test_each_change_fails(self):
        cases = {
            "renamed": (PAGE.replace("up", "alive"), ["alive: not in", "up: missing"]),
            "help": (PAGE.replace("Latency.", "Time taken."), ["latency_seconds: HELP"]),
            "type": (PAGE.replace("TYPE up gauge", "TYPE up counter"), ["up: type"]),
            "label added": (PAGE.replace('status="200"', 'status="200",method="GET"'), ["api_requests_total: label names"]),
            "label removed": (PAGE.replace(',status="200"', ""), ["api_requests_total: label names"]),
            "always family gone": (PAGE.replace("up 1\n", ""), ["up: missing"]),
            "new family": (LATER.replace("errors_total", "failures_total"), ["failures_total: not in"]),
        }
        for name, (page, expected) in cases.items():
            with self.subTest(name):
                found = problems(self.golden, page)
                self.assertEqual(len(found), len(expected), found)
                for prefix, problem in zip(expected, found):
                    self.assertTrue(problem.startswith(prefix), (prefix, problem))

    def test_unreadable_labels_name_the_line(self):
        with self.assertRaisesRegex(metadata.ParseError, "page:3"):
            metadata.parse(PAGE.replace('route="/a",status', "route=/a,status"), "page")


if __name__ == "__main__":
    unittest.main()
