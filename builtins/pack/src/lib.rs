//! The `pack` builtin step.
