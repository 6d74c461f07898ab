//! The typed routes: each handler's `#[utoipa::path]` is its entry in the
//! OpenAPI document, and its extractors (`flick::http::openapi`) hold input
//! to the same types.

use axum::extract::State;
use axum::http::StatusCode;
use flick::http::openapi::{Json, Path, Problem, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::state::AppState;

/// A stored item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub quantity: u32,
}

/// An item to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItem {
    pub name: String,
    pub quantity: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many items.
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: String,
}

#[utoipa::path(get, path = "/items", params(ListQuery),
    responses((status = 200, body = [Item]), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_items(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Json<Vec<Item>> {
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    Json(state.store().items.values().take(limit).cloned().collect())
}

#[utoipa::path(post, path = "/items", request_body = NewItem, security(("bearer" = [])),
    responses((status = 201, body = Item), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_item(
    State(state): State<AppState>,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), Problem> {
    let mut store = state.store();
    if store.items.len() >= state.max_items {
        return Err(Problem::new(StatusCode::CONFLICT, "the store is full"));
    }
    store.next_id += 1;
    let item = Item {
        id: store.next_id,
        name: new.name,
        quantity: new.quantity,
    };
    store.items.insert(item.id, item.clone());
    Ok((StatusCode::CREATED, Json(item)))
}

#[utoipa::path(get, path = "/items/{id}", params(("id" = u64, Path, description = "The item's id")),
    responses((status = 200, body = Item), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_item(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Item>, Problem> {
    state
        .store()
        .items
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| not_found(id))
}

#[utoipa::path(delete, path = "/items/{id}", params(("id" = u64, Path, description = "The item's id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_item(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<StatusCode, Problem> {
    match state.store().items.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(not_found(id)),
    }
}

#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

fn not_found(id: u64) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("no item {id}"))
}
