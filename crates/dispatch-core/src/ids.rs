//! Typed identifiers (STYLE 21). A [`ContractorId`] cannot be passed where a [`JobId`] is
//! expected, and every id serializes exactly as SPEC §2 says: a lower-case, hyphenated UUID, or a
//! short slug for regions.
//!
//! Sits at the bottom of the crate: every other module uses these types, and they use nothing
//! from the crate.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps a UUID made by the caller (the crate never draws random ids itself).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The wrapped UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// An id from the 128 bits of a number; handy in tests and for seeded data.
            pub const fn from_u128(bits: u128) -> Self {
                Self(Uuid::from_u128(bits))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lower-case, hyphenated: the SPEC §2 form.
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

uuid_id!(
    /// Identifies a contractor.
    ContractorId
);
uuid_id!(
    /// Identifies a job.
    JobId
);
uuid_id!(
    /// Identifies an assignment (a booking of a contractor for a job).
    AssignmentId
);
uuid_id!(
    /// Identifies an audit record of a recommendation or of a manual decision.
    AuditId
);
uuid_id!(
    /// Identifies a plan of a region's backlog (`POST /api/v1/plans`).
    PlanId
);

/// Identifies a region: a short slug such as `west` (SPEC §2), not a UUID.
///
/// Deserializing accepts any string; [`crate::Region::validate`] checks the slug form, so the
/// service can answer 422 naming the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(transparent)]
pub struct RegionId(pub String);

impl RegionId {
    /// Wraps a slug (not checked here; see [`crate::Region::validate`]).
    pub fn new(slug: impl Into<String>) -> Self {
        Self(slug.into())
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for RegionId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// The name of a trade skill, e.g. `plumbing`.
///
/// Names up to 22 bytes (every trade name in practice) are stored inline, longer ones shared
/// (`Arc<str>`). The engine copies a skill name into every `missingSkill` exclusion — 70,000 of
/// them for a job in a 100,000-contractor region — and an inline copy costs no allocation and,
/// unlike an `Arc` clone, no atomic counter traffic on the way in or out.
#[derive(Clone)]
pub struct SkillName(SkillRepr);

/// Longest name stored inline.
const INLINE_SKILL: usize = 22;

#[derive(Clone)]
enum SkillRepr {
    Inline(u8, [u8; INLINE_SKILL]),
    Shared(Arc<str>),
}

impl SkillName {
    /// Wraps a name (checked by the `validate()` of the input that carries it).
    pub fn new(name: &str) -> Self {
        if name.len() <= INLINE_SKILL {
            let mut buf = [0u8; INLINE_SKILL];
            buf[..name.len()].copy_from_slice(name.as_bytes());
            Self(SkillRepr::Inline(name.len() as u8, buf))
        } else {
            Self(SkillRepr::Shared(Arc::from(name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid: the bytes were copied from a `&str` at a char boundary (the whole
            // string). The fallback only keeps this total without `unsafe`.
            SkillRepr::Inline(len, buf) => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or_default()
            }
            SkillRepr::Shared(s) => s,
        }
    }
}

// Equality, order and hash are the string's, so that `Borrow<str>` lookups in maps keyed by
// `SkillName` agree with lookups by `&str`.
impl PartialEq for SkillName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SkillName {}

impl PartialOrd for SkillName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SkillName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for SkillName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for SkillName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SkillName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Borrow<str> for SkillName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SkillName {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl Serialize for SkillName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SkillName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_serialize_lower_case_hyphenated() {
        let id = ContractorId::from_u128(0xABCD_EF01_2345_6789_ABCD_EF01_2345_6789);
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "\"abcdef01-2345-6789-abcd-ef0123456789\"");
        let back: ContractorId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "abcdef01-2345-6789-abcd-ef0123456789");
    }

    #[test]
    fn id_order_matches_string_order() {
        // The engine lists exclusions in id order; clients sorting the strings must agree.
        let a = JobId::from_u128(0x0f);
        let b = JobId::from_u128(0xa0);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn region_and_skill_are_plain_strings_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&RegionId::from("west")).expect("serialize"),
            "\"west\""
        );
        let s: SkillName = serde_json::from_str("\"hvac\"").expect("deserialize");
        assert_eq!(s.as_str(), "hvac");
        assert_eq!(serde_json::to_string(&s).expect("serialize"), "\"hvac\"");
    }

    #[test]
    fn skill_names_inline_or_shared_behave_as_strings() {
        use std::collections::HashMap;
        let long = "a-very-long-skill-name-beyond-the-inline-size";
        let mut m = HashMap::new();
        m.insert(SkillName::new("plumbing"), 1);
        m.insert(SkillName::new(long), 2);
        assert_eq!(m.get("plumbing"), Some(&1));
        assert_eq!(m.get(long), Some(&2));
        assert_eq!(SkillName::new(long).as_str(), long);
        assert_eq!(SkillName::new("ünïcödé").as_str(), "ünïcödé");
        assert_eq!(SkillName::new(""), SkillName::new(""));
        assert!(SkillName::new("a") < SkillName::new(long));
        assert_eq!(size_of::<SkillName>(), 24);
    }
}
