//! Rule results as Kyverno reports them, plus `unsupported` for what this
//! engine does not evaluate.

use serde::Serialize;

/// The status of one rule on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
    /// The rule uses a feature this engine does not evaluate (CEL, mutate,
    /// generate, verifyImages, an unmocked external context...).
    Unsupported,
}

impl RuleStatus {
    /// The lowercase name used in test files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Warn => "warn",
            RuleStatus::Error => "error",
            RuleStatus::Skip => "skip",
            RuleStatus::Unsupported => "unsupported",
        }
    }
}

/// One rule's verdict on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResponse {
    pub rule: String,
    pub status: RuleStatus,
    pub message: String,
}

impl RuleResponse {
    /// A response for `rule` with `status` and `message`.
    pub fn new(rule: &str, status: RuleStatus, message: impl Into<String>) -> Self {
        RuleResponse { rule: rule.to_string(), status, message: message.into() }
    }
}
