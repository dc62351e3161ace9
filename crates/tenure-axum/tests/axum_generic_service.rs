//! The layer wraps any tower service with any response body and error type, not only
//! an axum `Router`: here a `service_fn` answering `Full<Bytes>` bodies with an error
//! type of its own, which passes through the layer unchanged.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tenure_axum::SessionLayer;
use tenure_core::Bytes;
use tenure_node::{Node, NodeConfig};
use tenure_store::MemoryStore;
use tower::{Layer, Service};

/// An inner service's own error.
#[derive(Debug, PartialEq, Eq)]
struct Refused;

async fn handler(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Refused> {
    if req.uri().path() == "/refuse" {
        return Err(Refused);
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

#[tokio::test]
async fn a_service_with_its_own_body_and_error_type_is_wrapped() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let mut service = SessionLayer::new(node).layer(tower::service_fn(handler));
    let ok = service
        .call(Request::get("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body = ok.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
    let refused = service
        .call(
            Request::get("/refuse")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        refused.unwrap_err(),
        Refused,
        "the inner error passes through"
    );
}
