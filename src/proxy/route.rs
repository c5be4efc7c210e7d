//! Which operation of the contract a request path is: each operation's path template, matched
//! segment by segment, its parameters percent-decoded. Written from the contract alone (the mock
//! routes with axum's router; the oracle and the server do not share code). The method is not
//! matched: a path is one operation, and a request with another method is that operation's,
//! judged as the contract says of other methods.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::contract::{Contract, OpId};

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Text that must be there as it is.
    Literal(String),
    /// `{name}`: any one segment, the parameter's value.
    Parameter(String),
}

/// The path templates of a contract's operations.
#[derive(Debug, Clone)]
pub struct Routes {
    templates: Vec<(OpId, Vec<Segment>)>,
}

/// The operation a path is, and its path parameters as sent (percent-decoded).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The operation.
    pub operation: OpId,
    /// Each `{name}` of the template and the text in its place.
    pub path_parameters: Map<String, Value>,
}

impl Routes {
    /// The routes of every operation of `contract`.
    pub fn new(contract: &Contract) -> Routes {
        let templates = contract
            .operations
            .iter()
            .map(|op| {
                let segments = split(&op.manifest.path)
                    .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Parameter(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    })
                    .collect();
                (op.id, segments)
            })
            .collect();
        Routes { templates }
    }

    /// The operation `path` (without its query) is, if any; when two templates match, the one
    /// with more literal segments (the more specific).
    pub fn find(&self, path: &str) -> Option<Route> {
        let sent: Vec<&str> = split(path).collect();
        self.templates
            .iter()
            .filter(|(_, template)| template.len() == sent.len())
            .filter(|(_, template)| {
                template.iter().zip(&sent).all(|(t, s)| match t {
                    Segment::Literal(text) => text == s,
                    Segment::Parameter(_) => true,
                })
            })
            .max_by_key(|(_, template)| template.iter().filter(|t| matches!(t, Segment::Literal(_))).count())
            .map(|(operation, template)| Route {
                operation: *operation,
                path_parameters: template
                    .iter()
                    .zip(&sent)
                    .filter_map(|(t, s)| match t {
                        Segment::Parameter(name) => {
                            let value = percent_decode_str(s).decode_utf8_lossy().into_owned();
                            Some((name.clone(), Value::String(value)))
                        }
                        Segment::Literal(_) => None,
                    })
                    .collect(),
            })
    }
}

/// The segments of a path after its leading `/` (an empty path has one empty segment, as `/` has).
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> (Contract, Routes) {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let routes = Routes::new(&contract);
        (contract, routes)
    }

    fn name(contract: &Contract, route: Option<Route>) -> Option<String> {
        route.map(|r| contract.operation(r.operation).name().to_owned())
    }

    #[test]
    fn each_operation_is_found_by_its_path_with_its_parameters_decoded() {
        let (contract, routes) = routes();
        let retry = routes.find("/v2/p%2F1/enginemgr/engines/e%20x/actions").unwrap();
        assert_eq!(contract.operation(retry.operation).name(), "retry");
        assert_eq!(retry.path_parameters["project_id"], "p/1");
        assert_eq!(retry.path_parameters["engine_id"], "e x");
        assert_eq!(name(&contract, routes.find("/v2/p/enginemgr/engines/e")).as_deref(), Some("show_engine"));
        let job = routes.find("/v2/p/enginemgr/engines/e/jobs/18638").unwrap();
        assert_eq!(contract.operation(job.operation).name(), "show_job");
        assert_eq!(job.path_parameters["job_id"], "18638");
        // An empty parameter is still the operation: its schema judges the empty value.
        assert_eq!(name(&contract, routes.find("/v2//enginemgr/engines/e/actions")).as_deref(), Some("retry"));
    }

    #[test]
    fn other_paths_are_no_operation() {
        let (_, routes) = routes();
        for path in [
            "/",
            "",
            "/v2/p/enginemgr/engines/e/actions/",
            "/v2/p/enginemgr/engines/e/action",
            "/v3/p/enginemgr/engines/e/actions",
            "/v2/p/enginemgr/engines",
            "/V2/p/enginemgr/engines/e",
        ] {
            assert_eq!(routes.find(path), None, "{path}");
        }
    }
}
