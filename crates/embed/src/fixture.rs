//! A tiny BERT sentence model with fixed pseudo-random weights and a word-level tokenizer, for
//! tests of everything that loads a model folder. It has no meaning beyond word overlap: texts
//! that share words get closer vectors than texts that share none.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};

/// The words the tiny tokenizer knows; any other word is `[UNK]`.
const WORDS: &[&str] = &[
    "rust",
    "engineer",
    "developer",
    "senior",
    "junior",
    "postgres",
    "postgresql",
    "kafka",
    "kubernetes",
    "python",
    "java",
    "go",
    "backend",
    "frontend",
    "web",
    "data",
    "with",
    "and",
    "the",
    "a",
    "of",
    "in",
    "chef",
    "cooking",
    "kitchen",
    "restaurant",
    "menu",
    "nurse",
    "hospital",
    "care",
    "driver",
    "truck",
    "warehouse",
    "sales",
    "manager",
    "marketing",
    "designer",
    "ux",
    "teacher",
    "school",
];
const SPECIAL: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

/// A model's dimensions.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    /// Tokens in the vocabulary (at least the known words; filler tokens make up the rest).
    pub vocab: usize,
}

/// Small enough for unit tests.
pub const TINY: Size = Size {
    hidden: 64,
    layers: 2,
    heads: 4,
    intermediate: 64,
    vocab: 0,
};

/// The dimensions of all-MiniLM-L6-v2, a common sentence model: what a benchmark times.
pub const MINILM: Size = Size {
    hidden: 384,
    layers: 6,
    heads: 12,
    intermediate: 1536,
    vocab: 30_522,
};

/// Writes a [`TINY`] model's `config.json`, `model.safetensors` and `tokenizer.json` into
/// `dir`.
pub fn write_tiny_model(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    write_model(dir, TINY)
}

/// Writes a model of the given size into `dir`.
pub fn write_model(dir: &Path, size: Size) -> Result<(), Box<dyn std::error::Error>> {
    let mut tokens: Vec<String> = SPECIAL
        .iter()
        .chain(WORDS)
        .map(|w| (*w).to_owned())
        .collect();
    for filler in 0..size.vocab.saturating_sub(tokens.len()) {
        tokens.push(format!("t{filler}"));
    }
    let config = serde_json::json!({
        "vocab_size": tokens.len(),
        "hidden_size": size.hidden,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "intermediate_size": size.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "classifier_dropout": null,
        "model_type": "bert",
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;

    let parsed: Config = serde_json::from_value(config)?;
    let varmap = VarMap::new();
    let device = Device::Cpu;
    BertModel::load(
        VarBuilder::from_varmap(&varmap, DType::F32, &device),
        &parsed,
    )?;
    // Fixed values instead of the random initialisation: the same model on every run.
    let mut names: Vec<String> = varmap
        .data()
        .lock()
        .map_err(|_| "poisoned")?
        .keys()
        .cloned()
        .collect();
    names.sort();
    {
        let vars = varmap.data().lock().map_err(|_| "poisoned")?;
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for name in &names {
            let var = &vars[name];
            let shape = var.shape().clone();
            // Layer norms stay as they start (scale 1, shift 0).
            if name.contains("LayerNorm") {
                continue;
            }
            // Words far apart, everything else small: the layers stay close to the identity
            // (the residual path carries each word through), so a text's vector is near the
            // mean of its words' embeddings and shared words mean nearby vectors.
            let scale = if name.contains("word_embeddings") {
                1.0
            } else {
                0.05
            };
            let mut values: Vec<f32> = (0..shape.elem_count())
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    // Uniform in [-scale / 2, scale / 2), from the high bits.
                    (((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5) * scale
                })
                .collect();
            // Where the model is wide enough, each word gets its own direction (one-hot):
            // a text's vector is then close to its bag of words, and "shares more words" means
            // "more similar" with a margin, not by the luck of random directions.
            if name.contains("word_embeddings") && tokens.len() <= size.hidden {
                values = (0..shape.elem_count())
                    .map(|i| {
                        if i / size.hidden == i % size.hidden {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect();
            }
            var.set(&Tensor::from_vec(values, shape, &device)?)?;
        }
    }
    varmap.save(dir.join("model.safetensors"))?;

    let vocab: serde_json::Map<String, serde_json::Value> = tokens
        .into_iter()
        .enumerate()
        .map(|(id, token)| (token, serde_json::json!(id)))
        .collect();
    let added: Vec<serde_json::Value> = SPECIAL
        .iter()
        .enumerate()
        .map(|(id, token)| {
            serde_json::json!({
                "id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true,
            })
        })
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    });
    std::fs::write(
        dir.join("tokenizer.json"),
        serde_json::to_vec_pretty(&tokenizer)?,
    )?;
    Ok(())
}
