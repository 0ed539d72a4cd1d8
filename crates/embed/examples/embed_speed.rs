//! How long a local sentence model takes to embed a resume match's texts: one resume and the
//! 40 postings a top-20 match request re-ranks, each cut to 2,000 characters as the server
//! cuts them. The model has all-MiniLM-L6-v2's dimensions and its 256-token limit, with generated
//! weights (the time does not depend on the weights' values).
//!
//! `cargo run --release -p embed --example embed_speed [-- ROUNDS]`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(7);
    let dir = tempfile::tempdir()?;
    embed::fixture::write_model(dir.path(), embed::fixture::MINILM)?;
    // As all-MiniLM-L6-v2's folder says: it reads up to 256 tokens.
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        br#"{"max_seq_length": 256, "do_lower_case": false}"#,
    )?;
    let started = Instant::now();
    let model = embed::LocalModel::load(dir.path())?;
    println!("load: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    let words = [
        "senior",
        "rust",
        "engineer",
        "backend",
        "postgres",
        "kafka",
        "with",
        "and",
        "data",
        "the",
        "kubernetes",
        "python",
        "of",
        "developer",
        "web",
        "in",
    ];
    // Each text ~2,000 characters (~330 words), varied so batches are not all one length.
    let texts: Vec<String> = (0..41)
        .map(|i| {
            let count = 200 + (i * 37) % 150;
            (0..count)
                .map(|j| words[(i * 7 + j * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(2_000)
                .collect()
        })
        .collect();
    let mut times = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let vectors = model.embed(&texts)?;
        assert_eq!(vectors.len(), texts.len());
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "41 texts (1 resume + 40 postings): median {:.0} ms, min {:.0} ms, max {:.0} ms over {rounds} rounds",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
