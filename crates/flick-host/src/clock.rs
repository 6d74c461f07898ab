//! Wall-clock formats the contract uses: epoch milliseconds, log stream
//! dates, and AWS timestamps. Owns formatting only.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn utc(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// `2026/11/26`, the date part of a Lambda log stream name.
pub fn utc_date_path(t: SystemTime) -> String {
    let d = utc(t);
    format!("{:04}/{:02}/{:02}", d.year(), d.month() as u8, d.day())
}

/// `2026-11-26T15:04:05.000+0000`, Lambda's `LastModified` format.
pub fn lambda_timestamp(t: SystemTime) -> String {
    millis_timestamp(t, "+0000")
}

/// `2026-11-26T15:04:05.000Z`, the timestamp of asynchronous invocation records.
pub fn iso8601(t: SystemTime) -> String {
    millis_timestamp(t, "Z")
}

fn millis_timestamp(t: SystemTime, zone: &str) -> String {
    let d = utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        d.year(),
        d.month() as u8,
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.millisecond()
    )
}

/// `04/Mar/2020:19:03:58 +0000`, API Gateway's request time.
pub fn apigw_time(t: SystemTime) -> String {
    let d = utc(t);
    let month = d.month().to_string();
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        d.day(),
        &month[..3],
        d.year(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_171_845_123);
        assert_eq!(epoch_ms(t), 1_764_171_845_123);
        assert_eq!(utc_date_path(t), "2025/11/26");
        assert_eq!(lambda_timestamp(t), "2025-11-26T15:44:05.123+0000");
        assert_eq!(iso8601(t), "2025-11-26T15:44:05.123Z");
        assert_eq!(apigw_time(t), "26/Nov/2025:15:44:05 +0000");
    }
}
