//! Ids: UUIDv7, time-ordered, so ids sort by creation time and index well.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A new random UUIDv7 for the current time.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// A UUIDv7 for instant `at` with the given 10 random bytes: deterministic,
/// for the simulator and tests (same inputs, same id).
pub fn id_at(at: DateTime<Utc>, random: [u8; 10]) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let a = id_at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), [9; 10]);
        let b = id_at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap(), [0; 10]);
        assert_eq!(a.get_version_num(), 7);
        assert!(a < b, "a later instant gives a larger id");
        assert_eq!(new_id().get_version_num(), 7);
    }
}
