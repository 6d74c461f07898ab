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

/// `20261127T070000Z`, the signing time of AWS Signature Version 4.
pub fn amz_date(t: SystemTime) -> String {
    let d = utc(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        d.year(),
        d.month() as u8,
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// Reads an [`amz_date`] back.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(num(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(num(0..4)? as i32, month, num(6..8)? as u8).ok()?;
    let clock =
        time::Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .into(),
    )
}

/// `2025-01-01T00:00:00Z` or `2025-01-01T00:00:00.123456Z` (how the AWS
/// SDKs put a timestamp in a query) as epoch milliseconds.
pub fn parse_iso8601_ms(text: &str) -> Option<i64> {
    let (whole, rest) = (text.get(..19)?, text.get(19..)?);
    let fraction = match rest.strip_prefix('.') {
        Some(f) => f.strip_suffix('Z')?,
        None if rest == "Z" => "",
        None => return None,
    };
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let compact: String = whole.chars().filter(|c| *c != '-' && *c != ':').collect();
    let seconds = parse_amz_date(&format!("{compact}Z"))?;
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    Some(epoch_ms(seconds) as i64 + millis)
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
        assert_eq!(amz_date(t), "20251126T154405Z");
        assert_eq!(
            parse_amz_date("20251126T154405Z"),
            Some(t - Duration::from_millis(123))
        );
        assert_eq!(parse_amz_date("20251326T154405Z"), None);
        assert_eq!(parse_amz_date("2025-11-26"), None);
        assert_eq!(
            parse_iso8601_ms("2025-11-26T15:44:05.123456Z"),
            Some(1_764_171_845_123)
        );
        assert_eq!(
            parse_iso8601_ms("2025-11-26T15:44:05Z"),
            Some(1_764_171_845_000)
        );
        assert_eq!(parse_iso8601_ms("2025-11-26T15:44:05"), None);
    }
}
