//! The AWS event-stream framing that `InvokeWithResponseStream` answers in
//! (`application/vnd.amazon.eventstream`), as botocore and every SDK decode it.
//!
//! A message is: total length (u32, big-endian), headers length (u32), the
//! CRC-32 of those eight bytes, the headers, the payload, and the CRC-32 of
//! everything before it. A header is its name's length (u8), the name, a
//! type byte (7: string) and the value's length (u16) and bytes. Only string
//! headers are written here: `:event-type`, `:content-type`, `:message-type`.

use bytes::{BufMut, Bytes, BytesMut};

/// Header value type 7: a UTF-8 string with a 16-bit length.
const STRING: u8 = 7;
/// Total length, headers length, prelude CRC; and the message CRC.
const OVERHEAD: usize = 16;

/// An `event` message of type `event_type` carrying `payload`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ],
        payload,
    )
}

fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut head = BytesMut::new();
    for (name, value) in headers {
        head.put_u8(name.len() as u8);
        head.put_slice(name.as_bytes());
        head.put_u8(STRING);
        head.put_u16(value.len() as u16);
        head.put_slice(value.as_bytes());
    }
    let total = OVERHEAD + head.len() + payload.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(head.len() as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    out.put_slice(&head);
    out.put_slice(payload);
    out.put_u32(crc32fast::hash(&out));
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one message the way the SDKs do, checking both CRCs.
    fn decode(msg: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let total = u32::from_be_bytes(msg[0..4].try_into().unwrap()) as usize;
        let head_len = u32::from_be_bytes(msg[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, msg.len());
        assert_eq!(
            u32::from_be_bytes(msg[8..12].try_into().unwrap()),
            crc32fast::hash(&msg[..8])
        );
        assert_eq!(
            u32::from_be_bytes(msg[total - 4..].try_into().unwrap()),
            crc32fast::hash(&msg[..total - 4])
        );
        let mut headers = Vec::new();
        let mut at = 12;
        while at < 12 + head_len {
            let n = msg[at] as usize;
            let name = String::from_utf8(msg[at + 1..at + 1 + n].to_vec()).unwrap();
            at += 1 + n;
            assert_eq!(msg[at], STRING);
            let len = u16::from_be_bytes([msg[at + 1], msg[at + 2]]) as usize;
            headers.push((
                name,
                String::from_utf8(msg[at + 3..at + 3 + len].to_vec()).unwrap(),
            ));
            at += 3 + len;
        }
        (headers, msg[12 + head_len..total - 4].to_vec())
    }

    #[test]
    fn messages_round_trip_with_valid_crcs() {
        let msg = event("PayloadChunk", "application/octet-stream", b"hello");
        let (headers, payload) = decode(&msg);
        assert_eq!(payload, b"hello");
        assert_eq!(headers[0], (":event-type".into(), "PayloadChunk".into()));
        assert_eq!(headers[2], (":message-type".into(), "event".into()));
        let empty = event("InvokeComplete", "application/json", b"");
        assert_eq!(decode(&empty).1, b"");
    }

    #[test]
    fn crc_is_the_standard_crc32() {
        // The check value of CRC-32/ISO-HDLC (zlib's crc32), which the framing uses.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_event_decodes_to_what_was_encoded(
                event_type in "[A-Za-z]{1,30}",
                content_type in "[a-z/.+-]{1,60}",
                payload in proptest::collection::vec(any::<u8>(), 0..4096),
            ) {
                let (headers, decoded) = decode(&event(&event_type, &content_type, &payload));
                prop_assert_eq!(decoded, payload);
                prop_assert_eq!(&headers[0].1, &event_type);
                prop_assert_eq!(&headers[1].1, &content_type);
            }
        }
    }
}
