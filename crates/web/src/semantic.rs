//! Semantic similarity fused into a resume's matches, when an embedding model is configured:
//! `JOBPILOT_EMBEDDINGS_MODEL` on the OpenAI-compatible server of `JOBPILOT_LLM_BASE_URL`, or a
//! local sentence model in the folder `JOBPILOT_EMBEDDINGS_MODEL_DIR` (run in this process).
//!
//! The index ranks candidates by skills, title, level, place, pay and recency; the resume and
//! each candidate are then embedded and their cosine similarity joins the score with the
//! `semantic` weight. Of the resume only its skills and the start of its text are sent; of a
//! posting its title, company and the start of its description. Vectors are kept in memory,
//! keyed by what they were computed from, so a posting is embedded once per change.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use domain::Job;
use search::index::matching::{FeatureScore, JobMatch, Weights};

/// Characters of a text sent to be embedded.
const TEXT_CHARS: usize = 2_000;
/// How long a match request waits for the model before ranking without it.
pub const MATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Vectors kept (a 1,536-dimension vector is 6 KiB: 4,096 of them 24 MiB).
const CACHE: usize = 4_096;

type Vectors = Arc<Mutex<HashMap<String, Arc<Vec<f32>>>>>;

/// Where vectors come from.
enum Model {
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    Remote {
        client: Box<ai::LlmClient>,
        name: String,
    },
    /// A sentence model run in this process, on a blocking thread.
    #[cfg(feature = "local-embeddings")]
    Local {
        model: Arc<embed::LocalModel>,
        /// One computation at a time: it already uses every core, and requests that find it
        /// busy rank without it rather than queue CPU work behind it.
        running: Arc<tokio::sync::Semaphore>,
    },
}

/// The embedding model and the vectors it made.
pub struct Semantic {
    model: Model,
    vectors: Vectors,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.model {
            Model::Remote { name, .. } => name.as_str(),
            #[cfg(feature = "local-embeddings")]
            Model::Local { model, .. } => model.name(),
        };
        f.debug_struct("Semantic")
            .field("model", &name)
            .finish_non_exhaustive()
    }
}

/// Remembers fresh vectors; the cache starts over when full.
fn remember(cache: &Vectors, fresh: impl IntoIterator<Item = (String, Arc<Vec<f32>>)>) {
    let fresh: Vec<_> = fresh.into_iter().collect();
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() + fresh.len() > CACHE {
        cache.clear();
    }
    cache.extend(fresh);
}

fn cut(text: &str) -> String {
    text.chars().take(TEXT_CHARS).collect()
}

/// What is embedded of a posting.
pub fn job_text(job: &Job) -> String {
    let posting = &job.posting;
    cut(&format!(
        "{}\n{}\n{}",
        posting.title,
        posting.company.as_deref().unwrap_or_default(),
        posting.description_text.as_deref().unwrap_or_default()
    ))
}

/// What is embedded of a resume: its skills, then the start of its text.
pub fn resume_text(skills: &[String], text: &str) -> String {
    cut(&format!("{}\n{text}", skills.join(", ")))
}

/// Cosine similarity, 0 for a zero vector or vectors of different lengths.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na * nb)).clamp(-1.0, 1.0)
    }
}

impl Semantic {
    pub fn new(client: ai::LlmClient, model: impl Into<String>) -> Self {
        Self {
            model: Model::Remote {
                client: Box::new(client),
                name: model.into(),
            },
            vectors: Vectors::default(),
        }
    }

    /// With a local sentence model (see the `embed` crate).
    #[cfg(feature = "local-embeddings")]
    pub fn local(model: embed::LocalModel) -> Self {
        Self {
            model: Model::Local {
                model: Arc::new(model),
                running: Arc::new(tokio::sync::Semaphore::new(1)),
            },
            vectors: Vectors::default(),
        }
    }

    /// Vectors for `texts`, remembered under `keys` as they come.
    async fn compute(
        &self,
        keys: Vec<String>,
        texts: Vec<String>,
    ) -> Result<Vec<Arc<Vec<f32>>>, ai::LlmError> {
        let vectors = match &self.model {
            Model::Remote { client, name } => client.embed(name, &texts).await?,
            #[cfg(feature = "local-embeddings")]
            Model::Local { model, running } => {
                let permit = Arc::clone(running).try_acquire_owned().map_err(|_| {
                    ai::LlmError::Unavailable("the local embedding model is busy".into())
                })?;
                let (model, cache) = (Arc::clone(model), Arc::clone(&self.vectors));
                // Remembered by the blocking thread itself: a request that stopped waiting
                // still leaves the vectors for the next one.
                let local_error =
                    |e: String| ai::LlmError::BadResponse(format!("local model: {e}"));
                return tokio::task::spawn_blocking(move || {
                    let vectors: Vec<Arc<Vec<f32>>> = model
                        .embed(&texts)
                        .map_err(|e| local_error(e.to_string()))?
                        .into_iter()
                        .map(Arc::new)
                        .collect();
                    remember(&cache, keys.into_iter().zip(vectors.iter().cloned()));
                    drop(permit);
                    Ok(vectors)
                })
                .await
                .map_err(|e| local_error(e.to_string()))?;
            }
        };
        let vectors: Vec<Arc<Vec<f32>>> = vectors.into_iter().map(Arc::new).collect();
        remember(&self.vectors, keys.into_iter().zip(vectors.iter().cloned()));
        Ok(vectors)
    }

    /// One vector per (key, text), from memory or, for the rest, one request.
    async fn vectors(
        &self,
        items: &[(String, String)],
    ) -> Result<Vec<Arc<Vec<f32>>>, ai::LlmError> {
        let known: Vec<Option<Arc<Vec<f32>>>> = {
            let cache = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
            items
                .iter()
                .map(|(key, _)| cache.get(key).cloned())
                .collect()
        };
        let missing: Vec<usize> = (0..items.len()).filter(|&i| known[i].is_none()).collect();
        let mut out = known;
        if !missing.is_empty() {
            let keys = missing.iter().map(|&i| items[i].0.clone()).collect();
            let texts = missing.iter().map(|&i| items[i].1.clone()).collect();
            let fresh = self.compute(keys, texts).await?;
            if fresh.len() != missing.len() {
                return Err(ai::LlmError::BadResponse(format!(
                    "{} vectors for {} texts",
                    fresh.len(),
                    missing.len()
                )));
            }
            for (&i, vector) in missing.iter().zip(fresh) {
                out[i] = Some(vector);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Fuses the similarity of the resume (`resume_key` names its version) to each posting
    /// into the matches' scores with the `semantic` weight, as one more feature beside the
    /// index's, and orders them again, best first. Waits for the model at most
    /// [`MATCH_TIMEOUT`]; on any failure `ranked` is left as it was.
    pub async fn fuse(
        &self,
        weights: &Weights,
        resume_key: String,
        resume: String,
        ranked: &mut [(JobMatch, Job)],
    ) -> Result<(), ai::LlmError> {
        let mut items = vec![(format!("resume:{resume_key}"), resume)];
        items.extend(
            ranked
                .iter()
                .map(|(_, job)| (format!("job:{}:{}", job.id, job.change_seq), job_text(job))),
        );
        let vectors = tokio::time::timeout(MATCH_TIMEOUT, self.vectors(&items))
            .await
            .map_err(|_| {
                ai::LlmError::BadResponse(format!("no answer within {MATCH_TIMEOUT:?}"))
            })??;
        let (resume, jobs) = vectors.split_first().ok_or_else(|| {
            ai::LlmError::BadResponse("no vector came back for the resume".into())
        })?;
        let (weight, others) = (weights.semantic, weights.total());
        let share = if others + weight > 0.0 {
            1.0 / (others + weight)
        } else {
            0.0
        };
        for ((found, _), vector) in ranked.iter_mut().zip(jobs) {
            // Unrelated texts score near 0, not below: negative similarity adds nothing.
            let similarity = cosine(resume, vector).max(0.0);
            // The index's contributions were shares of `others`; now of `others + weight`.
            for feature in &mut found.features {
                feature.contribution *= others * share;
            }
            found.features.push(FeatureScore {
                feature: "semantic",
                value: similarity,
                weight,
                contribution: similarity * weight * share,
                detail: format!("text similarity {similarity:.2}"),
            });
            found.score = (found.score * others + similarity * weight) * share;
        }
        ranked.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[cfg(feature = "local-embeddings")]
    #[tokio::test]
    async fn a_busy_local_model_is_not_queued_behind_and_its_vectors_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        embed::fixture::write_tiny_model(dir.path()).unwrap();
        let semantic = super::Semantic::local(embed::LocalModel::load(dir.path()).unwrap());
        let super::Model::Local { running, .. } = &semantic.model else {
            panic!("a local model");
        };
        let items = vec![("job:1".to_owned(), "rust engineer".to_owned())];
        let busy = std::sync::Arc::clone(running).try_acquire_owned().unwrap();
        let error = semantic.vectors(&items).await.unwrap_err();
        assert!(error.to_string().contains("busy"), "{error}");
        drop(busy);
        let first = semantic.vectors(&items).await.unwrap();
        assert_eq!(first.len(), 1);
        // From memory now, even while the model is busy.
        let _busy = std::sync::Arc::clone(running).try_acquire_owned().unwrap();
        let again = semantic.vectors(&items).await.unwrap();
        assert!(std::sync::Arc::ptr_eq(&first[0], &again[0]));
    }

    #[test]
    fn cosine_is_bounded_and_safe_on_odd_vectors() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 1.0]), 0.0);
    }
}
