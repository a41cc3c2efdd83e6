//! Word frequencies over a generated corpus, map-reduce style.
//!
//! `generate(chunk, words)` writes a chunk of text deterministically (a Zipf-like draw from a small
//! vocabulary, seeded by the chunk's index), `count_words(text)` counts the words of one chunk, and
//! `merge(counts, top)` adds the counts up. Each `count_words` task takes a `generate` future as its
//! input, so the chunks flow through two stages without the workflow touching the text.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use wf_guest::prelude::*;

/// Chunks in the corpus of `main`.
pub const CHUNKS: u32 = 8;
/// Words per chunk.
pub const WORDS_PER_CHUNK: u32 = 50_000;
/// How many of the most frequent words `main` prints.
pub const TOP: u32 = 10;

/// The vocabulary, most frequent first: the i-th word is drawn with weight 1/(i+1).
const VOCABULARY: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "workflow",
    "task",
    "cache",
    "checkpoint",
    "sandbox",
    "future",
    "module",
];

/// A word and how often it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct WordCount {
    /// The word, lowercased.
    pub word: String,
    /// Its number of occurrences.
    pub count: u64,
}

/// The merged counts of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct Summary {
    /// Words in all.
    pub total: u64,
    /// Distinct words.
    pub distinct: u64,
    /// The most frequent words, most frequent first (ties in alphabetical order).
    pub top: Vec<WordCount>,
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants), enough to draw words.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Writes chunk `chunk` of the corpus: `words` words in sentences, capitalized and punctuated,
/// the same for the same arguments on every machine.
#[app]
pub fn generate(chunk: u32, words: u32) -> String {
    // Cumulative weights 1/(i+1), scaled to integers so the draw needs no floats.
    let cumulative: Vec<u64> = VOCABULARY
        .iter()
        .enumerate()
        .scan(0, |sum, (i, _)| {
            *sum += 1_000_000 / (i as u64 + 1);
            Some(*sum)
        })
        .collect();
    let total = cumulative.last().copied().unwrap_or(1);
    let mut rng = Lcg(u64::from(chunk).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
    let mut text = String::new();
    let mut sentence_start = true;
    for i in 0..words {
        let draw = rng.next() % total;
        let index = cumulative.partition_point(|&c| c <= draw);
        let word = VOCABULARY[index.min(VOCABULARY.len() - 1)];
        if !sentence_start {
            text.push(' ');
        }
        if sentence_start {
            let mut letters = word.chars();
            if let Some(first) = letters.next() {
                text.extend(first.to_uppercase());
                text.push_str(letters.as_str());
            }
        } else {
            text.push_str(word);
        }
        sentence_start = rng.next().is_multiple_of(12) || i + 1 == words;
        if sentence_start {
            text.push(if rng.next().is_multiple_of(5) {
                '?'
            } else {
                '.'
            });
        } else if rng.next().is_multiple_of(15) {
            text.push(',');
        }
    }
    text
}

/// Counts the words of a text, case-insensitively, ignoring punctuation.
#[app]
pub fn count_words(text: String) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// Adds up per-chunk counts and keeps the `top` most frequent words.
#[app]
pub fn merge(counts: Vec<BTreeMap<String, u64>>, top: u32) -> Summary {
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    for chunk in counts {
        for (word, n) in chunk {
            *all.entry(word).or_insert(0) += n;
        }
    }
    let total = all.values().sum();
    let distinct = all.len() as u64;
    let mut ranked: Vec<WordCount> = all
        .into_iter()
        .map(|(word, count)| WordCount { word, count })
        .collect();
    // Stable sort by count only: ties keep the map's alphabetical order.
    ranked.sort_by_key(|w| std::cmp::Reverse(w.count));
    ranked.truncate(top as usize);
    Summary {
        total,
        distinct,
        top: ranked,
    }
}

/// Generates [`CHUNKS`] chunks, counts each as soon as it exists, merges, prints the top words.
#[workflow]
pub fn main() -> Result<()> {
    let counts: Vec<Future<BTreeMap<String, u64>>> = (0..CHUNKS)
        .map(|chunk| count_words.submit(generate.submit(chunk, WORDS_PER_CHUNK)))
        .collect();
    let summary = merge.submit(counts, TOP).get()?;
    println!(
        "{} words, {} distinct; the {} most frequent:",
        summary.total,
        summary.distinct,
        summary.top.len()
    );
    for (rank, w) in summary.top.iter().enumerate() {
        println!("{:>3}. {:<12} {}", rank + 1, w.word, w.count);
    }
    Ok(())
}

/// Writes chunk `chunk` of the corpus as the output file `chunk-N.txt`.
#[app]
pub fn write_chunk(chunk: u32, words: u32) -> Result<File, String> {
    let text = generate.call(chunk, words);
    File::create(&format!("chunk-{chunk}.txt"), text.as_bytes()).map_err(|e| e.to_string())
}

/// Counts the words of a text file.
#[app]
pub fn count_file(file: File) -> Result<BTreeMap<String, u64>, String> {
    let bytes = file
        .read()
        .map_err(|e| format!("reading the input file: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "the input file is not UTF-8".to_owned())?;
    Ok(count_words.call(text))
}

/// Writes the summary as the output file `top-words.txt`.
#[app]
pub fn write_report(summary: Summary) -> Result<File, String> {
    let mut text = format!("{} words, {} distinct\n", summary.total, summary.distinct);
    for (rank, w) in summary.top.iter().enumerate() {
        text.push_str(&format!("{:>3}. {:<12} {}\n", rank + 1, w.word, w.count));
    }
    File::create("top-words.txt", text.as_bytes()).map_err(|e| e.to_string())
}

/// The same count through files: each chunk is written as a file, counted from the file, and
/// the summary is written as `top-words.txt` (`wfrun run --output-dir DIR` copies them out).
#[workflow]
pub fn files() -> Result<()> {
    let counts: Vec<Future<BTreeMap<String, u64>>> = (0..CHUNKS)
        .map(|chunk| count_file.submit(write_chunk.submit(chunk, WORDS_PER_CHUNK)))
        .collect();
    let report = write_report.submit(merge.submit(counts, TOP)).get()?;
    println!(
        "top-words.txt: {} bytes, blake3 {}",
        report.len(),
        report.digest_hex()
    );
    Ok(())
}

/// Counts the words of `corpus.txt` from a granted input directory
/// (`wfrun run --input-dir DIR --entry from_input`).
#[workflow]
pub fn from_input() -> Result<()> {
    let corpus = File::input("corpus.txt")?;
    let summary = merge.submit(vec![count_file.submit(corpus)], TOP).get()?;
    println!(
        "corpus.txt: {} words, {} distinct",
        summary.total, summary.distinct
    );
    for (rank, w) in summary.top.iter().enumerate() {
        println!("{:>3}. {:<12} {}", rank + 1, w.word, w.count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let text = generate.call(3, 1_000);
        assert_eq!(text, generate.call(3, 1_000));
        assert_ne!(text, generate.call(4, 1_000));
        assert_eq!(count_words.call(text).values().sum::<u64>(), 1_000);
        assert_eq!(generate.call(0, 0), "");
    }

    #[test]
    fn counting_ignores_case_and_punctuation() {
        let counts = count_words.call("The cat, the HAT. Hat?".to_owned());
        let expected: BTreeMap<String, u64> = [("cat", 1), ("hat", 2), ("the", 2)]
            .into_iter()
            .map(|(w, n)| (w.to_owned(), n))
            .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn merge_ranks_by_count_then_alphabetically() {
        let a = count_words.call("b a c c".to_owned());
        let b = count_words.call("a d".to_owned());
        let summary = merge.call(vec![a, b], 3);
        assert_eq!((summary.total, summary.distinct), (6, 4));
        let top: Vec<(&str, u64)> = summary
            .top
            .iter()
            .map(|w| (w.word.as_str(), w.count))
            .collect();
        assert_eq!(top, [("a", 2), ("c", 2), ("b", 1)]);
    }

    #[test]
    fn the_corpus_is_zipf_like() {
        let counts: Vec<Future<BTreeMap<String, u64>>> = (0..2)
            .map(|chunk| count_words.submit(generate.submit(chunk, 20_000)))
            .collect();
        let summary = merge.submit(counts, 3).get().expect("the tasks succeed");
        assert_eq!(summary.total, 40_000);
        assert_eq!(summary.top[0].word, "the");
        assert!(summary.top[0].count > summary.top[2].count);
        main().expect("the workflow runs natively");
    }
}
