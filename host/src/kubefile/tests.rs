//! Planner tests over small contexts written by the tests themselves.
