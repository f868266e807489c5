//! Exact numbers as they enter: JSON numbers and strings to exact rationals, and back to text.
//!
//! A JSON number is its nearest f64, used exactly as the binary rational it is; a string
//! holds an exact rational ("-7/8") or an exact decimal ("0.1", "1.5e-3").

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The exact value of a finite f64 (a binary rational).
/// Divides every value by the largest power of two dividing them all (cheap: trailing zeros, no
/// gcd). For integers that share one scale (a point over its denominator, an equation, a layer).
pub fn divide_common_twos<'a>(values: impl IntoIterator<Item = &'a mut BigInt>) {
    let mut values: Vec<&mut BigInt> = values.into_iter().collect();
    let twos = values
        .iter()
        .filter_map(|x| x.trailing_zeros())
        .min()
        .unwrap_or(0);
    if twos > 0 {
        for x in &mut values {
            **x >>= twos as usize;
        }
    }
}

/// `acc += w·x`. A weight that fits a machine word multiplies `scratch` (a copy of x) in place:
/// `&w * &x` allocates its result, and in the exact layer products of deep networks that
/// allocation was most of the time.
pub fn add_product(acc: &mut BigInt, w: &BigInt, x: &BigInt, scratch: &mut BigInt) {
    match w.to_i64() {
        Some(small) => {
            scratch.clone_from(x);
            *scratch *= small.unsigned_abs();
            if small < 0 {
                *acc -= &*scratch;
            } else {
                *acc += &*scratch;
            }
        }
        None => *acc += w * x,
    }
}

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
    // The common case of weights read from floats: a power-of-two denominator. A numerator of
    // at most 53 bits is exact in f64, and scaling by powers of two is exact until the last
    // step, which rounds once. A longer numerator is cut to its top 64 bits with a sticky bit
    // for what was cut (so the one rounding to 53 bits is the correct one), then scaled, which
    // is exact as long as the result stays normal.
    if d.is_positive() && (d.magnitude() & (d.magnitude() - 1u32)).is_zero() {
        let k = d.bits() - 1;
        let b = n.bits();
        if b <= 53 {
            let mut x = n.to_f64().expect("53 bits");
            let mut k = k;
            while k > 0 {
                let step = k.min(1000);
                x *= f64::powi(2.0, -(step as i32));
                k -= step;
            }
            return x;
        }
        let shift = b.saturating_sub(64);
        // The result is about 2^(b − 1 − k): keep to the normal range, well inside f64's.
        let exp = b as i64 - 1 - k as i64;
        if (-1000..1000).contains(&exp) {
            let mag = n.magnitude();
            let mut top = (mag >> shift).to_u64().expect("64 bits");
            if mag.trailing_zeros().is_some_and(|t| t < shift) {
                top |= 1;
            }
            // Scaled in steps that each stay in range (2^e for e below −1022 would be computed
            // as 1 / 2^−e, which overflows to 0): exact, as the result is normal.
            let (mut x, mut e) = (top as f64, shift as i64 - k as i64);
            while e < -1000 {
                x *= f64::powi(2.0, -1000);
                e += 1000;
            }
            x *= f64::powi(2.0, e as i32);
            return if n.is_negative() { -x } else { x };
        }
    }
    to_f64(&BigRational::new(n.clone(), d.clone()))
}

/// f64 of n / d (d > 0) within 1.01 ulp, without reducing the fraction (no gcd, which dominates
/// for the big numerators of exact vertex values): a 64-bit integer quotient rounded once, then
/// scaled by a power of two (exact above the subnormal range, ≤ 2^-1074 off below it).
pub fn ratio_to_f64_fast(n: &BigInt, d: &BigInt) -> f64 {
    if n.is_zero() {
        return 0.0;
    }
    let shift = 64 - (n.bits() as i64 - d.bits() as i64);
    let (num, den) = (n.magnitude(), d.magnitude());
    let quotient = if shift >= 0 {
        (num << shift as usize) / den
    } else {
        num / (den << (-shift) as usize)
    };
    // 2^63 ≤ |n|·2^shift / d < 2^65, so the quotient fits 128 bits.
    let q = num_traits::ToPrimitive::to_u128(&quotient).expect("a quotient of 65 bits at most");
    let x = scale_by_power_of_two(q as f64, -shift);
    if n.is_negative() {
        -x
    } else {
        x
    }
}

/// x · 2^e in steps that stay in range.
fn scale_by_power_of_two(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 && x.is_finite() {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 && x != 0.0 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e.clamp(-1100, 1100) as i32)
}

/// "p/q" (or "p" for integers): the canonical exact text of a rational.
pub fn format_rational(q: &BigRational) -> String {
    if q.denom().is_one() {
        q.numer().to_string()
    } else {
        format!("{}/{}", q.numer(), q.denom())
    }
}

/// Σ n_i / d_i (d_i > 0) as one unreduced fraction, summed pairwise in parallel: no gcd, and
/// denominators grow as a balanced tree (a running sum of rationals spends its time in gcds).
pub fn sum_fractions(mut parts: Vec<(BigInt, BigInt)>) -> (BigInt, BigInt) {
    use rayon::prelude::*;
    if parts.is_empty() {
        return (BigInt::from(0), BigInt::from(1));
    }
    while parts.len() > 1 {
        parts = parts
            .par_chunks(2)
            .map(|pair| match pair {
                [(n1, d1), (n2, d2)] => (n1 * d2 + n2 * d1, d1 * d2),
                [one] => one.clone(),
                _ => unreachable!(),
            })
            .collect();
    }
    parts.pop().expect("one part left")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long numerators over large powers of two round correctly down to the bottom of the normal
    /// range (2^e below −1022 must not be computed as 1 / 2^−e, which is 0), and each agrees
    /// with the rational type's conversion.
    #[test]
    fn ratio_to_f64_of_long_numerators_near_the_bottom_of_the_range() {
        for (numerator_bits, exponent) in [(76u32, -1000i64), (70, -990), (90, -1020), (64, 40)] {
            for low in [0u64, 1, 12345] {
                let n = (BigInt::from(3u32) << (numerator_bits - 2)) + low;
                let k = numerator_bits as i64 - 1 - exponent;
                let d = BigInt::from(1u32) << (k as usize);
                let want = to_f64(&BigRational::new(n.clone(), d.clone()));
                assert!(want != 0.0 && want.is_normal());
                assert_eq!(
                    ratio_to_f64(&n, &d),
                    want,
                    "{numerator_bits} bits, 2^{exponent}"
                );
                assert_eq!(ratio_to_f64(&-&n, &d), -want);
            }
        }
    }

    /// `add_product` is `acc + w·x` for word-sized weights of either sign (the in-place path,
    /// with a scratch integer left over from a larger product) and for big weights.
    #[test]
    fn add_product_is_the_plain_product() {
        let big = |s: &str| s.parse::<BigInt>().expect("an integer");
        let values = [
            big("0"),
            big("7"),
            big("-123456789012345678901234567890"),
            big("340282366920938463463374607431768211457"),
            big("-1"),
        ];
        let weights = [
            big("0"),
            big("3"),
            big("-5"),
            BigInt::from(i64::MIN),
            BigInt::from(i64::MAX),
            big("-99999999999999999999999"),
        ];
        let mut scratch = big("-987654321987654321987654321987654321");
        for acc0 in &values {
            for w in &weights {
                for x in &values {
                    let mut acc = acc0.clone();
                    add_product(&mut acc, w, x, &mut scratch);
                    assert_eq!(acc, acc0 + w * x, "{acc0} + {w}·{x}");
                }
            }
        }
    }

    /// The power-of-two path rounds as the rational conversion does, subnormals included.
    #[test]
    fn ratio_over_a_power_of_two_is_correctly_rounded() {
        for (n, k) in [
            (1i64, 0u32),
            (-3, 1),
            (9007199254740991, 60),
            (5, 1074),
            (3, 1075),
            (7, 1077),
            (1, 1200),
            (-9007199254740991, 1100),
            (123456789, 2100),
        ] {
            let (n, d) = (BigInt::from(n), BigInt::from(1) << k);
            assert_eq!(
                ratio_to_f64(&n, &d),
                to_f64(&BigRational::new(n.clone(), d.clone())),
                "{n}/2^{k}"
            );
        }
    }

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
    fn fast_ratio_is_within_an_ulp() {
        let big = |s: &str| s.parse::<BigInt>().unwrap();
        let cases = [
            (big("1"), big("3")),
            (big("-2"), big("3")),
            (big("123456789012345678901234567890123"), big("7")),
            (
                big("7"),
                big("123456789012345678901234567890123456789012345678901234567"),
            ),
            (BigInt::from(1) << 1070usize, big("3")),
            (big("-5"), BigInt::from(3) << 1070usize),
            (big("1"), BigInt::from(1) << 1080usize),
            (BigInt::from(1) << 2000usize, big("1")),
        ];
        for (n, d) in cases {
            let fast = ratio_to_f64_fast(&n, &d);
            let careful = to_f64(&BigRational::new(n.clone(), d.clone()));
            let tolerance = 2.0 * f64::EPSILON * careful.abs() + 2.0 * f64::MIN_POSITIVE;
            assert!(
                (fast - careful).abs() <= tolerance || fast == careful,
                "{n}/{d}: {fast} vs {careful}"
            );
        }
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
