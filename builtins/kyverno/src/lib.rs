//! The `kyverno` builtin step.
