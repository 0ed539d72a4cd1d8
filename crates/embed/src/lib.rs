//! Text embeddings from a local sentence model, run on the CPU with candle.
//!
//! A model folder holds what a BERT-family sentence-transformers model ships with: its
//! `config.json`, its weights as `model.safetensors` and its `tokenizer.json` (for example
//! all-MiniLM-L6-v2, multilingual paraphrase MiniLM, e5 or bge). Nothing is ever downloaded:
//! the operator puts the folder in place. A text's vector is the mean of its tokens' last
//! hidden states (padding left out by the attention mask), scaled to unit length, so the dot
//! product of two vectors is their cosine similarity.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub mod fixture;

/// Texts run through the model together: padding makes a batch as long as its longest text.
const BATCH: usize = 16;
/// Tokens of a text the model reads at most (BERT models are trained on up to 512).
const MAX_TOKENS: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the model folder {path} has no {file}")]
    Missing { path: PathBuf, file: &'static str },
    #[error("{file} of the model folder cannot be read: {reason}")]
    Unreadable { file: &'static str, reason: String },
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
    #[error("the tokenizer failed: {0}")]
    Tokenizer(String),
}

/// A loaded sentence model. Embedding is CPU-bound: call it from a blocking thread.
pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
    max_tokens: usize,
    name: String,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

fn file_in(dir: &Path, file: &'static str) -> Result<PathBuf, EmbedError> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(EmbedError::Missing {
            path: dir.to_owned(),
            file,
        })
    }
}

impl LocalModel {
    /// Loads the model of a folder (see the module's documentation for what it holds).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let unreadable =
            |file: &'static str| move |reason: String| EmbedError::Unreadable { file, reason };
        let config_path = file_in(dir, "config.json")?;
        let config: Config = std::fs::read(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            .map_err(unreadable("config.json"))?;
        let device = Device::Cpu;
        // Read into memory, not mapped: a mapped file changed under a running server is
        // undefined behaviour, and the models this serves are tens of megabytes.
        let weights = candle_core::safetensors::load(file_in(dir, "model.safetensors")?, &device)
            .map_err(|e| unreadable("model.safetensors")(e.to_string()))?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let model = BertModel::load(vb, &config)
            .map_err(|e| unreadable("model.safetensors")(e.to_string()))?;
        let mut tokenizer = Tokenizer::from_file(file_in(dir, "tokenizer.json")?)
            .map_err(|e| unreadable("tokenizer.json")(e.to_string()))?;
        // sentence-transformers folders say how many tokens the model was trained to read
        // (all-MiniLM-L6-v2: 256); beyond that, time is spent on text the model reads poorly.
        let trained = std::fs::read(dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|v| v["max_seq_length"].as_u64())
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0);
        let max_tokens = trained
            .unwrap_or(MAX_TOKENS)
            .min(MAX_TOKENS)
            .min(config.max_position_embeddings);
        let pad_id = config.pad_token_id as u32;
        let pad_token = tokenizer
            .id_to_token(pad_id)
            .unwrap_or_else(|| "[PAD]".to_owned());
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| unreadable("tokenizer.json")(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..PaddingParams::default()
        }));
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            model,
            tokenizer,
            dimensions: config.hidden_size,
            max_tokens,
            name,
        })
    }

    /// The length of every vector.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The folder's name, for logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One unit-length vector per text, in order. Texts longer than the model reads are cut;
    /// a text's vector does not depend on the other texts of the call.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batched by length, so a batch pads its texts to about their own length.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let batch_texts: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(batch_texts)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// Tokens of a text the model reads; the rest is cut.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn embed_batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let device = &self.model.device;
        let stack = |rows: Vec<&[u32]>| -> Result<Tensor, EmbedError> {
            let rows = rows
                .into_iter()
                .map(|row| Tensor::new(row, device))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let ids = stack(encodings.iter().map(|e| e.get_ids()).collect())?;
        let types = stack(encodings.iter().map(|e| e.get_type_ids()).collect())?;
        let mask = stack(encodings.iter().map(|e| e.get_attention_mask()).collect())?;
        // (texts, tokens, hidden)
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        // A text of no tokens at all would divide by zero; it counts as one.
        let counts = mask.sum(1)?.clamp(1f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> (tempfile::TempDir, LocalModel) {
        let dir = tempfile::tempdir().unwrap();
        fixture::write_tiny_model(dir.path()).unwrap();
        let model = LocalModel::load(dir.path()).unwrap();
        (dir, model)
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_have_unit_length_and_the_model_width() {
        let (_dir, model) = model();
        let vectors = model
            .embed(&["rust engineer".to_owned(), String::new()])
            .unwrap();
        assert_eq!(vectors.len(), 2);
        for vector in &vectors {
            assert_eq!(vector.len(), model.dimensions());
            assert!((dot(vector, vector) - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn a_text_gets_the_same_vector_alone_or_padded_in_a_batch() {
        let (_dir, model) = model();
        let short = "rust".to_owned();
        let long = "senior rust engineer with postgres and kubernetes and kafka".to_owned();
        let alone = model.embed(std::slice::from_ref(&short)).unwrap();
        let together = model.embed(&[long, short]).unwrap();
        // Padding is masked out of the mean: the short text's vector does not move.
        for (a, b) in alone[0].iter().zip(&together[1]) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let (_dir, model) = model();
        let vectors = model
            .embed(&[
                "rust engineer postgres".to_owned(),
                "rust engineer postgres kafka".to_owned(),
                "chef cooking kitchen".to_owned(),
            ])
            .unwrap();
        let near = dot(&vectors[0], &vectors[1]);
        let far = dot(&vectors[0], &vectors[2]);
        assert!(near > far, "near {near}, far {far}");
    }

    #[test]
    fn vectors_come_back_in_the_order_of_the_texts() {
        let (_dir, model) = model();
        let texts: Vec<String> = [
            "rust engineer postgres kafka data",
            "chef",
            "nurse hospital",
        ]
        .map(str::to_owned)
        .to_vec();
        let together = model.embed(&texts).unwrap();
        for (text, vector) in texts.iter().zip(&together) {
            let alone = model.embed(std::slice::from_ref(text)).unwrap();
            assert!((dot(&alone[0], vector) - 1.0).abs() < 1e-4, "{text}");
        }
    }

    #[test]
    fn the_sentence_model_settings_bound_what_is_read() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write_tiny_model(dir.path()).unwrap();
        assert_eq!(LocalModel::load(dir.path()).unwrap().max_tokens(), 512);
        std::fs::write(
            dir.path().join("sentence_bert_config.json"),
            br#"{"max_seq_length": 8, "do_lower_case": false}"#,
        )
        .unwrap();
        let model = LocalModel::load(dir.path()).unwrap();
        assert_eq!(model.max_tokens(), 8);
        // Words past the eighth token change nothing.
        let vectors = model
            .embed(&[
                "rust engineer postgres kafka data with".to_owned(),
                "rust engineer postgres kafka data with chef cooking kitchen".to_owned(),
            ])
            .unwrap();
        assert!((dot(&vectors[0], &vectors[1]) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn texts_longer_than_the_model_reads_are_cut_not_refused() {
        let (_dir, model) = model();
        let long = "rust ".repeat(5_000);
        let vectors = model.embed(&[long]).unwrap();
        assert_eq!(vectors[0].len(), model.dimensions());
    }

    #[test]
    fn a_folder_without_the_model_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let error = LocalModel::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("config.json"), "{error}");
        fixture::write_tiny_model(dir.path()).unwrap();
        std::fs::write(dir.path().join("model.safetensors"), b"not weights").unwrap();
        let error = LocalModel::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("model.safetensors"), "{error}");
        std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
        fixture::write_tiny_model(dir.path()).unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), b"{").unwrap();
        let error = LocalModel::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("tokenizer.json"), "{error}");
    }
}
