//! Fault switches: each makes the mock break the contract in one named way, so the suite's own
//! tests can prove that the check meant to catch it does. `cse-contract mock --list-faults`
//! prints this table.
//!
//! # The registry
//!
//! A fault is one row of the `faults!` call below:
//!
//! ```ignore
//! Variant => name, proves check_name, "what it does, in a line";
//! ```
//!
//! The row is the only list of the faults: it generates [`Fault`] (the description is each
//! variant's documentation), [`Fault::ALL`] in the rows' order (the listing order), and
//! [`Fault::name`], [`Fault::proves`] and [`Fault::description`] as exhaustive matches, so a
//! name, its check and its description cannot drift apart and there is no catch-all arm to
//! forget. `proves` is a check's name as a string, not `crate::check::CheckKind`: the mock must
//! not use the checks (if oracle and server shared code, their bugs would cancel out). A test
//! outside the mock (`cli::mock_cmd`) holds each name to the check registry. Adding a fault is
//! then its row and its behaviour in the handlers or the state.

/// Generates, from one row per fault, [`Fault`], its list, and its name, check and
/// description.
macro_rules! faults {
    ($($variant:ident => $name:ident, proves $proves:ident, $description:literal;)+) => {
        /// One deliberate violation of the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Fault {
            $(
                #[doc = $description]
                $variant,
            )+
        }

        impl Fault {
            /// Every fault, in listing order.
            pub const ALL: [Fault; [$(stringify!($variant)),+].len()] = [$(Fault::$variant),+];

            /// The name `--fault` takes.
            pub fn name(self) -> &'static str {
                match self {
                    $(Fault::$variant => stringify!($name),)+
                }
            }

            /// The name of the check whose test proves it: the check that must fail against a
            /// mock with this fault.
            pub fn proves(self) -> &'static str {
                match self {
                    $(Fault::$variant => stringify!($proves),)+
                }
            }

            /// What it does, in a line.
            pub fn description(self) -> &'static str {
                match self {
                    $(Fault::$variant => $description,)+
                }
            }
        }
    };
}

// The registry: one row per fault, in listing order. See the module's documentation.
faults! {
    SuccessMissingJobId => success_missing_job_id, proves body_schema, "200 body without jobId";
    JobIdAsString => job_id_as_string, proves body_schema, "200 body with jobId as a string";
    WrongId => wrong_id, proves identity, "200 body whose id is not the engine_id of the path";
    AcceptBadAction => accept_bad_action, proves negative_rejected, "any action value is accepted with 200";
    AcceptMissingToken => accept_missing_token, proves auth_enforced,
        "a request with no or an empty X-Auth-Token is served";
    ErrorMissingCode => error_missing_code, proves body_schema, "error bodies lack error_code";
    PlainTextErrors => plain_text_errors, proves content_type, "errors as text/plain prose instead of JSON";
    HtmlContentType => html_content_type, proves content_type, "200 bodies declared as text/html";
    UndocumentedStatus => undocumented_status, proves status_documented,
        "422 (undocumented) instead of 400 for invalid requests";
    ServerErrorOnBadJson => server_error_on_bad_json, proves no_server_error, "500 for a body that is not JSON";
    NoAllowHeader => no_allow_header, proves response_headers, "405 without an Allow header";
    WrongErrorCode => wrong_error_code, proves assertion,
        "unknown engine reported as SVCSTG.00501117 instead of SVCSTG.00501116";
    Hang => hang, proves transport, "every connection is accepted and never answered";
    Reset => reset, proves transport, "every connection is reset once the request arrives";
    ServerErrorOnLongEnterpriseProject => server_error_on_long_enterprise_project, proves status_expected,
        "500 when X-Enterprise-Project-ID is over 64 characters (no hand-written case sends one)";
    AcceptTabPaddedRetry => accept_tab_padded_retry, proves negative_rejected,
        "an action of Retry padded with tabs is accepted (no hand-written case sends one)";
    RefuseRetry => refuse_retry, proves state_justified,
        "every valid Retry is refused as not retryable, while the engine reads as retryable";
    // The stateful faults: each bends what a sequence of requests shows, so no single exchange
    // betrays it (see `proves`). The faults that bend a job bend only jobs a Retry started.
    JobUnknownToShowJob => job_unknown_to_show_job, proves job_recorded,
        "show_job answers 400 SVCSTG.00501153 (no such job) for a job a Retry started (the fixture's are found)";
    JobOfAnotherEngine => job_of_another_engine, proves job_recorded,
        "show_job gives a job a Retry started another engine's id as its engineId";
    JobStatusOutsideEnum => job_status_outside_enum, proves job_recorded,
        "show_job gives a job a Retry started the status Running (not in the job enum) while it runs";
    EngineStateFrozen => engine_state_frozen, proves engine_in_progress,
        "while a Retry's job runs, show_engine shows the status and actions from before it (latestJobId is new)";
    WrongName => wrong_name, proves name_consistent, "the Retry 200's name is not the engine's (its name and -x)";
    AcceptRetryWhileRunning => accept_retry_while_running, proves one_job_at_a_time,
        "a Retry is accepted while a job a Retry started runs: a second job runs alongside";
    RacyRetry => racy_retry, proves one_job_at_a_time,
        "a Retry checks the engine, waits 100 ms unlocked, then starts its job: concurrent Retries all succeed";
    SameJobId => same_job_id, proves one_job_at_a_time,
        "every job a Retry starts gets the id of the first job the mock's Retries started";
    ForeignEngineReachable => foreign_engine_reachable, proves tenant_isolated,
        "the project of the path is not checked: another project's engine is retried and read";
    AcceptNotRetryable => accept_not_retryable, proves not_retryable_refused,
        "a Retry of a settled engine (Available...) starts an Upgrade job; the engine shows Upgrading, then its status";
}

impl Fault {
    /// The fault called `name`.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The set of active faults.
#[derive(Debug, Clone, Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    /// These faults.
    pub fn new(faults: impl IntoIterator<Item = Fault>) -> Faults {
        Faults(faults.into_iter().collect())
    }

    /// Whether `fault` is active.
    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }
}
