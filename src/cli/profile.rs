//! `cse-contract.toml`: named profiles of `run`'s flags, as cargo-nextest's `.config/nextest.toml`
//! and schemathesis's `schemathesis.toml` offer. A key is a long flag of `run`, spelt as on the
//! command line, found through clap's own description of the command, so a new flag is a key
//! without a list to keep. Precedence: flags > environment > profile > defaults; a profile other
//! than `default` inherits `default`'s keys and wins over them. But `header`, `secret-header` and
//! `var` add up: the command line's values come after the profile's, a profile's after
//! `default`'s (a later `-H` or `--var` of the same name is the one sent).
//!
//! The profile becomes command-line arguments: each key whose flag the command line and the
//! environment left unset is added to argv, which clap then parses again; so a value means in the
//! file exactly what it means as a flag, and clap checks it the same way (here first, one value at
//! a time, so that a refused value is told with the file's line).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use toml_edit::{Item, TableLike};

/// The file looked for in the current directory when neither `--config` nor `CSE_CONFIG` names one.
pub(crate) const FILE_NAME: &str = "cse-contract.toml";
/// The profile used without `--profile`, and the one every other profile inherits.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Flags that make no sense in a file: they ask for something else than a run, or choose the file.
const NOT_IN_FILE: [&str; 6] = ["help", "version", "list", "dry-run", "config", "profile"];
/// Keys whose values add up rather than replace: the command line's come after the profile's,
/// and a profile's after `default`'s. Replacing them would unmask a secret (`--secret-header X`
/// on the command line dropping the profile's list while its headers still apply) or drop a
/// gateway's credential (`-H 'X-Debug: 1'` dropping the profile's headers).
const ADDED_UP: [&str; 3] = ["header", "secret-header", "var"];
/// Keys someone may try for credentials, which are never read from the file.
const CREDENTIAL_KEYS: [&str; 8] =
    ["token", "auth-token", "cse-auth-token", "ak", "sk", "security-token", "access-key", "secret-key"];

/// A key's value as a flag takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A switch: `true` gives it, `false` leaves it out (and overrides an inherited `true`).
    Switch(bool),
    /// The flag's values: one, or one per repetition of the flag (a positional: each filter).
    Values(Vec<String>),
    /// How many times a counted flag is given (`verbose = 2` is `-vv`).
    Count(u8),
}

/// One key of a profile, checked against `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The long flag's name (`generated`), or `filter` for the positional filters.
    pub(crate) key: String,
    pub(crate) value: Value,
    /// Where the key is: 1-based line and column.
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Setting {
    /// Whether the setting adds anything to the command line (`false` for a switch turned off).
    fn active(&self) -> bool {
        self.value != Value::Switch(false)
    }
}

/// A parsed and checked file: its profiles by name, each key in the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigFile {
    /// The path as messages show it.
    pub(crate) path: String,
    pub(crate) profiles: BTreeMap<String, Vec<Setting>>,
}

/// The profile a run uses: the file, the profile's name, its settings with `default`'s inherited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) settings: Vec<Setting>,
}

/// The `run` subcommand as clap describes it: the keys a file may have.
pub(crate) fn run_command() -> Command {
    let mut cli = <super::args::Cli as clap::CommandFactory>::command();
    cli.build();
    cli.find_subcommand("run").cloned().expect("cse-contract has a run subcommand")
}

/// Finds, reads and checks the file and picks the profile. `config` is `--config` or
/// `CSE_CONFIG`, `name` is `--profile` or `CSE_PROFILE`. `Ok(None)`: no file, none asked for.
/// `Err`: the problems.
pub(crate) fn load(config: Option<&Path>, name: Option<&str>) -> Result<Option<Chosen>, Problems> {
    let path = match config {
        Some(path) => path.to_path_buf(),
        None if Path::new(FILE_NAME).exists() => PathBuf::from(FILE_NAME),
        None => {
            return match name {
                Some(name) => Err(Problems::one(format!(
                    "profile `{name}` asked for (--profile or CSE_PROFILE), but there is no configuration file: \
                     no --config, no CSE_CONFIG and no {FILE_NAME} in the current directory"
                ))),
                None => Ok(None),
            };
        }
    };
    let shown = path.display().to_string();
    let text = crate::files::read_text(&path, crate::files::SMALL_FILE_LIMIT)
        .map_err(|e| Problems::one(format!("cannot read the configuration file `{shown}`: {e}")))?;
    let run = run_command();
    let file = parse(&shown, &text, &run)?;
    select(&file, name.unwrap_or(DEFAULT_PROFILE), &run).map(Some).map_err(Problems::one)
}

/// At most this many problems of a file are told, as for case files; the others are counted.
const PROBLEMS_SHOWN: usize = 100;

/// What is wrong with the configuration: the first [`PROBLEMS_SHOWN`] problems in the file's
/// order, one message each (without the leading `error: `), and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problems {
    pub(crate) shown: Vec<String>,
    pub(crate) total: usize,
}

impl Problems {
    fn one(message: String) -> Self {
        Problems { shown: vec![message], total: 1 }
    }

    /// The lines to print, without their `error: `: the problems shown, how many others there
    /// are, and the count.
    pub(crate) fn into_lines(self) -> Vec<String> {
        let mut lines = self.shown;
        let others = self.total.saturating_sub(lines.len());
        if others > 0 {
            let count = crate::report::console::plural(others, "more problem", "more problems");
            lines.push(format!("{count} not shown"));
        }
        let count = crate::report::console::plural(self.total, "problem", "problems");
        lines.push(format!("{count} in the configuration; nothing was sent"));
        lines
    }
}

/// Parses `text` (the file shown as `path`) and checks every key of every profile against `run`:
/// unknown keys, wrong types and values clap refuses are all collected, each with its line, and
/// the first [`PROBLEMS_SHOWN`] told.
pub(crate) fn parse(path: &str, text: &str, run: &Command) -> Result<ConfigFile, Problems> {
    let positions = Positions::new(text);
    let at = |span: Option<Range<usize>>| positions.at(span.map_or(0, |s| s.start));
    let document = toml_edit::Document::parse(text).map_err(|e| {
        let (line, column) = at(e.span());
        Problems::one(format!("{path}:{line}:{column}: {}", e.message().trim_end()))
    })?;
    let flags = Flags::new(run);
    let mut problems: Vec<Problem> = Vec::new();
    let mut profiles = BTreeMap::new();
    let root = document.as_table();
    for (key, item) in root {
        let (line, column) = at(root.key(key).and_then(toml_edit::Key::span));
        if key != "profile" {
            let message = format!("unknown key `{key}`: the file holds only profiles, as [profile.NAME] tables");
            problems.push((line, column, message.into()));
            continue;
        }
        let Some(table) = item.as_table_like() else {
            problems.push((line, column, "`profile` must hold tables, as [profile.NAME]".to_owned().into()));
            continue;
        };
        for (name, item) in table.iter() {
            let (line, column) = at(table.key(name).and_then(toml_edit::Key::span));
            let Some(keys) = item.as_table_like() else {
                let message =
                    format!("`profile.{name}` must be a table, as [profile.{name}], not {}", a(item.type_name()));
                problems.push((line, column, message.into()));
                continue;
            };
            match profile(keys, name, &flags, &at) {
                Ok(settings) => drop(profiles.insert(name.to_owned(), settings)),
                Err(errors) => problems.extend(errors),
            }
        }
    }
    if problems.is_empty() {
        return Ok(ConfigFile { path: path.to_owned(), profiles });
    }
    let total = problems.len();
    if total > PROBLEMS_SHOWN {
        problems.select_nth_unstable(PROBLEMS_SHOWN);
        problems.truncate(PROBLEMS_SHOWN);
    }
    problems.sort();
    let shown = problems
        .into_iter()
        .map(|(line, column, message)| format!("{path}:{line}:{column}: {}", message.text(&flags)))
        .collect();
    Err(Problems { shown, total })
}

/// A problem: line, column, message.
type Problem = (usize, usize, Message);

/// What a problem says. An unknown key's message names the nearest key, found by an edit distance
/// to each: only for the problems told, not for each of 100,000 unknown keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Message {
    Text(String),
    /// A key of `[profile.NAME]` that is no flag: the key and NAME.
    UnknownKey(String, String),
}

impl Message {
    fn text(self, flags: &Flags) -> String {
        match self {
            Message::Text(text) => text,
            Message::UnknownKey(key, profile) => {
                let hint =
                    flags.suggestion(&key).map(|known| format!(" (did you mean `{known}`?)")).unwrap_or_default();
                format!("unknown key `{key}` in [profile.{profile}]{hint}")
            }
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

/// The settings of one `[profile.NAME]` table, or all its problems.
fn profile(
    table: &dyn TableLike,
    name: &str,
    flags: &Flags,
    at: &dyn Fn(Option<Range<usize>>) -> (usize, usize),
) -> Result<Vec<Setting>, Vec<Problem>> {
    let mut settings = Vec::new();
    let mut problems = Vec::new();
    for (key, item) in table.iter() {
        let (line, column) = at(table.key(key).and_then(toml_edit::Key::span));
        let setting = match find_arg(flags, key, name) {
            Ok(arg) => {
                value(arg, key, item, name, at).map(|value| Setting { key: key.to_owned(), value, line, column })
            }
            Err(message) => Err(vec![(line, column, message)]),
        };
        match setting {
            Ok(setting) => settings.push(setting),
            Err(errors) => problems.extend(errors),
        }
    }
    for (i, later) in settings.iter().enumerate() {
        for earlier in settings[..i].iter().filter(|earlier| flags.conflicting(&earlier.key, &later.key)) {
            if earlier.active() && later.active() {
                let message = format!(
                    "`{}` cannot be used with `{}` (line {}) in [profile.{name}]",
                    later.key, earlier.key, earlier.line
                );
                problems.push((later.line, later.column, message.into()));
            }
        }
    }
    if problems.is_empty() { Ok(settings) } else { Err(problems) }
}

/// The key a flag has in the file: its long name, or its id for a positional (`filter`).
fn key_of(arg: &Arg) -> Option<String> {
    match arg.get_long() {
        Some(long) => Some(long.to_owned()),
        None if arg.is_positional() => Some(arg.get_id().as_str().replace('_', "-")),
        None => None,
    }
}

/// A command's flags by their key, which pairs of them clap refuses together, and what a
/// misspelt key may have meant: looked up once, not in clap's list of arguments for each key of a
/// file that may hold 100,000.
struct Flags<'c> {
    /// Each key's flag, and its index in `command.get_arguments()`.
    keys: HashMap<String, (usize, &'c Arg)>,
    /// The pairs of indices clap refuses together, both ways round.
    conflicts: HashSet<(usize, usize)>,
    /// The flag each alias stands for (`test-threads`: `concurrency`).
    aliases: HashMap<&'c str, String>,
    /// The keys a file may hold, with their length in characters: the suggestions.
    known: Vec<(String, usize)>,
}

impl<'c> Flags<'c> {
    fn new(command: &'c Command) -> Self {
        let mut keys = HashMap::new();
        let mut aliases = HashMap::new();
        for (i, arg) in command.get_arguments().enumerate() {
            let Some(key) = key_of(arg) else { continue };
            for alias in arg.get_all_aliases().unwrap_or_default() {
                aliases.entry(alias).or_insert_with(|| key.clone());
            }
            keys.entry(key).or_insert((i, arg));
        }
        let mut conflicts = HashSet::new();
        for &(i, arg) in keys.values() {
            for other in command.get_arg_conflicts_with(arg) {
                if let Some(&(j, _)) = key_of(other).and_then(|key| keys.get(&key)) {
                    conflicts.extend([(i, j), (j, i)]);
                }
            }
        }
        let mut known: Vec<(String, usize)> = keys
            .iter()
            .filter(|(key, (_, arg))| shape(arg).is_some() && !NOT_IN_FILE.contains(&key.as_str()))
            .map(|(key, _)| (key.clone(), key.chars().count()))
            .collect();
        known.sort();
        Flags { keys, conflicts, aliases, known }
    }

    /// The flag `key` names.
    fn arg(&self, key: &str) -> Option<&'c Arg> {
        self.keys.get(key).map(|&(_, arg)| arg)
    }

    /// Whether clap refuses the flags of keys `a` and `b` together (declared on either side).
    fn conflicting(&self, a: &str, b: &str) -> bool {
        match (self.keys.get(a), self.keys.get(b)) {
            (Some(&(a, _)), Some(&(b, _))) => self.conflicts.contains(&(a, b)),
            _ => false,
        }
    }

    /// The closest key to a misspelt one, if close enough; or the flag an alias stands for.
    fn suggestion(&self, key: &str) -> Option<String> {
        if let Some(known) = self.aliases.get(key) {
            return Some(known.clone());
        }
        let length = key.chars().count();
        self.known
            .iter()
            .map(|(known, chars)| (known, *chars, (known.len() / 3).max(1)))
            // the distance is at least the difference in length: a long key costs nothing
            .filter(|&(_, chars, most)| chars.abs_diff(length) <= most)
            .map(|(known, _, most)| (edit_distance(key, known), most, known))
            .filter(|&(distance, most, _)| distance <= most)
            .min_by_key(|&(distance, _, known)| (distance, known))
            .map(|(_, _, known)| known.clone())
    }
}

/// The argument of `run` that `key` of `[profile.NAME]` names, or why the key is refused.
fn find_arg<'c>(flags: &Flags<'c>, key: &str, profile: &str) -> Result<&'c Arg, Message> {
    let place = format!("in [profile.{profile}]");
    if NOT_IN_FILE.contains(&key) {
        let how = match key {
            "config" => "the file is chosen with --config or CSE_CONFIG".to_owned(),
            "profile" => "the profile is chosen with --profile or CSE_PROFILE".to_owned(),
            _ => format!("give --{key} on the command line"),
        };
        return Err(format!("`{key}` {place} cannot be set in a configuration file: {how}").into());
    }
    if CREDENTIAL_KEYS.contains(&key) {
        return Err(format!(
            "`{key}` {place}: credentials are never read from a configuration file; they come from \
             CSE_AUTH_TOKEN or --token-file (`token-file = PATH` may be set here), or CSE_AK and CSE_SK"
        )
        .into());
    }
    flags
        .arg(key)
        .filter(|arg| shape(arg).is_some())
        .ok_or_else(|| Message::UnknownKey(key.to_owned(), profile.to_owned()))
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// How a flag takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Switch,
    One,
    Many,
    Count,
}

fn shape(arg: &Arg) -> Option<Shape> {
    match arg.get_action() {
        ArgAction::SetTrue => Some(Shape::Switch),
        ArgAction::Set => Some(Shape::One),
        ArgAction::Append => Some(Shape::Many),
        ArgAction::Count => Some(Shape::Count),
        _ => None,
    }
}

/// The value of `key` (its flag `arg`), its type checked against the flag and each value by the
/// flag's own clap parser.
fn value(
    arg: &Arg,
    key: &str,
    item: &Item,
    profile: &str,
    at: &dyn Fn(Option<Range<usize>>) -> (usize, usize),
) -> Result<Value, Vec<Problem>> {
    let (line, column) = at(item.span());
    let shape = shape(arg).expect("find_arg returns flags with a shape");
    let wrong = |what: &str, actual: &str| {
        vec![(line, column, format!("`{key}` in [profile.{profile}] {what}, not {actual}").into())]
    };
    let Some(value) = item.as_value() else {
        return Err(wrong(expected(shape), &a(item.type_name())));
    };
    let scalars: Vec<&toml_edit::Value> = match (shape, value) {
        (Shape::Switch, toml_edit::Value::Boolean(b)) => return Ok(Value::Switch(*b.value())),
        (Shape::Count, toml_edit::Value::Integer(n)) => {
            return u8::try_from(*n.value()).map(Value::Count).map_err(|_| wrong(expected(shape), "that number"));
        }
        (Shape::Count, _) => return Err(wrong(expected(shape), &a(value.type_name()))),
        (Shape::Switch, _) | (_, toml_edit::Value::Boolean(_)) => {
            return Err(wrong(expected(shape), &a(value.type_name())));
        }
        (Shape::One, toml_edit::Value::Array(_)) => return Err(wrong(expected(shape), "an array")),
        (Shape::Many, toml_edit::Value::Array(array)) => array.iter().collect(),
        _ => vec![value],
    };
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for scalar in scalars {
        let (line, column) = at(scalar.span());
        let text = match scalar {
            toml_edit::Value::String(s) => s.value().clone(),
            toml_edit::Value::Integer(i) => i.value().to_string(),
            toml_edit::Value::Float(f) => f.value().to_string(),
            other => {
                let message =
                    format!("`{key}` in [profile.{profile}] takes strings or numbers, not {}", a(other.type_name()));
                problems.push((line, column, message.into()));
                continue;
            }
        };
        match check(arg, &text) {
            Ok(()) => values.push(text),
            Err(cause) => problems.push((
                line,
                column,
                format!("invalid value `{text}` for `{key}` in [profile.{profile}]: {cause}").into(),
            )),
        }
    }
    if problems.is_empty() { Ok(Value::Values(values)) } else { Err(problems) }
}

/// A TOML type's name with its article: `a string`, `an array`.
fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {type_name}")
}

fn expected(shape: Shape) -> &'static str {
    match shape {
        Shape::Switch => "is a switch: true or false",
        Shape::One => "takes one value (a string or a number)",
        Shape::Many => "takes a list of values (or one value)",
        Shape::Count => "is a count: a whole number from 0 to 255 (`verbose = 2` is -vv)",
    }
}

/// Checks one value with the flag's own parser, as clap would on the command line; the `Err` is
/// why clap refuses it.
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    let mut probe =
        Arg::new("value").long("value").action(ArgAction::Append).value_parser(arg.get_value_parser().clone());
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter);
    }
    let command = Command::new(FILE_NAME).no_binary_name(true).arg(probe);
    match command.try_get_matches_from([format!("--value={value}")]) {
        Ok(_) => Ok(()),
        Err(error) => Err(cause(&error)),
    }
}

/// What a clap error says of a value, without clap's framing (`error: invalid value … for '--x'`).
fn cause(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        return format!("the values are {}", valid.join(", "));
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// The profile `name` of `file`, with `default`'s keys inherited: a key the profile sets wins
/// (but the values of [`ADDED_UP`] keys are added to `default`'s), and so does a flag of it that
/// clap refuses together with an inherited one (`max-failures` in `[profile.ci]` drops
/// `fail-fast` of `[profile.default]`). `default` always exists, maybe empty.
pub(crate) fn select(file: &ConfigFile, name: &str, run: &Command) -> Result<Chosen, String> {
    let chosen = |settings| Chosen { path: file.path.clone(), name: name.to_owned(), settings };
    let flags = Flags::new(run);
    let inherited = file.profiles.get(DEFAULT_PROFILE).cloned().unwrap_or_default();
    if name == DEFAULT_PROFILE {
        return Ok(chosen(inherited));
    }
    let Some(own) = file.profiles.get(name) else {
        let mut names: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
        if !names.contains(&DEFAULT_PROFILE) {
            names.insert(0, DEFAULT_PROFILE);
        }
        return Err(format!("{} has no profile `{name}`; its profiles: {}", file.path, names.join(", ")));
    };
    let mut settings: Vec<Setting> = inherited
        .iter()
        .filter(|base| {
            !own.iter().any(|mine| {
                mine.key == base.key || (mine.active() && base.active() && flags.conflicting(&mine.key, &base.key))
            })
        })
        .cloned()
        .collect();
    for mine in own {
        let mut mine = mine.clone();
        let base = inherited.iter().find(|base| base.key == mine.key && ADDED_UP.contains(&base.key.as_str()));
        if let (Some(Setting { value: Value::Values(before), .. }), Value::Values(values)) = (base, &mut mine.value) {
            values.splice(0..0, before.iter().cloned());
        }
        settings.push(mine);
    }
    Ok(chosen(settings))
}

/// `args` (the program's name first, the subcommand `subcommand` of `command`, which clap parsed
/// into `matches`) with the settings added that the command line and the environment left unset
/// (or that are [`ADDED_UP`]), and that clap does not refuse beside a flag they set. Flags go
/// right after the subcommand's name, so before the command line's own; filters at the end, after
/// `--`. Keys the subcommand lacks (`target` for `list`) are left out. Returns the new argv and
/// what was added.
pub(crate) fn to_argv(
    settings: &[Setting],
    command: &Command,
    matches: &ArgMatches,
    subcommand: &str,
    args: &[OsString],
) -> (Vec<OsString>, Vec<OsString>) {
    let given =
        |arg: &Arg| !matches!(matches.value_source(arg.get_id().as_str()), None | Some(ValueSource::DefaultValue));
    let index = Flags::new(command);
    let given_keys: Vec<String> = command.get_arguments().filter(|arg| given(arg)).filter_map(key_of).collect();
    let mut flags = Vec::new();
    let mut filters = Vec::new();
    for setting in settings {
        let Some(arg) = index.arg(&setting.key) else { continue };
        let refused = given_keys.iter().any(|other| index.conflicting(&setting.key, other));
        if (given(arg) && !ADDED_UP.contains(&setting.key.as_str())) || refused {
            continue;
        }
        match &setting.value {
            Value::Switch(on) => flags.extend(on.then(|| OsString::from(format!("--{}", setting.key)))),
            Value::Count(n) => flags.extend((0..*n).map(|_| OsString::from(format!("--{}", setting.key)))),
            Value::Values(values) if arg.is_positional() => filters.extend(values.iter().map(OsString::from)),
            Value::Values(values) => {
                flags.extend(values.iter().map(|v| OsString::from(format!("--{}={v}", setting.key))));
            }
        }
    }
    let at = args.iter().skip(1).position(|a| a == subcommand).map_or(args.len(), |i| i + 2);
    let mut expanded: Vec<OsString> = args[..at].to_vec();
    expanded.extend(flags.iter().cloned());
    expanded.extend_from_slice(&args[at..]);
    if !filters.is_empty() {
        if !args[at..].iter().any(|a| a == "--") {
            expanded.push("--".into());
        }
        expanded.extend(filters.iter().cloned());
    }
    flags.extend(filters);
    (expanded, flags)
}

/// Where byte offsets of a text are, as 1-based line and column (in characters), each found in
/// logarithmic time: a file of 1 MiB may hold 100,000 keys, each with its place, and scanning
/// the text from its start for each made the file's check quadratic (minutes).
struct Positions<'t> {
    text: &'t [u8],
    /// The byte offset where each line starts.
    lines: Vec<usize>,
    /// How many characters come before each block of [`Positions::BLOCK`] bytes.
    chars: Vec<usize>,
}

impl<'t> Positions<'t> {
    const BLOCK: usize = 64;

    fn new(text: &'t str) -> Self {
        let lines = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let mut chars = Vec::with_capacity(text.len() / Self::BLOCK + 1);
        let mut count = 0;
        for block in text.as_bytes().chunks(Self::BLOCK) {
            chars.push(count);
            count += char_starts(block);
        }
        chars.push(count);
        Positions { text: text.as_bytes(), lines, chars }
    }

    /// How many characters come before byte `offset`.
    fn chars_before(&self, offset: usize) -> usize {
        let block = offset / Self::BLOCK;
        self.chars[block] + char_starts(&self.text[block * Self::BLOCK..offset])
    }

    /// 1-based line and column (in characters) of byte `offset` (the text's end if beyond).
    fn at(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.lines.partition_point(|&start| start <= offset);
        let column = self.chars_before(offset) - self.chars_before(self.lines[line - 1]) + 1;
        (line, column)
    }
}

/// How many characters start in `bytes`: those that are not UTF-8 continuation bytes.
fn char_starts(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::{Setting, Value, parse, run_command, select, to_argv};
    use std::ffi::OsString;

    fn parsed(text: &str) -> super::ConfigFile {
        parse("c.toml", text, &run_command()).unwrap_or_else(|problems| panic!("{problems:#?}"))
    }

    fn problems(text: &str) -> Vec<String> {
        let problems = parse("c.toml", text, &run_command()).expect_err("the file is refused");
        assert_eq!(problems.total, problems.shown.len(), "{problems:#?}");
        problems.shown
    }

    fn values(values: &[&str]) -> Value {
        Value::Values(values.iter().map(|&v| v.to_owned()).collect())
    }

    #[test]
    fn keys_are_the_long_flags_with_their_places() {
        let file = parsed(
            "[profile.default]\ngenerated = 500\ntimeout = \"20s\"\n\n[profile.ci]\n  fail-fast = true\nskip = [\"slow\", \"x\"]\n\
             checks = \"status_expected,body_schema\"\nrate = 2.5\nfilter = \"retry::\"\nno-reports = false\n",
        );
        let default = &file.profiles["default"];
        assert_eq!(default[0], Setting { key: "generated".into(), value: values(&["500"]), line: 2, column: 1 });
        assert_eq!((default[1].key.as_str(), &default[1].value), ("timeout", &values(&["20s"])));
        let ci: Vec<(&str, &Value, usize, usize)> =
            file.profiles["ci"].iter().map(|s| (s.key.as_str(), &s.value, s.line, s.column)).collect();
        assert_eq!(
            ci,
            [
                ("fail-fast", &Value::Switch(true), 6, 3),
                ("skip", &values(&["slow", "x"]), 7, 1),
                ("checks", &values(&["status_expected,body_schema"]), 8, 1),
                ("rate", &values(&["2.5"]), 9, 1),
                ("filter", &values(&["retry::"]), 10, 1),
                ("no-reports", &Value::Switch(false), 11, 1),
            ]
        );
    }

    #[test]
    fn every_problem_is_told_with_its_line_in_the_files_order() {
        let text = "top = 1\n[profile.ci]\ngenrated = 5\nmode = \"everything\"\nskip = [\"a\", true]\n\
                    strict-auth = \"yes\"\nseed = [1]\ntoken = \"secret\"\ndry-run = true\nmax-failures = 3\n\
                    fail-fast = true\n";
        let got = problems(text);
        let expected = [
            "c.toml:1:1: unknown key `top`",
            "c.toml:3:1: unknown key `genrated` in [profile.ci] (did you mean `generated`?)",
            "c.toml:4:8: invalid value `everything` for `mode` in [profile.ci]: the values are positive,",
            "c.toml:5:14: `skip` in [profile.ci] takes strings or numbers, not a boolean",
            "c.toml:6:15: `strict-auth` in [profile.ci] is a switch: true or false, not a string",
            "c.toml:7:8: `seed` in [profile.ci] takes one value (a string or a number), not an array",
            "c.toml:8:1: `token` in [profile.ci]: credentials are never read from a configuration file; they come from CSE_AUTH_TOKEN",
            "c.toml:9:1: `dry-run` in [profile.ci] cannot be set in a configuration file",
            "c.toml:11:1: `fail-fast` cannot be used with `max-failures` (line 10) in [profile.ci]",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (got, expected) in got.iter().zip(expected) {
            assert!(got.starts_with(expected), "{got}\n  does not start with\n{expected}");
        }
    }

    #[test]
    fn values_clap_refuses_are_told_with_clap_s_reason() {
        let got = problems(
            "[profile.x]\ntimeout = \"0s\"\nconcurrency = 0\ngenerated = \"lots\"\nchecks = [\"transport\", \"nope\"]\n",
        );
        assert!(
            got[0].starts_with("c.toml:2:11: invalid value `0s` for `timeout` in [profile.x]: `0s` is zero"),
            "{got:#?}"
        );
        assert!(got[1].starts_with("c.toml:3:15: invalid value `0` for `concurrency`"), "{got:#?}");
        assert!(got[2].contains("`lots` is not a number of cases"), "{got:#?}");
        assert!(got[3].starts_with("c.toml:5:24: invalid value `nope` for `checks`"), "{got:#?}");
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn a_syntax_error_and_a_profile_that_is_not_a_table_have_their_places() {
        let got = problems("[profile.ci]\ngenerated = = 5\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("c.toml:2:"), "{got:?}");
        let got = problems("[profile]\nci = 5\n");
        assert_eq!(got, ["c.toml:2:1: `profile.ci` must be a table, as [profile.ci], not an integer"]);
        // an inline table is a table
        assert_eq!(parsed("profile.ci = { generated = 5 }\n").profiles["ci"][0].value, values(&["5"]));
    }

    #[test]
    fn a_profile_inherits_default_and_its_own_keys_win() {
        let run = run_command();
        let file = parsed(
            "[profile.default]\ngenerated = 500\nfail-fast = true\nskip = [\"slow\"]\nstrict-auth = true\n\
             [profile.ci]\ngenerated = 7\nmax-failures = 3\nstrict-auth = false\n[profile.local]\n",
        );
        let keys = |name: &str| -> Vec<(String, Value)> {
            select(&file, name, &run).unwrap().settings.into_iter().map(|s| (s.key, s.value)).collect()
        };
        // fail-fast is dropped: clap refuses it beside ci's max-failures; a switch set false wins too
        assert_eq!(
            keys("ci"),
            [
                ("skip".into(), values(&["slow"])),
                ("generated".into(), values(&["7"])),
                ("max-failures".into(), values(&["3"])),
                ("strict-auth".into(), Value::Switch(false)),
            ]
        );
        assert_eq!(keys("local"), keys("default"));
        assert_eq!(keys("default").len(), 4);
        let missing = select(&file, "cj", &run).unwrap_err();
        assert_eq!(missing, "c.toml has no profile `cj`; its profiles: ci, default, local");
        // `default` always exists, if only empty
        let bare = parsed("[profile.ci]\n");
        assert!(select(&bare, "default", &run).unwrap().settings.is_empty());
        assert_eq!(select(&bare, "x", &run).unwrap_err(), "c.toml has no profile `x`; its profiles: default, ci");
    }

    /// `header`, `secret-header` and `var` add up, `default`'s first: a profile's list replacing
    /// `default`'s would unmask `default`'s secret headers. Other lists replace.
    #[test]
    fn headers_secret_headers_and_vars_add_up_to_defaults() {
        let run = run_command();
        let file = parsed(
            "[profile.default]\nheader = [\"X-Api-Key: SECRET\", \"X-Trace: t\"]\nsecret-header = \"X-Api-Key\"\n\
             var = \"a=1\"\nskip = \"slow\"\n\
             [profile.ci]\nheader = \"X-Ci: c\"\nsecret-header = [\"X-Ci\"]\nvar = [\"b=2\"]\nskip = \"x\"\n[profile.local]\n",
        );
        let keys = |name: &str| -> Vec<(String, Value)> {
            select(&file, name, &run).unwrap().settings.into_iter().map(|s| (s.key, s.value)).collect()
        };
        assert_eq!(
            keys("ci"),
            [
                ("header".into(), values(&["X-Api-Key: SECRET", "X-Trace: t", "X-Ci: c"])),
                ("secret-header".into(), values(&["X-Api-Key", "X-Ci"])),
                ("var".into(), values(&["a=1", "b=2"])),
                ("skip".into(), values(&["x"])),
            ]
        );
        assert_eq!(keys("local"), keys("default"));
    }

    fn argv(text: &str, args: &[&str]) -> Vec<String> {
        let cli = <crate::cli::args::Cli as clap::CommandFactory>::command();
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let matches = cli.clone().try_get_matches_from(&args).unwrap();
        let (name, sub_matches) = matches.subcommand().unwrap();
        let settings = select(&parsed(text), "default", &run_command()).unwrap().settings;
        let (expanded, _) = to_argv(&settings, cli.find_subcommand(name).unwrap(), sub_matches, name, &args);
        expanded.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn settings_become_flags_after_the_subcommand_and_filters_after_a_separator() {
        let file = "[profile.default]\ngenerated = 5\nskip = [\"a\", \"b\"]\nfail-fast = true\nno-state = false\n\
                    filter = [\"-odd\", \"retry::\"]\ntarget = \"http://x\"\n";
        assert_eq!(
            argv(file, &["c", "run", "-q"]),
            [
                "c",
                "run",
                "--generated=5",
                "--skip=a",
                "--skip=b",
                "--fail-fast",
                "--target=http://x",
                "-q",
                "--",
                "-odd",
                "retry::"
            ]
        );
        // a flag given wins, its value or its switch; so do filters; a `--` is not repeated
        assert_eq!(
            argv(file, &["c", "run", "--generated", "9", "--skip", "c", "--max-failures", "2", "x"]),
            ["c", "run", "--target=http://x", "--generated", "9", "--skip", "c", "--max-failures", "2", "x"]
        );
        assert_eq!(argv(file, &["c", "run", "--"]).last().map(String::as_str), Some("retry::"));
        assert_eq!(argv(file, &["c", "run", "--"]).iter().filter(|a| *a == "--").count(), 1);
        // `list` takes the keys it has and leaves the others
        assert_eq!(
            argv(file, &["c", "list"]),
            ["c", "list", "--generated=5", "--skip=a", "--skip=b", "--", "-odd", "retry::"]
        );
        // a flag that clap refuses beside one given is left out (`--fault` and `target`)
        assert!(!argv(file, &["c", "run", "--fault", "wrong_id"]).iter().any(|a| a.starts_with("--target")));
    }

    /// A command line's `-H`, `--secret-header` and `--var` add to the profile's, after them:
    /// `--secret-header X-Trace` keeps the profile's X-Api-Key masked, `-H 'X-Debug: 1'` keeps
    /// its gateway header.
    #[test]
    fn the_command_line_adds_headers_secret_headers_and_vars_to_the_profiles() {
        use clap::Parser as _;
        let file = "[profile.default]\nheader = [\"X-Api-Key: SECRET\", \"X-Trace: t\"]\nsecret-header = [\"X-Api-Key\"]\n\
                    var = [\"a=1\"]\nskip = [\"slow\"]\n";
        let args = ["c", "run", "--secret-header", "X-Trace", "-H", "X-Debug: 1", "--var", "a=2", "--skip", "x"];
        let expanded = argv(file, &args);
        let profile = ["--header=X-Api-Key: SECRET", "--header=X-Trace: t", "--secret-header=X-Api-Key", "--var=a=1"];
        assert_eq!(expanded[..2], args[..2]);
        assert_eq!(expanded[2..6], profile);
        assert_eq!(expanded[6..], args[2..]);
        let crate::cli::args::Command::Run(run) = crate::cli::args::Cli::try_parse_from(&expanded).unwrap().command
        else {
            panic!("a run")
        };
        assert_eq!(run.headers, ["X-Api-Key: SECRET", "X-Trace: t", "X-Debug: 1"]);
        assert_eq!(run.secret_header, ["X-Api-Key", "X-Trace"]);
        let vars: Vec<(&str, &str)> = run.vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(vars, [("a", "1"), ("a", "2")]);
        assert_eq!(run.skip, ["x"]);
    }

    #[test]
    fn a_counted_flag_is_a_number_of_times() {
        let file = "[profile.default]\nverbose = 2\n";
        assert_eq!(argv(file, &["c", "run"]), ["c", "run", "--verbose", "--verbose"]);
        // -v on the command line wins: it is given, so the profile adds none.
        assert_eq!(argv(file, &["c", "run", "-v"]), ["c", "run", "-v"]);
        let got = problems("[profile.default]\nverbose = true\n");
        assert!(got[0].contains("`verbose` in [profile.default] is a count"), "{got:?}");
    }

    #[test]
    fn suggestions_and_aliases() {
        assert_eq!(super::edit_distance("genrated", "generated"), 1);
        assert_eq!(super::edit_distance("", "abc"), 3);
        let run = run_command();
        let flags = super::Flags::new(&run);
        assert_eq!(flags.suggestion("test-threads").as_deref(), Some("concurrency"));
        assert_eq!(flags.suggestion("max-failure").as_deref(), Some("max-failures"));
        assert_eq!(flags.suggestion("max-fail").as_deref(), Some("max-failures"));
        assert_eq!(flags.suggestion("zzzzzz"), None);
        assert_eq!(flags.suggestion(&"a".repeat(100_000)), None);
        // never a key the file refuses
        assert_eq!(flags.suggestion("dry-runs"), None);
    }

    /// Every flag of `run` is a key, by its long name, as clap has it: none to list here.
    #[test]
    fn every_long_flag_of_run_is_a_key_but_those_a_file_refuses() {
        let run = run_command();
        let flags = super::Flags::new(&run);
        let mut keys = 0;
        for arg in run.get_arguments().filter(|arg| super::shape(arg).is_some()) {
            let key = super::key_of(arg).unwrap();
            let refused = super::NOT_IN_FILE.contains(&key.as_str());
            assert_eq!(super::find_arg(&flags, &key, "p").is_err(), refused, "{key}");
            keys += usize::from(!refused);
        }
        assert!(keys > 40, "{keys}");
    }

    /// A file of 1 MiB may hold 100,000 problems: it is checked in time linear in its size (this
    /// test took a minute, debug build, when each place was counted from the file's start), and
    /// the first 100 are told, the others counted.
    #[test]
    fn a_large_file_is_checked_in_bounded_time_and_its_first_problems_told() {
        use std::fmt::Write as _;
        let run = run_command();
        let mut unknown = String::from("[profile.default]\n");
        for i in 0..50_000 {
            writeln!(unknown, "key-{i} = {i}").unwrap();
        }
        let started = std::time::Instant::now();
        let problems = parse("c.toml", &unknown, &run).unwrap_err();
        // a generous bound, for a loaded machine and a debug build: it took a minute
        let bound = std::time::Duration::from_secs(30);
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        assert_eq!((problems.total, problems.shown.len()), (50_000, 100));
        assert!(problems.shown[0].starts_with("c.toml:2:1: unknown key `key-0` in [profile.default]"), "{problems:#?}");
        assert!(problems.shown[99].starts_with("c.toml:101:1: unknown key `key-99` in [profile.default]"));
        let lines = problems.into_lines();
        assert_eq!(
            lines[100..],
            ["49900 more problems not shown", "50000 problems in the configuration; nothing was sent"]
        );
        let mut profiles = String::new();
        for i in 0..20_000 {
            writeln!(profiles, "[profile.p{i}]\ngenerated = {i}").unwrap();
        }
        let file = parse("c.toml", &profiles, &run).unwrap();
        assert!(select(&file, "nope", &run).unwrap_err().starts_with("c.toml has no profile `nope`"));
        assert!(started.elapsed() < bound * 2, "{:?}", started.elapsed());
        // one more problem than is told is counted as one
        let lines = super::Problems { shown: vec!["a".into()], total: 2 }.into_lines();
        assert_eq!(lines, ["a", "1 more problem not shown", "2 problems in the configuration; nothing was sent"]);
    }

    /// Each offset's place is the one counting from the start gives, across blocks, lines and
    /// characters of several bytes.
    #[test]
    fn places_are_those_counted_from_the_start() {
        let text = format!("a = 1\n\n# é, ü and 字\n{}x\n{}\n", "é".repeat(70), "ab".repeat(100));
        let positions = super::Positions::new(&text);
        for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
            assert_eq!(positions.at(offset), (line, column), "offset {offset}");
        }
        assert_eq!(positions.at(text.len() + 5), positions.at(text.len()));
        assert_eq!(super::Positions::new("").at(0), (1, 1));
    }

    /// The README's example is a file this code takes, whole.
    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("## Configuration file").expect("the README has the section")..];
        let start = section.find("```toml\n").expect("the section has a TOML example") + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let file = parsed(example);
        let ci = select(&file, "ci", &run_command()).unwrap();
        assert!(ci.settings.iter().any(|s| s.key == "target"), "{ci:#?}");
        assert!(ci.settings.iter().any(|s| s.key == "generated"), "ci inherits default's keys: {ci:#?}");
    }
}
