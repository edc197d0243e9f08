//! What a pipeline step grants the module it runs, and the check that a
//! third-party module asks for no more than that before it runs.
//!
//! A module declares what it needs in its `sealbox.module` metadata
//! ([`Capabilities`]); the step decides what it gets. The host refuses a
//! module whose declaration exceeds the grant, naming the capability, and
//! hands a module that passes only what it both asked for and was granted.
//! Every value (`*`) is the operator's to give: a module asking for it is
//! refused unless the command line allows it (`--allow-module-env-all`).

use std::collections::BTreeMap;

use sealbox_guest::{Capabilities, ModuleMetadata};

use super::ceilings::{CeilingExceeded, Ceilings, FLAG_MODULE_ENV_ALL};
use crate::sandbox::Limits;

const MIB: u64 = 1024 * 1024;

/// The rights one step gives its module.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The environment values the step may hand out, by name.
    pub env: BTreeMap<String, String>,
    /// Whether the module's `/out` is applied to the image (a transform
    /// step) rather than discarded (a policy step).
    pub write_output: bool,
    /// The limits the module runs under; its memory is the most a module
    /// may ask for.
    pub limits: Limits,
    /// Whether the operator allows a module to ask for every granted env
    /// value (`*`) rather than for names.
    pub env_all: bool,
}

impl Grant {
    /// The grant of a `RUN --module` step: the `--env` values of the build,
    /// a `/out` that becomes a layer, and the default limits.
    pub fn transform(env: BTreeMap<String, String>) -> Grant {
        Grant { env, write_output: true, limits: Limits::default(), env_all: false }
    }

    /// This grant within the operator's `ceilings`: limits clipped to
    /// them, and `*` allowed only when the operator allows it.
    pub fn within(self, ceilings: &Ceilings) -> Grant {
        Grant { limits: ceilings.clip(self.limits), env_all: ceilings.module_env_all, ..self }
    }

    /// Checks that `wants` asks for nothing outside this grant.
    pub fn check(&self, wants: &Capabilities) -> Result<(), Refusal> {
        if !self.env_all && wants.env.iter().any(|n| n == "*") {
            return Err(Refusal::EnvAll);
        }
        let ungranted: Vec<String> = wants
            .env
            .iter()
            .filter(|name| name.as_str() != "*" && !self.env.contains_key(name.as_str()))
            .cloned()
            .collect();
        if !ungranted.is_empty() {
            return Err(Refusal::Env(ungranted));
        }
        if wants.write_output && !self.write_output {
            return Err(Refusal::WriteOutput);
        }
        if let Some(mib) = wants.memory_mib
            && mib.saturating_mul(MIB) > self.limits.memory
        {
            return Err(Refusal::Memory { wants: mib, limit: self.limits.memory / MIB });
        }
        Ok(())
    }

    /// The env values the module sees: those it asked for by name (all the
    /// granted ones for `*`, when the operator allows that), never more.
    pub fn env_for(&self, wants: &Capabilities) -> BTreeMap<String, String> {
        if self.env_all && wants.env.iter().any(|n| n == "*") {
            return self.env.clone();
        }
        self.env.iter().filter(|(k, _)| wants.env.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Why a module was refused, naming the capability it asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("it asks for the env value(s) {} (capability `env`), which this step does not grant", .0.join(", "))]
    Env(Vec<String>),
    #[error("it asks to write output (capability `writeOutput`), which a policy step does not grant")]
    WriteOutput,
    #[error("it asks for {wants} MiB of memory (capability `memoryMib`), above this step's limit of {limit} MiB")]
    Memory { wants: u64, limit: u64 },
    #[error(
        "it asks for every env value (`*` in capability `env`); only the operator can allow that, with {FLAG_MODULE_ENV_ALL}"
    )]
    EnvAll,
}

impl Refusal {
    /// The refusal as the build's error, after `context` (which names the
    /// step and module): a [`CeilingExceeded`] when the operator's consent
    /// is what is missing, so that the build ends as a usage error.
    pub fn into_error(self, context: String) -> anyhow::Error {
        match self {
            Refusal::EnvAll => CeilingExceeded(format!("{context}: {self}")).into(),
            other => anyhow::anyhow!("{context}: {other}"),
        }
    }
}

/// Checks a module's metadata against `grant`; a module without metadata
/// asks for nothing.
pub fn check(metadata: Option<&ModuleMetadata>, grant: &Grant) -> Result<(), Refusal> {
    metadata.map_or(Ok(()), |m| grant.check(&m.capabilities))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(env: &[&str], write_output: bool, memory_mib: Option<u64>) -> Capabilities {
        Capabilities { env: env.iter().map(|s| s.to_string()).collect(), write_output, memory_mib }
    }

    /// What a policy step grants: its verdict counts, its `/out` does not.
    fn policy() -> Grant {
        Grant { env: BTreeMap::new(), write_output: false, limits: Limits::default(), env_all: false }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_transform_step_grants_output_and_only_the_given_env() {
        let grant = Grant::transform(env(&[("CLUSTER", "prod")]));
        assert_eq!(grant.check(&caps(&["CLUSTER"], true, Some(256))), Ok(()));
        assert_eq!(grant.check(&caps(&["CLUSTER", "TOKEN"], true, None)), Err(Refusal::Env(vec!["TOKEN".into()])));
        let none = Grant::transform(BTreeMap::new());
        let refused = none.check(&caps(&["CLUSTER"], false, None)).unwrap_err();
        assert!(refused.to_string().contains("CLUSTER") && refused.to_string().contains("`env`"), "{refused}");
    }

    #[test]
    fn a_policy_step_refuses_write_output() {
        let grant = policy();
        assert_eq!(grant.check(&caps(&[], false, None)), Ok(()));
        let refused = grant.check(&caps(&[], true, None)).unwrap_err();
        assert_eq!(refused, Refusal::WriteOutput);
        assert!(refused.to_string().contains("writeOutput"));
    }

    #[test]
    fn memory_above_the_limit_is_refused_and_at_the_limit_allowed() {
        let grant = Grant::transform(BTreeMap::new());
        let limit = grant.limits.memory / MIB;
        assert_eq!(grant.check(&caps(&[], true, Some(limit))), Ok(()));
        assert_eq!(grant.check(&caps(&[], true, Some(limit + 1))), Err(Refusal::Memory { wants: limit + 1, limit }));
        assert!(grant.check(&caps(&[], true, Some(u64::MAX))).is_err(), "no overflow into a small number");
    }

    #[test]
    fn a_module_sees_only_the_env_it_asked_for() {
        let grant = Grant::transform(env(&[("A", "1"), ("B", "2")]));
        assert_eq!(grant.env_for(&caps(&["A"], true, None)), env(&[("A", "1")]));
        assert_eq!(grant.env_for(&caps(&[], true, None)), BTreeMap::new());
        // `*` without the operator's consent gives nothing (and `check`
        // refuses it before the module runs).
        assert_eq!(grant.env_for(&caps(&["*"], true, None)), BTreeMap::new());
        let consented = grant.within(&Ceilings { module_env_all: true, ..Ceilings::default() });
        assert_eq!(consented.env_for(&caps(&["*"], true, None)), env(&[("A", "1"), ("B", "2")]));
    }

    #[test]
    fn every_env_value_needs_the_operators_consent() {
        let grant = Grant::transform(env(&[("TOKEN", "secret")]));
        let refused = grant.check(&caps(&["*"], true, None)).unwrap_err();
        assert_eq!(refused, Refusal::EnvAll);
        assert!(refused.to_string().contains("--allow-module-env-all"), "{refused}");
        let err = refused.into_error("Kubefile:3: module m.wasm refused before it ran".into());
        let exceeded = err.downcast_ref::<CeilingExceeded>().expect("a ceiling, so a usage error");
        assert!(exceeded.0.starts_with("Kubefile:3: module m.wasm refused before it ran: it asks for every"));
        // Other refusals are plain errors.
        let other = Refusal::WriteOutput.into_error("x".into());
        assert!(other.downcast_ref::<CeilingExceeded>().is_none());
        let consented = grant.within(&Ceilings { module_env_all: true, ..Ceilings::default() });
        assert_eq!(consented.check(&caps(&["*"], true, None)), Ok(()));
    }

    #[test]
    fn within_the_ceilings_limits_are_clipped() {
        let low = Ceilings { step_memory: 64 * MIB, ..Ceilings::default() };
        let grant = Grant::transform(BTreeMap::new()).within(&low);
        assert_eq!(grant.limits.memory, 64 * MIB);
        assert_eq!(grant.check(&caps(&[], true, Some(65))), Err(Refusal::Memory { wants: 65, limit: 64 }));
    }

    #[test]
    fn a_module_without_metadata_asks_for_nothing() {
        assert_eq!(check(None, &policy()), Ok(()));
    }
}
