//! Deterministic embedding vectors: the same input always maps to the same unit vector.

use base64::Engine as _;

/// One embedding input as the request spelled it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EmbedInput {
    Text(String),
    Tokens(Vec<u64>),
}

impl EmbedInput {
    /// Tokens this input counts for in usage: words of text, or the token count.
    pub(crate) fn tokens(&self) -> u64 {
        match self {
            EmbedInput::Text(text) => crate::turn::count_words(text),
            EmbedInput::Tokens(tokens) => tokens.len() as u64,
        }
    }

    fn seed(&self) -> u64 {
        match self {
            EmbedInput::Text(text) => fnv1a(FNV_OFFSET, text.as_bytes()),
            EmbedInput::Tokens(tokens) => tokens
                .iter()
                .fold(FNV_OFFSET ^ 0x746f6b, |h, t| fnv1a(h, &t.to_le_bytes())),
        }
    }

    /// A unit vector of `dims` components derived from a hash of the input.
    pub(crate) fn vector(&self, dims: usize) -> Vec<f32> {
        let mut state = self.seed();
        let mut v: Vec<f32> = (0..dims)
            .map(|_| {
                let bits = splitmix64(&mut state) >> 40; // 24 random bits
                (bits as f32 / (1u64 << 23) as f32) - 1.0 // in [-1, 1)
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

/// Base64 of the little-endian `f32` bytes, as OpenAI's `encoding_format: "base64"`.
pub(crate) fn to_base64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_length_and_input_specific() {
        let a = EmbedInput::Text("hello".into());
        let b = EmbedInput::Text("world".into());
        assert_eq!(a.vector(8), a.vector(8));
        assert_ne!(a.vector(8), b.vector(8));
        let norm: f32 = a.vector(16).iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(EmbedInput::Tokens(vec![1, 2, 3]).vector(3).len(), 3);
    }

    #[test]
    fn base64_is_little_endian_f32() {
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
    }
}
