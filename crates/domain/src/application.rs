//! Applications: a user's application to a job, its status pipeline and the rules that move it.
//!
//! The pipeline is saved → applied → interviewing → offer → accepted, and an application can end
//! early as rejected (by the employer) or withdrawn (by the user). Which moves are possible is
//! decided here, once; the store and the API only ask.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::uuid_id;

uuid_id!(
    /// A user's application to a job.
    ApplicationId
);

/// Declares a fieldless enum kept as its snake_case name, in the API and in the database alike.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $error:ident, $expected:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {} {:?}: expected {}", stringify!($name), .0, $expected)]
        pub struct $error(pub String);

        impl FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == s)
                    .ok_or_else(|| $error(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where an application stands.
    ApplicationStatus, ApplicationStatusParseError,
    "saved, applied, interviewing, offer, accepted, rejected or withdrawn" {
        /// Bookmarked; not applied yet.
        Saved => "saved",
        Applied => "applied",
        Interviewing => "interviewing",
        Offer => "offer",
        Accepted => "accepted",
        /// The employer said no (at any stage after applying).
        Rejected => "rejected",
        /// The user gave up on it (at any stage before the end).
        Withdrawn => "withdrawn",
    }
);

/// A move the pipeline does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an application cannot move from {from} to {to}")]
pub struct TransitionError {
    pub from: ApplicationStatus,
    pub to: ApplicationStatus,
}

impl ApplicationStatus {
    /// The stages of the funnel, in order; rejected and withdrawn are ways out, not stages.
    pub const STAGES: [ApplicationStatus; 5] = [
        ApplicationStatus::Saved,
        ApplicationStatus::Applied,
        ApplicationStatus::Interviewing,
        ApplicationStatus::Offer,
        ApplicationStatus::Accepted,
    ];

    /// No move leads out of it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ApplicationStatus::Accepted
                | ApplicationStatus::Rejected
                | ApplicationStatus::Withdrawn
        )
    }

    /// Its place in [`Self::STAGES`]; `None` for rejected and withdrawn.
    pub fn stage(self) -> Option<usize> {
        Self::STAGES.iter().position(|stage| *stage == self)
    }

    /// Whether the pipeline allows moving from `self` to `to`. Staying put is not a move.
    pub fn can_move_to(self, to: ApplicationStatus) -> bool {
        use ApplicationStatus::*;
        match (self, to) {
            (from, to) if from == to => false,
            (Saved, Applied | Withdrawn) => true,
            // An employer may answer with an interview or straight with an offer.
            (Applied, Interviewing | Offer | Rejected | Withdrawn) => true,
            (Interviewing, Offer | Rejected | Withdrawn) => true,
            // Declining an offer is withdrawing; an offer taken back is a rejection.
            (Offer, Accepted | Rejected | Withdrawn) => true,
            _ => false,
        }
    }

    /// Checks a move; see [`Self::can_move_to`].
    pub fn check_move(self, to: ApplicationStatus) -> Result<(), TransitionError> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

text_enum!(
    /// How an application reaches the employer.
    ApplyChannel, ApplyChannelParseError, "link, email or hh" {
        /// The user applies on the board's own page and confirms it here.
        Link => "link",
        /// The letter and the CV go by e-mail to the address the posting names (or the user gives).
        Email => "email",
        /// HH.ru's negotiations API, for operators whose HH.ru application has applicant access.
        Hh => "hh",
    }
);

text_enum!(
    /// How far the one submission of an application got.
    SubmissionState, SubmissionStateParseError,
    "queued, awaiting_confirmation, sending, sent, failed or unknown" {
        /// Its task has not run yet (or waits for the daily cap to reset).
        Queued => "queued",
        /// Link channel: the user has the board's page and has not confirmed applying there yet.
        AwaitingConfirmation => "awaiting_confirmation",
        /// A send started; kept while the message is in flight.
        Sending => "sending",
        Sent => "sent",
        /// Gave up; the submission's error says why.
        Failed => "failed",
        /// A send started and its outcome was never recorded (the process died mid-send). It is
        /// never sent again on its own: the user checks and decides.
        Unknown => "unknown",
    }
);

/// One entry of an application's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplicationEvent {
    pub at: DateTime<Utc>,
    /// `created`, `status`, `note`, `documents`, `submission`.
    pub kind: String,
    pub from_status: Option<ApplicationStatus>,
    pub to_status: Option<ApplicationStatus>,
    /// The note's text, or what happened (a submission's outcome, a document version).
    pub detail: Option<String>,
}

/// One stage's figures in a user's funnel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelStage {
    pub status: ApplicationStatus,
    /// Applications that reached this stage (or went past it).
    pub reached: u64,
    /// Applications sitting in this stage now.
    pub current: u64,
    /// Of those that reached this stage, the share that reached the next one; `None` for the
    /// last stage or when none reached this one.
    pub conversion_to_next: Option<f64>,
    /// Median days from reaching this stage to reaching the next, over those that did.
    pub median_days_to_next: Option<f64>,
}

/// A user's application funnel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    pub total: u64,
    pub stages: Vec<FunnelStage>,
    pub rejected: u64,
    pub withdrawn: u64,
}

/// One status an application reached, and when: the input of [`funnel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusReached {
    pub application: ApplicationId,
    pub status: ApplicationStatus,
    pub at: DateTime<Utc>,
}

/// Computes the funnel from every status each application reached (its history) and where each
/// stands now. An application that skipped a stage (applied straight to offer) counts as having
/// passed it, at the time it reached the later one.
pub fn funnel(history: &[StatusReached], current: &[(ApplicationId, ApplicationStatus)]) -> Funnel {
    use std::collections::HashMap;

    let stages = ApplicationStatus::STAGES.len();
    // Per application, the earliest time each stage was reached.
    let mut reached: HashMap<ApplicationId, Vec<Option<DateTime<Utc>>>> = HashMap::new();
    for entry in history {
        let Some(stage) = entry.status.stage() else {
            continue;
        };
        let times = reached
            .entry(entry.application)
            .or_insert_with(|| vec![None; stages]);
        // Reaching a stage passes every earlier one.
        for slot in times.iter_mut().take(stage + 1) {
            if slot.is_none_or(|at| entry.at < at) {
                *slot = Some(entry.at);
            }
        }
    }

    let mut out = Vec::with_capacity(stages);
    for (index, status) in ApplicationStatus::STAGES.into_iter().enumerate() {
        let count = |i: usize| reached.values().filter(|t| t[i].is_some()).count() as u64;
        let here = count(index);
        let (conversion_to_next, median_days_to_next) = if index + 1 < stages && here > 0 {
            let next = count(index + 1);
            let mut days: Vec<f64> = reached
                .values()
                .filter_map(|t| match (t[index], t[index + 1]) {
                    (Some(a), Some(b)) => Some((b - a).num_seconds().max(0) as f64 / 86_400.0),
                    _ => None,
                })
                .collect();
            (Some(next as f64 / here as f64), median(&mut days))
        } else {
            (None, None)
        };
        out.push(FunnelStage {
            status,
            reached: here,
            current: current.iter().filter(|(_, s)| *s == status).count() as u64,
            conversion_to_next,
            median_days_to_next,
        });
    }
    Funnel {
        total: current.len() as u64,
        stages: out,
        rejected: current
            .iter()
            .filter(|(_, s)| *s == ApplicationStatus::Rejected)
            .count() as u64,
        withdrawn: current
            .iter()
            .filter(|(_, s)| *s == ApplicationStatus::Withdrawn)
            .count() as u64,
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use ApplicationStatus::*;

    #[test]
    fn the_pipeline_allows_forward_moves_and_exits_only() {
        let allowed = [
            (Saved, Applied),
            (Saved, Withdrawn),
            (Applied, Interviewing),
            (Applied, Offer),
            (Applied, Rejected),
            (Interviewing, Offer),
            (Interviewing, Withdrawn),
            (Offer, Accepted),
            (Offer, Rejected),
        ];
        for (from, to) in allowed {
            assert!(from.check_move(to).is_ok(), "{from} → {to}");
        }
        let refused = [
            (Saved, Interviewing),
            (Saved, Rejected),
            (Applied, Saved),
            (Interviewing, Applied),
            (Offer, Interviewing),
            (Accepted, Withdrawn),
            (Rejected, Applied),
            (Withdrawn, Saved),
            (Applied, Applied),
        ];
        for (from, to) in refused {
            assert_eq!(from.check_move(to), Err(TransitionError { from, to }));
        }
        for status in ApplicationStatus::ALL {
            assert_eq!(
                status.is_final(),
                ApplicationStatus::ALL
                    .iter()
                    .all(|to| !status.can_move_to(*to)),
                "{status}"
            );
        }
        assert_eq!(
            TransitionError {
                from: Accepted,
                to: Saved
            }
            .to_string(),
            "an application cannot move from accepted to saved"
        );
    }

    #[test]
    fn enums_round_trip_through_text_and_json() {
        for status in ApplicationStatus::ALL {
            assert_eq!(status.as_str().parse::<ApplicationStatus>(), Ok(*status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        for channel in ApplyChannel::ALL {
            assert_eq!(channel.as_str().parse::<ApplyChannel>(), Ok(*channel));
        }
        for state in SubmissionState::ALL {
            assert_eq!(state.as_str().parse::<SubmissionState>(), Ok(*state));
        }
        assert_eq!(
            "awaiting_confirmation".parse::<SubmissionState>(),
            Ok(SubmissionState::AwaitingConfirmation)
        );
        let err = "fax".parse::<ApplyChannel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown ApplyChannel \"fax\": expected link, email or hh"
        );
    }

    #[test]
    fn the_funnel_counts_stages_conversions_and_median_days() {
        let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap();
        let (a, b, c, d) = (
            ApplicationId::new(),
            ApplicationId::new(),
            ApplicationId::new(),
            ApplicationId::new(),
        );
        let reached = |application, status, at| StatusReached {
            application,
            status,
            at,
        };
        let history = [
            // a: saved 1st, applied 2nd, interviewing 6th, offer 10th.
            reached(a, Saved, day(1)),
            reached(a, Applied, day(2)),
            reached(a, Interviewing, day(6)),
            reached(a, Offer, day(10)),
            // b: applied straight away on the 1st, rejected on the 3rd.
            reached(b, Applied, day(1)),
            reached(b, Rejected, day(3)),
            // c: saved, then applied 4 days later, then straight to an offer.
            reached(c, Saved, day(1)),
            reached(c, Applied, day(5)),
            reached(c, Offer, day(7)),
            // d: only saved.
            reached(d, Saved, day(3)),
        ];
        let current = [(a, Offer), (b, Rejected), (c, Offer), (d, Saved)];
        let funnel = funnel(&history, &current);
        assert_eq!(funnel.total, 4);
        assert_eq!(funnel.rejected, 1);
        assert_eq!(funnel.withdrawn, 0);
        let reached: Vec<u64> = funnel.stages.iter().map(|s| s.reached).collect();
        assert_eq!(reached, [4, 3, 2, 2, 0]);
        assert_eq!(funnel.stages[0].current, 1);
        assert_eq!(funnel.stages[3].current, 2);
        assert_eq!(funnel.stages[0].conversion_to_next, Some(0.75));
        // saved → applied: a 1 day, b 0 days (same moment), c 4 days.
        assert_eq!(funnel.stages[0].median_days_to_next, Some(1.0));
        // applied → interviewing: a (4 days) and c (skipped it: counted at the offer, 2 days).
        assert_eq!(funnel.stages[1].median_days_to_next, Some(3.0));
        assert_eq!(funnel.stages[3].conversion_to_next, Some(0.0));
        assert_eq!(funnel.stages[3].median_days_to_next, None);
        assert_eq!(funnel.stages[4].conversion_to_next, None);
    }

    #[test]
    fn an_empty_funnel_has_no_rates() {
        let funnel = funnel(&[], &[]);
        assert_eq!(funnel.total, 0);
        assert!(funnel.stages.iter().all(|s| s.reached == 0
            && s.conversion_to_next.is_none()
            && s.median_days_to_next.is_none()));
    }
}
