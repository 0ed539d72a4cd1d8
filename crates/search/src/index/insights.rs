//! What the postings say about a role: which skills its postings ask for (and which of them a
//! resume lacks), and what they pay. Both rest on the postings whose titles match the role and
//! say how many; both decline when too few postings stand behind them.

use domain::SalaryPeriod;
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::Value;
use tantivy::{TantivyDocument, Term};

use super::JobIndex;
use super::facets::{Matches, top_values};
use super::query::SearchError;
use super::schema::skill_key;
use crate::money;

/// Fewer comparable postings than this, and an estimate would mislead.
pub const MIN_POSTINGS: usize = 5;
/// Postings a salary estimate reads at most (the best title matches).
const SALARY_SAMPLE: usize = 2_000;
const GAP_SKILLS: usize = 30;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkillDemand {
    /// The skill's canonical name.
    pub skill: String,
    /// Share of the role's postings that name it, from 0 to 1.
    pub share: f32,
    pub postings: u64,
    /// Whether the resume has it.
    pub have: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillGap {
    pub role: String,
    /// Postings for the role the report rests on.
    pub postings: usize,
    /// The skills the role's postings ask for most, most asked first.
    pub skills: Vec<SkillDemand>,
    /// Of those, the ones the resume lacks, most asked first.
    pub missing: Vec<SkillDemand>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalaryEstimate {
    pub role: String,
    pub currency: String,
    pub period: SalaryPeriod,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    /// Postings with a stated salary the estimate rests on.
    pub postings: usize,
}

/// Why an estimate was not given.
#[derive(Debug, thiserror::Error)]
pub enum InsightError {
    #[error("only {found} comparable posting(s) found; at least {MIN_POSTINGS} are needed")]
    TooFew { found: usize },
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl From<tantivy::TantivyError> for InsightError {
    fn from(e: tantivy::TantivyError) -> Self {
        Self::Search(e.into())
    }
}

impl JobIndex {
    /// Postings whose title has every word of the role (and, if given, in that location).
    fn role_query(
        &self,
        role: &str,
        location: Option<&str>,
    ) -> Result<Box<dyn Query>, SearchError> {
        let title =
            self.all_words(self.fields.title, role)
                .ok_or_else(|| SearchError::Invalid {
                    field: "role",
                    message: "name a role, e.g. \"data engineer\"".to_owned(),
                })?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, title)];
        if let Some(place) = location.and_then(|l| self.all_words(self.fields.locations, l)) {
            clauses.push((Occur::Must, place));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// The skills postings for `role` ask for, and which of them `have` lacks.
    pub fn skill_gap(&self, role: &str, have: &[String]) -> Result<SkillGap, InsightError> {
        let query = self.role_query(role, None)?;
        let searcher = self.reader.searcher();
        let (postings, matched) = searcher.search(&query, &(Count, Matches))?;
        if postings < MIN_POSTINGS {
            return Err(InsightError::TooFew { found: postings });
        }
        let have: std::collections::HashSet<String> = have.iter().map(|s| skill_key(s)).collect();
        let skills: Vec<SkillDemand> =
            top_values(&searcher, &matched, self.fields.skill, GAP_SKILLS)?
                .into_iter()
                .map(|(skill, count)| SkillDemand {
                    have: have.contains(&skill),
                    skill: super::skill_display(&skill),
                    share: count as f32 / postings as f32,
                    postings: count,
                })
                .collect();
        let missing = skills.iter().filter(|s| !s.have).cloned().collect();
        Ok(SkillGap {
            role: role.to_owned(),
            postings,
            skills,
            missing,
        })
    }

    /// Quartiles of what postings for `role` pay (the middle of each stated range), in
    /// `currency` per `period`.
    pub fn salary_estimate(
        &self,
        role: &str,
        location: Option<&str>,
        currency: &str,
        period: SalaryPeriod,
    ) -> Result<SalaryEstimate, InsightError> {
        if !self.rates.knows(currency) {
            return Err(SearchError::Invalid {
                field: "currency",
                message: format!("no exchange rate is configured for {currency}"),
            }
            .into());
        }
        let with_pay: Box<dyn Query> = Box::new(RangeQuery::new(
            std::ops::Bound::Included(Term::from_field_f64(self.fields.salary_mid_usd_year, 0.0)),
            std::ops::Bound::Unbounded,
        ));
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.role_query(role, location)?),
            (Occur::Must, with_pay),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(SALARY_SAMPLE).order_by_score())?;
        let mut pay: Vec<f64> = Vec::with_capacity(top.len());
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(usd) = doc
                .get_first(self.fields.salary_mid_usd_year)
                .and_then(|v| v.as_f64())
            {
                pay.push(usd);
            }
        }
        if pay.len() < MIN_POSTINGS {
            return Err(InsightError::TooFew { found: pay.len() });
        }
        pay.sort_by(f64::total_cmp);
        let convert = |usd_year: f64| {
            let amount = self
                .rates
                .convert(usd_year, "USD", currency)
                .unwrap_or(f64::NAN);
            (money::from_year(amount, period) * 100.0).round() / 100.0
        };
        Ok(SalaryEstimate {
            role: role.to_owned(),
            currency: currency.to_owned(),
            period,
            p25: convert(percentile(&pay, 0.25)),
            p50: convert(percentile(&pay, 0.5)),
            p75: convert(percentile(&pay, 0.75)),
            postings: pay.len(),
        })
    }
}

/// Linear interpolation between the closest ranks of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let fraction = rank - low as f64;
    sorted[low] + (sorted[high] - sorted[low]) * fraction
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let values = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(percentile(&values, 0.5), 30.0);
        assert_eq!(percentile(&values, 0.25), 20.0);
        assert_eq!(percentile(&[1.0, 2.0], 0.5), 1.5);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
