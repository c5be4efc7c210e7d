//! `run --partition` and `merge`: shards run as separate processes in parallel against one mock
//! together run every case once, and their merged report equals the unpartitioned run's; merge
//! refuses reports that do not belong together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{BIN, ENGINE, MockProcess, PROJECT, TOKEN};

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `run` against `url` with the reports in `dir` named `name.*`, and `extra` flags.
fn run_command(url: &str, dir: &Path, name: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--target", url, "--project-id", PROJECT, "--engine-id", ENGINE])
        .args(["--seed", "11", "--generated", "120", "--stateful", "2", "-q"])
        .args(["--json", dir.join(format!("{name}.json")).to_str().unwrap()])
        .args(["--junit", dir.join(format!("{name}.xml")).to_str().unwrap()])
        .args(["--html", dir.join(format!("{name}.html")).to_str().unwrap()])
        .args(extra)
        .env("CSE_AUTH_TOKEN", TOKEN);
    command
}

/// (name → outcome) of a JSON report's cases, and the report.
fn outcomes(path: &Path) -> (BTreeMap<String, String>, Value) {
    let report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let map: BTreeMap<String, String> = cases
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["outcome"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(map.len(), cases.len(), "{}: a case twice", path.display());
    (map, report)
}

fn merge(args: &[&str]) -> Output {
    Command::new(BIN).arg("merge").args(args).output().unwrap()
}

#[test]
fn four_shards_in_parallel_merge_into_the_unpartitioned_run() {
    let mock = MockProcess::start(&["--token", TOKEN], &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = run_command(&mock.url, dir.path(), "whole", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (whole, _) = outcomes(&dir.path().join("whole.json"));
    assert!(whole.len() > 300, "{}", whole.len());
    for strategy in ["hash", "count"] {
        // The four shards at once, against the one mock and its one engine.
        let children: Vec<_> = (1..=4)
            .map(|k| {
                let partition = format!("{strategy}:{k}/4");
                run_command(&mock.url, dir.path(), &format!("{strategy}-{k}"), &["--partition", &partition])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut sizes = Vec::new();
        for (k, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "shard {}: {}", k + 1, text(&out));
            let (shard, report) = outcomes(&dir.path().join(format!("{strategy}-{}.json", k + 1)));
            assert_eq!(report["partition"]["shards"], serde_json::json!([k + 1]), "{}", report["partition"]);
            assert_eq!(report["partition"]["selected"], whole.len(), "{}", report["partition"]);
            sizes.push(shard.len());
            if k > 0 {
                // The engine's cases (valid Retries, the stateful phase) all run in shard 1.
                assert!(!shard.keys().any(|n| n.starts_with("stateful::") || n == "retry::valid_retry"), "{k}");
            }
        }
        assert_eq!(sizes.iter().sum::<usize>(), whole.len(), "{strategy}: {sizes:?}");
        assert!(sizes.iter().all(|&n| n > 0), "{strategy}: {sizes:?}");
        let reports: Vec<PathBuf> = (1..=4).map(|k| dir.path().join(format!("{strategy}-{k}.json"))).collect();
        let merged = dir.path().join(format!("{strategy}-merged"));
        let mut args: Vec<String> = reports.iter().rev().map(|p| p.display().to_string()).collect();
        for (flag, ext) in [("--json", "json"), ("--junit", "xml"), ("--html", "html")] {
            args.extend([flag.to_owned(), merged.with_extension(ext).display().to_string()]);
        }
        let out = merge(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let (cases, report) = outcomes(&merged.with_extension("json"));
        assert_eq!(cases, whole, "{strategy}: the merged cases and outcomes are the unpartitioned run's");
        assert_eq!(report["summary"]["total"], whole.len());
        assert_eq!(report["partition"]["shards"], serde_json::json!([1, 2, 3, 4]));
        assert_eq!(report["merged"].as_array().unwrap().len(), 4);
        assert_eq!(report["partial"], false);
        // The merged report is a report: it validates against the report schema.
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string("schemas/report.schema.json").unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let junit = std::fs::read_to_string(merged.with_extension("xml")).unwrap();
        let document = roxmltree::Document::parse(&junit).unwrap();
        let testcases = document.descendants().filter(|n| n.has_tag_name("testcase")).count();
        assert_eq!(testcases, whole.len());
        assert!(junit.contains(r#"<property name="partition" value="#), "the merged JUnit says its shards");
        let html = std::fs::read_to_string(merged.with_extension("html")).unwrap();
        assert!(html.contains(&format!("{strategy}:1,2,3,4/4")), "the page says its shards");
    }
    mock.stop();
}

/// Shard reports of a small run against the embedded mock (each shard its own).
fn small_shards(dir: &Path, seed: &str, total: usize) -> Vec<PathBuf> {
    (1..=total)
        .map(|k| {
            let path = dir.join(format!("s{seed}-{k}.json"));
            let out = Command::new(BIN)
                .args(["run", "--seed", seed, "--generated", "10", "--stateful", "0", "-q"])
                .args(["--partition", &format!("count:{k}/{total}"), "--json", path.to_str().unwrap()])
                .args(["--junit", dir.join(format!("s{seed}-{k}.xml")).to_str().unwrap()])
                .args(["--html", dir.join(format!("s{seed}-{k}.html")).to_str().unwrap()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            path
        })
        .collect()
}

#[test]
fn merge_refuses_reports_that_do_not_belong_together() {
    let dir = tempfile::tempdir().unwrap();
    let shards = small_shards(dir.path(), "5", 2);
    let other_seed = small_shards(dir.path(), "6", 2);
    let arg = |p: &PathBuf| p.display().to_string();
    let refused = |args: &[String], expected: &str| {
        let out = merge(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: expected {expected:?} in {}", text(&out));
    };
    refused(&[arg(&shards[0])], "shard(s) 2 of 2 missing (--allow-partial");
    refused(&[arg(&shards[0]), arg(&shards[0])], "are both shard 1");
    refused(&[arg(&shards[0]), arg(&other_seed[1])], "is of another seed");
    // An unpartitioned report, and a file that is no report.
    let whole = dir.path().join("whole.json");
    let out = Command::new(BIN)
        .args([
            "run",
            "--generated",
            "0",
            "--stateful",
            "0",
            "-q",
            "retry::valid_retry",
            "--json",
            whole.to_str().unwrap(),
        ])
        .args([
            "--junit",
            dir.path().join("w.xml").to_str().unwrap(),
            "--html",
            dir.path().join("w.html").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    refused(&[arg(&shards[0]), arg(&whole)], "is not the report of a shard");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"tool\": \"other\"}").unwrap();
    refused(&[arg(&junk)], "is not a cse-contract JSON report");
    // Every problem at once.
    let out = merge(&[&arg(&shards[0]), &arg(&shards[0]), &arg(&other_seed[1])]);
    assert!(text(&out).contains("both shard 1") && text(&out).contains("another seed"), "{}", text(&out));
    // --allow-partial merges what there is, marked partial.
    let merged = dir.path().join("partial.json");
    let out = merge(&[&arg(&shards[1]), "--allow-partial", "--json", merged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, report) = outcomes(&merged);
    assert_eq!(report["partial"], true);
    assert_eq!(report["partition"]["shards"], serde_json::json!([2]));
    // The two shards together: every case once.
    let out = merge(&[&arg(&shards[0]), &arg(&shards[1]), "--json", merged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (cases, report) = outcomes(&merged);
    assert_eq!(cases.len(), report["partition"]["selected"]);
}

#[test]
fn a_partition_needs_a_seed_and_a_shard_may_be_empty() {
    let out = Command::new(BIN).args(["run", "--partition", "hash:1/2", "--no-reports"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--seed"), "{}", text(&out));
    // One case, three shards: two get none, and say so without failing.
    let mut codes = Vec::new();
    for k in 1..=3 {
        let out = Command::new(BIN)
            .args(["run", "--seed", "1", "--no-reports", "--generated", "0", "--stateful", "0"])
            .args(["--partition", &format!("count:{k}/3"), "--exact", "retry::valid_retry"])
            .output()
            .unwrap();
        codes.push(out.status.code());
        assert!(text(&out).contains(&format!("partition count:{k}/3: ")), "{}", text(&out));
    }
    assert_eq!(codes, [Some(0), Some(0), Some(0)]);
}
