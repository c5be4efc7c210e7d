"""Interop, run by .ci/run: the tools of the ecosystem against our mock and our contract.

1. The exported OpenAPI document passes openapi-spec-validator (OpenAPI 3.1).
2. The official Huawei Cloud Python SDK (huaweicloudsdkcse + huaweicloudsdkcore) calls
   retry_engine against the mock: with AK/SK credentials (success; an engine that cannot be
   retried; an unknown engine; a wrong SK), and with an X-Auth-Token (schemas/FACTS.md §5.5).
3. Schemathesis runs against the mock with the exported document, a fixed seed and example
   count, its default checks less one that does not apply (see README, "Using it with other
   tools"): no failure.

Usage: interop.py BIN
"""

import json
import os
import subprocess
import sys
import tempfile

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcse.v1 import CseClient, EngineAdditionalActionReq, RetryEngineRequest
from openapi_spec_validator import validate

AK = "FAKEAK0000000000TEST"
SK = "FAKESKfakeskFAKESKfakeskFAKESK0000000000"
PROJECT = "demo-project"
# The always-retryable engine: the SDK retries it twice in a row, and the default engine would be
# busy with the first job (a correct 400) when the second comes.
RETRYABLE = "a1a1a1a1-0000-4000-8000-000000000001"
AVAILABLE = "891bf21a-4024-4f47-b38c-bd259ca8f10a"
UNKNOWN = "00000000-0000-0000-0000-000000000000"

passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok: {name}")
    else:
        failed += 1
        print(f"FAILED: {name} {detail}")


def client(url, sk=SK, handler=None):
    builder = CseClient.new_builder().with_credentials(BasicCredentials(ak=AK, sk=sk, project_id=PROJECT))
    builder = builder.with_endpoints([url])
    if handler:
        builder = builder.with_http_handler(handler)
    return builder.build()


def retry(c, engine):
    return c.retry_engine(RetryEngineRequest(engine_id=engine, body=EngineAdditionalActionReq(action="Retry")))


def expect_error(name, c, engine, status, code):
    try:
        retry(c, engine)
        check(name, False, "no exception")
    except exceptions.ClientRequestException as e:
        check(name, e.status_code == status and e.error_code == code, f"{e.status_code} {e.error_code} {e.error_msg}")


def use_token(request, logger, **kwargs):
    request.header_params.pop("Authorization", None)
    request.header_params.pop("X-Sdk-Date", None)
    request.header_params["X-Auth-Token"] = "FAKE-IAM-TOKEN-MIIxxxx"


def sdk(url):
    c = client(url)
    response = retry(c, RETRYABLE)
    check("SDK AK/SK: retry_engine returns the mock's id, name and jobId",
          response.id == RETRYABLE and response.name == "cse-always-retryable" and isinstance(response.job_id, int),
          repr(response))
    expect_error("SDK AK/SK: an engine that cannot be retried raises 400 SVCSTG.00501118", c, AVAILABLE, 400, "SVCSTG.00501118")
    expect_error("SDK AK/SK: an unknown engine raises 400 SVCSTG.00501116", c, UNKNOWN, 400, "SVCSTG.00501116")
    expect_error("SDK AK/SK: a wrong SK raises 401 APIGW.0301", client(url, sk="wrong" + SK), RETRYABLE, 401, "APIGW.0301")
    token = client(url, handler=HttpHandler().add_request_handler(use_token))
    response = retry(token, RETRYABLE)
    check("SDK token variant: retry_engine succeeds with X-Auth-Token", response.id == RETRYABLE, repr(response))


def main():
    binary = sys.argv[1]
    env = dict(os.environ, CSE_MOCK_SK=SK)
    mock = subprocess.Popen([binary, "mock", "--listen", "127.0.0.1:0", "-q", "--ak", AK],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = mock.stdout.readline().strip()
        doc = json.loads(subprocess.run([binary, "openapi", "--server", url], check=True,
                                        capture_output=True, text=True).stdout)
        validate(doc)
        check("openapi-spec-validator accepts the exported OpenAPI 3.1 document", True)
        sdk(url)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        st = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", f.name, "--url", url,
             "-H", "X-Auth-Token: schemathesis-token", "--seed", "1", "--max-examples", "200",
             "--exclude-checks", "positive_data_acceptance", "--no-color"],
            capture_output=True, text=True)
        summary = [l for l in st.stdout.splitlines() if "generated" in l or "passed" in l][-1:]
        check("Schemathesis (seed 1, 200 examples, default checks but positive_data_acceptance): no failure",
              st.returncode == 0, st.stdout[-3000:])
        print("schemathesis:", *summary)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    print(f"interop: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
