//! Exact numbers as they enter: JSON numbers and strings to exact rationals, and back to text.
//!
//! SPEC §2: a JSON number is its nearest f64, used exactly as the binary rational it is; a string
//! holds an exact rational ("-7/8") or an exact decimal ("0.1", "1.5e-3").

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The exact value of a finite f64 (a binary rational).
pub fn rational_from_f64(x: f64) -> Option<BigRational> {
    if !x.is_finite() {
        return None;
    }
    BigRational::from_float(x)
}

/// Parses "p/q", "p", or a decimal with optional exponent, exactly.
pub fn parse_rational(text: &str) -> Result<BigRational, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty string where a number was expected".into());
    }
    if let Some((p, q)) = s.split_once('/') {
        let p: BigInt = p
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\" is not a rational p/q"))?;
        let q: BigInt = q
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\" is not a rational p/q"))?;
        if q.is_zero() {
            return Err(format!("\"{text}\" has a zero denominator"));
        }
        return Ok(BigRational::new(p, q));
    }
    parse_decimal(s).ok_or_else(|| {
        format!("\"{text}\" is not an exact number (expected \"p/q\" or a decimal like \"0.1\")")
    })
}

fn parse_decimal(s: &str) -> Option<BigRational> {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if exponent.abs() > 100_000 {
        return None;
    }
    let all_digits = format!("{int_part}{frac_part}");
    let mut numerator: BigInt = if all_digits.is_empty() {
        BigInt::zero()
    } else {
        all_digits.parse().ok()?
    };
    if negative {
        numerator = -numerator;
    }
    let scale = exponent - frac_part.len() as i64;
    let ten = BigInt::from(10u32);
    Some(if scale >= 0 {
        BigRational::from_integer(numerator * num_traits::pow(ten, scale as usize))
    } else {
        BigRational::new(numerator, num_traits::pow(ten, (-scale) as usize))
    })
}

/// Nearest-ish f64 of an exact rational (within a few ulps; used for display and filters that
/// carry their own error bound).
pub fn to_f64(q: &BigRational) -> f64 {
    q.to_f64().unwrap_or_else(|| {
        if q.is_negative() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    })
}

/// f64 of n / d for integers (d > 0), via the rational type's careful conversion.
pub fn ratio_to_f64(n: &BigInt, d: &BigInt) -> f64 {
    if n.is_zero() {
        return 0.0;
    }
    to_f64(&BigRational::new(n.clone(), d.clone()))
}

/// "p/q" (or "p" for integers): the canonical exact text of a rational.
pub fn format_rational(q: &BigRational) -> String {
    if q.denom().is_one() {
        q.numer().to_string()
    } else {
        format!("{}/{}", q.numer(), q.denom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(p: i64, d: i64) -> BigRational {
        BigRational::new(p.into(), d.into())
    }

    #[test]
    fn parses_rationals_and_decimals_exactly() {
        assert_eq!(parse_rational("1/3").unwrap(), q(1, 3));
        assert_eq!(parse_rational("-7/8").unwrap(), q(-7, 8));
        assert_eq!(parse_rational("0.1").unwrap(), q(1, 10));
        assert_eq!(parse_rational("-1.5e-3").unwrap(), q(-3, 2000));
        assert_eq!(parse_rational("2E2").unwrap(), q(200, 1));
        assert_eq!(parse_rational(".5").unwrap(), q(1, 2));
        assert!(parse_rational("1/0").is_err());
        assert!(parse_rational("abc").is_err());
        assert!(parse_rational("").is_err());
        assert!(parse_rational("1.2.3").is_err());
    }

    #[test]
    fn f64_is_taken_exactly() {
        // 0.1 as an f64 is not 1/10 but a binary rational with denominator 2^55.
        let x = rational_from_f64(0.1).unwrap();
        assert_ne!(x, q(1, 10));
        assert_eq!(x.denom(), &(BigInt::one() << 55));
        assert!(rational_from_f64(f64::NAN).is_none());
        assert_eq!(format_rational(&q(-3, 4)), "-3/4");
        assert_eq!(format_rational(&q(6, 3)), "2");
    }
}
