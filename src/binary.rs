//! `Binary`: bytes inside JSON messages, base64-encoded (the seed's binary helper).
//!
//! The codec is public here (not at the crate root) for code that builds or reads the
//! `{"$bin": ...}` encoding by hand: [`base64_encode`], [`base64_decode`], or the
//! [`Binary::to_base64`] / [`Binary::from_base64`] methods.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A byte payload that travels inside a JSON message as `{"$bin": "<base64>"}`
/// (standard alphabet, with padding).
///
/// ```
/// use pyact::binary::Binary;
/// let b = Binary(vec![0, 1, 2, 255]);
/// let v = serde_json::to_value(&b).unwrap();
/// assert_eq!(v, serde_json::json!({"$bin": "AAEC/w=="}));
/// assert_eq!(serde_json::from_value::<Binary>(v).unwrap(), b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Binary(pub Vec<u8>);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encode bytes as base64 with padding.
///
/// ```
/// use pyact::binary::{base64_decode, base64_encode};
/// assert_eq!(base64_encode(b"hi!"), "aGkh");
/// assert_eq!(base64_decode("aGkh").unwrap(), b"hi!");
/// ```
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode padded base64; `None` for anything malformed or non-canonical.
///
/// ```
/// use pyact::binary::base64_decode;
/// assert_eq!(base64_decode("Zg=="), Some(b"f".to_vec()));
/// assert_eq!(base64_decode("Zh=="), None); // leftover bits set
/// ```
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (ci, chunk) in s.chunks(4).enumerate() {
        let last = ci == s.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        // Canonical encodings only: the bits padding leaves over must be zero.
        if n & ((1u32 << (2 * pad)) - 1) != 0 {
            return None;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

impl Binary {
    /// The bytes as padded standard base64 (what travels in `{"$bin": ...}`).
    ///
    /// ```
    /// let b = pyact::binary::Binary(b"hi".to_vec());
    /// assert_eq!(b.to_base64(), "aGk=");
    /// assert_eq!(pyact::binary::Binary::from_base64("aGk="), Some(b));
    /// ```
    pub fn to_base64(&self) -> String {
        base64_encode(&self.0)
    }

    /// Parse padded standard base64; `None` if it is malformed or non-canonical.
    ///
    /// ```
    /// use pyact::binary::Binary;
    /// assert_eq!(Binary::from_base64("AAE="), Some(Binary(vec![0, 1])));
    /// assert_eq!(Binary::from_base64("not base64!"), None);
    /// ```
    pub fn from_base64(s: &str) -> Option<Binary> {
        base64_decode(s).map(Binary)
    }
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("$bin", &base64_encode(&self.0))?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Enc {
            #[serde(rename = "$bin")]
            bin: String,
        }
        let enc = Enc::deserialize(d)?;
        base64_decode(&enc.bin)
            .map(Binary)
            .ok_or_else(|| D::Error::custom("malformed base64 in $bin"))
    }
}
