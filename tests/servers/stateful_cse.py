#!/usr/bin/env python3
"""Independent, stateful test server for three Huawei Cloud CSE APIs.

  PUT /v2/{project_id}/enginemgr/engines/{engine_id}/actions        Retry job
  GET /v2/{project_id}/enginemgr/engines/{engine_id}                show engine
  GET /v2/{project_id}/enginemgr/engines/{engine_id}/jobs/{job_id}  show job

Standard library only; shares no code with the project's own mock.

Engines (every mode):
  project "p-indep":
    e-indep-1        "cse-indep"          the retryable engine: starts in the
                     mode's failed state with one earlier job, id 100 (Error);
                     its Retry jobs follow --mode (below).
    e-indep-avail    "cse-indep-avail"    Available (not retryable): every
                     Retry is refused, 400 SVCSTG.00501118, and nothing
                     changes; one earlier job, id 90 (Create, Finished).
  project "p-indep-other" (another tenant):
    e-indep-foreign  "cse-indep-foreign"  CreateFailed, retryable through its
                     own project; its jobs fail at once as in fail_fast; one
                     earlier job, id 95 (Create, Error).  Through p-indep it is
                     not found (400 SVCSTG.00501116, as for an unknown engine).

New jobs, of any engine, get ids 1000, 1001, ... (ids are unique across
engines); a job is found only through its own engine.  An engine runs at most
one job at a time: the check that it is retryable and the start of the job are
one atomic step under a lock (except in "racy").  Running jobs are settled
lazily, whenever an engine or a job is read or a Retry arrives.

Modes (--mode), as they concern e-indep-1:
  fail_slow       CreateFailed; job Create runs 1.5 s (engine Creating), ends
                  Error, engine back to CreateFailed.
  succeed         CreateFailed; job Create runs 1.2 s, ends Finished, engine
                  becomes Available (never retryable again).
  fail_fast       CreateFailed; job Create fails at once (Error, endTime =
                  startTime), engine stays CreateFailed (always retryable).
  upgrade_failed  UpgradeFailed; job Upgrade runs 1.0 s (engine Upgrading),
                  ends Error, engine back to UpgradeFailed.
  always_refuse   DEFECTIVE on purpose: reads as retryable, but every valid
                  Retry (of any engine) is refused with 400 SVCSTG.00501118.
  token_400       like fail_fast, but a missing/empty X-Auth-Token gets 400
                  SVCSTG.00500400 instead of 401 APIGW.0301.
  no_reads        like fail_fast, but the two read APIs are not published:
                  the gateway answers them 404 APIGW.0101.
The three DEFECTIVE modes below each break exactly one stateful property and
otherwise behave like fail_slow:
  racy            check-then-act without the lock: a Retry reads that the
                  engine is retryable, then sleeps 50 ms with the lock released
                  before starting its job, so concurrent Retries are all
                  accepted, each starting its own 1.5 s job; the jobs overlap.
                  Breaks one_job_at_a_time.
  stale_engine    show_engine keeps showing the failed status (CreateFailed,
                  with the Retry action) while a job runs; latestJobId is the
                  new job.  Breaks engine_in_progress.
  leaky_tenant    the project in the path is not checked: an engine is found
                  by its id through any project, e.g. e-indep-foreign through
                  p-indep.  Breaks tenant_isolated.

Usage: stateful_cse.py --mode MODE [--listen 127.0.0.1:0] [--lifetime 300]
The first stdout line is the base URL; everything else goes to stderr.
"""
import argparse
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROJECT, ENGINE, NAME = "p-indep", "e-indep-1", "cse-indep"
AVAIL_ENGINE, AVAIL_NAME = "e-indep-avail", "cse-indep-avail"
OTHER_PROJECT, FOREIGN_ENGINE, FOREIGN_NAME = "p-indep-other", "e-indep-foreign", "cse-indep-foreign"
MAX_BODY = 12582912
CONTENT_TYPE_RE = re.compile(r"[ \t]*application/json[ \t]*(;.*)?", re.I | re.S)
RETRYABLE = {"CreateFailed", "UpgradeFailed", "ModifyFailed", "DeleteFailed"}
RACY_WINDOW = 0.05  # seconds between the check and the act in "racy"

# mode -> (initial status, job type, seconds, running status, job end, engine end)
FAIL_SLOW = ("CreateFailed", "Create", 1.5, "Creating", "Error", "CreateFailed")
FAIL_FAST = ("CreateFailed", "Create", 0.0, "Creating", "Error", "CreateFailed")
MODES = {
    "fail_slow": FAIL_SLOW,
    "succeed": ("CreateFailed", "Create", 1.2, "Creating", "Finished", "Available"),
    "fail_fast": FAIL_FAST,
    "upgrade_failed": ("UpgradeFailed", "Upgrade", 1.0, "Upgrading", "Error", "UpgradeFailed"),
    "always_refuse": FAIL_FAST,
    "token_400": FAIL_FAST,
    "no_reads": FAIL_FAST,
    "racy": FAIL_SLOW,
    "stale_engine": FAIL_SLOW,
    "leaky_tenant": FAIL_SLOW,
}


class Engine:
    """One engine's state and job behaviour; only touched under Store.lock."""

    def __init__(self, project, engine_id, name, behaviour, status, first_job, created_ms):
        self.project, self.id, self.name = project, engine_id, name
        (_, self.job_type, self.duration, self.running_status,
         self.job_end, self.engine_end) = behaviour
        self.status = status
        self.status_before = status  # the status when the running job(s) started
        self.job_ids = [first_job]
        self.running = {}  # job id -> monotonic end time (more than one only in "racy")
        self.created_ms = created_ms

    def retryable(self):
        return self.status in RETRYABLE and not self.running


class Store:
    """Every engine and job; every access holds self.lock."""

    def __init__(self, mode):
        self.mode = mode
        self.lock = threading.Lock()
        now = int(time.time() * 1000)
        behaviour = MODES[mode]
        main = Engine(PROJECT, ENGINE, NAME, behaviour, behaviour[0], 100, now)
        avail = Engine(PROJECT, AVAIL_ENGINE, AVAIL_NAME, FAIL_FAST, "Available", 90, now)
        foreign = Engine(OTHER_PROJECT, FOREIGN_ENGINE, FOREIGN_NAME, FAIL_FAST,
                         "CreateFailed", 95, now)
        self.engines = {e.id: e for e in (main, avail, foreign)}
        self.jobs = {
            100: {"id": 100, "type": main.job_type, "status": "Error", "startTime": now,
                  "endTime": now, "engineId": ENGINE, "description": "retry"},
            90: {"id": 90, "type": "Create", "status": "Finished", "startTime": now - 600000,
                 "endTime": now - 480000, "engineId": AVAIL_ENGINE, "description": "create"},
            95: {"id": 95, "type": "Create", "status": "Error", "startTime": now - 300000,
                 "endTime": now - 240000, "engineId": FOREIGN_ENGINE, "description": "create"},
        }
        self.next_id = 1000

    def settle(self):
        now = time.monotonic()
        for engine in self.engines.values():
            for job_id, end in sorted(engine.running.items()):
                if now >= end:
                    job = self.jobs[job_id]
                    job["status"] = engine.job_end
                    job["endTime"] = job["startTime"] + int(engine.duration * 1000)
                    del engine.running[job_id]
                    if not engine.running:
                        engine.status = engine.engine_end

    def find(self, project_id, engine_id):
        """The engine engine_id as seen through project_id, or None."""
        engine = self.engines.get(engine_id)
        if engine is None or (engine.project != project_id and self.mode != "leaky_tenant"):
            return None
        return engine

    def start_job(self, engine):
        job_id, self.next_id = self.next_id, self.next_id + 1
        self.jobs[job_id] = {"id": job_id, "type": engine.job_type, "status": "Executing",
                             "startTime": int(time.time() * 1000), "endTime": 0,
                             "engineId": engine.id, "description": "retry"}
        engine.job_ids.append(job_id)
        if not engine.running:
            engine.status_before = engine.status
        engine.running[job_id] = time.monotonic() + engine.duration
        engine.status = engine.running_status
        self.settle()  # a zero-length job (fail_fast) ends right here
        return job_id

    def retry(self, engine):
        """Returns (job id, None) or (None, refusal status)."""
        with self.lock:
            self.settle()
            if self.mode == "always_refuse" or not engine.retryable():
                return None, engine.status
            if self.mode != "racy":
                return self.start_job(engine), None  # checked and started atomically
        time.sleep(RACY_WINDOW)  # racy: the lock is released between check and act
        with self.lock:
            return self.start_job(engine), None

    def show(self, engine):
        with self.lock:
            self.settle()
            status, actions = engine.status, ["Retry"] if engine.retryable() else []
            if self.mode == "stale_engine" and engine.running:
                status, actions = engine.status_before, ["Retry"]
            return {
                "id": engine.id, "name": engine.name, "description": "", "status": status,
                "type": "CSE", "authType": "RBAC", "flavor": "cse.s1.small2",
                "payment": "1", "version": "2.4.0", "latestVersion": "2.4.0",
                "beDefault": False, "createUser": "indep", "createTime": engine.created_ms,
                "projectId": engine.project, "enterpriseProjectId": "0",
                "enterpriseProjectName": "default", "latestJobId": max(engine.job_ids),
                "engineAdditionalActions": actions,
                "specType": "CSE2",
            }

    def job(self, engine, job_id):
        with self.lock:
            self.settle()
            job = self.jobs.get(job_id)
            if job is None or job["engineId"] != engine.id:
                return None
            return dict(job, createUser="indep",
                        scheduling=1 if job["status"] == "Executing" else 0,
                        context="", tasks=[])

def cse_error(code, msg, detail):
    return {"error_code": code, "error_msg": msg, "detail": detail}


class BadRequest(Exception):
    """Request validation failure: 400 SVCSTG.00500400 with this detail."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stateful-cse/1"
    store = None  # set in main()
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def __getattr__(self, name):
        # Every method (do_GET, do_PUT, ..., do_FOO) goes through dispatch, so
        # no method ever gets the stock HTML 501 page.
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    # ---- response helpers -------------------------------------------------
    def send_json(self, code, body, extra=None):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.responded = True
        self.send_response(code)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", self.request_id)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code, message=None, explain=None):
        # Used by the base class for unparsable requests; keep it JSON too.
        self.request_id = getattr(self, "request_id", None) or secrets.token_hex(16)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparsable line: still send headers
            self.request_version = "HTTP/1.0"
        self.send_json(code, cse_error("SVCSTG.00500%03d" % code, "Bad request.",
                                       message or explain or ""))

    def gateway_error(self, code, error_code, msg):
        self.send_json(code, {"error_code": error_code, "error_msg": msg,
                              "request_id": self.request_id})

    # ---- body -------------------------------------------------------------
    def read_body(self):
        """Reads the whole body; returns (bytes or None if too large)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit() or not raw.strip().isascii():
            self.close_connection = True
            raise BadRequest("invalid Content-Length")
        length = int(raw.strip())
        if length <= MAX_BODY:
            data = self.rfile.read(length)
            if len(data) < length:
                self.close_connection = True
            return data
        while length > 0:  # discard without buffering
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                self.close_connection = True
                break
            length -= len(chunk)
        return None

    def read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise BadRequest("invalid chunked encoding")
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts) if total <= MAX_BODY else None
            chunk = self.rfile.read(size)
            self.rfile.readline(65537)
            total += len(chunk)
            if total <= MAX_BODY:
                parts.append(chunk)
            else:
                parts = []
            if len(chunk) < size:
                self.close_connection = True
                raise BadRequest("truncated chunked body")

    # ---- routing ----------------------------------------------------------
    def route(self):
        """Returns (name, params) or None for an unknown path."""
        path = self.path
        if "://" in path.split("?", 1)[0]:  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        segs = path.split("?", 1)[0].split("/")
        if len(segs) < 6 or segs[:2] != ["", "v2"] or segs[3:5] != ["enginemgr", "engines"]:
            return None
        if len(segs) == 6:
            name = "engine"
        elif len(segs) == 7 and segs[6] == "actions":
            name = "actions"
        elif len(segs) == 8 and segs[6] == "jobs":
            name = "job"
        else:
            return None
        params = [segs[2], segs[5]] + segs[7:]
        if any(p == "" for p in params):
            return None
        return name, [urllib.parse.unquote(p) for p in params]

    def dispatch(self):
        self.request_id = secrets.token_hex(16)
        self.responded = False
        try:
            try:
                body = self.read_body()
            except BadRequest as exc:
                return self.send_json(400, cse_error("SVCSTG.00500400", "Bad request.", str(exc)))
            self.handle_api(body)
        except (BrokenPipeError, ConnectionError):
            self.close_connection = True
        except Exception as exc:  # never a 500, never a dropped connection
            if self.verbose:
                sys.stderr.write("handler error: %r\n" % exc)
            if self.responded:
                self.close_connection = True
            else:
                self.send_json(400, cse_error("SVCSTG.00500400", "Bad request.",
                                              "unexpected error: %s" % type(exc).__name__))

    def handle_api(self, body):
        found = self.route()
        if found is None:
            return self.gateway_error(404, "APIGW.0101", "The API does not exist or has "
                                      "not been published in the environment.")
        name, params = found
        if name != "actions" and self.store.mode == "no_reads":
            return self.gateway_error(404, "APIGW.0101", "The API does not exist or has "
                                      "not been published in the environment.")
        allowed = "PUT" if name == "actions" else "GET"
        method = "GET" if self.command == "HEAD" else self.command
        if method != allowed:
            return self.send_json(405, cse_error("SVCSTG.00500405", "Method not allowed.",
                                                 "use " + allowed), {"Allow": allowed})
        if self.headers.get("X-Auth-Token", "").strip() == "":
            if self.store.mode == "token_400":
                return self.send_json(400, cse_error("SVCSTG.00500400", "Bad request.",
                                                     "X-Auth-Token is missing"))
            return self.gateway_error(401, "APIGW.0301", "Incorrect IAM authentication "
                                      "information: x-auth-token not found")
        if body is None:
            return self.gateway_error(413, "APIGW.0201", "Request entity too large.")
        try:
            self.validate(name, params, body)
        except BadRequest as exc:
            return self.send_json(400, cse_error("SVCSTG.00500400", "Bad request.", str(exc)))
        project_id, engine_id = params[0], params[1]
        engine = self.store.find(project_id, engine_id)
        if engine is None:
            return self.send_json(400, cse_error("SVCSTG.00501116", "Failed to find the "
                                                 "engine instance.", "engine_id: " + engine_id))
        if name == "actions":
            job_id, status = self.store.retry(engine)
            if job_id is None:
                return self.send_json(400, cse_error(
                    "SVCSTG.00501118", "The engine in the current state cannot be retried.",
                    "engine is " + status))
            return self.send_json(200, {"id": engine.id, "name": engine.name, "jobId": job_id})
        if name == "engine":
            return self.send_json(200, self.store.show(engine))
        raw_job = params[2]
        if raw_job == "" or any(c not in "0123456789" for c in raw_job):
            return self.send_json(400, cse_error("SVCSTG.00501152", "Incorrect task ID format.",
                                                 "job_id: " + raw_job))
        job = self.store.job(engine, int(raw_job))
        if job is None:
            return self.send_json(400, cse_error("SVCSTG.00501153", "No task found.",
                                                 "job_id: " + raw_job))
        return self.send_json(200, job)

    def validate(self, name, params, body):
        if not 1 <= len(params[0]) <= 64:
            raise BadRequest("project_id must be 1-64 characters")
        if params[1] == "":
            raise BadRequest("engine_id must not be empty")
        if name != "actions":
            return
        ctype = self.headers.get("Content-Type")
        if ctype is None or not CONTENT_TYPE_RE.fullmatch(ctype):
            raise BadRequest("Content-Type must be application/json")
        if self.headers.get("Accept") is None:
            raise BadRequest("Accept header is required")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("request body is not UTF-8")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            raise BadRequest("request body is not valid JSON")
        if not isinstance(doc, dict):
            raise BadRequest("request body must be a JSON object")
        if doc.get("action") != "Retry":  # only the str "Retry" compares equal
            raise BadRequest('action must be "Retry"')


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of concurrent
    # connections; the client then retries a second later, which would spread
    # "simultaneous" Retries over more than a job's length.
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", required=True, choices=sorted(MODES))
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    host, _, port = args.listen.rpartition(":")
    Handler.store = Store(args.mode)
    Handler.verbose = args.verbose
    server = Server((host or "127.0.0.1", int(port)), Handler)
    print("http://%s:%d" % (host or "127.0.0.1", server.server_address[1]), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + args.lifetime
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    server.shutdown()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
