//! The static catalogue: product families (skills, parts, failure rates
//! and seasons), their components and fault codes, and the bathtub curve of
//! failure rates over a unit's age.

use super::Family;

pub(super) fn families() -> Vec<Family> {
    let f = |name, base_rate, season, standard_minutes, warranty_months, no_part_faults| Family {
        name,
        base_rate,
        season,
        standard_minutes,
        warranty_months,
        parts: Vec::new(),
        no_part_faults,
    };
    vec![
        f("imaging", 1.1, [1.0; 12], 150, 24, &["E-CAL-DRIFT", "E-SW-HANG"]),
        f(
            "hvac",
            0.8,
            [1.25, 1.15, 0.9, 0.75, 0.9, 1.25, 1.5, 1.4, 1.0, 0.8, 0.95, 1.2],
            120,
            24,
            &["E-REFRIG-LOW", "E-CTRL-RESET"],
        ),
        f(
            "elevator",
            0.9,
            [1.1, 1.1, 1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 0.95, 0.95, 1.0, 1.1],
            110,
            12,
            &["E-DOOR-ADJUST", "E-LEVEL-CAL"],
        ),
        f(
            "printer",
            1.3,
            [1.15, 1.1, 1.0, 0.95, 0.9, 0.85, 0.8, 0.8, 1.0, 1.05, 1.1, 1.2],
            60,
            12,
            &["E-JAM-CLEAR", "E-FW-RESET"],
        ),
    ]
}

/// Components per family: (component, fault code, cost in euros).
pub(super) fn components(family: &str) -> &'static [(&'static str, &'static str, i64)] {
    match family {
        "imaging" => &[
            ("detector", "E-DET-NOISE", 1900),
            ("coolant pump", "E-PUMP-LEAK", 420),
            ("power supply", "E-PSU-FAIL", 650),
            ("table motor", "E-TABLE-STALL", 380),
            ("x-ray tube", "E-TUBE-ARC", 2400),
            ("control board", "E-CTRL-BOARD", 900),
            ("fan", "E-FAN-NOISE", 90),
            ("collimator", "E-COLL-POS", 700),
        ],
        "hvac" => &[
            ("compressor", "E-COMP-FAIL", 850),
            ("fan motor", "E-FAN-MOTOR", 240),
            ("expansion valve", "E-VALVE-STUCK", 160),
            ("control board", "E-CTRL-BOARD", 310),
            ("pressure sensor", "E-SENSOR-PRESS", 75),
            ("filter set", "E-FILTER-CLOG", 40),
            ("condenser coil", "E-COIL-LEAK", 520),
            ("capacitor", "E-CAP-FAIL", 35),
        ],
        "elevator" => &[
            ("door operator", "E-DOOR-OP", 780),
            ("door contact", "E-DOOR-CONTACT", 60),
            ("drive inverter", "E-INV-FAULT", 1400),
            ("brake pad set", "E-BRAKE-WEAR", 210),
            ("landing button", "E-BUTTON", 25),
            ("rope sheave", "E-SHEAVE-WEAR", 1100),
            ("controller board", "E-CTRL-BOARD", 950),
            ("light curtain", "E-CURTAIN", 330),
        ],
        _ => &[
            ("fuser unit", "E-FUSER", 180),
            ("pickup roller", "E-PICKUP", 18),
            ("drum unit", "E-DRUM", 120),
            ("transfer belt", "E-BELT", 140),
            ("main board", "E-MAINBOARD", 260),
            ("laser unit", "E-LASER", 310),
            ("duplex unit", "E-DUPLEX", 95),
            ("power supply", "E-PSU-FAIL", 110),
        ],
    }
}

/// The bathtub curve: failure-rate multiplier at an age in years (early
/// failures in the first months, wear-out after some years).
pub fn bathtub(age_years: f64) -> f64 {
    let a = age_years.max(0.0);
    0.55 + 2.2 * (-a * 8.0).exp() + 0.012 * a * a
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::world::calendars::easter;

    #[test]
    fn bathtub_is_high_early_low_middle_high_late() {
        assert!(bathtub(0.0) > 2.0 * bathtub(3.0));
        assert!(bathtub(15.0) > 1.5 * bathtub(3.0));
        assert_eq!(easter(2026), NaiveDate::from_ymd_opt(2026, 4, 5));
    }
}
