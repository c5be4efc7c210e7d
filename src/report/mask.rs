//! Secret masking: every occurrence of a secret, raw or as it appears JSON-escaped, becomes `***`.

/// The secrets of a run.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

/// The secrets of the running process, for the panic hook.
static PROCESS_SECRETS: std::sync::Mutex<Secrets> = std::sync::Mutex::new(Secrets { values: Vec::new() });

/// Adds `secret` to those the panic hook masks.
pub fn register(secret: &str) {
    PROCESS_SECRETS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(secret);
}

/// Replaces the panic hook with one that prints the usual message with every registered secret
/// masked: a panic message is output like any other.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text =
            PROCESS_SECRETS.lock().map_or_else(|_| "(secrets unavailable)".to_owned(), |s| s.mask(&info.to_string()));
        let thread = std::thread::current();
        eprintln!("thread '{}' {text}", thread.name().unwrap_or("<unnamed>"));
    }));
}

/// What a secret becomes.
pub(crate) const MASK: &str = "***";

impl Secrets {
    /// Adds a secret (empty strings are ignored).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"').to_owned();
        for form in [secret.to_owned(), escaped] {
            if !self.values.contains(&form) {
                self.values.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        self.mask_owned(text.to_owned())
    }

    /// [`Secrets::mask`], reusing `text` when it holds no secret (no copy).
    pub fn mask_owned(&self, text: String) -> String {
        let mut out = text;
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_raw_and_json_escaped_forms() {
        let mut s = Secrets::default();
        s.add("to\"ken");
        assert_eq!(s.mask("a to\"ken b"), "a *** b");
        assert_eq!(s.mask(r#"{"t":"to\"ken"}"#), r#"{"t":"***"}"#);
        s.add("");
        assert_eq!(s.mask("x"), "x");
    }
}
