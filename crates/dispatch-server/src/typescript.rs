//! The TypeScript types of the two events and of the API bodies, generated from the Rust types
//! (feature `ts`, ts-rs): one source of truth for the web pages.
//!
//! `cargo run -p dispatch-server --features ts --example export-types` writes
//! [`bindings`] to `crates/dispatch-web/web/src/generated/api.ts`; `scripts/test web` fails
//! when the committed file differs from a fresh export.
//!
//! Every type reachable from [`ROOTS`] is declared once, sorted by name, so the file is the
//! same on every run.

use std::collections::BTreeMap;

use ts_rs::{Config, TS, TypeVisitor};

/// Collects the declarations of a type and of everything it refers to.
struct Collect<'a> {
    cfg: &'a Config,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Types without a declaration of their own (numbers, strings, arrays, options) are
        // written inline; their parts may still need declaring.
        if T::output_path().is_some() {
            let name = T::ident(self.cfg);
            if self.decls.contains_key(&name) {
                return;
            }
            let mut decl = T::docs().unwrap_or_default();
            decl.push_str("export ");
            decl.push_str(&T::decl(self.cfg));
            self.decls.insert(name, decl);
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
    }
}

/// The roots: the events, the API's request and response bodies, and the development sign-in.
macro_rules! roots {
    ($collect:expr; $($ty:ty),* $(,)?) => {$( $collect.visit::<$ty>(); )*};
}

/// Names of the root types, for the file's header.
pub const ROOTS: &[&str] = &[
    "RecommendationReady",
    "JobAssigned",
    "Region",
    "Contractor",
    "NewContractor",
    "Job",
    "NewJob",
    "Assignment",
    "TimeOff",
    "ScoringConfig",
    "NewScoringConfig",
    "RecommendationRequest",
    "RecommendationAccepted",
    "RecommendationRecord",
    "AuditRecord",
    "AssignmentRequest",
    "MoveRequest",
    "PlanRequest",
    "PlanAccepted",
    "PlanRecord",
    "PlanApplication",
    "Schedule",
    "Page",
    "Problem",
    "DevIdentities",
    "DevTokenRequest",
    "DevToken",
];

/// The whole generated file: a header, then every declaration sorted by name.
pub fn bindings() -> String {
    // u64/usize fields are counts that fit in a double; JSON carries them as numbers.
    let cfg = Config::new().with_large_int("number");
    let mut collect = Collect {
        cfg: &cfg,
        decls: BTreeMap::new(),
    };
    roots!(collect;
        crate::events::RecommendationReady,
        crate::events::JobAssigned,
        dispatch_core::Region,
        dispatch_core::Contractor,
        dispatch_core::NewContractor,
        dispatch_core::Job,
        dispatch_core::NewJob,
        dispatch_core::Assignment,
        dispatch_core::TimeOff,
        dispatch_core::ScoringConfig,
        dispatch_core::NewScoringConfig,
        crate::api::RecommendationRequest,
        crate::api::RecommendationAccepted,
        dispatch_store::RecommendationRecord,
        dispatch_store::AuditRecord,
        crate::api::AssignmentRequest,
        crate::api::MoveRequest,
        crate::api::PlanRequest,
        crate::api::PlanAccepted,
        dispatch_store::PlanRecord,
        dispatch_store::PlanApplication,
        crate::api::Schedule,
        dispatch_store::Page<dispatch_core::Job>,
        crate::error::Problem,
        crate::dev::DevIdentities,
        crate::dev::DevTokenRequest,
        crate::dev::DevToken,
    );
    let mut out = String::from(
        "// Generated from the Rust types by `cargo run -p dispatch-server --features ts --example export-types`.\n\
         // Do not edit: change the Rust type and export again (scripts/test web checks this file is fresh).\n",
    );
    for decl in collect.decls.values() {
        out.push('\n');
        out.push_str(decl.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_is_declared_and_the_events_carry_their_type() {
        let text = bindings();
        for root in ROOTS {
            assert!(
                text.contains(&format!("export type {root} "))
                    || text.contains(&format!("export type {root}<")),
                "{root} is declared"
            );
        }
        assert!(text.contains("type: \"RecommendationReady\""), "{text}");
        assert!(text.contains("type: \"JobAssigned\""));
        assert!(!text.contains("bigint"));
        assert_eq!(text, bindings(), "the same on every run");
    }
}
