//! The loaders against mutated inputs: thousands of manifests, schemas, state models and case
//! files, each one a copy of the shipped ones with a few parts replaced, removed or cut, are
//! validated and dry-run (which loads everything, starts the embedded mock on the contract's paths
//! and plans generated cases), in this process through `cli::run_with`, as the binary would run
//! them. Only exit 0 or 2 is allowed, never a panic. (What `validate` accepts, `run` may still
//! refuse with exit 2: a case moved to another operation by a mutation may need a variable, such
//! as `${job_id}`, that the run does not set.)
//! Then a few through the binary itself, `mock` included.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::support::BIN;

/// Mutated inputs tried in-process; `LOADER_FUZZ_CASES` raises it (CI keeps the default).
const CASES: u32 = 1000;

fn shipped() -> Vec<(&'static str, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for folder in ["schemas", "cases"] {
        let mut names: Vec<_> = std::fs::read_dir(root.join(folder)).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for path in names.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((folder, name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

/// One change to a JSON document; `at` picks a node (in document order, modulo their number).
#[derive(Debug, Clone)]
enum Mutation {
    Replace {
        at: usize,
        with: Value,
    },
    Remove {
        at: usize,
    },
    RenameKey {
        at: usize,
        to: String,
    },
    /// Cut the text at this fraction of its length (not JSON any more, mostly).
    Cut {
        per_mille: u16,
    },
}

fn strings() -> impl Strategy<Value = String> {
    let tricky = [
        "",
        "/",
        "{",
        "}",
        "{}",
        "{nope}",
        "${nope}",
        "${",
        "$${x}",
        "x{y",
        "/v2/{a}{b}",
        "/v2/{a}/{a}",
        ":x",
        "/*x",
        "P U\r\nT",
        "\0",
        "\u{FFFE}",
        "\u{1b}[2J",
        "999",
        "#/$defs/nope",
        "nope.schema.json",
        "../etc/passwd",
        "file:///dev/zero",
        "http://127.0.0.1:1/x.json",
        "(",
        "[",
        "^(?",
        "application/",
        "X Y",
        "a\r\nb",
        "${repeat(x,99999999)}",
        "retry",
        "show_job",
        "GET",
        "PUT",
        "api",
        "gateway",
    ];
    prop_oneof![
        4 => proptest::sample::select(tricky.to_vec()).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => Just("a".repeat(5000)),
    ]
}

fn values() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        proptest::sample::select(vec![
            json!(0),
            json!(-1),
            json!(99),
            json!(200),
            json!(999),
            json!(u64::MAX),
            json!(1e300),
            json!(-0.5),
            json!(i64::MIN)
        ]),
        strings().prop_map(Value::String),
        proptest::sample::select(vec![
            json!([]),
            json!({}),
            json!([1, "a", null]),
            json!({"type": "strin"}),
            json!({"$ref": "#/nope"}),
            json!({"$ref": "file:///dev/zero"}),
            json!({"pattern": "("}),
            json!({"type": "object", "required": ["x"]}),
            json!([{"name": "a", "description": "d", "expect": {"status": [200]}}]),
        ]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), values()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        2 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        1 => (any::<usize>(), strings()).prop_map(|(at, to)| Mutation::RenameKey { at, to }),
        1 => (0u16..1000).prop_map(|per_mille| Mutation::Cut { per_mille }),
    ]
}

fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The parent of `pointer` and the last segment, unescaped.
fn split(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(text) else { return text.to_owned() };
    for m in mutations {
        let mut all = Vec::new();
        pointers(&doc, "", &mut all);
        let pick = |at: usize| all[at % all.len()].clone();
        match m {
            Mutation::Replace { at, with } => {
                if let Some(node) = doc.pointer_mut(&pick(*at)) {
                    *node = with.clone();
                }
            }
            Mutation::Remove { at } | Mutation::RenameKey { at, .. } => {
                let pointer = pick(*at);
                let Some((parent, last)) = split(&pointer) else { continue };
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        if let (Some(v), Mutation::RenameKey { to, .. }) = (map.remove(&last), m) {
                            map.insert(to.clone(), v);
                        }
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Mutation::Cut { per_mille } => {
                let text = serde_json::to_string_pretty(&doc).unwrap();
                let mut cut = text.len() * usize::from(*per_mille) / 1000;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                return text[..cut].to_owned();
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap()
}

fn in_process(args: &[&str]) -> Result<u8, String> {
    let args: Vec<&str> = std::iter::once("cse-contract").chain(args.iter().copied()).collect();
    catch_unwind(AssertUnwindSafe(|| cse_contract::cli::run_with(&args))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Writes the shipped files with `mutations` applied to file `which`; returns (schemas, cases).
fn mutated(dir: &Path, files: &[(&str, String, String)], which: usize, mutations: &[Mutation]) -> String {
    let which = which % files.len();
    for (i, (folder, name, text)) in files.iter().enumerate() {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        let text = if i == which { apply(text, mutations) } else { text.clone() };
        std::fs::write(dir.join(folder).join(name), text).unwrap();
    }
    format!("{}/{}", files[which].0, files[which].1)
}

#[test]
fn no_mutated_manifest_schema_or_case_file_panics() {
    let files = shipped();
    let cases = std::env::var("LOADER_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strategy = (any::<usize>(), proptest::collection::vec(mutation(), 1..4));
    let outcomes = [std::cell::Cell::new(0usize), std::cell::Cell::new(0)];
    let result = runner.run(&strategy, |(which, mutations)| {
        let dir = tempfile::tempdir().unwrap();
        let file = mutated(dir.path(), &files, which, &mutations);
        let schemas = dir.path().join("schemas").display().to_string();
        let cases = dir.path().join("cases").display().to_string();
        let source = ["--schemas", schemas.as_str(), "--cases", cases.as_str()];
        let validate = in_process(&[&["validate"][..], &source].concat());
        prop_assert!(matches!(validate, Ok(0 | 2)), "validate on mutated {file}: {validate:?}");
        let dry = in_process(&[&["run", "--dry-run", "-q", "--generated", "8", "--seed", "1"][..], &source].concat());
        prop_assert!(matches!(dry, Ok(0 | 2)), "run --dry-run on mutated {file}: {dry:?}");
        let seen = &outcomes[usize::from(validate == Ok(0))];
        seen.set(seen.get() + 1);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations must reach both sides: loads that fail and loads that succeed.
    let [refused, accepted] = outcomes.map(std::cell::Cell::into_inner);
    assert!(refused > usize::try_from(cases).unwrap() / 5 && accepted > 10, "refused {refused}, accepted {accepted}");
}

/// The defects the fuzz test stands for, through the binary: each input is refused with its
/// file and pointer by `validate`, `run --dry-run` and `mock` alike (exit 2), not a panic (101).
#[test]
fn broken_manifests_are_refused_by_every_command_with_file_and_pointer() {
    let files = shipped();
    let retry = files.iter().position(|(_, name, _)| name == "retry.operation.json").unwrap();
    let edits: [(&str, Value, &str); 6] = [
        ("/path", json!("v2/{project_id}/enginemgr/engines/{engine_id}/actions"), "at `/path`"),
        ("/path", json!("/v2/{project_id/enginemgr/engines/{engine_id}/actions"), "is not closed"),
        ("/path", json!("/v2/{project_id}/enginemgr/engines/{engine_id}/{nope}"), "`{nope}` has no value"),
        ("/method", json!("P U\r\nT"), "at `/method`"),
        ("/responses/0/status", json!(999), "at `/responses/0/status`"),
        ("/request/template/headers/Accept", json!("${nope}"), "unknown variable `${nope}`"),
    ];
    for (pointer, value, said) in edits {
        let dir = tempfile::tempdir().unwrap();
        mutated(dir.path(), &files, retry, &[]);
        let path = dir.path().join("schemas/retry.operation.json");
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        *doc.pointer_mut(pointer).unwrap() = value;
        std::fs::write(&path, doc.to_string()).unwrap();
        let schemas = dir.path().join("schemas");
        for args in [
            &["validate"][..],
            &["run", "--dry-run", "--generated", "3"],
            &["mock", "--listen", "127.0.0.1:0", "--token", "t"],
        ] {
            let out = Command::new(BIN).args(args).arg("--schemas").arg(&schemas).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} with {pointer} edited: {stderr}");
            assert!(stderr.contains("retry.operation.json") && stderr.contains(said), "{args:?}: {stderr}");
        }
    }
}

/// A case file, schema, token file or engines file that is a device, a FIFO or too large is
/// refused at once, saying which and why; nothing hangs and nothing grows.
#[test]
fn devices_fifos_and_oversized_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let cases = dir.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    std::os::unix::fs::symlink(&fifo, cases.join("action.json")).unwrap();
    let big = dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let file = std::fs::File::create(big.join("huge.json")).unwrap();
    file.set_len(16 * 1024 * 1024 + 1).unwrap();
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    for (_, name, text) in shipped().iter().filter(|(folder, ..)| *folder == "schemas") {
        std::fs::write(schemas.join(name), text).unwrap();
    }
    std::os::unix::fs::symlink("/dev/zero", schemas.join("zero.schema.json")).unwrap();
    let cases_arg = cases.display().to_string();
    let big_arg = big.display().to_string();
    let schemas_arg = schemas.display().to_string();
    let fifo_arg = fifo.display().to_string();
    let token = dir.path().join("token");
    std::fs::write(&token, "to\r\nken\n").unwrap();
    let token_arg = token.display().to_string();
    let runs: [(&[&str], &str); 6] = [
        (&["run", "--token-file", &token_arg, "--generated", "0"], "holds a control character"),
        (&["validate", "--cases", &cases_arg], "a FIFO"),
        (&["validate", "--cases", &big_arg], "larger than the limit of 16777216 bytes"),
        (&["validate", "--schemas", &schemas_arg], "a character device"),
        (&["run", "--token-file", "/dev/zero", "--generated", "0"], "a character device"),
        (&["mock", "--engines", &fifo_arg], "a FIFO"),
    ];
    for (args, said) in runs {
        let started = std::time::Instant::now();
        let out = Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?} should say {said:?}: {stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{args:?} took {:?}", started.elapsed());
    }
}

/// What an adversarial review found: a header property written as a local `$ref` made `run`
/// panic (its sub-schema compiled alone); a small case file could expand to gigabytes through
/// many `${repeat}`s; a manifest whose credential header is not in its template, or whose
/// template fixes Content-Length, passed. Each is now run or refused, exit 0 or 2.
#[test]
fn a_local_ref_runs_and_oversized_expansions_and_incoherent_manifests_are_refused() {
    let files = shipped();
    let dir = tempfile::tempdir().unwrap();
    mutated(dir.path(), &files, 0, &[]);
    let schemas = dir.path().join("schemas");
    let edit = |name: &str, change: &dyn Fn(&mut Value)| {
        let path = schemas.join(name);
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut doc);
        std::fs::write(&path, doc.to_string()).unwrap();
    };
    edit("request-headers.schema.json", &|doc| {
        doc["$defs"] = json!({"token": {"type": "string", "minLength": 1}});
        doc["properties"]["X-Auth-Token"] = json!({"$ref": "#/$defs/token"});
    });
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let schemas_arg = schemas.display().to_string();
    let (code, said) = run(&["run", "--dry-run", "-q", "--generated", "60", "--seed", "2", "--schemas", &schemas_arg]);
    assert_eq!(code, Some(0), "{said}");

    let cases = dir.path().join("big-cases");
    std::fs::create_dir(&cases).unwrap();
    let twice = json!({"cases": [{"name": "two_big_values", "description": "d",
        "request": {"body": {"action": "${repeat(x,12000000)}", "other": "${repeat(y,12000000)}"}},
        "expect": {"status": [413]}}]});
    std::fs::write(cases.join("big.json"), twice.to_string()).unwrap();
    let (code, said) = run(&["validate", "--cases", cases.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("at `/cases/0/request`") && said.contains("expand to 24000015 bytes"), "{said}");

    edit("retry.operation.json", &|doc| {
        doc["request"]["credential_headers"] = json!(["X-Other"]);
        doc["request"]["template"]["headers"]["Content-Length"] = json!("5");
    });
    let (code, said) = run(&["validate", "--schemas", &schemas_arg]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("at `/request/credential_headers/0`: `X-Other` is not a header"), "{said}");
    assert!(said.contains("at `/request/template/headers/Content-Length`"), "{said}");
}
