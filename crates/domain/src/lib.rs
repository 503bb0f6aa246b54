//! The domain vocabulary every service shares: the sector groups, sectors
//! and prefecture-level regions of the revitalization programme, the
//! calendar months (`YYYY-MM`) progress is reported in, and the field
//! violations bad input is reported with. Pure data and functions, no I/O.

pub mod catalog;
pub mod ids;
pub mod period;
pub mod status;
pub mod timestamp;
pub mod violations;

pub use catalog::{GROUPS, REGIONS, Region, SECTORS, Sector, prefecture_of, sector_by_code};
pub use ids::is_snake_case_id;
pub use period::Period;
pub use status::ProjectStatus;
pub use violations::{
    AllValid, Checked, FieldViolation, MAX_QUOTED, Violations, invalid, quoted, violation_on,
};
