"""The HTML report in a real browser (headless Chromium, driven over the DevTools protocol).

Usage: python check_html.py BIN OUT_DIR

Runs BIN (cse-contract) against a faulty mock with generated cases, opens the page it writes,
and requires that the filter script runs without an error, that each filter (outcome, check,
name, from the controls and from the address) shows exactly the cases the JSON report says it
should, and that the page says what happened. Installs Chromium (Debian's package) when no
Chromium or Chrome is found. Leaves a screenshot in OUT_DIR (not in the repository).

Needs the `websocket-client` package (PyPI).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

ENGINE = "a1a1a1a1-0000-4000-8000-000000000001"
TOKEN = "browser-test-token-0123456789"


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    print("Chromium not found: installing Debian's package", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    return shutil.which("chromium") or sys.exit("chromium was installed but is not on PATH")


def make_report(binary, out):
    mock = subprocess.Popen(
        [binary, "mock", "--listen", "127.0.0.1:0", "--token", TOKEN, "--fault", "error_missing_code"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = mock.stdout.readline().strip()
    try:
        run = subprocess.run(
            [binary, "run", "--target", url, "--project-id", "demo-project", "--engine-id", ENGINE,
             "--generated", "300", "--seed", "7", "--json", f"{out}/report.json",
             "--junit", f"{out}/junit.xml", "--html", f"{out}/index.html", "-q"],
            env=dict(os.environ, CSE_AUTH_TOKEN=TOKEN), capture_output=True, text=True, timeout=300)
    finally:
        mock.terminate()
        mock.wait()
    assert run.returncode == 1, f"expected failures (exit 1), got {run.returncode}\n{run.stdout}{run.stderr}"
    with open(f"{out}/report.json") as f:
        return json.load(f)


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, binary, profile):
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1280,1600", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.errors = []
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.call("Log.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            self.note(message)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def note(self, message):
        method = message.get("method")
        if method == "Runtime.exceptionThrown":
            self.errors.append(message["params"]["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
            self.errors.append(str(message["params"]["args"]))
        elif method == "Log.entryAdded" and message["params"]["entry"]["level"] == "error":
            self.errors.append(message["params"]["entry"]["text"])

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url):
        # A new document each time: a change of the address's fragment alone would not reload.
        self.call("Page.navigate", url="about:blank")
        self.call("Page.navigate", url=url)
        for _ in range(300):
            if self.evaluate("document.body && document.body.getAttribute('data-ready')") == "1":
                return
            time.sleep(0.05)
        raise AssertionError(f"{url}: the page's script never finished (data-ready unset): {self.errors}")

    def shown(self):
        return self.evaluate(
            "Array.prototype.filter.call(document.querySelectorAll('#cases > details.case'),"
            " function (el) { return !el.hidden; }).map(function (el) { return el.getAttribute('data-name'); })")

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait()


def main():
    binary, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    report = make_report(binary, out)
    cases = report["cases"]
    names = lambda pick: sorted(c["name"] for c in cases if pick(c))
    page = "file://" + os.path.abspath(f"{out}/index.html")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = Browser(chromium(), profile)
        try:
            browser.open(page)
            title = browser.evaluate("document.title")
            assert title == "cse-contract: failed", title
            assert sorted(browser.shown()) == names(lambda c: True), "unfiltered: every case is listed"
            # Filters from the address.
            expectations = [
                ("outcome=failed", names(lambda c: c["outcome"] == "failed")),
                ("outcome=passed", names(lambda c: c["outcome"] == "passed")),
                ("check=body_schema", names(lambda c: "body_schema" in c["failed_checks"])),
                ("name=body_large", names(lambda c: "body_large" in c["name"])),
                ("outcome=not-passed&name=generated::negative",
                 names(lambda c: c["outcome"] in ("failed", "errored") and "generated::negative" in c["name"])),
            ]
            for query, expected in expectations:
                browser.open(f"{page}#{query}")
                assert expected, f"{query}: the report has no such case, the test proves nothing"
                assert sorted(browser.shown()) == expected, f"#{query}: {len(browser.shown())} shown, {len(expected)} expected"
            # Filters from the controls, as a user sets them.
            browser.open(page)
            browser.evaluate(
                "(function () { var s = document.getElementById('f-outcome'); s.value = 'passed';"
                " s.dispatchEvent(new Event('change')); })()")
            assert sorted(browser.shown()) == names(lambda c: c["outcome"] == "passed"), "outcome control"
            browser.evaluate(
                "(function () { var i = document.getElementById('f-name'); i.value = 'action';"
                " i.dispatchEvent(new Event('input')); })()")
            expected = names(lambda c: c["outcome"] == "passed" and "action" in c["name"])
            assert sorted(browser.shown()) == expected, "outcome and name controls together"
            counter = browser.evaluate("document.getElementById('shown').textContent")
            assert counter == f"{len(expected)} of {len(cases)} cases shown", counter
            # A failure group's example link shows that case.
            browser.open(page)
            example = report["failure_groups"][0]["example"]
            browser.evaluate(f"document.querySelector('a[data-show=\"{example}\"]').click()")
            assert example in browser.shown(), "the group's example link shows its case"
            browser.open(f"{page}#outcome=not-passed")
            shot = browser.call("Page.captureScreenshot", format="png")
            with open(f"{out}/index.png", "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            assert not browser.errors, f"script errors: {browser.errors}"
        finally:
            browser.close()
    print(f"browser: the HTML page of {len(cases)} cases filters correctly in Chromium, no script error;"
          f" screenshot {out}/index.png")


if __name__ == "__main__":
    main()
