//! Helpers shared by integration tests; each test binary uses some of them, so unused ones are not
//! dead code.
#![allow(dead_code)]

pub mod pg;
pub mod proc;
