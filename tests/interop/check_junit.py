"""Independent check of cse-contract's JUnit XML, run by .ci/run.

1. Runs tests/report-cases (a pass, a failure, an error) against `cse-contract mock
   --fault accept_bad_action`, and validates the JUnit it writes against the Jenkins/Ant JUnit
   XSD (junit-10.xsd, shipped in pytest's sdist) with xmlschema.
2. Reads it with junitparser, a JUnit consumer that shares no code with us, and checks the
   counts against the JSON report.
3. Does the same for a failing stateful case (`--fault engine_state_frozen`): its story, every
   step as curl, inside the JUnit failure.
4. Does the same for the full embedded run's reports (reports/junit.xml, reports/report.json).

Usage: check_junit.py BIN XSD WORKDIR
"""

import json
import subprocess
import sys
from pathlib import Path

import junitparser
import xmlschema


def counts(path):
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    total = failures = errors = 0
    for suite in suites:
        for case in suite:
            total += 1
            kinds = {type(r).__name__ for r in case.result}
            failures += "Failure" in kinds
            errors += "Error" in kinds
    return total, failures, errors


def check(schema, junit, report, expected):
    schema.validate(str(junit))
    summary = json.loads(Path(report).read_text())["summary"]
    got = counts(junit)
    from_json = (summary["total"], summary["failed"], summary["errored"])
    if expected[0] is None:
        expected = (from_json[0],) + expected[1:]
    assert got == from_json == expected, f"{junit}: junitparser {got}, json {from_json}, expected {expected}"
    print(f"{junit}: valid against junit-10.xsd; {got[0]} tests, {got[1]} failures, {got[2]} errors")


def sample(binary, stem, fault, engine, args):
    """Runs `args` against `cse-contract mock --fault FAULT`, writing STEM.json and STEM.xml; the
    run must fail (exit 1)."""
    mock = subprocess.Popen([binary, "mock", "--listen", "127.0.0.1:0", "-q", "--token", "ci-token", "--fault", fault],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = mock.stdout.readline().strip()
        run = subprocess.run(
            [binary, "run", "--target", url, "--project-id", "demo-project",
             "--engine-id", engine, "--generated", "0", "--timeout", "1s",
             "--json", f"{stem}.json", "--junit", f"{stem}.xml", "--html", f"{stem}.html"] + args,
            env={"CSE_AUTH_TOKEN": "ci-token", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
        assert run.returncode == 1, f"expected exit 1, got {run.returncode}\n{run.stdout}\n{run.stderr}"
    finally:
        mock.terminate()
        mock.wait(timeout=10)


def main():
    binary, xsd, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    schema = xmlschema.XMLSchema(xsd)
    always_retryable, slow = "a1a1a1a1-0000-4000-8000-000000000001", "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87"
    sample(binary, work / "sample", "accept_bad_action", always_retryable,
           ["--cases", "tests/report-cases", "--skip", "stateful::"])
    check(schema, work / "sample.xml", work / "sample.json", (3, 1, 1))
    # the engine whose jobs run 300 ms: the engine is read while its job runs
    sample(binary, work / "stateful", "engine_state_frozen", slow, ["stateful::engine_in_progress", "--stateful", "0"])
    check(schema, work / "stateful.xml", work / "stateful.json", (1, 1, 0))
    assert "step 2 (retry of the engine)" in (work / "stateful.xml").read_text()
    # The embedded run of .ci/run: hand-written and generated cases, all passing.
    check(schema, Path("reports/junit.xml"), Path("reports/report.json"), (None, 0, 0))
    print("junit: 3 passed, 0 failed")


if __name__ == "__main__":
    main()
