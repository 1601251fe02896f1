//! Geography: regions, cities with real coordinates and time zones, distance
//! and travel time.

/// A city sites and technicians are placed around.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub tz: chrono_tz::Tz,
    /// Relative weight of installed base in this city.
    pub weight: f64,
    /// ISO country code (for the public holidays of business calendars).
    pub country: &'static str,
}

macro_rules! city {
    ($name:literal, $region:literal, $lat:literal, $lon:literal, $tz:ident, $w:literal, $c:literal) => {
        City { name: $name, region: $region, lat: $lat, lon: $lon, tz: chrono_tz::Europe::$tz, weight: $w, country: $c }
    };
}

/// The cities of the simulated organisation, grouped into regions.
pub const CITIES: &[City] = &[
    city!("Hamburg", "North", 53.551, 9.993, Berlin, 3.0, "DE"),
    city!("Bremen", "North", 53.079, 8.801, Berlin, 1.5, "DE"),
    city!("Hannover", "North", 52.375, 9.732, Berlin, 1.6, "DE"),
    city!("Kiel", "North", 54.323, 10.123, Berlin, 0.8, "DE"),
    city!("Berlin", "East", 52.520, 13.405, Berlin, 3.6, "DE"),
    city!("Leipzig", "East", 51.340, 12.375, Berlin, 1.4, "DE"),
    city!("Dresden", "East", 51.050, 13.738, Berlin, 1.3, "DE"),
    city!("Köln", "West", 50.938, 6.960, Berlin, 2.5, "DE"),
    city!("Düsseldorf", "West", 51.227, 6.773, Berlin, 1.8, "DE"),
    city!("Dortmund", "West", 51.514, 7.465, Berlin, 1.6, "DE"),
    city!("Frankfurt", "West", 50.110, 8.682, Berlin, 2.2, "DE"),
    city!("München", "South", 48.137, 11.575, Berlin, 3.0, "DE"),
    city!("Stuttgart", "South", 48.776, 9.183, Berlin, 2.0, "DE"),
    city!("Nürnberg", "South", 49.452, 11.077, Berlin, 1.4, "DE"),
    city!("Zürich", "South", 47.377, 8.541, Zurich, 1.6, "CH"),
    city!("Wien", "Austria", 48.208, 16.373, Vienna, 2.2, "AT"),
    city!("Graz", "Austria", 47.070, 15.439, Vienna, 0.8, "AT"),
    city!("Linz", "Austria", 48.306, 14.286, Vienna, 0.8, "AT"),
    city!("Amsterdam", "Benelux", 52.368, 4.904, Amsterdam, 1.8, "NL"),
    city!("Rotterdam", "Benelux", 51.924, 4.478, Amsterdam, 1.2, "NL"),
    city!("Brussel", "Benelux", 50.850, 4.352, Brussels, 1.3, "BE"),
    city!("London", "UK", 51.507, -0.128, London, 3.0, "GB"),
    city!("Manchester", "UK", 53.481, -2.243, London, 1.2, "GB"),
    city!("Birmingham", "UK", 52.486, -1.890, London, 1.2, "GB"),
];

/// The region names, in a fixed order.
pub fn regions() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in CITIES {
        if !out.contains(&c.region) {
            out.push(c.region);
        }
    }
    out
}

/// Great-circle distance in kilometres.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().asin()
}

/// Driving minutes for a straight-line distance: road factor 1.3 at 65 km/h
/// plus 10 minutes to get going and park.
pub fn travel_minutes(km: f64) -> f64 {
    10.0 + km * 1.3 / 65.0 * 60.0
}

/// A point `km` kilometres from (lat, lon) in direction `bearing` (radians),
/// flat-earth approximation (fine below a few hundred km).
pub fn offset(lat: f64, lon: f64, km: f64, bearing: f64) -> (f64, f64) {
    let dlat = km * bearing.cos() / 111.2;
    let dlon = km * bearing.sin() / (111.2 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_real() {
        // Hamburg – München is about 612 km as the crow flies.
        let d = distance_km(53.551, 9.993, 48.137, 11.575);
        assert!((600.0..625.0).contains(&d), "{d}");
        let (lat, lon) = offset(50.0, 8.0, 20.0, 1.0);
        let back = distance_km(50.0, 8.0, lat, lon);
        assert!((back - 20.0).abs() < 0.5, "{back}");
        assert!(travel_minutes(0.0) >= 10.0);
        assert_eq!(regions().len(), 7);
    }
}
