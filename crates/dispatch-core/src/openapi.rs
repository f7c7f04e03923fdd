//! OpenAPI schemas of the types whose wire form is hand-written (feature `openapi`): the
//! service's OpenAPI document is generated from these and the derived ones.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::engine::Exclusion;
use crate::ids::SkillName;
use crate::model::LocalTime;

impl PartialSchema for LocalTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$"))
            .description(Some(
                "Wall-clock time in the region's time zone, 24-hour HH:MM",
            ))
            .examples(["08:00"])
            .into()
    }
}

impl ToSchema for LocalTime {}

impl PartialSchema for SkillName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A trade skill slug"))
            .examples(["plumbing"])
            .into()
    }
}

impl ToSchema for SkillName {}

impl PartialSchema for Exclusion {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A contractor failing a hard rule: the first rule's stable code, its facts \
                 (e.g. skill, requiredLevel, actualLevel, distanceKm, cause) and a sentence",
            ))
            .property(
                "contractorId",
                text().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Uuid,
                ))),
            )
            .required("contractorId")
            .property(
                "reason",
                text().enum_values(Some([
                    "inactive",
                    "wrongRegion",
                    "missingSkill",
                    "tooFar",
                    "noSlot",
                    "maxJobsPerDay",
                ])),
            )
            .required("reason")
            .property("message", text())
            .required("message")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(true),
            ))
            .into()
    }
}

impl ToSchema for Exclusion {}
