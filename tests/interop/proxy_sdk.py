"""The official Huawei Cloud Python SDK through the validation proxy, run by .ci/run.

SDK -> cse-contract proxy -> recording relay -> cse-contract mock. The relay is a plain TCP pipe
that keeps the bytes the mock sent, so each answer the SDK got through the proxy is compared with
the very answer the mock gave (status, every header field as received, body bytes), matched by the
mock's X-Request-Id. Each call is also made directly to the mock, and the SDK's view of both is
compared (the per-call request and job ids aside).

1. The plain mock: retry_engine (AK/SK: accepted, an engine that cannot be retried, an unknown
   engine, a wrong SK; the token variant), show_engine and show_engine_job: every exchange passes
   in the proxy's report, and the SDK saw byte for byte what the mock sent.
2. The mock with --fault wrong_id: the proxy's report names the failing check, identity.
3. A client sending a bad action: the proxy reports it as request_conforms alone.
The token and the signatures are in none of the proxy's reports or lines.

Usage: proxy_sdk.py BIN
"""

import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcse.v1 import (CseClient, EngineAdditionalActionReq, RetryEngineRequest, ShowEngineJobRequest,
                                  ShowEngineRequest)

AK = "FAKEAK0000000000TEST"
SK = "FAKESKfakeskFAKESKfakeskFAKESK0000000000"
TOKEN = "FAKE-IAM-TOKEN-MIIproxy0123456789"
PROJECT = "demo-project"
RETRYABLE = "a1a1a1a1-0000-4000-8000-000000000001"
ENGINE = "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87"
ENGINE_JOB = "18638"
AVAILABLE = "891bf21a-4024-4f47-b38c-bd259ca8f10a"
UNKNOWN = "00000000-0000-0000-0000-000000000000"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}

passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok: {name}")
    else:
        failed += 1
        print(f"FAILED: {name} {detail}")


class Relay:
    """A TCP pipe to `upstream` (host, port) that keeps every byte the upstream sent, per connection."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.streams = []
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.server.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(self.upstream)
            kept = bytearray()
            with self.lock:
                self.streams.append(kept)
            threading.Thread(target=self.pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, kept), daemon=True).start()

    def pump(self, source, sink, kept):
        try:
            while data := source.recv(65536):
                if kept is not None:
                    with self.lock:
                        kept.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def answers(self):
        """Every answer the upstream sent, by its X-Request-Id: (status, [(name, value)], body)."""
        found = {}
        with self.lock:
            streams = [bytes(s) for s in self.streams]
        for stream in streams:
            reader = Unclosable(stream)
            while reader.tell() < len(stream):
                answer = http.client.HTTPResponse(FakeSocket(reader))
                answer.begin()
                body = answer.read()
                headers = answer.getheaders()
                request_id = dict((k.lower(), v) for k, v in headers).get("x-request-id")
                found[request_id] = (answer.status, headers, body)
        return found


class Unclosable(io.BytesIO):
    """A stream that http.client reads several answers from (it closes it after each)."""

    def close(self):
        pass


class FakeSocket:
    def __init__(self, reader):
        self.reader = reader

    def makefile(self, *args, **kwargs):
        return self.reader


class Seen:
    """What the SDK received, as the requests library read it."""

    def __init__(self):
        self.answers = []

    def handler(self, response, logger, **kwargs):
        raw = response.raw.headers
        self.answers.append((response.status_code, list(raw.items()), response.content))


def client(url, seen, sk=SK, token=False):
    handler = HttpHandler().add_response_handler(seen.handler)
    if token:
        handler.add_request_handler(use_token)
    builder = CseClient.new_builder().with_credentials(BasicCredentials(ak=AK, sk=sk, project_id=PROJECT))
    return builder.with_endpoints([url]).with_http_handler(handler).build()


def use_token(request, logger, **kwargs):
    request.header_params.pop("Authorization", None)
    request.header_params.pop("X-Sdk-Date", None)
    request.header_params["X-Auth-Token"] = TOKEN


def call(c, what):
    """Calls `what` with client `c`; the SDK's view: the response as a dict, or the exception's."""
    try:
        if what[0] == "retry":
            response = c.retry_engine(RetryEngineRequest(engine_id=what[1], body=EngineAdditionalActionReq(action=what[2])))
        elif what[0] == "show_engine":
            response = c.show_engine(ShowEngineRequest(engine_id=what[1]))
        else:
            response = c.show_engine_job(ShowEngineJobRequest(engine_id=what[1], job_id=what[2]))
        view = response.to_dict()
        view.pop("job_id", None)
        return ("ok", view)
    except exceptions.ServiceResponseException as e:
        return (type(e).__name__, e.status_code, e.error_code, e.error_msg)


def start(args, env=None):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = process.stdout.readline().strip()
    # A pipe left unread fills and blocks the process on its next line.
    stderr = []
    threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True).start()
    return process, url, stderr


def proxy(binary, upstream, folder):
    paths = ["--json", f"{folder}/report.json", "--junit", f"{folder}/junit.xml", "--html", f"{folder}/index.html"]
    return start([binary, "proxy", "--upstream", upstream, "--listen", "127.0.0.1:0", *paths])


def stop(process, stderr, folder):
    process.terminate()
    code = process.wait(timeout=20)
    texts = [open(f"{folder}/{name}").read() for name in ("report.json", "junit.xml", "index.html")]
    return code, json.loads(texts[0]), texts + ["".join(stderr)]


def without_hop_by_hop(headers):
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def plain(binary, mock_url, folder):
    relay = Relay(("127.0.0.1", int(mock_url.rsplit(":", 1)[1])))
    process, url, stderr = proxy(binary, relay.url, folder)
    calls = [
        (("retry", RETRYABLE, "Retry"), {}),
        (("retry", AVAILABLE, "Retry"), {}),
        (("retry", UNKNOWN, "Retry"), {}),
        (("retry", RETRYABLE, "Retry"), {"sk": "wrong" + SK}),
        (("retry", RETRYABLE, "Retry"), {"token": True}),
        (("show_engine", ENGINE), {}),
        (("show_engine", UNKNOWN), {}),
        (("show_job", ENGINE, ENGINE_JOB), {}),
    ]
    through, direct = Seen(), Seen()
    for what, options in calls:
        via = call(client(url, through, **options), what)
        alone = call(client(mock_url, direct, **options), what)
        check(f"SDK {what} {sorted(options)}: the same result through the proxy as directly",
              via == alone, f"{via} != {alone}")
    code, report, texts = stop(process, stderr, folder)
    summary = report["summary"]
    check("plain mock: every exchange passes in the proxy's report",
          code == 0 and summary["total"] == len(calls) and summary["passed"] == len(calls),
          f"exit {code}, {summary}, {[(c['name'], c['failed_checks']) for c in report['cases'] if c['outcome'] != 'passed']}")
    answers = relay.answers()
    identical = 0
    for status, headers, body in through.answers:
        request_id = dict((k.lower(), v) for k, v in headers).get("x-request-id")
        sent = answers.get(request_id)
        same = sent is not None and sent[0] == status and sent[2] == body \
            and without_hop_by_hop(sent[1]) == without_hop_by_hop(headers)
        check(f"the SDK got byte for byte the answer {request_id} the mock sent", same, f"{sent} != {(status, headers, body)}")
        identical += same
    check("every answer the SDK got through the proxy was compared", identical == len(calls) and len(answers) == len(calls),
          f"{identical} identical, {len(answers)} sent by the mock")
    check("the token and the signatures are in no output of the proxy",
          not any(TOKEN in t or SK in t or re.search(r"Signature=(?!\*\*\*)", t) for t in texts))


def fault(binary, folder):
    mock, mock_url, _ = start([binary, "mock", "--listen", "127.0.0.1:0", "-q", "--fault", "wrong_id"])
    process, url, stderr = proxy(binary, mock_url, folder)
    try:
        view = call(client(url, Seen(), token=True), ("retry", RETRYABLE, "Retry"))
        bad = call(client(url, Seen(), token=True), ("retry", RETRYABLE, "Bogus"))
    finally:
        code, report, _ = stop(process, stderr, folder)
        mock.terminate()
        mock.wait(timeout=10)
    cases = {c["name"]: c for c in report["cases"]}
    retried, refused = cases.get("retry::exchange_1", {}), cases.get("retry::exchange_2", {})
    check("mock --fault wrong_id: the proxy's report names identity", view[0] == "ok"
          and retried.get("failed_checks") == ["identity"], f"{view} {retried}")
    check("a bad action from the SDK is reported as request_conforms alone", bad[:3] == ("ClientRequestException", 400, "SVCSTG.00500400")
          and refused.get("failed_checks") == ["request_conforms"], f"{bad} {refused}")


def main():
    binary = sys.argv[1]
    env = dict(os.environ, CSE_MOCK_SK=SK)
    mock, mock_url, _ = start([binary, "mock", "--listen", "127.0.0.1:0", "-q", "--ak", AK], env)
    try:
        with tempfile.TemporaryDirectory() as folder:
            plain(binary, mock_url, folder)
        with tempfile.TemporaryDirectory() as folder:
            fault(binary, folder)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    print(f"proxy with the SDK: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
