//! Fuzz the ndjson decoder: any input either fails as a whole with a
//! malformed-body error or yields one outcome per record; it never panics, and
//! every accepted event survives a JSON round trip.
#![no_main]

use fieldhouse_ingest::decode::{Format, Limits, decode_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    let limits = Limits { max_record_bytes: 64 * 1024, ..Limits::default() };
    if let Ok(records) = decode_all(Format::Ndjson, data, &limits, now) {
        for (_, _, outcome) in records {
            if let Ok(event) = outcome {
                let again = fieldhouse_domain_roundtrip(&event.to_json());
                assert!(again, "accepted event does not decode from its own JSON");
            }
        }
    }
});

fn fieldhouse_domain_roundtrip(json: &str) -> bool {
    let body = format!("{json}\n");
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    let limits =
        Limits { max_record_bytes: usize::MAX, max_future: chrono::Duration::days(100_000), ..Limits::default() };
    matches!(decode_all(Format::Ndjson, body.as_bytes(), &limits, now).as_deref(), Ok([(_, _, Ok(_))]))
}
