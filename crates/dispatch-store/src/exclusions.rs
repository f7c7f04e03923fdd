//! The stored form of a recommendation's excluded contractors: compact bytes, written once with
//! the audit record (`audits.exclusions`) and read back by both the result and the audit record.
//!
//! Why not JSON: a 10,000-contractor region excludes ~10,000 contractors per request, and as
//! JSON (with each reason's sentence) that is ~2 MB per copy to encode, write and parse. Here it
//! is an id, a tag and the reason's facts — ~20 bytes each — and the sentences are rendered
//! again from the facts when the API serializes them (`Exclusion`'s wire form), exactly as
//! before. The order of the list is kept.
//!
//! # Format (version 1, integers little-endian)
//!
//! ```text
//! u8  version = 1
//! u32 string count S, then S × (u16 length, UTF-8 bytes)     skill names and regions, once each
//! u32 exclusion count N, then N × (16-byte contractor id, u8 tag, facts):
//!     0 inactive
//!     1 wrongRegion     u32 region string index, u32::MAX for none
//!     2 missingSkill    u32 skill string index, u8 required level, u8 has actual, u8 actual level
//!     3 tooFar          f64 distance km, f64 max km
//!     4 noSlot          u8 cause (NoSlotCause, in declaration order)
//!     5 maxJobsPerDay   u32 cap
//! ```

use std::collections::HashMap;

use dispatch_core::{ContractorId, Exclusion, ExclusionReason, NoSlotCause, RegionId, SkillName};
use uuid::Uuid;

use crate::error::StoreError;

/// The format's version byte.
const VERSION: u8 = 1;
/// "No string" in a string index.
const NONE: u32 = u32::MAX;

/// The causes in tag order; the index of a cause is its stored byte.
const CAUSES: [NoSlotCause; 7] = [
    NoSlotCause::NoWorkingHours,
    NoSlotCause::Busy,
    NoSlotCause::OutsideWindow,
    NoSlotCause::OutsideWorkingHours,
    NoSlotCause::TooShort,
    NoSlotCause::Overlap,
    NoSlotCause::Travel,
];

/// Interns the strings of the facts, so a skill named by 9,000 exclusions is stored once.
#[derive(Default)]
struct Strings<'a> {
    index: HashMap<&'a str, u32>,
    list: Vec<&'a str>,
}

impl<'a> Strings<'a> {
    fn intern(&mut self, s: &'a str) -> Result<u32, StoreError> {
        if let Some(&i) = self.index.get(s) {
            return Ok(i);
        }
        if s.len() > usize::from(u16::MAX) {
            return Err(StoreError::Invalid(format!(
                "an exclusion names a {}-byte string; at most 65,535 can be stored",
                s.len()
            )));
        }
        let i = u32::try_from(self.list.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or_else(|| StoreError::Invalid("too many distinct exclusion facts".to_owned()))?;
        self.index.insert(s, i);
        self.list.push(s);
        Ok(i)
    }
}

/// Encodes `excluded` (any length, any order; the order is kept).
pub(crate) fn encode(excluded: &[Exclusion]) -> Result<Vec<u8>, StoreError> {
    let count = u32::try_from(excluded.len())
        .map_err(|_| StoreError::Invalid("too many exclusions to store".to_owned()))?;
    let mut strings = Strings::default();
    let mut entries = Vec::with_capacity(excluded.len() * 24);
    for e in excluded {
        entries.extend_from_slice(e.contractor_id.as_uuid().as_bytes());
        match &e.reason {
            ExclusionReason::Inactive => entries.push(0),
            ExclusionReason::WrongRegion { region } => {
                entries.push(1);
                let i = match region {
                    Some(r) => strings.intern(r.as_str())?,
                    None => NONE,
                };
                entries.extend_from_slice(&i.to_le_bytes());
            }
            ExclusionReason::MissingSkill {
                skill,
                required_level,
                actual_level,
            } => {
                entries.push(2);
                entries.extend_from_slice(&strings.intern(skill.as_str())?.to_le_bytes());
                entries.push(*required_level);
                entries.push(u8::from(actual_level.is_some()));
                entries.push(actual_level.unwrap_or(0));
            }
            ExclusionReason::TooFar {
                distance_km,
                max_km,
            } => {
                entries.push(3);
                entries.extend_from_slice(&distance_km.to_le_bytes());
                entries.extend_from_slice(&max_km.to_le_bytes());
            }
            ExclusionReason::NoSlot { cause } => {
                entries.push(4);
                let tag = CAUSES.iter().position(|c| c == cause).unwrap_or(0);
                // CAUSES lists every cause (a test checks), so the position always exists.
                entries.push(u8::try_from(tag).unwrap_or(0));
            }
            ExclusionReason::MaxJobsPerDay { max_jobs_per_day } => {
                entries.push(5);
                entries.extend_from_slice(&max_jobs_per_day.to_le_bytes());
            }
        }
    }
    let mut out = Vec::with_capacity(16 + entries.len() + strings.list.len() * 16);
    out.push(VERSION);
    // At most u32::MAX - 1 strings (intern refuses more).
    out.extend_from_slice(&(strings.list.len() as u32).to_le_bytes());
    for s in &strings.list {
        // At most u16::MAX bytes (intern refuses longer).
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&entries);
    Ok(out)
}

/// Reads stored bytes front to back; running out is a [`StoreError::Corrupt`].
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(corrupt("ends early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, StoreError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, StoreError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(format!("audits.exclusions: {why}"))
}

/// Decodes what [`encode`] wrote; anything else is a [`StoreError::Corrupt`], never a panic.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Exclusion>, StoreError> {
    let mut r = Reader { bytes };
    let version = r.u8()?;
    if version != VERSION {
        return Err(corrupt(&format!("unknown version {version}")));
    }
    let string_count = r.u32()? as usize;
    // Each string takes at least its two length bytes: a count beyond that is corrupt, and
    // checking first keeps a corrupt count from reserving gigabytes.
    if string_count > r.bytes.len() / 2 {
        return Err(corrupt("string count exceeds the data"));
    }
    let mut strings = Vec::with_capacity(string_count);
    for _ in 0..string_count {
        let len = usize::from(r.u16()?);
        let s = std::str::from_utf8(r.take(len)?).map_err(|_| corrupt("a string is not UTF-8"))?;
        strings.push(s);
    }
    let string = |i: u32| -> Result<&str, StoreError> {
        strings
            .get(i as usize)
            .copied()
            .ok_or_else(|| corrupt("a string index is out of range"))
    };
    let count = r.u32()? as usize;
    // Each exclusion takes at least 17 bytes (id and tag).
    if count > r.bytes.len() / 17 {
        return Err(corrupt("exclusion count exceeds the data"));
    }
    let mut excluded = Vec::with_capacity(count);
    for _ in 0..count {
        let contractor_id = ContractorId::from_uuid(Uuid::from_bytes(r.array()?));
        let reason = match r.u8()? {
            0 => ExclusionReason::Inactive,
            1 => ExclusionReason::WrongRegion {
                region: match r.u32()? {
                    NONE => None,
                    i => Some(RegionId::new(string(i)?)),
                },
            },
            2 => {
                let skill = SkillName::new(string(r.u32()?)?);
                let required_level = r.u8()?;
                let has_actual = r.u8()?;
                let actual = r.u8()?;
                ExclusionReason::MissingSkill {
                    skill,
                    required_level,
                    actual_level: (has_actual != 0).then_some(actual),
                }
            }
            3 => ExclusionReason::TooFar {
                distance_km: r.f64()?,
                max_km: r.f64()?,
            },
            4 => ExclusionReason::NoSlot {
                cause: *CAUSES
                    .get(usize::from(r.u8()?))
                    .ok_or_else(|| corrupt("unknown no-slot cause"))?,
            },
            5 => ExclusionReason::MaxJobsPerDay {
                max_jobs_per_day: r.u32()?,
            },
            tag => return Err(corrupt(&format!("unknown reason tag {tag}"))),
        };
        excluded.push(Exclusion {
            contractor_id,
            reason,
        });
    }
    if !r.bytes.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(excluded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_reason() -> Vec<ExclusionReason> {
        let mut reasons = vec![
            ExclusionReason::Inactive,
            ExclusionReason::WrongRegion { region: None },
            ExclusionReason::WrongRegion {
                region: Some(RegionId::new("central")),
            },
            ExclusionReason::MissingSkill {
                skill: SkillName::new("plumbing"),
                required_level: 3,
                actual_level: None,
            },
            ExclusionReason::MissingSkill {
                skill: SkillName::new("a skill with a name longer than inline storage"),
                required_level: 2,
                actual_level: Some(1),
            },
            ExclusionReason::TooFar {
                distance_km: 123.4,
                max_km: 80.0,
            },
            ExclusionReason::MaxJobsPerDay {
                max_jobs_per_day: 6,
            },
        ];
        reasons.extend(CAUSES.map(|cause| ExclusionReason::NoSlot { cause }));
        reasons
    }

    #[test]
    fn every_reason_round_trips_in_order() {
        let excluded: Vec<Exclusion> = (0..3)
            .flat_map(|_| every_reason())
            .enumerate()
            .map(|(i, reason)| Exclusion {
                // Not in id order: the stored order is the given one.
                contractor_id: ContractorId::from_u128(1000 - i as u128),
                reason,
            })
            .collect();
        let bytes = encode(&excluded).expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), excluded);
        // Strings are stored once each: the three copies cost no more strings than one.
        assert!(bytes.len() < excluded.len() * 34, "{} bytes", bytes.len());
        assert_eq!(
            decode(&encode(&[]).expect("encode")).expect("decode"),
            vec![]
        );
    }

    #[test]
    fn every_no_slot_cause_has_a_tag() {
        // A cause added to the enum but not to CAUSES would be stored as the first one.
        for cause in CAUSES {
            let e = [Exclusion {
                contractor_id: ContractorId::from_u128(1),
                reason: ExclusionReason::NoSlot { cause },
            }];
            assert_eq!(decode(&encode(&e).expect("encode")).expect("decode"), e);
        }
        let all: std::collections::HashSet<_> = CAUSES.into_iter().collect();
        assert_eq!(all.len(), CAUSES.len());
    }

    #[test]
    fn damaged_bytes_are_corrupt_never_a_panic() {
        let excluded: Vec<Exclusion> = every_reason()
            .into_iter()
            .enumerate()
            .map(|(i, reason)| Exclusion {
                contractor_id: ContractorId::from_u128(i as u128),
                reason,
            })
            .collect();
        let bytes = encode(&excluded).expect("encode");
        // Every truncation, and every single-byte change, decodes or fails cleanly.
        for n in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..n]), Err(StoreError::Corrupt(_))),
                "{n}"
            );
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 7, 0x80, 0xFF] {
                let mut damaged = bytes.clone();
                damaged[i] = v;
                let _ = decode(&damaged);
            }
        }
        let mut extra = bytes;
        extra.push(0);
        assert!(matches!(decode(&extra), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode(&[2]), Err(StoreError::Corrupt(_))));
    }
}
