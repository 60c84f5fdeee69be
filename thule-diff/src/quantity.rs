//! Kubernetes `resource.Quantity`: exact parsing and the canonical form of
//! `apimachinery:pkg/api/resource/quantity.go` (spec §3.4, V1).
//!
//! Values are held as an exact count of nano-units in an `i128` (values finer than a nano-unit
//! round up, as the API server does). Equality for diffing is numeric; the canonical string is
//! for display only (`1Gi` and `1073741824` are equal but print differently).

use std::fmt;

/// How a quantity was written; decides its canonical suffix family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityFormat {
    /// `Ki`, `Mi`, … (base 1024).
    BinarySi,
    /// `n`, `u`, `m`, ``, `k`, `M`, … (base 10).
    DecimalSi,
    /// `e3`, `E-6`, …
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// The value in nano-units (10^-9).
    pub nanos: i128,
    /// The suffix family it was written in.
    pub format: QuantityFormat,
}

const NANO: i128 = 1_000_000_000;

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

impl Quantity {
    /// Parse `<signedNumber><suffix>`; `None` when the text is not a quantity or overflows.
    pub fn parse(text: &str) -> Option<Self> {
        let s = text.trim();
        if s.is_empty() || s.len() > 64 {
            return None;
        }
        let (neg, body) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(num_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if frac_part.contains('.') {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            if digits.len() > 30 {
                return None;
            }
            digits.parse().ok()?
        };
        let frac_len = u32::try_from(frac_part.len()).ok()?;
        // value = mantissa * 10^-frac_len * multiplier; nanos = value * 10^9.
        let (format, mult_num, exp10): (QuantityFormat, i128, i32) = match suffix {
            "Ki" => (QuantityFormat::BinarySi, 1 << 10, 0),
            "Mi" => (QuantityFormat::BinarySi, 1 << 20, 0),
            "Gi" => (QuantityFormat::BinarySi, 1 << 30, 0),
            "Ti" => (QuantityFormat::BinarySi, 1 << 40, 0),
            "Pi" => (QuantityFormat::BinarySi, 1 << 50, 0),
            "Ei" => (QuantityFormat::BinarySi, 1 << 60, 0),
            "n" => (QuantityFormat::DecimalSi, 1, -9),
            "u" => (QuantityFormat::DecimalSi, 1, -6),
            "m" => (QuantityFormat::DecimalSi, 1, -3),
            "" => (QuantityFormat::DecimalSi, 1, 0),
            "k" => (QuantityFormat::DecimalSi, 1, 3),
            "M" => (QuantityFormat::DecimalSi, 1, 6),
            "G" => (QuantityFormat::DecimalSi, 1, 9),
            "T" => (QuantityFormat::DecimalSi, 1, 12),
            "P" => (QuantityFormat::DecimalSi, 1, 15),
            "E" => (QuantityFormat::DecimalSi, 1, 18),
            other => {
                let rest = other.strip_prefix(['e', 'E'])?;
                let e: i32 = rest.parse().ok()?;
                if !(-40..=40).contains(&e) {
                    return None;
                }
                (QuantityFormat::DecimalExponent, 1, e)
            }
        };
        // nanos = mantissa * mult_num * 10^(exp10 + 9 - frac_len)
        let shift = exp10 + 9 - i32::try_from(frac_len).ok()?;
        let base = mantissa.checked_mul(mult_num)?;
        let nanos = if shift >= 0 {
            base.checked_mul(pow10(shift.unsigned_abs())?)?
        } else {
            let d = pow10(shift.unsigned_abs())?;
            // Round up (away from zero) below nano precision.
            (base + d - 1) / d
        };
        Some(Self {
            nanos: if neg { -nanos } else { nanos },
            format,
        })
    }

    /// Round up to milli precision, as `SetDefaults_ResourceList` does for resource lists.
    #[must_use]
    pub fn round_up_milli(self) -> Self {
        const MILLI: i128 = 1_000_000;
        let r = self.nanos.rem_euclid(MILLI);
        if r == 0 {
            return self;
        }
        Self {
            nanos: self.nanos - r + MILLI,
            ..self
        }
    }

    /// The canonical string (`1024Mi` → `1Gi`, `1000m` → `1`, `1.5` → `1500m`).
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    fn decimal(&self, f: &mut fmt::Formatter<'_>, exponent_form: bool) -> fmt::Result {
        // Largest exponent e (multiple of 3, -9..=18) with nanos divisible by 10^(e+9).
        let mut e: i32 = 18;
        loop {
            let div = pow10(u32::try_from(e + 9).unwrap_or(0)).unwrap_or(1);
            if self.nanos % div == 0 || e == -9 {
                let mantissa = self.nanos / div;
                let suffix = if exponent_form {
                    if e == 0 {
                        String::new()
                    } else {
                        format!("e{e}")
                    }
                } else {
                    match e {
                        -9 => "n",
                        -6 => "u",
                        -3 => "m",
                        0 => "",
                        3 => "k",
                        6 => "M",
                        9 => "G",
                        12 => "T",
                        15 => "P",
                        _ => "E",
                    }
                    .to_owned()
                };
                return write!(f, "{mantissa}{suffix}");
            }
            e -= 3;
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        match self.format {
            QuantityFormat::BinarySi => {
                if self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0 {
                    return self.decimal(f, false);
                }
                let units = self.nanos / NANO;
                const SUFFIX: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                let mut k = 6usize;
                loop {
                    let d = 1i128 << (10 * k);
                    if units % d == 0 {
                        return write!(f, "{}{}", units / d, SUFFIX[k]);
                    }
                    k -= 1;
                }
            }
            QuantityFormat::DecimalSi => self.decimal(f, false),
            QuantityFormat::DecimalExponent => self.decimal(f, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_forms_match_apimachinery_vectors() {
        for (input, want) in [
            ("1Ki", "1Ki"),
            ("1024Mi", "1Gi"),
            ("1000M", "1G"),
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            ("1.5", "1500m"),
            ("1.5Gi", "1536Mi"),
            ("1000", "1k"),
            ("1024", "1024"),
            ("1000m", "1"),
            ("0", "0"),
            ("0.5", "500m"),
            ("1e3", "1e3"),
            ("-2Gi", "-2Gi"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
        assert_eq!(
            Quantity::parse("0.1m")
                .unwrap()
                .round_up_milli()
                .canonical(),
            "1m"
        );
    }

    #[test]
    fn equality_is_numeric() {
        let q = |s| Quantity::parse(s).unwrap().nanos;
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("0.5"), q("500m"));
        assert_ne!(q("1G"), q("1Gi"));
    }

    #[test]
    fn rejects_non_quantities() {
        for s in ["", "abc", "1.2.3", "1Xi", "Gi", "1e", "25%", "."] {
            assert!(Quantity::parse(s).is_none(), "{s}");
        }
    }
}
