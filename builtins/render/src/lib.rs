//! The `render` builtin step.
