//! Facet counts: how many of a search's matches carry each value of a keyword field (source,
//! remote, seniority, employment type, skill), the most frequent first.
//!
//! A search gathers its matches as one bit per document ([`Matches`]). Then, per segment:
//! - where few of its documents matched, each match's values are read from the field's column;
//! - where many did, each value's postings list is walked and its documents looked up in those
//!   bits. Values are visited from the most frequent down, and counting stops once the values
//!   left cannot reach the top `k`: a value's document frequency bounds its count. A segment
//!   whose every document matched (the common "no filter" case) takes the frequency as the
//!   count without walking anything.
//!
//! Reading every match's values from a column costs the same for every match however few
//! values are asked for: over the whole collection that was most of a search's time.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::postings::TermInfo;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

/// Collects the documents a query matches, one bit per document of each segment (a million
/// documents take 125 KB). Deleted documents never reach a collector, so the bits hold live
/// matches only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Matches;

/// A search's matches: per segment (by its ordinal in the searcher), the documents matched.
#[derive(Debug, Default)]
pub(crate) struct MatchSet {
    segments: Vec<BitSet>,
}

pub(crate) struct SegmentMatches {
    segment: SegmentOrdinal,
    docs: BitSet,
}

impl Collector for Matches {
    type Fruit = MatchSet;
    type Child = SegmentMatches;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentMatches> {
        Ok(SegmentMatches {
            segment,
            docs: BitSet::with_max_value(reader.max_doc()),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<(SegmentOrdinal, BitSet)>) -> tantivy::Result<MatchSet> {
        let mut segments: Vec<BitSet> = Vec::new();
        for (segment, docs) in fruits {
            let at = segment as usize;
            if segments.len() <= at {
                segments.resize_with(at + 1, || BitSet::with_max_value(0));
            }
            segments[at] = docs;
        }
        Ok(MatchSet { segments })
    }
}

impl SegmentCollector for SegmentMatches {
    type Fruit = (SegmentOrdinal, BitSet);

    fn collect(&mut self, doc: DocId, _: Score) {
        self.docs.insert(doc);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for &doc in docs {
            self.docs.insert(doc);
        }
    }

    fn harvest(self) -> Self::Fruit {
        (self.segment, self.docs)
    }
}

impl MatchSet {
    fn in_segment(&self, segment: usize) -> Option<&BitSet> {
        self.segments.get(segment).filter(|docs| docs.len() > 0)
    }
}

/// Below this share of a segment's documents matched, its values are read from the matches'
/// column (the cost grows with the matches); above, from the values' postings lists (the cost
/// grows with the postings, less what pruning skips). Timed both ways on the 1,000,000-posting
/// benchmark set, the two cost about the same near a quarter (bench/README.md).
const COLUMN_BELOW_SHARE: f64 = 0.25;

/// Matched documents whose values are fetched from a column at a time.
const COLUMN_RUN: usize = 512;

/// One value of the field: its count so far and where its uncounted postings are.
#[derive(Default)]
struct Value {
    /// Counted exactly (segments whose matches were read from the column).
    counted: u64,
    /// No more than this many matches can be added from `postings` (each segment's frequency
    /// of the value, capped by its matches).
    bound: u64,
    postings: Vec<(usize, TermInfo)>,
}

/// The `k` values of the keyword field `field` (indexed, and a fast field) that most of
/// `matches` carry, with how many of them carry each: most first, ties by value. Values no
/// match carries are left out.
pub(crate) fn top_values(
    searcher: &Searcher,
    matches: &MatchSet,
    field: Field,
    k: usize,
) -> tantivy::Result<Vec<(String, u64)>> {
    top_values_reading_columns_below(searcher, matches, field, k, COLUMN_BELOW_SHARE)
}

/// [`top_values`], reading a segment's values from the column when less than `column_share`
/// of its documents matched.
pub(crate) fn top_values_reading_columns_below(
    searcher: &Searcher,
    matches: &MatchSet,
    field: Field,
    k: usize,
    column_share: f64,
) -> tantivy::Result<Vec<(String, u64)>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let name = searcher.schema().get_field_name(field);
    let readers = searcher.segment_readers();
    let mut inverted = Vec::with_capacity(readers.len());
    let mut values: HashMap<Vec<u8>, Value> = HashMap::new();
    for (segment, reader) in readers.iter().enumerate() {
        let index = reader.inverted_index(field)?;
        if let Some(docs) = matches.in_segment(segment) {
            let matched = docs.len() as u64;
            let share = matched as f64 / f64::from(reader.num_docs().max(1));
            let column = if share < column_share {
                reader.fast_fields().str(name)?
            } else {
                None
            };
            if let Some(column) = column {
                count_by_column(&column, docs, &mut values)?;
            } else {
                let mut terms = index.terms().stream()?;
                while terms.advance() {
                    let info = terms.value().clone();
                    update_value(&mut values, terms.key(), |value| {
                        value.bound += u64::from(info.doc_freq).min(matched);
                        value.postings.push((segment, info));
                    });
                }
            }
        }
        inverted.push(index);
    }
    let most = |v: &Value| v.counted + v.bound;
    let mut candidates: Vec<(Vec<u8>, Value)> = values.into_iter().collect();
    candidates.sort_unstable_by(|(a, x), (b, y)| most(y).cmp(&most(x)).then_with(|| a.cmp(b)));
    // The best so far, kept in order: count descending, then value.
    let mut top: Vec<(u64, Vec<u8>)> = Vec::with_capacity(k + 1);
    for (key, value) in candidates {
        if top.len() == k && top[k - 1].0 > most(&value) {
            break;
        }
        let mut count = value.counted;
        for (segment, info) in &value.postings {
            let Some(docs) = matches.in_segment(*segment) else {
                continue;
            };
            count += count_in(&readers[*segment], &inverted[*segment], info, docs)?;
        }
        if count == 0 {
            continue;
        }
        let at = top.partition_point(|(c, v)| *c > count || (*c == count && *v < key));
        if at < k {
            top.insert(at, (count, key));
            top.truncate(k);
        }
    }
    Ok(top
        .into_iter()
        .map(|(count, key)| (String::from_utf8_lossy(&key).into_owned(), count))
        .collect())
}

/// Adds the values of a segment's matched documents, read from the field's column.
fn count_by_column(
    column: &tantivy::columnar::StrColumn,
    docs: &BitSet,
    values: &mut HashMap<Vec<u8>, Value>,
) -> tantivy::Result<()> {
    let ords = column.ords();
    let mut counts = vec![0u64; column.num_terms()];
    // The matches in runs of [`COLUMN_RUN`], each run's values fetched in one call.
    let mut run: Vec<DocId> = Vec::with_capacity(COLUMN_RUN);
    let (mut run_docs, mut rows, mut values_of_run) = (Vec::new(), Vec::new(), Vec::new());
    let mut count_run = |run: &mut Vec<DocId>| {
        // The column appends to these.
        run_docs.clear();
        rows.clear();
        ords.row_ids_for_docs(run, &mut run_docs, &mut rows);
        values_of_run.clear();
        values_of_run.resize(rows.len(), 0u64);
        ords.values.get_vals(&rows, &mut values_of_run);
        for &ord in &values_of_run {
            if let Some(count) = counts.get_mut(ord as usize) {
                *count += 1;
            }
        }
        run.clear();
    };
    for bucket in 0..docs.max_value().div_ceil(64) {
        let mut bits = docs.tinyset(bucket);
        while let Some(bit) = bits.pop_lowest() {
            run.push(bucket * 64 + bit);
        }
        if run.len() >= COLUMN_RUN - 64 {
            count_run(&mut run);
        }
    }
    if !run.is_empty() {
        count_run(&mut run);
    }
    // The counted values' names, read in one pass over the column's dictionary (looking each
    // up on its own reads its dictionary block from the start every time).
    let counted: Vec<(u64, u64)> = counts
        .into_iter()
        .enumerate()
        .filter(|&(_, count)| count > 0)
        .map(|(ord, count)| (ord as u64, count))
        .collect();
    let ords: Vec<u64> = counted.iter().map(|&(ord, _)| ord).collect();
    let mut counts = counted.into_iter().map(|(_, count)| count);
    column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        if let Some(count) = counts.next() {
            update_value(values, bytes, |value| value.counted += count);
        }
    })?;
    Ok(())
}

/// Updates the entry of one value, made on first sight (the key is copied only then: most
/// values appear in every segment).
fn update_value(values: &mut HashMap<Vec<u8>, Value>, key: &[u8], update: impl FnOnce(&mut Value)) {
    match values.get_mut(key) {
        Some(value) => update(value),
        None => {
            let mut value = Value::default();
            update(&mut value);
            values.insert(key.to_vec(), value);
        }
    }
}

/// How many of a segment's matched documents are in one value's postings.
fn count_in(
    reader: &SegmentReader,
    index: &tantivy::InvertedIndexReader,
    info: &TermInfo,
    docs: &BitSet,
) -> tantivy::Result<u64> {
    // Every live document matched and none is deleted: every posting is a match.
    if !reader.has_deletes() && docs.len() == reader.num_docs() as usize {
        return Ok(u64::from(info.doc_freq));
    }
    let mut postings = index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
    let mut count = 0u64;
    while !postings.docs().is_empty() {
        count += postings
            .docs()
            .iter()
            .filter(|&&doc| docs.contains(doc))
            .count() as u64;
        postings.advance();
    }
    Ok(count)
}
