//! Static embeddings in the model2vec format, supplied by the operator: a
//! folder with `model.safetensors` (an `embeddings` matrix, one row per
//! token), `tokenizer.json` (a Hugging Face WordPiece tokenizer) and an
//! optional `config.json` (`normalize`). A text's vector is the mean of its
//! tokens' rows, L2-normalised when the config says so, as model2vec's own
//! `StaticModel.encode` does; unknown tokens are left out.
//!
//! Nothing is downloaded: the bytes come from the caller. The tokenizer is
//! the BERT pipeline (clean, lower-case, strip accents, split on whitespace
//! and punctuation, greedy longest-match WordPiece) written here, because
//! the `tokenizers` crate brings a regex engine and C code for what is, for
//! this format, a vocabulary lookup.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors};
use serde::Deserialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::contract::error::{Error, Result};

/// The files of a model, by name.
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const CONFIG_FILE: &str = "config.json";

/// Tokens of a text beyond this are not read (model2vec's default length).
const MAX_TOKENS: usize = 512;

/// A loaded model: its vocabulary and one row per token.
pub struct StaticModel {
    vocab: HashMap<String, u32>,
    unk: Option<u32>,
    prefix: String,
    max_word_chars: usize,
    lowercase: bool,
    strip_accents: bool,
    normalize: bool,
    dim: usize,
    rows: Vec<f32>,
}

#[derive(Deserialize)]
struct TokenizerFile {
    normalizer: Option<Normalizer>,
    model: WordPieceModel,
}

#[derive(Deserialize)]
struct Normalizer {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "yes")]
    lowercase: bool,
    strip_accents: Option<bool>,
}

#[derive(Deserialize)]
struct WordPieceModel {
    #[serde(rename = "type")]
    kind: Option<String>,
    vocab: serde_json::Value,
    unk_token: Option<String>,
    continuing_subword_prefix: Option<String>,
    max_input_chars_per_word: Option<usize>,
}

#[derive(Deserialize, Default)]
struct Config {
    normalize: Option<bool>,
}

fn yes() -> bool {
    true
}

fn invalid(file: &str, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("CONTENT_EMBEDDINGS: {file}: {why}"))
}

impl StaticModel {
    /// A model from its files' bytes (`config` may be absent).
    ///
    /// # Errors
    /// `Config` naming the file and what is wrong with it: not JSON or not
    /// safetensors, no `embeddings` matrix, a tokenizer other than WordPiece,
    /// a vocabulary larger than the matrix.
    pub fn load(weights: &[u8], tokenizer: &[u8], config: Option<&[u8]>) -> Result<StaticModel> {
        let config: Config = match config {
            Some(bytes) => serde_json::from_slice(bytes).map_err(|e| invalid(CONFIG_FILE, e))?,
            None => Config::default(),
        };
        let tok: TokenizerFile = serde_json::from_slice(tokenizer).map_err(|e| invalid(TOKENIZER_FILE, e))?;
        let kind = tok.model.kind.as_deref().unwrap_or("WordPiece");
        if kind != "WordPiece" {
            return Err(invalid(
                TOKENIZER_FILE,
                format!("a {kind} tokenizer; only WordPiece (BERT-style) models are supported"),
            ));
        }
        let vocab: HashMap<String, u32> = serde_json::from_value(tok.model.vocab)
            .map_err(|e| invalid(TOKENIZER_FILE, format!("model.vocab: {e}")))?;
        let (lowercase, strip_accents) = match &tok.normalizer {
            Some(n) if n.kind == "BertNormalizer" => (n.lowercase, n.strip_accents.unwrap_or(n.lowercase)),
            Some(n) => {
                return Err(invalid(
                    TOKENIZER_FILE,
                    format!("normalizer {}; only BertNormalizer is supported", n.kind),
                ))
            }
            None => (false, false),
        };

        let tensors = SafeTensors::deserialize(weights).map_err(|e| invalid(WEIGHTS_FILE, e))?;
        let view = tensors
            .tensor("embeddings")
            .map_err(|e| invalid(WEIGHTS_FILE, format!("no `embeddings` matrix ({e})")))?;
        let &[tokens, dim] = view.shape() else {
            return Err(invalid(
                WEIGHTS_FILE,
                format!(
                    "`embeddings` has shape {:?}, not (tokens, dimensions)",
                    view.shape()
                ),
            ));
        };
        let data = view.data();
        let rows: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(invalid(
                    WEIGHTS_FILE,
                    format!("`embeddings` is {other:?}; F32, F16 and BF16 are supported"),
                ))
            }
        };
        if let Some((token, id)) = vocab.iter().find(|(_, &id)| id as usize >= tokens) {
            return Err(invalid(
                TOKENIZER_FILE,
                format!("token {token:?} has id {id}, beyond the {tokens} rows of `embeddings`"),
            ));
        }
        if dim == 0 || rows.len() != tokens * dim || rows.iter().any(|v| !v.is_finite()) {
            return Err(invalid(
                WEIGHTS_FILE,
                "`embeddings` is empty or holds a value that is not a number",
            ));
        }
        let unk = tok.model.unk_token.as_ref().and_then(|u| vocab.get(u).copied());
        Ok(StaticModel {
            unk,
            prefix: tok.model.continuing_subword_prefix.unwrap_or_else(|| "##".into()),
            max_word_chars: tok.model.max_input_chars_per_word.unwrap_or(100),
            vocab,
            lowercase,
            strip_accents,
            normalize: config.normalize.unwrap_or(true),
            dim,
            rows,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The words of `text` as the BERT pipeline splits them.
    fn words(&self, text: &str) -> Vec<String> {
        let mut clean = String::with_capacity(text.len());
        for c in text.chars() {
            if c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
                continue;
            }
            if c.is_whitespace() {
                clean.push(' ');
            } else if is_cjk(c) {
                clean.extend([' ', c, ' ']);
            } else {
                clean.push(c);
            }
        }
        let mut text = if self.lowercase {
            clean.to_lowercase()
        } else {
            clean
        };
        if self.strip_accents {
            text = text.nfd().filter(|c| !is_combining_mark(*c)).collect();
        }
        let mut words = Vec::new();
        for chunk in text.split_whitespace() {
            let mut word = String::new();
            for c in chunk.chars() {
                if is_punctuation(c) {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    words.push(c.to_string());
                } else {
                    word.push(c);
                }
            }
            if !word.is_empty() {
                words.push(word);
            }
        }
        words
    }

    /// Token ids of `text` (greedy longest-match WordPiece); a word that
    /// cannot be split into known pieces is the unknown token.
    pub fn tokens(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for word in self.words(text) {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() > self.max_word_chars {
                ids.extend(self.unk);
                continue;
            }
            let mut pieces = Vec::new();
            let mut start = 0;
            while start < chars.len() {
                let mut end = chars.len();
                let mut found = None;
                while end > start {
                    let mut piece: String = chars[start..end].iter().collect();
                    if start > 0 {
                        piece.insert_str(0, &self.prefix);
                    }
                    if let Some(&id) = self.vocab.get(&piece) {
                        found = Some(id);
                        break;
                    }
                    end -= 1;
                }
                match found {
                    Some(id) => {
                        pieces.push(id);
                        start = end;
                    }
                    None => {
                        pieces.clear();
                        pieces.extend(self.unk);
                        break;
                    }
                }
            }
            ids.extend(pieces);
        }
        ids
    }

    /// The vector of `text`: the mean of its known tokens' rows (normalised
    /// when the model says so); empty when no token is known.
    pub fn encode(&self, text: &str) -> Vec<f32> {
        let ids: Vec<u32> = self
            .tokens(text)
            .into_iter()
            .filter(|&id| Some(id) != self.unk)
            .take(MAX_TOKENS)
            .collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut v = vec![0f32; self.dim];
        for &id in &ids {
            let row = &self.rows[id as usize * self.dim..(id as usize + 1) * self.dim];
            for (x, r) in v.iter_mut().zip(row) {
                *x += r;
            }
        }
        let n = ids.len() as f32;
        for x in &mut v {
            *x /= n;
        }
        if self.normalize {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                for x in &mut v {
                    *x /= norm;
                }
            }
        }
        v
    }
}

/// BERT's punctuation: ASCII symbols and Unicode punctuation (approximated
/// as what is neither a letter, a digit nor a space).
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || !(c.is_alphanumeric() || c.is_whitespace() || is_combining_mark(c))
}

/// CJK ideographs, which BERT reads one by one.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// The `model.safetensors` and `tokenizer.json` of a BERT-style model of
/// `vocab` (token, row; the values in f32, or f16 with `half_precision`), as
/// model2vec writes them: for tests and the generator.
///
/// # Panics
/// On an empty vocabulary or rows of different lengths.
#[cfg(any(test, feature = "devtools"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub fn model_files(vocab: &[(&str, Vec<f32>)], half_precision: bool) -> (Vec<u8>, Vec<u8>) {
    let dtype = if half_precision { Dtype::F16 } else { Dtype::F32 };
    let dim = vocab[0].1.len();
    let data: Vec<u8> = vocab
        .iter()
        .flat_map(|(_, row)| row.iter().copied())
        .flat_map(|v| match dtype {
            Dtype::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
            _ => v.to_le_bytes().to_vec(),
        })
        .collect();
    let view = safetensors::tensor::TensorView::new(dtype, vec![vocab.len(), dim], &data).unwrap();
    let weights = safetensors::tensor::serialize([("embeddings", view)], None).unwrap();
    let ids: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, (t, _))| ((*t).to_string(), serde_json::json!(i)))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids}
    });
    (weights, serde_json::to_vec(&tokenizer).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn vocab() -> Vec<(&'static str, Vec<f32>)> {
        vec![
            ("[UNK]", vec![9.0, 9.0]),
            ("un", vec![1.0, 0.0]),
            ("##aff", vec![0.0, 1.0]),
            ("##able", vec![1.0, 1.0]),
            ("cafe", vec![3.0, 0.0]),
            (",", vec![0.0, 3.0]),
            ("rain", vec![0.0, 2.0]),
        ]
    }

    #[test]
    fn text_is_split_into_word_pieces_and_averaged() {
        let (w, t) = model_files(&vocab(), false);
        let m = StaticModel::load(&w, &t, Some(br#"{"normalize": false}"#)).unwrap();
        // lower-cased, accents stripped, punctuation on its own, longest pieces first
        assert_eq!(m.tokens("Unaffable, CAFÉ"), [1, 2, 3, 5, 4]);
        // a word with no split into known pieces is one unknown token
        assert_eq!(m.tokens("unknowable"), [0]);
        let v = m.encode("unaffable rain zzz");
        // (un + ##aff + ##able + rain) / 4; zzz is unknown and left out
        assert_eq!(v, [0.5, 1.0]);
        assert!(m.encode("zzz !?").is_empty(), "no known token: no vector");
        // normalised by default, and the same from half-precision weights
        let (w16, t16) = model_files(&vocab(), true);
        let n = StaticModel::load(&w16, &t16, None).unwrap();
        let v = n.encode("unaffable rain");
        let s = 5f32.sqrt();
        assert!(
            (v[0] - 1.0 / s).abs() < 1e-3 && (v[1] - 2.0 / s).abs() < 1e-3,
            "{v:?}"
        );
    }

    #[test]
    fn a_model_in_another_format_is_refused_with_the_reason() {
        let (w, t) = model_files(&vocab(), false);
        let err = |r: Result<StaticModel>| r.err().unwrap().to_string();
        let e = err(StaticModel::load(b"not safetensors", &t, None));
        assert!(e.contains("model.safetensors"), "{e}");
        let e = err(StaticModel::load(&w, b"{", None));
        assert!(e.contains("tokenizer.json"), "{e}");
        let unigram = br#"{"normalizer": null, "model": {"type": "Unigram", "vocab": []}}"#;
        let e = err(StaticModel::load(&w, unigram, None));
        assert!(e.contains("Unigram") && e.contains("WordPiece"), "{e}");
        let mut big = vocab();
        big.truncate(3);
        let (small_weights, _) = model_files(&big, false);
        let e = err(StaticModel::load(&small_weights, &t, None));
        assert!(e.contains("beyond the 3 rows"), "{e}");
        let other = safetensors::tensor::serialize(
            [(
                "weights",
                TensorView::new(Dtype::F32, vec![1], &[0, 0, 0, 0]).unwrap(),
            )],
            None,
        )
        .unwrap();
        let e = err(StaticModel::load(&other, &t, None));
        assert!(e.contains("no `embeddings` matrix"), "{e}");
    }
}
