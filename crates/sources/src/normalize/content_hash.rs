//! A digest of everything about a job that a reader would call a change.

use domain::{NewJob, Salary};
use sha2::{Digest, Sha256};

/// SHA-256 over a canonical encoding of the job: every field in a fixed order, each value
/// length-prefixed (so `"ab" + "c"` never collides with `"a" + "bc"`), absent values marked
/// apart from empty ones. Locations and skills are sorted, since a board reordering them is no
/// change. Nothing about the fetch (when, from which page) enters, so an unchanged job hashes
/// the same on every sync.
pub fn content_hash(job: &NewJob) -> [u8; 32] {
    let mut encoder = Encoder(Sha256::new());
    encoder.text(Some(&job.source));
    encoder.text(Some(&job.external_id));
    encoder.text(Some(&job.url));
    encoder.text(Some(&job.title));
    encoder.text(job.company.as_deref());
    encoder.sorted_list(&job.locations);
    encoder.text(job.remote.map(|v| enum_name(&v)).as_deref());
    encoder.text(job.employment_type.map(|v| enum_name(&v)).as_deref());
    encoder.text(job.seniority.map(|v| enum_name(&v)).as_deref());
    encoder.salary(job.salary.as_ref());
    encoder.text(job.description_html.as_deref());
    encoder.text(job.description_text.as_deref());
    encoder.sorted_list(&job.skills);
    encoder.time(job.published_at.map(|t| t.timestamp_micros()));
    encoder.time(job.expires_at.map(|t| t.timestamp_micros()));
    encoder.0.finalize().into()
}

/// The serde name of a unit enum variant (`full_time`), stable across renames of the Rust name.
fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

struct Encoder(Sha256);

impl Encoder {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    fn text(&mut self, value: Option<&str>) {
        match value {
            None => self.0.update([0]),
            Some(value) => {
                self.0.update([1]);
                self.bytes(value.as_bytes());
            }
        }
    }

    fn sorted_list(&mut self, values: &[String]) {
        let mut sorted: Vec<&str> = values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        self.0.update((sorted.len() as u64).to_be_bytes());
        for value in sorted {
            self.bytes(value.as_bytes());
        }
    }

    fn number(&mut self, value: Option<f64>) {
        match value {
            None => self.0.update([0]),
            Some(value) => {
                self.0.update([1]);
                // -0.0 and 0.0 are the same pay.
                let value = if value == 0.0 { 0.0 } else { value };
                self.0.update(value.to_bits().to_be_bytes());
            }
        }
    }

    fn time(&mut self, micros: Option<i64>) {
        match micros {
            None => self.0.update([0]),
            Some(micros) => {
                self.0.update([1]);
                self.0.update(micros.to_be_bytes());
            }
        }
    }

    fn salary(&mut self, salary: Option<&Salary>) {
        let Some(salary) = salary else {
            self.0.update([0]);
            return;
        };
        self.0.update([1]);
        self.number(salary.min);
        self.number(salary.max);
        self.text(Some(salary.currency.as_str()));
        self.text(Some(&enum_name(&salary.period)));
        self.text(salary.gross.map(|g| if g { "gross" } else { "net" }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Currency, EmploymentType, SalaryPeriod};

    fn job() -> NewJob {
        NewJob {
            source: "lever".into(),
            external_id: "abc".into(),
            url: "https://jobs.lever.co/x/abc".into(),
            title: "Senior Rust Engineer".into(),
            company: None,
            locations: vec!["Berlin".into(), "Remote".into()],
            remote: None,
            employment_type: Some(EmploymentType::FullTime),
            seniority: None,
            salary: Some(Salary {
                min: Some(85_000.0),
                max: Some(110_000.0),
                currency: Currency::parse("EUR").unwrap(),
                period: SalaryPeriod::Year,
                gross: None,
            }),
            description_html: Some("<p>x</p>".into()),
            description_text: Some("x".into()),
            skills: vec![],
            published_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn unchanged_jobs_hash_the_same_and_changes_differ() {
        let base = content_hash(&job());
        assert_eq!(base, content_hash(&job()));

        let mut reordered = job();
        reordered.locations.reverse();
        assert_eq!(base, content_hash(&reordered));

        let changes: [fn(&mut NewJob); 6] = [
            |j| j.title.push('!'),
            |j| j.company = Some(String::new()),
            |j| j.salary.as_mut().unwrap().max = Some(110_001.0),
            |j| j.salary.as_mut().unwrap().gross = Some(true),
            |j| j.employment_type = Some(EmploymentType::PartTime),
            |j| j.published_at = Some(chrono::Utc::now()),
        ];
        for change in changes {
            let mut changed = job();
            change(&mut changed);
            assert_ne!(base, content_hash(&changed), "{changed:?}");
        }
    }

    #[test]
    fn field_boundaries_do_not_collide() {
        let mut a = job();
        a.locations = vec!["ab".into(), "c".into()];
        let mut b = job();
        b.locations = vec!["a".into(), "bc".into()];
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
