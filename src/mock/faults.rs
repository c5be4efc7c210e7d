//! Fault switches: each makes the mock break the contract in one named way, so the suite's own
//! tests can prove that the check meant to catch it does. `cse-contract mock --list-faults`
//! prints this table.

/// One deliberate violation of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 200 body without `jobId`.
    SuccessMissingJobId,
    /// 200 body with `jobId` as a string.
    JobIdAsString,
    /// 200 body whose `id` is not the engine of the path.
    WrongId,
    /// Any `action` value is accepted as Retry.
    AcceptBadAction,
    /// A request without a token is served.
    AcceptMissingToken,
    /// Error bodies lack `error_code`.
    ErrorMissingCode,
    /// Errors as `text/plain` prose, not JSON.
    PlainTextErrors,
    /// 200 bodies declared `text/html`.
    HtmlContentType,
    /// 422, which no document lists, for invalid requests.
    UndocumentedStatus,
    /// 500 for a body that is not JSON.
    ServerErrorOnBadJson,
    /// 405 without an `Allow` header.
    NoAllowHeader,
    /// The unknown engine reported with the wrong error code.
    WrongErrorCode,
    /// Every connection is accepted and never answered.
    Hang,
    /// Every connection is reset after the request arrives.
    Reset,
    /// 500 when X-Enterprise-Project-ID is longer than 64 characters (only generated cases).
    ServerErrorOnLongEnterpriseProject,
    /// An action of "Retry" padded with tabs is accepted (only generated cases).
    AcceptTabPaddedRetry,
    /// Every valid Retry is refused as "not retryable" while the engine reads as retryable.
    RefuseRetry,
}

impl Fault {
    /// Every fault, in listing order.
    pub const ALL: [Fault; 17] = [
        Fault::SuccessMissingJobId,
        Fault::JobIdAsString,
        Fault::WrongId,
        Fault::AcceptBadAction,
        Fault::AcceptMissingToken,
        Fault::ErrorMissingCode,
        Fault::PlainTextErrors,
        Fault::HtmlContentType,
        Fault::UndocumentedStatus,
        Fault::ServerErrorOnBadJson,
        Fault::NoAllowHeader,
        Fault::WrongErrorCode,
        Fault::Hang,
        Fault::Reset,
        Fault::ServerErrorOnLongEnterpriseProject,
        Fault::AcceptTabPaddedRetry,
        Fault::RefuseRetry,
    ];

    /// The name `--fault` takes.
    pub fn name(self) -> &'static str {
        match self {
            Fault::SuccessMissingJobId => "success_missing_job_id",
            Fault::JobIdAsString => "job_id_as_string",
            Fault::WrongId => "wrong_id",
            Fault::AcceptBadAction => "accept_bad_action",
            Fault::AcceptMissingToken => "accept_missing_token",
            Fault::ErrorMissingCode => "error_missing_code",
            Fault::PlainTextErrors => "plain_text_errors",
            Fault::HtmlContentType => "html_content_type",
            Fault::UndocumentedStatus => "undocumented_status",
            Fault::ServerErrorOnBadJson => "server_error_on_bad_json",
            Fault::NoAllowHeader => "no_allow_header",
            Fault::WrongErrorCode => "wrong_error_code",
            Fault::Hang => "hang",
            Fault::Reset => "reset",
            Fault::ServerErrorOnLongEnterpriseProject => "server_error_on_long_enterprise_project",
            Fault::AcceptTabPaddedRetry => "accept_tab_padded_retry",
            Fault::RefuseRetry => "refuse_retry",
        }
    }

    /// What it does, in a line.
    pub fn description(self) -> &'static str {
        match self {
            Fault::SuccessMissingJobId => "200 body without jobId",
            Fault::JobIdAsString => "200 body with jobId as a string",
            Fault::WrongId => "200 body whose id is not the engine_id of the path",
            Fault::AcceptBadAction => "any action value is accepted with 200",
            Fault::AcceptMissingToken => "a request with no or an empty X-Auth-Token is served",
            Fault::ErrorMissingCode => "error bodies lack error_code",
            Fault::PlainTextErrors => "errors as text/plain prose instead of JSON",
            Fault::HtmlContentType => "200 bodies declared as text/html",
            Fault::UndocumentedStatus => "422 (undocumented) instead of 400 for invalid requests",
            Fault::ServerErrorOnBadJson => "500 for a body that is not JSON",
            Fault::NoAllowHeader => "405 without an Allow header",
            Fault::WrongErrorCode => "unknown engine reported as SVCSTG.00501117 instead of SVCSTG.00501116",
            Fault::Hang => "every connection is accepted and never answered",
            Fault::Reset => "every connection is reset once the request arrives",
            Fault::ServerErrorOnLongEnterpriseProject => {
                "500 when X-Enterprise-Project-ID is over 64 characters (no hand-written case sends one)"
            }
            Fault::AcceptTabPaddedRetry => {
                "an action of Retry padded with tabs is accepted (no hand-written case sends one)"
            }
            Fault::RefuseRetry => "every valid Retry is refused as not retryable, while the engine reads as retryable",
        }
    }

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
