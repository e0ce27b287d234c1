//! Messages: send, edit, delete, history pages, catch-up and receipts.

// The handlers share the parent's extractors, validators and imports.
use super::*;

/// The message, history, catch-up and receipt routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{CONV}/messages"), get(history).post(send))
        .route(
            &format!("{CONV}/messages/{{message_id}}"),
            axum::routing::patch(edit).delete(delete_message),
        )
        .route(&format!("{CONV}/changes"), get(changes))
        .route(&format!("{CONV}/read"), post(read))
        .route(&format!("{CONV}/delivered"), post(delivered))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    client_message_id: String,
    text: Option<String>,
    attachments: Option<Vec<String>>,
}

fn validate_send(req: SendRequest) -> Result<NewMessage, ApiError> {
    if !is_client_message_id(&req.client_message_id) {
        return Err(ApiError::invalid_argument(
            "client_message_id must be 1..=64 characters of [A-Za-z0-9._:-]",
        ));
    }
    let text = req.text.unwrap_or_default();
    check_text(&text)?;
    let attachments = req.attachments.unwrap_or_default();
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(ApiError::invalid_argument(format!(
            "at most {MAX_ATTACHMENTS} attachments"
        )));
    }
    for (n, a) in attachments.iter().enumerate() {
        if !is_valid_text(a, 64) {
            return Err(ApiError::invalid_argument(
                "attachments are upload ids (1..=64 characters)",
            ));
        }
        if attachments[..n].contains(a) {
            return Err(ApiError::invalid_argument("an upload can be attached once"));
        }
    }
    if text.is_empty() && attachments.is_empty() {
        return Err(ApiError::invalid_argument(
            "a message needs text or attachments",
        ));
    }
    Ok(NewMessage {
        client_message_id: req.client_message_id,
        text,
        attachments,
    })
}

/// `POST /api/v1/chat/conversations/{id}/messages`: 201, or 200 and the
/// original for a `client_message_id` already sent.
async fn send(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<SendRequest>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let new = validate_send(req)?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let st = state.clone();
    let (sent, queued, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let mut queued = 0;
        let sent = db::send(c, &app, &id, &me, &new, now_ms(), |tx, conv, message| {
            queued = pushes::queue_notifications(&st, tx, conv, message, &online)?;
            Ok(())
        })?;
        if sent.created {
            pushes::message_sent(&mut out, c, &sent.conv, &sent.message, cutoff, &online)?;
        }
        Ok((sent, queued, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    // After the commit, so the dispatcher finds the queued rows.
    if queued > 0 {
        crate::push::wake(&state.push);
    }
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent.message)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditRequest {
    text: String,
}

fn message_id(id: &str) -> Result<String, ApiError> {
    if is_message_id(id) {
        Ok(id.to_owned())
    } else {
        Err(ApiError::not_found("no such message"))
    }
}

/// `PATCH /api/v1/chat/conversations/{id}/messages/{message_id}`.
async fn edit(
    State(state): State<AppState>,
    user: User,
    ApiPath((id, mid)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<EditRequest>,
) -> Result<Json<Message>, ApiError> {
    check_text(&req.text)?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let mid = message_id(&mid)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let (message, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let (conv, message) = db::edit(c, &app, &id, &me, &mid, &req.text, cutoff, now_ms())?;
        pushes::message_updated(&mut out, c, &conv, &message, false, cutoff, &online)?;
        Ok((message, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(message))
}

/// `DELETE /api/v1/chat/conversations/{id}/messages/{message_id}`: 200 and
/// the tombstone.
async fn delete_message(
    State(state): State<AppState>,
    user: User,
    ApiPath((id, mid)): ApiPath<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let mid = message_id(&mid)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let (message, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let deleted = db::delete(c, &app, &id, &me, &mid, cutoff)?;
        if deleted.changed {
            let (conv, message) = (&deleted.conv, &deleted.message);
            pushes::message_updated(&mut out, c, conv, message, true, cutoff, &online)?;
        }
        Ok((deleted.message, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(message))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<u64>,
    after: Option<u64>,
    around: Option<u64>,
    limit: Option<u32>,
}

/// `GET /api/v1/chat/conversations/{id}/messages`.
async fn history(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<db::Page>, ApiError> {
    let limit = page_size(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let anchor = match (q.before, q.after, q.around) {
        (None, None, None) => Anchor::Latest,
        (Some(s), None, None) => Anchor::Before(counter(s, "before")?),
        (None, Some(s), None) => Anchor::After(counter(s, "after")?),
        (None, None, Some(s)) => Anchor::Around(counter(s, "around")?),
        _ => {
            return Err(ApiError::invalid_argument(
                "at most one of before, after and around",
            ))
        }
    };
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let page = run(&state, move |c| {
        db::membership(c, &app, &id, &me)?;
        Ok(db::history(c, &id, anchor, limit, cutoff)?)
    })
    .await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    since: u64,
    limit: Option<u32>,
}

/// `GET /api/v1/chat/conversations/{id}/changes?since=N`.
async fn changes(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<db::Changes>, ApiError> {
    let limit = page_size(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    counter(q.since, "since")?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let changes = run(&state, move |c| {
        let (conv, _) = db::membership(c, &app, &id, &me)?;
        Ok(db::changes(c, &conv, q.since, limit, CHANGES_GAP, cutoff)?)
    })
    .await?;
    Ok(Json(changes))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptRequest {
    seq: u64,
}

async fn receipt(
    state: AppState,
    user: User,
    id: String,
    kind: Receipt,
    seq: u64,
) -> Result<Json<Value>, ApiError> {
    counter(seq, "seq")?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    // `chat.receipt` goes to every member (no presence read: `send_user`
    // reaches whichever node they are on, and costs nothing offline).
    let order = pushes::in_order(&id).await;
    let (after, unread, total, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let moved = db::receipt(c, &app, &id, &me, kind, seq)?;
        let (unread, total) = pushes::receipt_moved(&mut out, c, &moved, cutoff)?;
        Ok((moved.after, unread, total, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(json!({
        "last_read_seq": after.last_read_seq,
        "last_delivered_seq": after.last_delivered_seq,
        "unread_count": unread,
        "total_unread": total,
    })))
}

/// `POST /api/v1/chat/conversations/{id}/read`.
async fn read(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<ReceiptRequest>,
) -> Result<Json<Value>, ApiError> {
    receipt(state, user, id, Receipt::Read, req.seq).await
}

/// `POST /api/v1/chat/conversations/{id}/delivered`.
async fn delivered(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<ReceiptRequest>,
) -> Result<Json<Value>, ApiError> {
    receipt(state, user, id, Receipt::Delivered, req.seq).await
}
