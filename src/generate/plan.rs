//! Turning kinds into planned cases: case `i` of a run takes the `i`-th kind in rotation (so
//! every kind is exercised even by a small run) and draws its values from its own RNG, seeded
//! by (seed, i). The expectation of each family comes from the manifest.

use std::sync::Arc;

use proptest::strategy::{SBoxedStrategy, Strategy as _, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Map;

use super::coverage::{self, Probe, ProbeTree};
use super::draft::{Base, Draft, Mutated};
use super::kinds::Answer;
use super::{Family, Kind, Mode, kinds};
use crate::case::vars::{self, Unset, Variables};
use crate::client::Request;
use crate::contract::{Contract, Operation, StatusSource};
use crate::plan::{Filter, Origin, PlannedCase, PlannedExpect, Unbuilt, classify_parsed, is_side_effecting, url};

/// The checks a robustness probe opts out of: they judge the contract's classification of the
/// input, which a probe's input does not have. Names rather than `check::CheckKind`, so that
/// `generate` does not depend on `check` (which sits below it); a test checks them.
const UNCLASSIFIED_SKIPS: [&str; 2] = ["negative_rejected", "auth_enforced"];

/// The check a value refused for its size alone may also fail: HTTP's size refusals are not all
/// the API's documented statuses.
const STATUS_DOCUMENTED: &str = "status_documented";

/// HTTP's refusals of a request too large: body (413), URL (414), header fields (431).
const HTTP_SIZE_REFUSALS: [u16; 3] = [413, 414, 431];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// How many cases.
    pub count: usize,
    /// The seed.
    pub seed: u64,
    /// Which families.
    pub mode: Mode,
    /// The engine's state is read around side-effecting cases, so a refusal is judged by it
    /// (`state_justified`): positive cases then expect only acceptance. Without it they also
    /// accept the page's 400, since a real engine may not be retryable again.
    pub state_aware: bool,
    /// Missing or invalid credentials must get the gateway's status alone (`--strict-auth`).
    pub strict_auth: bool,
}

/// Everything needed to (re)build generated cases. Its cases are indexed: the random cases
/// first (`0..count`, so case `i`'s name and RNG do not depend on the coverage phase), then the
/// coverage probes; a run sends the probes first ([`Selection`]).
#[derive(Debug, Clone)]
pub struct Generated {
    base: Arc<Base>,
    kinds: Vec<Kind>,
    /// What a conforming server answers, per kind.
    expected: Vec<Vec<u16>>,
    /// The strategy of each kind, built once.
    strategies: Vec<SBoxedStrategy<Mutated>>,
    coverage: Arc<Coverage>,
    config: GenConfig,
    target: String,
}

/// The coverage phase of a run.
#[derive(Debug, Default)]
struct Coverage {
    probes: Vec<Probe>,
    /// What a conforming server answers, per probe.
    expected: Vec<Vec<u16>>,
    /// Each operation's base (by `OpId`), or why its template cannot be filled in.
    bases: Vec<Result<Arc<Base>, String>>,
}

/// Which case an index of [`Generated`] is.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The random case of this index.
    Random(usize),
    /// This coverage probe.
    Coverage(usize),
}

fn rng(seed: u64, index: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    bytes[16..24].copy_from_slice(b"cse-gen1");
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

impl Generated {
    /// Prepares generation against `target`, from the templates with `variables` filled in.
    pub fn new(
        contract: &Arc<Contract>,
        target: &str,
        variables: &Variables,
        config: GenConfig,
    ) -> Result<Generated, Unset> {
        let op = contract.default_operation();
        let base = Arc::new(template_base(contract, op, variables)?);
        let kinds = kinds(op, config.mode);
        let kind_statuses: Vec<Vec<u16>> = kinds.iter().map(|kind| expected(op, kind.answer(), config)).collect();
        let strategies = kinds.iter().map(|kind| kind.strategy(&base)).collect();
        let mut coverage = Coverage::default();
        if config.mode.includes(Family::Coverage) {
            coverage.probes = coverage::probes(contract);
            coverage.expected =
                coverage.probes.iter().map(|p| expected(contract.operation(p.op), p.answer, config)).collect();
            coverage.bases = contract
                .operations
                .iter()
                .map(|op| {
                    template_base(contract, op, variables).map(Arc::new).map_err(|Unset(variable)| {
                        format!(
                            "the {} operation's template uses ${{{variable}}}, which this run does not set{}",
                            op.manifest.name,
                            crate::plan::hint(&variable).replace("(set ", "(")
                        )
                    })
                })
                .collect();
        }
        Ok(Generated {
            base,
            kinds,
            expected: kind_statuses,
            strategies,
            coverage: Arc::new(coverage),
            config,
            target: target.to_owned(),
        })
    }

    /// How many random cases: none when the mode selects no random family.
    fn random(&self) -> usize {
        if self.kinds.is_empty() { 0 } else { self.config.count }
    }

    /// How many cases in all: the random ones and the coverage probes.
    pub fn len(&self) -> usize {
        self.random() + self.coverage.probes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many coverage probes, and of how many constraints.
    pub fn coverage(&self) -> (usize, usize) {
        (self.coverage.probes.len(), coverage::constraints(&self.coverage.probes))
    }

    fn slot(&self, index: usize) -> Slot {
        match index.checked_sub(self.random()) {
            Some(probe) => Slot::Coverage(probe),
            None => Slot::Random(index),
        }
    }

    /// The kind of case `index`, if it is a random case.
    pub fn kind(&self, index: usize) -> Option<&Kind> {
        match self.slot(index) {
            Slot::Random(i) => Some(&self.kinds[i % self.kinds.len()]),
            Slot::Coverage(_) => None,
        }
    }

    /// What a conforming server answers case `index`.
    fn statuses(&self, index: usize) -> &[u16] {
        match self.slot(index) {
            Slot::Random(i) => &self.expected[i % self.kinds.len()],
            Slot::Coverage(p) => &self.coverage.expected[p],
        }
    }

    /// The family, mutation name and answer of case `index`.
    fn what(&self, index: usize) -> (Family, String, Answer) {
        match self.slot(index) {
            Slot::Random(i) => {
                let kind = &self.kinds[i % self.kinds.len()];
                (kind.family(), kind.name(), kind.answer())
            }
            Slot::Coverage(p) => {
                let probe = &self.coverage.probes[p];
                (Family::Coverage, probe.constraint.clone(), probe.answer)
            }
        }
    }

    /// The value tree of case `index`: its value is the case, simplifying it shrinks the case.
    /// `Err`: the case cannot be built (its generator drew no value it could use, as when a
    /// schema and the generator disagree), and why.
    pub fn tree(&self, index: usize) -> Result<Box<dyn ValueTree<Value = Mutated>>, Box<Unbuilt>> {
        if let Slot::Coverage(p) = self.slot(index) {
            let probe = &self.coverage.probes[p];
            return match &self.coverage.bases[probe.op.0] {
                Ok(base) => Ok(Box::new(ProbeTree::new(base.clone(), probe.clone()))),
                Err(reason) => Err(Box::new(self.unbuilt(index, reason.clone()))),
            };
        }
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(self.config.seed, index));
        match self.strategies[index % self.kinds.len()].new_tree(&mut runner) {
            Ok(tree) => Ok(Box::new(tree)),
            Err(reason) => Err(Box::new(self.undrawn(index, &reason, &runner))),
        }
    }

    /// Case `index`, built; skipped when the run cannot fill in its operation's template; `Err`
    /// if it cannot be built, and why.
    pub fn case(&self, index: usize) -> Result<PlannedCase, Box<Unbuilt>> {
        if let Slot::Coverage(p) = self.slot(index) {
            let probe = &self.coverage.probes[p];
            if let Err(reason) = &self.coverage.bases[probe.op.0] {
                let op = self.base.contract.operation(probe.op);
                let draft = Draft {
                    method: op.manifest.method.clone(),
                    path: Map::new(),
                    headers: Vec::new(),
                    body: bytes::Bytes::new(),
                    json: None,
                };
                let mut case = self.planned(index, Mutated { draft, description: probe.description.clone() });
                case.skip = Some(reason.clone());
                return Ok(case);
            }
        }
        self.tree(index).map(|tree| self.planned(index, tree.current()))
    }

    /// Random case `index`, which its generator could not draw: proptest's `reason`, and the
    /// filters that rejected what it drew.
    fn undrawn(&self, index: usize, reason: &proptest::test_runner::Reason, runner: &TestRunner) -> Unbuilt {
        let (family, mutation, _) = self.what(index);
        // proptest keeps the count of rejections per filter private; its Display lists them as
        // "N times at WHY", one a line.
        let rejected: Vec<String> = runner
            .to_string()
            .lines()
            .filter_map(|line| line.trim().split_once(" times at "))
            .map(|(count, why)| format!("{count} values rejected by the filter `{why}`"))
            .collect();
        let rejected = if rejected.is_empty() { String::new() } else { format!(": {}", rejected.join(", ")) };
        self.unbuilt(
            index,
            format!(
                "the generator of {}::{mutation} drew no value it could use ({reason}{rejected}); \
                 do the schemas allow what it draws?",
                family.name(),
            ),
        )
    }

    /// Case `index`, which cannot be built, and why.
    fn unbuilt(&self, index: usize, reason: String) -> Unbuilt {
        let (family, mutation, _) = self.what(index);
        let name = self.name(index);
        Unbuilt {
            suite: name.rsplit_once("::").map_or_else(|| name.clone(), |(suite, _)| suite.to_owned()),
            name,
            source: "generated".to_owned(),
            origin: Origin::Generated {
                family,
                mutation,
                description: "none: nothing was built".to_owned(),
                seed: self.config.seed,
                index,
            },
            reason,
        }
    }

    /// The stable name of case `index`.
    pub fn name(&self, index: usize) -> String {
        match self.slot(index) {
            Slot::Random(i) => {
                let kind = &self.kinds[i % self.kinds.len()];
                format!("generated::{}::{}::{index:04}", kind.family().name(), kind.name())
            }
            Slot::Coverage(p) => self.coverage.probes[p].name(),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Whether a conforming server may accept case `index` (see [`PlannedCase::side_effecting`]).
    pub fn side_effecting(&self, index: usize) -> bool {
        match self.slot(index) {
            Slot::Random(_) => is_side_effecting(self.base.operation(), self.statuses(index)),
            // A path parameter of another value names no resource of the run (its value is made
            // of `a`s), so it starts no job. An invalid request of an operation that acts would
            // start one if a defective server accepted it: it is armed (`runner::lane`).
            Slot::Coverage(p) => {
                let probe = &self.coverage.probes[p];
                let op = self.base.contract.operation(probe.op);
                match probe.answer {
                    Answer::NamesAnotherResource | Answer::Unclassified => false,
                    Answer::Rejected | Answer::CredentialsRejected => self.config.state_aware && !op.manifest.is_safe(),
                    // A valid value that may be refused for its size is accepted otherwise.
                    Answer::Accepted | Answer::AcceptedOrRefusedForItsValue | Answer::SizeMayBeRefused => {
                        is_side_effecting(op, self.statuses(index))
                    }
                }
            }
        }
    }

    /// Whether case `index` is bound to the engine whatever the run reads of its state:
    /// side-effecting, or armed when the run is judged by state. A partition gives these to
    /// shard 1 ([`crate::plan::partition`]), and every shard must agree on them.
    pub fn engine_bound(&self, index: usize) -> bool {
        match self.slot(index) {
            Slot::Coverage(p)
                if matches!(self.coverage.probes[p].answer, Answer::Rejected | Answer::CredentialsRejected) =>
            {
                !self.base.contract.operation(self.coverage.probes[p].op).manifest.is_safe()
            }
            _ => self.side_effecting(index),
        }
    }

    /// Whether case `index` is armed: invalid, and sent in its engine's lane because a defective
    /// server would act on it (see `runner::lane`).
    pub fn armed(&self, index: usize) -> bool {
        self.side_effecting(index) && !self.statuses(index).iter().any(|s| (200..300).contains(s))
    }

    /// Case `index` with the request `mutated`.
    pub fn planned(&self, index: usize, mutated: Mutated) -> PlannedCase {
        let op = match self.slot(index) {
            Slot::Random(_) => self.base.operation(),
            Slot::Coverage(p) => self.base.contract.operation(self.coverage.probes[p].op),
        };
        let (family, mutation, answer) = self.what(index);
        let Mutated { draft, description } = mutated;
        let request = Request {
            method: draft.method,
            url: url(&self.target, &op.manifest.path, &draft.path),
            headers: draft.headers,
            body: draft.body,
        };
        let statuses = self.statuses(index).to_vec();
        let class = classify_parsed(op, &request, &draft.path, &statuses, draft.json.as_deref());
        let side_effecting = self.side_effecting(index);
        let mut skip_checks = std::collections::BTreeMap::new();
        if answer == Answer::Unclassified {
            let reason = "robustness probe: the contract does not classify this input";
            for check in UNCLASSIFIED_SKIPS {
                skip_checks.insert(check.to_owned(), reason.to_owned());
            }
        }
        if answer == Answer::SizeMayBeRefused {
            let reason =
                "a value whose size alone may be refused (HTTP's 413, 414 or 431 too): only a server error is wrong";
            for check in UNCLASSIFIED_SKIPS.iter().chain(&[STATUS_DOCUMENTED]) {
                skip_checks.insert((*check).to_owned(), reason.to_owned());
            }
        }
        let name = self.name(index);
        PlannedCase {
            operation: op.id,
            side_effecting,
            suite: name.rsplit_once("::").map_or_else(|| name.clone(), |(suite, _)| suite.to_owned()),
            name,
            source: "generated".to_owned(),
            description: description.clone(),
            request,
            path_parameters: draft.path.clone(),
            class,
            expect: PlannedExpect { statuses, schema: None, assertions: Vec::new() },
            skip_checks,
            expected_failure: None,
            origin: Origin::Generated { family, mutation, description, seed: self.config.seed, index },
            skip: None,
        }
    }
}

/// The valid request of `op`'s template with `variables` filled in.
fn template_base(contract: &Arc<Contract>, op: &Operation, variables: &Variables) -> Result<Base, Unset> {
    let template = &op.manifest.request.template;
    let mut path = Map::new();
    for (key, value) in &template.path_parameters {
        path.insert(key.clone(), vars::expand_value(value, variables)?);
    }
    let mut headers = Vec::new();
    for (key, value) in &template.headers {
        headers.push((key.clone(), vars::expand(value.as_str().unwrap_or_default(), variables)?));
    }
    let body = match &template.body {
        Some(body) => vars::expand_value(body, variables)?,
        None => serde_json::Value::Null,
    };
    let draft = Draft {
        method: op.manifest.method.clone(),
        path,
        headers,
        body: if body.is_null() { bytes::Bytes::new() } else { serde_json::to_vec(&body).unwrap_or_default().into() },
        json: (!body.is_null()).then(|| Arc::new(body.clone())),
    };
    let unknown_engine_id =
        variables.get("unknown_engine_id").unwrap_or("00000000-0000-0000-0000-000000000000").to_owned();
    let header_schemas = Base::header_schemas(op);
    Ok(Base { draft, body, contract: contract.clone(), op: op.id, unknown_engine_id, header_schemas })
}

/// The names of the generated cases for `config`, in the order a run sends them (coverage
/// probes, then random cases), without building them (for `--list`, which needs no target or
/// variables).
pub fn names(contract: &Contract, config: GenConfig) -> Vec<String> {
    let kinds = kinds(contract.default_operation(), config.mode);
    let probes = if config.mode.includes(Family::Coverage) { coverage::probes(contract) } else { Vec::new() };
    let random = if kinds.is_empty() { 0 } else { config.count };
    probes
        .iter()
        .map(Probe::name)
        .chain((0..random).map(|i| {
            let kind = &kinds[i % kinds.len()];
            format!("generated::{}::{}::{i:04}", kind.family().name(), kind.name())
        }))
        .collect()
}

/// What a conforming server answers to a case answered as `answer`, from the manifest.
fn expected(op: &Operation, answer: Answer, config: GenConfig) -> Vec<u16> {
    let manifest = &op.manifest;
    let documented = manifest.documented_for(&manifest.method, false);
    let credential = manifest.request.credential_failure_status;
    match answer {
        Answer::Accepted if config.state_aware => {
            documented.filter(|r| r.source == StatusSource::Api && r.status < 300).map(|r| r.status).collect()
        }
        Answer::Accepted => {
            documented.filter(|r| r.source == StatusSource::Api && r.status < 500).map(|r| r.status).collect()
        }
        // Acceptance, or a client error other than the credential failure (403 for an enterprise
        // project the token may not use, 404 for one that does not exist, the page's 400).
        Answer::AcceptedOrRefusedForItsValue => documented
            .filter(|r| {
                (r.source == StatusSource::Api && r.status < 500)
                    || ((400..500).contains(&r.status) && r.status != credential)
            })
            .map(|r| r.status)
            .collect(),
        Answer::CredentialsRejected => manifest.credential_statuses(config.strict_auth),
        Answer::Rejected => {
            documented.filter(|r| (400..500).contains(&r.status) && r.status != credential).map(|r| r.status).collect()
        }
        Answer::Unclassified => documented.filter(|r| r.status < 500).map(|r| r.status).collect(),
        Answer::SizeMayBeRefused => {
            let mut statuses: Vec<u16> = documented.filter(|r| r.status < 500).map(|r| r.status).collect();
            for status in HTTP_SIZE_REFUSALS {
                if !statuses.contains(&status) {
                    statuses.push(status);
                }
            }
            statuses
        }
        // Another project's resource may also be refused as the token's (401: a token scoped to
        // its own project).
        Answer::NamesAnotherResource => documented
            .filter(|r| (r.source == StatusSource::Api && r.status < 300) || (400..500).contains(&r.status))
            .map(|r| r.status)
            .collect(),
    }
}

/// The generated cases a filter selects, built one at a time when asked for: a run of a million
/// holds their indexes at most, never the cases.
#[derive(Debug, Clone)]
pub struct Selection {
    generated: Generated,
    /// The indexes selected, when a filter dropped some (else all of `0..count`).
    indexes: Option<Vec<usize>>,
    /// The longest name among them.
    name_width: usize,
}

impl Selection {
    /// The cases of `generated` that `filter` selects: the coverage probes, then the random cases.
    pub fn new(generated: Generated, filter: &Filter) -> Selection {
        let (count, kinds) = (generated.random(), generated.kinds.len());
        if filter.include.is_empty() && filter.skip.is_empty() {
            // Kind k's longest name is that of its last index (names end in the index).
            let last = |k: usize| k + (count - 1 - k) / kinds * kinds;
            let random = (0..kinds.min(count)).map(|k| generated.name(last(k)).len());
            let probes = generated.coverage.probes.iter().map(|p| p.name().len());
            let name_width = random.chain(probes).max().unwrap_or(0);
            return Selection { generated, indexes: None, name_width };
        }
        let mut indexes = Vec::new();
        let mut name_width = 0;
        for i in (count..generated.len()).chain(0..count) {
            let name = generated.name(i);
            if filter.matches(&name) {
                indexes.push(i);
                name_width = name_width.max(name.len());
            }
        }
        Selection { generated, indexes: Some(indexes), name_width }
    }

    /// How many cases of `generated` `filter` selects, and how many of those are bound to the
    /// engine ([`Generated::engine_bound`]): what a partition's dealer is told first.
    pub fn census(generated: &Generated, filter: &Filter) -> (usize, usize) {
        let everything = filter.include.is_empty() && filter.skip.is_empty();
        (0..generated.len())
            .filter(|&i| everything || filter.matches(&generated.name(i)))
            .fold((0, 0), |(selected, engine), i| (selected + 1, engine + usize::from(generated.engine_bound(i))))
    }

    /// The cases of `generated` that `filter` selects and `dealer` deals to its shard, in the
    /// run's order (the coverage probes, then the random cases); the dealer has been dealt the
    /// run's earlier cases.
    /// Also how many the filter selected, all shards together.
    pub fn dealt(generated: Generated, filter: &Filter, dealer: &mut crate::plan::Dealer) -> (Selection, usize) {
        let count = generated.random();
        let mut indexes = Vec::new();
        let mut name_width = 0;
        let mut matched = 0;
        for i in (count..generated.len()).chain(0..count) {
            let name = generated.name(i);
            if !filter.matches(&name) {
                continue;
            }
            matched += 1;
            if dealer.keeps(&name, generated.engine_bound(i)) {
                indexes.push(i);
                name_width = name_width.max(name.len());
            }
        }
        (Selection { generated, indexes: Some(indexes), name_width }, matched)
    }

    /// The generator.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }

    /// How many cases.
    pub fn len(&self) -> usize {
        self.indexes.as_ref().map_or(self.generated.len(), Vec::len)
    }

    /// Whether none are selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The generator's index of the `n`-th case selected.
    pub fn index(&self, n: usize) -> usize {
        match &self.indexes {
            Some(indexes) => indexes[n],
            None => {
                let (random, probes) = (self.generated.random(), self.generated.coverage.probes.len());
                if n < probes { random + n } else { n - probes }
            }
        }
    }

    /// The `n`-th case selected; `Err` if it cannot be built, and why.
    pub fn case(&self, n: usize) -> Result<PlannedCase, Box<Unbuilt>> {
        self.generated.case(self.index(n))
    }

    /// The indexes selected, in order.
    pub fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|n| self.index(n))
    }

    /// How many coverage probes are selected, and of how many constraints.
    pub fn coverage(&self) -> (usize, usize) {
        let Some(indexes) = &self.indexes else {
            return self.generated.coverage();
        };
        let probes: Vec<&Probe> = indexes
            .iter()
            .filter_map(|&i| match self.generated.slot(i) {
                Slot::Coverage(p) => Some(&self.generated.coverage.probes[p]),
                Slot::Random(_) => None,
            })
            .collect();
        (probes.len(), coverage::constraints(probes.iter().copied()))
    }

    /// The longest name among the cases selected.
    pub fn name_width(&self) -> usize {
        self.name_width
    }
}

/// The generated cases `filter` selects, in index order, all built at once (for small runs and
/// tests); `Err`: the first that cannot be built.
pub fn generate(generated: &Generated, filter: &Filter) -> Result<Vec<PlannedCase>, Box<Unbuilt>> {
    let selection = Selection::new(generated.clone(), filter);
    (0..selection.len()).map(|n| selection.case(n)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::files::FileSource;
    use crate::plan::RequestPart;

    fn setup(mode: Mode, count: usize, seed: u64) -> Generated {
        let contract = Arc::new(Contract::load(&FileSource::Embedded).unwrap());
        let mut v = Variables::default();
        for (k, val) in [
            ("project_id", "p1"),
            ("engine_id", "e1"),
            ("token", "t"),
            ("enterprise_project_id", "0"),
            ("unknown_engine_id", "u"),
            ("job_id", "1"),
        ] {
            v.set(k, val);
        }
        Generated::new(
            &contract,
            "http://127.0.0.1:1",
            &v,
            GenConfig { count, seed, mode, state_aware: false, strict_auth: false },
        )
        .unwrap()
    }

    #[test]
    fn robustness_probes_opt_out_of_checks_that_exist() {
        for name in UNCLASSIFIED_SKIPS.iter().chain(&[STATUS_DOCUMENTED]) {
            assert!(crate::check::CheckKind::from_name(name).is_some(), "no check is called {name}");
        }
    }

    #[test]
    fn same_seed_same_requests_other_seed_other_requests() {
        let a = generate(&setup(Mode::Random, 300, 42), &Filter::default()).unwrap();
        let b = generate(&setup(Mode::Random, 300, 42), &Filter::default()).unwrap();
        let c = generate(&setup(Mode::Random, 300, 43), &Filter::default()).unwrap();
        assert_eq!(a.len(), 300);
        let key = |cases: &[PlannedCase]| cases.iter().map(|c| (c.name.clone(), c.request.clone())).collect::<Vec<_>>();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }

    /// Every negative request breaks exactly the rule its kind names; every positive request is
    /// valid; checked by classifying each against the schemas.
    #[test]
    fn generators_break_exactly_their_rule() {
        let g = setup(Mode::Random, 2_000, 7);
        for case in generate(&g, &Filter::default()).unwrap() {
            let Origin::Generated { index, .. } = case.origin else { unreachable!() };
            let kind = g.kind(index).expect("a random case");
            let class = &case.class;
            let all: Vec<_> = class.violations.iter().chain(&class.credential_violations).collect();
            match kind.family() {
                Family::Positive => assert!(all.is_empty(), "{}: {all:?} ({})", case.name, case.description),
                Family::Negative => match kind.target() {
                    None => assert!(all.is_empty() && class.expects_rejection, "{}", case.name),
                    Some((part, property)) => {
                        // One rule, possibly reported twice: a value of the wrong type also
                        // misses the enum. Every violation must lie on the target.
                        assert!(!all.is_empty(), "{}: no violation ({})", case.name, case.description);
                        for v in &all {
                            assert_eq!(v.part, part, "{}: {all:?}", case.name);
                            let got = if part == RequestPart::Body && property.is_none() {
                                None
                            } else {
                                v.violation.property()
                            };
                            assert_eq!(got, property, "{}: {all:?}", case.name);
                        }
                        let keywords: Vec<&str> = all.iter().map(|v| v.violation.keyword.as_str()).collect();
                        match kind {
                            Kind::PropertyWrongType { .. } => {
                                assert!(keywords.contains(&"type"), "{}: {keywords:?}", case.name);
                            }
                            Kind::PropertyWrongValue { .. } | Kind::BodyLarge { .. } => {
                                assert_eq!(keywords, ["enum"], "{}", case.name);
                            }
                            Kind::PropertyMissing { .. } => {
                                assert_eq!(keywords, ["required"], "{}", case.name);
                            }
                            // Exhaustive, so that a new kind is given its rule here.
                            Kind::BodyWrongType
                            | Kind::BodyNotJson
                            | Kind::BodyTruncated
                            | Kind::BodyEmpty
                            | Kind::BodyNotUtf8
                            | Kind::BodyDeeplyNested
                            | Kind::HeaderMissing { .. }
                            | Kind::HeaderEmpty { .. }
                            | Kind::HeaderWrong { .. }
                            | Kind::PathTooLong { .. }
                            | Kind::PathEmpty { .. } => assert_eq!(all.len(), 1, "{}: {all:?}", case.name),
                            Kind::BodyFormatting
                            | Kind::BodyDuplicateKeys
                            | Kind::ContentTypeVariant
                            | Kind::AcceptVariant
                            | Kind::OptionalHeader { .. }
                            | Kind::HeaderUnusual
                            | Kind::UnknownEngine
                            | Kind::PathReservedChars { .. } => {
                                unreachable!("{}: not a negative kind with a target", case.name)
                            }
                        }
                        let breaks_credentials = kind.answer() == Answer::CredentialsRejected;
                        assert_eq!(breaks_credentials, !class.credential_violations.is_empty(), "{}", case.name);
                    }
                },
                Family::Robustness => {}
                Family::Coverage => unreachable!("{}: a random case of the coverage family", case.name),
            }
        }
    }

    /// The coverage self-test: every coverage case, classified against the contract's schemas
    /// as the run classifies it, breaks exactly the constraint it names, or nothing when it is a
    /// valid boundary value.
    #[test]
    fn coverage_cases_break_exactly_their_constraint() {
        let g = setup(Mode::Coverage, 0, 1);
        let cases = generate(&g, &Filter::default()).unwrap();
        assert!(cases.len() > 100, "{}", cases.len());
        for case in &cases {
            assert!(case.skip.is_none(), "{}: {:?}", case.name, case.skip);
            let Origin::Generated { index, .. } = case.origin else { unreachable!() };
            let Slot::Coverage(p) = g.slot(index) else { panic!("{} is not a coverage case", case.name) };
            let probe = &g.coverage.probes[p];
            assert_eq!(case.name, probe.name());
            let class = &case.class;
            let all: Vec<_> = class.violations.iter().chain(&class.credential_violations).collect();
            let Some(keyword) = probe.breaks else {
                assert!(all.is_empty(), "{} ({}): {all:?}", case.name, case.description);
                continue;
            };
            assert!(!all.is_empty(), "{} ({}): no violation", case.name, case.description);
            for v in &all {
                assert_eq!(v.part, probe.part, "{}: {all:?}", case.name);
                let property = if probe.property.is_some() { v.violation.property() } else { None };
                assert_eq!(property, probe.property, "{}: {all:?}", case.name);
            }
            let keywords: BTreeSet<&str> = all.iter().map(|v| v.violation.keyword.as_str()).collect();
            if keyword == "type" {
                // A value of the wrong type may also miss an enum.
                assert!(keywords.contains("type"), "{}: {keywords:?}", case.name);
            } else {
                assert_eq!(keywords, BTreeSet::from([keyword]), "{} ({})", case.name, case.description);
            }
            let credential = probe.answer == Answer::CredentialsRejected;
            assert_eq!(credential, !class.credential_violations.is_empty(), "{}", case.name);
        }
    }

    /// `--list` names the coverage cases as the run does, in the run's order; random case `i`
    /// keeps its name and request whether or not the coverage phase runs.
    #[test]
    fn coverage_comes_first_and_leaves_random_cases_as_they_were() {
        let all = setup(Mode::All, 50, 3);
        let selection = Selection::new(all.clone(), &Filter::default());
        let run: Vec<String> = selection.indexes().map(|i| all.name(i)).collect();
        let contract = Contract::load(&FileSource::Embedded).unwrap();
        let config = GenConfig { count: 50, seed: 3, mode: Mode::All, state_aware: false, strict_auth: false };
        assert_eq!(run, names(&contract, config));
        let probes = all.coverage().0;
        assert!(run[..probes].iter().all(|n| n.starts_with("generated::coverage::")));
        let random = generate(&setup(Mode::Random, 50, 3), &Filter::default()).unwrap();
        let with_coverage = generate(&all, &Filter::default()).unwrap();
        let key = |c: &PlannedCase| (c.name.clone(), c.request.clone());
        assert_eq!(
            random.iter().map(key).collect::<Vec<_>>(),
            with_coverage[probes..].iter().map(key).collect::<Vec<_>>()
        );
        // A filter keeps the order.
        let filter = Filter { include: vec!["action".into()], ..Filter::default() };
        let filtered = Selection::new(all.clone(), &filter);
        let names: Vec<String> = filtered.indexes().map(|i| all.name(i)).collect();
        let first_random = names.iter().position(|n| !n.starts_with("generated::coverage::")).unwrap();
        assert!(names[first_random..].iter().all(|n| !n.starts_with("generated::coverage::")), "{names:?}");
        assert!(first_random > 0);
    }

    /// A long value shrinks by its length and stays valid; other probes do not shrink.
    #[test]
    fn long_probes_shrink_by_length() {
        let g = setup(Mode::Coverage, 0, 1);
        let longest = |i: &usize| {
            g.name(*i).starts_with("generated::coverage::retry::")
                && g.case(*i).unwrap().request.header("X-Enterprise-Project-ID").is_some_and(|v| v.len() == 65_536)
        };
        let index = (0..g.len()).find(longest).expect("a 65 536-character enterprise project");
        let mut tree = g.tree(index).unwrap();
        assert!(tree.simplify());
        let shorter = g.planned(index, tree.current());
        let length = shorter.request.header("X-Enterprise-Project-ID").map_or(0, str::len);
        assert!(length < 65_536, "{length}");
        assert!(shorter.description.contains(&format!("{length} characters")), "{}", shorter.description);
        assert!(shorter.class.violations.is_empty());
        let enum_probe = (0..g.len()).find(|&i| g.name(i).contains("action_enum")).unwrap();
        assert!(!g.tree(enum_probe).unwrap().simplify());
    }

    /// A run that cannot fill in an operation's template skips that operation's coverage cases
    /// and says how to set what is missing.
    #[test]
    fn an_operation_without_its_variables_is_skipped_saying_why() {
        let contract = Arc::new(Contract::load(&FileSource::Embedded).unwrap());
        let mut v = Variables::default();
        for (k, val) in [("project_id", "p1"), ("engine_id", "e1"), ("token", "t")] {
            v.set(k, val);
        }
        let config = GenConfig { count: 0, seed: 1, mode: Mode::Coverage, state_aware: false, strict_auth: false };
        let g = Generated::new(&contract, "http://127.0.0.1:1", &v, config).unwrap();
        let cases = generate(&g, &Filter::default()).unwrap();
        for case in &cases {
            let show_job = case.name.starts_with("generated::coverage::show_job::");
            assert_eq!(case.skip.is_some(), show_job, "{}: {:?}", case.name, case.skip);
            if let Some(reason) = &case.skip {
                assert!(reason.contains("${job_id}") && reason.contains("--job-id"), "{reason}");
            }
        }
    }

    #[test]
    fn every_kind_is_generated_and_names_are_stable() {
        let g = setup(Mode::Random, 100, 1);
        let cases = generate(&g, &Filter::default()).unwrap();
        let kinds: std::collections::BTreeSet<String> = cases.iter().map(|c| c.suite.clone()).collect();
        assert_eq!(kinds.len(), g.kinds.len());
        assert!(cases.iter().any(|c| { c.name.starts_with("generated::negative::action_wrong_type::") }));
        let negative_only = generate(&setup(Mode::Negative, 50, 1), &Filter::default()).unwrap();
        assert!(negative_only.iter().all(|c| c.name.starts_with("generated::negative::")));
    }
}
