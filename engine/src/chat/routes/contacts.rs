//! A user's contact list and blocks.

// The handlers share the parent's extractors, validators and imports.
use super::*;

/// The contact and block routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/chat/contacts", get(contacts))
        .route(
            "/api/v1/chat/contacts/{identity}",
            put(add_contact).delete(remove_contact),
        )
        .route("/api/v1/chat/blocks", get(blocks))
        .route(
            "/api/v1/chat/blocks/{identity}",
            put(add_block).delete(remove_block),
        )
}

fn other_identity(user: &User, identity: &str, what: &str) -> Result<(), ApiError> {
    validate_identity(identity)?;
    if identity == user.session.identity {
        return Err(ApiError::invalid_argument(format!(
            "you cannot {what} yourself"
        )));
    }
    Ok(())
}

/// `GET /api/v1/chat/contacts`.
async fn contacts(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    let list = run(&state, move |c| Ok(db::contacts(c, &app, &me)?)).await?;
    Ok(Json(json!({ "contacts": list })))
}

/// `PUT /api/v1/chat/contacts/{identity}` (`max_friends`).
async fn add_contact(
    State(state): State<AppState>,
    user: User,
    ApiPath(identity): ApiPath<String>,
) -> Result<Json<db::Contact>, ApiError> {
    other_identity(&user, &identity, "add")?;
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    let contact = run(&state, move |c| {
        db::add_contact(c, &app, &me, &identity, now_ms())
    })
    .await?;
    Ok(Json(contact))
}

/// `DELETE /api/v1/chat/contacts/{identity}`.
async fn remove_contact(
    State(state): State<AppState>,
    user: User,
    ApiPath(identity): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    validate_identity(&identity)?;
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    run(&state, move |c| db::remove_contact(c, &app, &me, &identity)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/chat/blocks`.
async fn blocks(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    let list = run(&state, move |c| Ok(db::blocks(c, &app, &me)?)).await?;
    Ok(Json(json!({ "blocks": list })))
}

/// `PUT /api/v1/chat/blocks/{identity}`.
async fn add_block(
    State(state): State<AppState>,
    user: User,
    ApiPath(identity): ApiPath<String>,
) -> Result<Json<db::Block>, ApiError> {
    other_identity(&user, &identity, "block")?;
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    let block = run(&state, move |c| {
        db::add_block(c, &app, &me, &identity, now_ms())
    })
    .await?;
    Ok(Json(block))
}

/// `DELETE /api/v1/chat/blocks/{identity}`.
async fn remove_block(
    State(state): State<AppState>,
    user: User,
    ApiPath(identity): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    validate_identity(&identity)?;
    require_chat(&user.app)?;
    let (app, me) = app_and_me(&user);
    run(&state, move |c| db::remove_block(c, &app, &me, &identity)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c: ListCursor = (123, "conv_AAAAAAAAAAAAAAAAAAAAAA".into());
        assert_eq!(decode_cursor(&encode_cursor(&c)).unwrap(), c);
        assert!(decode_cursor("garbage!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("1.conv_x")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x.conv_AAAAAAAAAAAAAAAAAAAAAA")).is_err());
    }
}
