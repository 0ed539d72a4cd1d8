//! jobpilot's domain: types and rules with no I/O.
//!
//! Values that cross a trust boundary enter through a constructor that checks them ("parse, don't
//! validate"), so the rest of the code only ever sees valid ones.

mod api_key;
mod application;
mod email;
mod external_identity;
mod id;
mod job;
mod password;
mod resume;
mod sealed;
mod session;
mod stored_job;
mod user;

pub use api_key::{ApiKey, ApiKeyId, Scope, scopes_from_text, scopes_to_text};
pub use application::{
    ApplicationEvent, ApplicationId, ApplicationStatus, ApplicationStatusParseError, ApplyChannel,
    ApplyChannelParseError, Funnel, FunnelStage, StatusReached, SubmissionState,
    SubmissionStateParseError, TransitionError, funnel,
};
pub use email::{Email, EmailError};
pub use external_identity::ExternalIdentity;
pub use job::{
    Currency, CurrencyError, DESCRIPTION_MAX_BYTES, DIRECT_SOURCE, EmploymentType, FieldError,
    NewJob, Remote, SALARY_CEILING, SKILL_MAX_CHARS, SKILLS_MAX, Salary, SalaryPeriod, Seniority,
    description_too_big,
};
pub use password::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Password, PasswordError};
pub use resume::{
    ResumeId, ResumeKind, ResumeKindParseError, ResumeStatus, ResumeStatusParseError,
};
pub use sealed::Sealed;
pub use session::{
    AuditEvent, AuditOutcome, LockoutPolicy, NewSession, RefreshOutcome, Session, SessionId,
    StoredAuditEvent, TotpRecord,
};
pub use stored_job::{Job, JobId};
pub use user::{NewUser, Permission, Role, RoleParseError, User, UserId};
