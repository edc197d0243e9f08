//! The `kyverno` builtin: a Kyverno-compatible policy engine for
//! `kyverno.io/v1` ClusterPolicy and Policy `validate` rules, run as a
//! sandboxed policy step and natively testable.
//!
//! # What it evaluates
//!
//! `pattern` and `anyPattern` with every anchor (`()`, `=()`, `X()`, `^()`,
//! `<()`; `+()` makes the policy invalid, as in Kyverno), wildcards, scalar
//! operators, ranges, quantities and durations; `deny.conditions` and
//! `preconditions` with every operator; `{{ }}` variables through JMESPath
//! with Kyverno's custom functions (time and `random` read the build's
//! fixed clock: `image.sourceDateEpoch`); `context` variable entries and
//! values-file mocks for external ones; match/exclude in all forms;
//! `foreach` (nested, `elementScope`); autogen for Pod controllers and
//! CronJob; `applyRules: One`; failure actions and their overrides;
//! PolicyExceptions; `podSecurity` (Pod Security Standards, exclusions by
//! control and image); test mocks (`apiCallResponses`,
//! `globalContextEntries`). CEL (see [`cel`], the one module that knows
//! the interpreter): ValidatingPolicy ([`vpol`]), ClusterPolicy
//! `validate.cel` and `celPreconditions` ([`cel_rule`]),
//! ValidatingAdmissionPolicy with bindings and params ([`vap`]),
//! `matchConstraints` ([`cel_match`]), the request ([`cel_request`]) and
//! Kyverno's offline libraries ([`cel_functions`]). Anything else (mutate,
//! generate, verifyImages, CEL PolicyExceptions, a CEL library needing a
//! cluster, an unmocked apiCall/configMap/imageRegistry entry, ...)
//! is reported with
//! status `unsupported`, naming the policy, rule and field; never passed.
//!
//! Module map: [`yaml`] (Kubernetes YAML), [`loader`], [`policy`],
//! [`resource`], [`values`], [`matching`], [`pattern`] and [`validate`]
//! (pattern tree and anchors), [`conditions`], [`jmes`] and
//! [`jmes_functions`], [`variables`], [`context`], [`images`], [`foreach`],
//! [`autogen`], [`pss`] (Pod Security Standards), [`rule_validate`] (the
//! validate handler), [`engine`] (the rule loop), [`testfile`] (the
//! `kyverno test` runner), [`apply`], [`report`] (output formats), [`step`]
//! (the sealbox step glue).
//!
//! # Step config (`Request.config`)
//!
//! Paths are relative to the input root (`/in`); `..` and absolute paths
//! are refused.
//!
//! ```json
//! {"mode": "test", "paths": ["policies"], "strict": false, "output": "table"}
//! {"mode": "apply", "policies": ["pol.yaml", "policies/"], "resources": ["manifests/"],
//!  "values": "values.yaml", "auditWarn": false, "exceptions": ["exceptions/"], "output": "sarif",
//!  "includePasses": false, "skipInvalid": false}
//! ```
//!
//! `values` is a values-file path or the values document inline.
//! `skipInvalid` turns resource files that do not parse, and documents that
//! are not Kubernetes objects, into warnings instead of errors (for a
//! build's `etc/`, which may hold other YAML). `output`
//! (optional) also renders the results into `data.rendered`: `table` for
//! `test`; `table`, `json`, `sarif`, `junit` or `policy-report` for `apply`
//! (see [`report`]), so the host only prints it.
//!
//! # Response
//!
//! `test`: `data = {"mode": "test", "summary": {pass, fail, excluded,
//! unsupported, errors}, "files": [{test_file, test, rows: [{test_file,
//! test, policy, rule, resource, kind, expected, actual, outcome, reason,
//! class}], error?}]}`. `outcome` is `pass`, `fail`, `excluded` (the policy
//! gave no response for that resource) or `unsupported`. Every failed row,
//! and with `strict` every excluded row not expecting `skip`, is an error
//! Diagnostic (file = test file, rule = `policy/rule`); test files that
//! cannot be loaded are error Diagnostics too.
//!
//! `apply`: `data = {"mode": "apply", "summary": {pass, fail, warn, error,
//! skip, unsupported}, "results": [{policy, rule, resource, kind,
//! namespace, name, file, document, line, status, message, failureAction}]}`;
//! `results` lists every row that did not pass (all rows with `includePasses`).
//! Diagnostics: Enforce failures and errors are errors (status Failure);
//! Audit failures, warnings and unsupported rules are warnings. Each names
//! policy and rule (`rule` = `policy/rule`), file, document index and
//! resource (`Kind/namespace/name`); `line` is where the document starts.
//!
//! Bad input (malformed YAML, a resource that is not an object, an unknown
//! config) gives a failed Response whose message names the file and the
//! document index.
pub mod anchor;
pub mod apply;
pub mod apply_report;
pub mod autogen;
pub mod cel;
pub mod cel_functions;
pub mod cel_match;
pub mod cel_request;
pub mod cel_rule;
pub mod conditions;
pub mod context;
pub mod engine;
pub mod floors;
pub mod foreach;
pub mod gofmt;
pub mod images;
pub mod jmes;
pub mod jmes_functions;
pub mod loader;
pub mod matching;
pub mod pattern;
pub mod policy;
pub mod pss;
pub mod quantity;
pub mod report;
pub mod resource;
pub mod response;
pub mod rule_validate;
pub mod step;
pub mod testfile;
pub mod validate;
pub mod values;
pub mod vap;
pub mod variables;
pub mod vpol;
pub mod yaml;
