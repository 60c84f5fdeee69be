//! The risk pass (spec §5): the risk-dependent test cases of §9 (one test per case number),
//! positive and negative tests per rule, override handling, the generated rule docs and a
//! property test (removing a change never raises the highest severity), and the agreement of
//! `PROTECTION_REMOVED` with the shared protection verdict.

mod common;

#[path = "risk/support.rs"]
mod support;

#[path = "risk/cases.rs"]
mod cases;

#[path = "risk/rules.rs"]
mod rules;

#[path = "risk/props.rs"]
mod props;

#[path = "risk/docs.rs"]
mod docs;

#[path = "risk/protection.rs"]
mod protection;
