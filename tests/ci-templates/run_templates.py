"""The CI templates run as shipped: their shard and merge commands, taken from the YAML, run
locally against the embedded mock with the CI's variables filled in. Run by .ci/run.

For ci-templates/github-actions.yml and ci-templates/gitlab-ci.yml each:
1. every shard's script runs (the step with id `run` of the `shard` job, once per matrix entry;
   the `contract` job's script, once per `parallel:` node) in a directory of its own, with the
   variables GitHub or GitLab would set, and exits 0;
2. its reports are carried to the merge as the artefact steps say (upload-artifact's path and
   download-artifact's pattern and merge-multiple; GitLab's artifacts:paths);
3. the merge's script (step id `merge`; the `merge` job) exits 0 and writes the files that the
   templates then upload and publish as JUnit;
4. the merged report is the unsharded run with the same seed: the same cases, all passed;
5. (GitHub) the merge without one shard's report is refused (exit 2).

The build jobs are not run: BIN stands for their artefact. Nothing here reaches the network.

Usage: run_templates.py BIN   (with PyYAML)
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "ci-templates"
# The run id / pipeline id the shards take as their seed.
SEED = "4815162342"


def fail(message):
    sys.exit(f"FAILED: {message}")


def shell(script, cwd, env, what, expect=0):
    """Runs a step's script as the runners do (bash, exit on the first failing command)."""
    run = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                         cwd=cwd, env=env, capture_output=True, text=True)
    if run.returncode != expect:
        fail(f"{what}: exit {run.returncode}, expected {expect}\n--- script\n{script}\n"
             f"--- stdout\n{run.stdout[-4000:]}\n--- stderr\n{run.stderr[-4000:]}")
    print(f"ok: {what} (exit {run.returncode})")
    return run


def clean_env(path_dir=None, **variables):
    """The runner's environment: no CSE_* of the caller's shell leaks in. `path_dir`, where the
    template puts cse-contract on PATH itself (GitHub: a step appends to $GITHUB_PATH)."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = {"PATH": f"{path_dir}:{path}" if path_dir else path, "HOME": os.environ.get("HOME", "/tmp")}
    env.update({k: str(v) for k, v in variables.items()})
    return env


def place_binary(binary, path):
    """The build job's artefact, where the template expects it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(binary)


def reference(binary, work):
    """The unsharded run with the shards' seed."""
    ref = work / "reference"
    ref.mkdir()
    shell(f'"{binary}" run --seed {SEED} --json ref.json --junit ref.xml --html ref.html', ref,
          clean_env(), "the unsharded run")
    return json.loads((ref / "ref.json").read_text())


def same_run(merged_path, ref, what):
    merged = json.loads(Path(merged_path).read_text())
    names = sorted(c["name"] for c in merged["cases"])
    ref_names = sorted(c["name"] for c in ref["cases"])
    s = merged["summary"]
    if names != ref_names:
        missing, extra = set(ref_names) - set(names), set(names) - set(ref_names)
        fail(f"{what}: not the unsharded run's cases ({len(names)} vs {len(ref_names)}; "
             f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]})")
    if str(merged["seed"]) != SEED or s["total"] != ref["summary"]["total"] or s["passed"] != s["total"]:
        fail(f"{what}: seed {merged['seed']}, summary {s}, unsharded {ref['summary']}")
    print(f"ok: {what}: the unsharded run's {s['total']} cases, {s['passed']} passed")


# --- GitHub Actions --------------------------------------------------------------------------

def github_expressions(text, values):
    """Fills in ${{ ... }}; any expression the test does not know is an error, so a template
    that grows one gets a value here rather than a literal."""
    def value(match):
        expr = match.group(1).strip()
        if expr not in values:
            fail(f"github-actions.yml: no value for ${{{{ {expr} }}}} in {text!r}")
        return str(values[expr])
    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def step(job, what, **match):
    for s in job["steps"]:
        if all(str(s.get(k, "")).startswith(v) for k, v in match.items()):
            return s
    fail(f"github-actions.yml: no step {match} ({what})")


def upload(root, paths, store):
    """upload-artifact: the files the path matches, relative to their least common ancestor."""
    files = [p for pattern in paths.splitlines() if pattern.strip() for p in root.glob(pattern.strip())]
    files = [f for p in files for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    if not files:
        fail(f"github-actions.yml: upload path {paths!r} matches nothing in {root}")
    base = Path(os.path.commonpath([f.parent for f in files]))
    for f in files:
        (store / f.relative_to(base)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, store / f.relative_to(base))


def github(binary, work, ref):
    wf = yaml.safe_load((TEMPLATES / "github-actions.yml").read_text())
    jobs = wf["jobs"]
    shard_job, merge_job = jobs["shard"], jobs["merge"]
    shards = shard_job["strategy"]["matrix"]["shard"]
    if shard_job["strategy"].get("fail-fast") is not False:
        fail("github-actions.yml: the matrix must not fail fast (a failing shard would cancel the others)")
    artefacts = work / "gh-artifacts"
    bin_dir = work / "gh-bin"
    place_binary(binary, bin_dir / "cse-contract")
    for k in shards:
        values = {"matrix.shard": k, "strategy.job-total": len(shards), "github.run_id": SEED}
        cwd = work / f"gh-shard-{k}"
        cwd.mkdir()
        run = step(shard_job, "the shard's run", id="run")
        env = {name: github_expressions(v, values) for name, v in {**wf.get("env", {}), **run.get("env", {})}.items()}
        shell(run["run"], cwd, clean_env(bin_dir, **env), f"github-actions.yml: shard {k}/{len(shards)}")
        up = step(shard_job, "the reports' upload", uses="actions/upload-artifact@")
        if "always()" not in up.get("if", "") and "!cancelled()" not in up.get("if", ""):
            fail("github-actions.yml: the shard's reports must be uploaded when the run failed too")
        store = artefacts / github_expressions(up["with"]["name"], values)
        upload(cwd, github_expressions(up["with"]["path"], values), store)

    cwd = work / "gh-merge"
    cwd.mkdir()
    down = next((s for s in merge_job["steps"] if "pattern" in s.get("with", {})), None)
    if down is None:
        fail("github-actions.yml: no step of the merge downloads the shards' reports by pattern")
    if not down["with"].get("merge-multiple"):
        fail("github-actions.yml: the shards' reports are downloaded with merge-multiple")
    target = cwd / down["with"].get("path", ".")
    for store in sorted(artefacts.iterdir()):
        if fnmatch.fnmatchcase(store.name, down["with"]["pattern"]):
            shutil.copytree(store, target, dirs_exist_ok=True)
    merge = step(merge_job, "the merge", id="merge")
    env = clean_env(bin_dir, **{name: github_expressions(v, {}) for name, v in wf.get("env", {}).items()})
    shell(merge["run"], cwd, env, "github-actions.yml: merge")
    junit = step(merge_job, "the JUnit publication", uses="mikepenz/action-junit-report@")["with"]["report_paths"]
    uploaded = step(merge_job, "the merged reports' upload", uses="actions/upload-artifact@")["with"]["path"]
    for path in [junit, uploaded]:
        if not (cwd / path).exists():
            fail(f"github-actions.yml: the merge wrote no {path}")
    json_path = re.search(r"--json\s+(\S+)", merge["run"]).group(1)
    same_run(cwd / json_path, ref, "github-actions.yml: merged report")

    # One shard's report missing (its job died before the upload): the merge refuses.
    sorted(target.glob("*.json"))[-1].unlink()
    shell(merge["run"], cwd, env, "github-actions.yml: merge with a shard's report missing", expect=2)


# --- GitLab CI -------------------------------------------------------------------------------

def gitlab_paths(artifacts):
    return [p.rstrip("/") for p in artifacts.get("paths", [])]


def gitlab(binary, work, ref):
    ci = yaml.safe_load((TEMPLATES / "gitlab-ci.yml").read_text())
    build, shard_job, merge_job = ci["build"], ci["contract"], ci["merge"]
    (binary_path,) = gitlab_paths(build["artifacts"])
    total = shard_job["parallel"]
    if shard_job["artifacts"].get("when") != "always" or merge_job.get("when") != "always":
        fail("gitlab-ci.yml: the shards' reports are kept, and the merge runs, when a shard failed too")
    needed = {n["job"] if isinstance(n, dict) else n for n in merge_job["needs"]}
    if not {"build", "contract"} <= needed:
        fail(f"gitlab-ci.yml: the merge needs the build and the shards, not {needed}")
    merge_dir = work / "gl-merge"
    place_binary(binary, merge_dir / binary_path)
    for k in range(1, total + 1):
        cwd = work / f"gl-shard-{k}"
        place_binary(binary, cwd / binary_path)
        env = clean_env(CI_NODE_INDEX=k, CI_NODE_TOTAL=total, CI_PIPELINE_ID=SEED, CI_PROJECT_DIR=cwd)
        shell("\n".join(shard_job["script"]), cwd, env, f"gitlab-ci.yml: shard {k}/{total}")
        for path in gitlab_paths(shard_job["artifacts"]):
            shutil.copytree(cwd / path, merge_dir / path, dirs_exist_ok=True)
    env = clean_env(CI_PIPELINE_ID=SEED, CI_PROJECT_DIR=merge_dir)
    shell("\n".join(merge_job["script"]), merge_dir, env, "gitlab-ci.yml: merge")
    for path in gitlab_paths(merge_job["artifacts"]) + [merge_job["artifacts"]["reports"]["junit"]]:
        if not (merge_dir / path).exists():
            fail(f"gitlab-ci.yml: the merge wrote no {path}")
    json_path = re.search(r"--json\s+(\S+)", " ".join(merge_job["script"])).group(1)
    same_run(merge_dir / json_path, ref, "gitlab-ci.yml: merged report")


def main():
    binary = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory(prefix="cse-ci-templates-") as tmp:
        work = Path(tmp)
        ref = reference(binary, work)
        github(binary, work, ref)
        gitlab(binary, work, ref)
    print("templates: 2 passed, 0 failed")


if __name__ == "__main__":
    main()
