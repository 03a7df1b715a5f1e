//! Identity: signing keys now; `/auth/v1` (GoTrue-compatible) builds on this.

pub mod keys;
