//! Money: integer cents (minor units) with an ISO 4217 currency code.
//! No floating point ever touches an amount.

use serde::{Deserialize, Serialize};

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub cents: i64,
    pub currency: String,
}

impl Money {
    pub fn new(cents: i64, currency: impl Into<String>) -> Self {
        Self { cents, currency: currency.into() }
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// `amount * percent / 100`, rounded half away from zero, in cents.
pub fn percent_of(cents: i64, percent: i64) -> i64 {
    let num = i128::from(cents) * i128::from(percent);
    let q = num / 100;
    let r = num % 100;
    let rounded = if r.abs() * 2 >= 100 { q + num.signum() } else { q };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Price of `minutes` of work at `rate_cents_per_hour`, rounded half up to the cent.
pub fn labour_cents(minutes: i64, rate_cents_per_hour: i64) -> i64 {
    let num = i128::from(minutes) * i128::from(rate_cents_per_hour);
    let q = (num + 30) / 60;
    i64::try_from(q).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_arithmetic() {
        assert_eq!(Money::new(12345, "EUR").to_string(), "123.45 EUR");
        assert_eq!(Money::new(-5, "EUR").to_string(), "-0.05 EUR");
        // 10% of 1.25 = 0.125 -> 0.13 (half away from zero)
        assert_eq!(percent_of(125, 10), 13);
        assert_eq!(percent_of(-125, 10), -13);
        // 90 minutes at 80.00/h = 120.00
        assert_eq!(labour_cents(90, 8000), 12000);
        // 1 minute at 0.50/h = 0.8333 cents -> 1 cent
        assert_eq!(labour_cents(1, 50), 1);
    }
}
