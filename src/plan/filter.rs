//! Which cases run, with libtest's rules: a case runs when it contains the filter (or equals it
//! with `exact`) and contains none of the skip patterns (or equals none, with `exact`).

/// Selects cases by name.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Substrings (or, with `exact`, whole names) to keep; empty keeps all.
    pub include: Vec<String>,
    /// Substrings (or whole names) to drop.
    pub skip: Vec<String>,
    /// Match whole names only.
    pub exact: bool,
}

impl Filter {
    /// Whether the case `name` runs.
    pub fn matches(&self, name: &str) -> bool {
        let hit = |pattern: &String| {
            if self.exact { name == pattern } else { name.contains(pattern.as_str()) }
        };
        (self.include.is_empty() || self.include.iter().any(hit)) && !self.skip.iter().any(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_exact_and_skip() {
        let f = Filter { include: vec!["action".into()], skip: vec!["null".into()], exact: false };
        assert!(f.matches("action::action_number"));
        assert!(!f.matches("action::action_null"));
        assert!(!f.matches("retry::valid_retry"));
        let exact = Filter { include: vec!["retry::valid_retry".into()], skip: vec![], exact: true };
        assert!(exact.matches("retry::valid_retry") && !exact.matches("retry::valid_retry_2"));
        assert!(Filter::default().matches("anything"));
    }
}
