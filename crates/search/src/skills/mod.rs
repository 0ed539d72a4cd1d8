//! Skills: a curated taxonomy shipped as data, and extraction of skills, required experience and
//! seniority from the free text of resumes and job postings.

mod category;
mod context;
mod experience;
mod extractor;
mod normalize;
mod taxonomy;

pub use category::Category;
pub use experience::{seniority, years_of_experience};
pub use extractor::{SkillExtractor, SkillHit};
pub use taxonomy::{MatchRule, Skill, SkillId, Taxonomy, TaxonomyError};
