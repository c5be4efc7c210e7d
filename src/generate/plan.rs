//! Turning kinds into planned cases: case `i` of a run takes the `i`-th kind in rotation (so
//! every kind is exercised even by a small run) and draws its values from its own RNG, seeded
//! by (seed, i). The expectation of each family comes from the manifest.

use std::sync::Arc;

use proptest::strategy::{SBoxedStrategy, Strategy as _, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Map;

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

/// Everything needed to (re)build generated cases.
#[derive(Debug, Clone)]
pub struct Generated {
    base: Arc<Base>,
    kinds: Vec<Kind>,
    /// What a conforming server answers, per kind.
    expected: Vec<Vec<u16>>,
    /// The strategy of each kind, built once.
    strategies: Vec<SBoxedStrategy<Mutated>>,
    config: GenConfig,
    target: String,
}

fn rng(seed: u64, index: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    bytes[16..24].copy_from_slice(b"cse-gen1");
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

impl Generated {
    /// Prepares generation against `target`, from the template with `variables` filled in.
    pub fn new(
        contract: &Arc<Contract>,
        target: &str,
        variables: &Variables,
        config: GenConfig,
    ) -> Result<Generated, Unset> {
        let op = contract.default_operation();
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
            body: if body.is_null() {
                bytes::Bytes::new()
            } else {
                serde_json::to_vec(&body).unwrap_or_default().into()
            },
            json: (!body.is_null()).then(|| Arc::new(body.clone())),
        };
        let unknown_engine_id =
            variables.get("unknown_engine_id").unwrap_or("00000000-0000-0000-0000-000000000000").to_owned();
        let header_schemas = Base::header_schemas(op);
        let base =
            Arc::new(Base { draft, body, contract: contract.clone(), op: op.id, unknown_engine_id, header_schemas });
        let kinds = kinds(op, config.mode);
        let expected = kinds.iter().map(|kind| expected(op, kind, config)).collect();
        let strategies = kinds.iter().map(|kind| kind.strategy(&base)).collect();
        Ok(Generated { base, kinds, expected, strategies, config, target: target.to_owned() })
    }

    /// The kind of case `index`.
    pub fn kind(&self, index: usize) -> &Kind {
        &self.kinds[index % self.kinds.len()]
    }

    /// The value tree of case `index`: its value is the case, simplifying it shrinks the case.
    /// `Err`: the case cannot be built (its generator drew no value it could use, as when a
    /// schema and the generator disagree), and why.
    pub fn tree(&self, index: usize) -> Result<Box<dyn ValueTree<Value = Mutated>>, Box<Unbuilt>> {
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(self.config.seed, index));
        match self.strategies[index % self.kinds.len()].new_tree(&mut runner) {
            Ok(tree) => Ok(Box::new(tree)),
            Err(reason) => Err(Box::new(self.unbuilt(index, &reason, &runner))),
        }
    }

    /// Case `index`, which its generator could not draw: proptest's `reason`, and the filters
    /// that rejected what it drew.
    fn unbuilt(&self, index: usize, reason: &proptest::test_runner::Reason, runner: &TestRunner) -> Unbuilt {
        let kind = self.kind(index);
        // proptest keeps the count of rejections per filter private; its Display lists them as
        // "N times at WHY", one a line.
        let rejected: Vec<String> = runner
            .to_string()
            .lines()
            .filter_map(|line| line.trim().split_once(" times at "))
            .map(|(count, why)| format!("{count} values rejected by the filter `{why}`"))
            .collect();
        let rejected = if rejected.is_empty() { String::new() } else { format!(": {}", rejected.join(", ")) };
        let name = self.name(index);
        Unbuilt {
            suite: name.rsplit_once("::").map_or_else(|| name.clone(), |(suite, _)| suite.to_owned()),
            name,
            source: "generated".to_owned(),
            origin: Origin::Generated {
                family: kind.family(),
                mutation: kind.name(),
                description: "none: nothing was drawn".to_owned(),
                seed: self.config.seed,
                index,
            },
            reason: format!(
                "the generator of {}::{} drew no value it could use ({reason}{rejected}); \
                 do the schemas allow what it draws?",
                kind.family().name(),
                kind.name()
            ),
        }
    }

    /// The stable name of case `index`.
    pub fn name(&self, index: usize) -> String {
        let kind = self.kind(index);
        format!("generated::{}::{}::{index:04}", kind.family().name(), kind.name())
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Whether a conforming server may accept case `index` (see [`PlannedCase::side_effecting`]).
    pub fn side_effecting(&self, index: usize) -> bool {
        is_side_effecting(self.base.operation(), &self.expected[index % self.kinds.len()])
    }

    /// Case `index` with the request `mutated`.
    pub fn planned(&self, index: usize, mutated: Mutated) -> PlannedCase {
        let op = self.base.operation();
        let kind = self.kind(index);
        let Mutated { draft, description } = mutated;
        let request = Request {
            method: draft.method,
            url: url(&self.target, &op.manifest.path, &draft.path),
            headers: draft.headers,
            body: draft.body,
        };
        let statuses = self.expected[index % self.kinds.len()].clone();
        let class = classify_parsed(op, &request, &draft.path, &statuses, draft.json.as_deref());
        let side_effecting = is_side_effecting(op, &statuses);
        let mut skip_checks = std::collections::BTreeMap::new();
        if kind.family() == Family::Robustness {
            let reason = "robustness probe: the contract does not classify this input";
            for check in UNCLASSIFIED_SKIPS {
                skip_checks.insert(check.to_owned(), reason.to_owned());
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
            origin: Origin::Generated {
                family: kind.family(),
                mutation: kind.name(),
                description,
                seed: self.config.seed,
                index,
            },
            skip: None,
        }
    }
}

/// The names of the first `count` generated cases for `mode`, without building them (for
/// `--list`, which needs no target or variables).
pub fn names(contract: &Contract, config: GenConfig) -> Vec<String> {
    let kinds = kinds(contract.default_operation(), config.mode);
    (0..config.count)
        .map(|i| {
            let kind = &kinds[i % kinds.len()];
            format!("generated::{}::{}::{i:04}", kind.family().name(), kind.name())
        })
        .collect()
}

/// What a conforming server answers to `kind`, from the manifest.
fn expected(op: &Operation, kind: &Kind, config: GenConfig) -> Vec<u16> {
    let manifest = &op.manifest;
    let documented = manifest.documented_for(&manifest.method, false);
    let credential = manifest.request.credential_failure_status;
    match kind.answer() {
        Answer::Accepted if config.state_aware => {
            documented.filter(|r| r.source == StatusSource::Api && r.status < 300).map(|r| r.status).collect()
        }
        Answer::Accepted | Answer::AcceptedOrRefusedForItsValue => {
            documented.filter(|r| r.source == StatusSource::Api && r.status < 500).map(|r| r.status).collect()
        }
        Answer::CredentialsRejected => manifest.credential_statuses(config.strict_auth),
        Answer::Rejected => {
            documented.filter(|r| (400..500).contains(&r.status) && r.status != credential).map(|r| r.status).collect()
        }
        Answer::Unclassified => documented.filter(|r| r.status < 500).map(|r| r.status).collect(),
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
    /// The cases of `generated` that `filter` selects.
    pub fn new(generated: Generated, filter: &Filter) -> Selection {
        let (count, kinds) = (generated.config.count, generated.kinds.len());
        if filter.include.is_empty() && filter.skip.is_empty() {
            // Kind k's longest name is that of its last index (names end in the index).
            let last = |k: usize| k + (count - 1 - k) / kinds * kinds;
            let name_width = (0..kinds.min(count)).map(|k| generated.name(last(k)).len()).max().unwrap_or(0);
            return Selection { generated, indexes: None, name_width };
        }
        let mut indexes = Vec::new();
        let mut name_width = 0;
        for i in 0..count {
            let name = generated.name(i);
            if filter.matches(&name) {
                indexes.push(i);
                name_width = name_width.max(name.len());
            }
        }
        Selection { generated, indexes: Some(indexes), name_width }
    }

    /// The generator.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }

    /// How many cases.
    pub fn len(&self) -> usize {
        self.indexes.as_ref().map_or(self.generated.config.count, Vec::len)
    }

    /// Whether none are selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The generator's index of the `n`-th case selected.
    pub fn index(&self, n: usize) -> usize {
        self.indexes.as_ref().map_or(n, |indexes| indexes[n])
    }

    /// The `n`-th case selected; `Err` if it cannot be built, and why.
    pub fn case(&self, n: usize) -> Result<PlannedCase, Box<Unbuilt>> {
        let index = self.index(n);
        self.generated.tree(index).map(|tree| self.generated.planned(index, tree.current()))
    }

    /// The indexes selected, in order.
    pub fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|n| self.index(n))
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
        for name in UNCLASSIFIED_SKIPS {
            assert!(crate::check::CheckKind::from_name(name).is_some(), "no check is called {name}");
        }
    }

    #[test]
    fn same_seed_same_requests_other_seed_other_requests() {
        let a = generate(&setup(Mode::All, 300, 42), &Filter::default()).unwrap();
        let b = generate(&setup(Mode::All, 300, 42), &Filter::default()).unwrap();
        let c = generate(&setup(Mode::All, 300, 43), &Filter::default()).unwrap();
        assert_eq!(a.len(), 300);
        let key = |cases: &[PlannedCase]| cases.iter().map(|c| (c.name.clone(), c.request.clone())).collect::<Vec<_>>();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }

    /// Every negative request breaks exactly the rule its kind names; every positive request is
    /// valid; checked by classifying each against the schemas.
    #[test]
    fn generators_break_exactly_their_rule() {
        let g = setup(Mode::All, 2_000, 7);
        for case in generate(&g, &Filter::default()).unwrap() {
            let Origin::Generated { index, .. } = case.origin else { unreachable!() };
            let kind = g.kind(index);
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
                        assert_eq!(kind.breaks_credentials(), !class.credential_violations.is_empty(), "{}", case.name);
                    }
                },
                Family::Robustness => {}
            }
        }
    }

    #[test]
    fn every_kind_is_generated_and_names_are_stable() {
        let g = setup(Mode::All, 100, 1);
        let cases = generate(&g, &Filter::default()).unwrap();
        let kinds: std::collections::BTreeSet<String> = cases.iter().map(|c| c.suite.clone()).collect();
        assert_eq!(kinds.len(), g.kinds.len());
        assert!(cases.iter().any(|c| { c.name.starts_with("generated::negative::action_wrong_type::") }));
        let negative_only = generate(&setup(Mode::Negative, 50, 1), &Filter::default()).unwrap();
        assert!(negative_only.iter().all(|c| c.name.starts_with("generated::negative::")));
    }
}
