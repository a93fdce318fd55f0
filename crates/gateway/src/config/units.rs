//! Human-friendly units in configuration: byte sizes such as `32MiB`.

use serde::{Deserialize, Deserializer, de};

/// A size in bytes, written as an integer or as `"512KiB"`, `"32MiB"`, `"1GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: usize = digits
            .parse()
            .map_err(|_| format!("'{s}' is not a size such as 32MiB"))?;
        let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit '{other}' (use B, KiB, MiB, GiB)"
                ));
            }
        };
        n.checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("'{s}' is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(u64),
            Str(String),
        }
        match Repr::deserialize(d)? {
            Repr::Int(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(|_| de::Error::custom("size too large")),
            Repr::Str(s) => s.parse().map_err(de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteSize;

    #[test]
    fn parses_units() {
        assert_eq!("32MiB".parse(), Ok(ByteSize(32 << 20)));
        assert_eq!("512 KiB".parse(), Ok(ByteSize(512 << 10)));
        assert_eq!("1000".parse(), Ok(ByteSize(1000)));
        assert_eq!("2GB".parse(), Ok(ByteSize(2_000_000_000)));
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert!("MiB".parse::<ByteSize>().is_err());
    }
}
