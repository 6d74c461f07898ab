//! The test kit: the handler below is tested in-process, with an event fixture
//! and a made-up context, no server (`cargo test -p example-test-kit`).

use flick::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Order {
    id: String,
    quantity: u32,
}

#[derive(Serialize, Debug, PartialEq)]
struct Receipt {
    id: String,
    quantity: u32,
    handled_by: String,
}

async fn handle(order: Order, ctx: Context) -> Result<Receipt, Error> {
    if order.quantity == 0 {
        return Err(Error::client("quantity must be at least 1").with_type("InvalidOrder"));
    }
    Ok(Receipt {
        id: order.id,
        quantity: order.quantity,
        handled_by: ctx.request_id().to_owned(),
    })
}

fn main() {
    flick::run(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flick::{testing, Kind};

    #[test]
    fn a_good_order_gets_a_receipt() {
        let context = testing::context().request_id("req-1").build();
        let receipt =
            testing::call_with_context(handle, r#"{"id":"o-1","quantity":2}"#, context).unwrap();
        assert_eq!(
            receipt,
            Receipt {
                id: "o-1".into(),
                quantity: 2,
                handled_by: "req-1".into()
            }
        );
    }

    #[test]
    fn an_empty_order_is_a_client_error() {
        let error = testing::call(handle, r#"{"id":"o-1","quantity":0}"#).unwrap_err();
        assert_eq!(
            (error.kind(), error.error_type()),
            (Kind::Client, "InvalidOrder")
        );
    }

    #[test]
    fn the_receipt_is_answered_as_this_json() {
        let receipt = testing::call(handle, r#"{"id":"o-1","quantity":2}"#).unwrap();
        let json = testing::encode(receipt).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"id":"o-1","quantity":2,"handled_by":"00000000-0000-4000-8000-000000000000"}"#
        );
    }

    #[test]
    fn a_malformed_fixture_fails_as_it_would_on_lambda() {
        let error = testing::call(handle, r#"{"id":1}"#).unwrap_err();
        assert_eq!(error.error_type(), "InvalidEvent");
    }
}
