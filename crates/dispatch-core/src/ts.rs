//! TypeScript types of the types whose wire form is hand-written (feature `ts`), for the web
//! pages' generated `api.ts` (see `dispatch-server`'s `export-types` example). The derived
//! ones carry `#[cfg_attr(feature = "ts", derive(ts_rs::TS))]` next to their serde attributes.

use ts_rs::{Config, TS, TypeVisitor};

use crate::engine::Exclusion;
use crate::ids::{ContractorId, SkillName};
use crate::model::LocalTime;

/// `SkillName` and `LocalTime` are strings on the wire (`"plumbing"`, `"08:00"`).
macro_rules! string_type {
    ($($ty:ty),*) => {$(
        impl TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;

            fn name(_: &Config) -> String {
                "string".to_owned()
            }

            fn inline(_: &Config) -> String {
                "string".to_owned()
            }
        }
    )*};
}

string_type!(SkillName, LocalTime);

/// The shape `Exclusion`'s hand-written serde produces: the contractor, the stable reason code,
/// the sentence, and the reason's facts side by side (only those of its reason are present).
const EXCLUSION: &str = "{ contractorId: ContractorId, \
reason: \"inactive\" | \"wrongRegion\" | \"missingSkill\" | \"tooFar\" | \"noSlot\" | \"maxJobsPerDay\", \
message: string, \
region?: string | null, \
skill?: string, requiredLevel?: number, actualLevel?: number | null, \
distanceKm?: number, maxKm?: number, \
cause?: \"noWorkingHours\" | \"busy\" | \"outsideWindow\" | \"outsideWorkingHours\" | \"tooShort\" | \"overlap\" | \"travel\", \
maxJobsPerDay?: number, }";

impl TS for Exclusion {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn docs() -> Option<String> {
        Some(
            "/**\n * A contractor failing a hard rule: the first rule's stable code, its facts and a\n * sentence.\n */\n"
                .to_owned(),
        )
    }

    fn name(_: &Config) -> String {
        "Exclusion".to_owned()
    }

    fn inline(_: &Config) -> String {
        EXCLUSION.to_owned()
    }

    fn decl(_: &Config) -> String {
        format!("type Exclusion = {EXCLUSION};")
    }

    fn decl_concrete(cfg: &Config) -> String {
        Self::decl(cfg)
    }

    fn visit_dependencies(visitor: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        visitor.visit::<ContractorId>();
    }

    fn output_path() -> Option<std::path::PathBuf> {
        Some("Exclusion.ts".into())
    }
}
