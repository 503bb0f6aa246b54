//! Who is calling, once their token is verified: a subject, the roles it
//! holds and, for an agency's principal, that agency.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a principal may do beyond reading (every principal reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Writes its own agency's projects and reports.
    Reporter,
    /// Creates, updates and deletes user-defined indicators.
    Analyst,
    /// Acknowledges alerts, manages silences, creates and edits rules.
    Supervisor,
    /// Everything, including moving a project to another agency.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reporter, Role::Analyst, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::Analyst => "analyst",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role: reporter, analyst, supervisor or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, e.g. `users/wang.li` or `services/risk`: the
    /// actor recorded in history, acknowledgements and events.
    pub subject: String,
    /// The agency an agency principal acts for, e.g.
    /// `agencies/changchun-drc`.
    pub agency: Option<String>,
    pub roles: BTreeSet<Role>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// The id of the agency this principal reports for (`changchun-drc`
    /// for `agencies/changchun-drc`), when it holds the reporter role.
    pub fn reporting_agency(&self) -> Option<&str> {
        if !self.has(Role::Reporter) {
            return None;
        }
        let agency = self.agency.as_deref()?;
        Some(agency.strip_prefix("agencies/").unwrap_or(agency))
    }

    /// Whether this principal may write the projects of agency `agency`
    /// (an agency id as the registry stores it).
    pub fn may_write_for(&self, agency: &str) -> bool {
        self.is_admin() || self.reporting_agency() == Some(agency)
    }

    /// Whether this principal holds `role`, or is an admin.
    pub fn acts_as(&self, role: Role) -> bool {
        self.is_admin() || self.has(role)
    }

    /// Refused unless this principal holds `role` (or is an admin).
    pub fn require(&self, role: Role) -> Result<(), Denied> {
        if self.acts_as(role) {
            Ok(())
        } else {
            Err(Denied::Role {
                subject: self.subject.clone(),
                role,
            })
        }
    }

    /// Refused unless this principal may write the projects of `agency`
    /// (an agency id as the registry stores it).
    pub fn require_agency(&self, agency: &str) -> Result<(), Denied> {
        if self.may_write_for(agency) {
            Ok(())
        } else {
            Err(Denied::Agency {
                subject: self.subject.clone(),
                agency: agency.to_owned(),
            })
        }
    }
}

/// What a principal was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("{subject} needs the {role} role for this")]
    Role { subject: String, role: Role },
    #[error("{subject} may write only its own agency's projects; this needs agencies/{agency}")]
    Agency { subject: String, agency: String },
    #[error("{subject} needs the admin role to move a project to another agency")]
    MoveAgency { subject: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], agency: Option<&str>) -> Principal {
        Principal {
            subject: "users/test".into(),
            agency: agency.map(str::to_owned),
            roles: roles.iter().copied().collect(),
        }
    }

    #[test]
    fn roles_parse_by_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_reporter_writes_only_for_its_own_agency() {
        let reporter = principal(&[Role::Reporter], Some("agencies/changchun-drc"));
        assert!(reporter.may_write_for("changchun-drc"));
        assert!(!reporter.may_write_for("jilin-drc"));
        let analyst = principal(&[Role::Analyst], Some("agencies/changchun-drc"));
        assert!(!analyst.may_write_for("changchun-drc"), "not a reporter");
        let admin = principal(&[Role::Admin], None);
        assert!(admin.may_write_for("anything"));
        assert!(admin.acts_as(Role::Supervisor));
        assert!(!analyst.acts_as(Role::Supervisor));
    }
}
