//! What every service agrees on about the province: the sector groups,
//! sectors and prefecture-level regions of the revitalization programme, and
//! the calendar months (`YYYY-MM`) that progress is reported in. Pure data
//! and functions, no I/O.

pub mod catalog;
pub mod period;

pub use catalog::{GROUPS, REGIONS, Region, SECTORS, Sector, prefecture_of, sector_by_code};
pub use period::Period;
