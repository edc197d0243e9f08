//! The `imagelist` builtin step.
