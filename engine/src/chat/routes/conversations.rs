//! Conversations: the list, direct and group conversations, members and roles.

// The handlers share the parent's extractors, validators and imports.
use super::*;

/// The conversation and member routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chat/conversations",
            get(list_conversations).post(create_group),
        )
        .route("/api/v1/chat/conversations/direct", post(open_direct))
        .route(CONV, get(get_conversation).patch(rename))
        .route(&format!("{CONV}/members"), get(members).post(add_members))
        .route(
            &format!("{CONV}/members/{{identity}}"),
            axum::routing::delete(remove_member),
        )
        .route(&format!("{CONV}/members/{{identity}}/role"), put(set_role))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/v1/chat/conversations`.
async fn list_conversations(
    State(state): State<AppState>,
    user: User,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size(q.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    require_chat(&user.app)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let (views, next, total) = run(&state, move |c| {
        let (views, next) = db::list(c, &app, &me, cursor.as_ref(), limit, cutoff)?;
        let total = db::total_unread(c, &app, &me, cutoff)?;
        Ok((views, next, total))
    })
    .await?;
    Ok(Json(json!({
        "conversations": views,
        "next_cursor": next.as_ref().map(encode_cursor),
        "total_unread": total,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectRequest {
    identity: String,
}

/// `POST /api/v1/chat/conversations/direct`: 201 when created, 200 when it
/// existed.
async fn open_direct(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<DirectRequest>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    validate_identity(&req.identity)?;
    if req.identity == user.session.identity {
        return Err(ApiError::invalid_argument(
            "a direct conversation needs another user",
        ));
    }
    require_chat(&user.app)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_of(&state, &app, vec![me.clone(), req.identity.clone()]).await;
    // The id it gets if this call creates it: its pushes are then ordered
    // before any other change of it (none pushes when it existed).
    let new_id = new_conversation_id();
    let order = pushes::in_order(&new_id).await;
    let (view, created, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let (conv, created) = db::open_direct(c, &app, &new_id, &me, &req.identity, now_ms())?;
        let id = &conv.conversation_id;
        if created {
            pushes::conversation_changed(&mut out, c, &app, id, cutoff, &online)?;
        }
        let (conv, mine) = db::membership(c, &app, id, &me)?;
        Ok((db::view(c, &conv, &mine, cutoff)?, created, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GroupKind {
    Group,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroupRequest {
    #[allow(dead_code)] // only "group" deserializes
    kind: GroupKind,
    title: String,
    members: Option<Vec<String>>,
}

/// `POST /api/v1/chat/conversations` (a group; the caller owns it).
async fn create_group(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<CreateGroupRequest>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    check_title(&req.title)?;
    let mut others = identities(req.members.as_deref().unwrap_or_default(), "members")?;
    others.retain(|i| *i != user.session.identity);
    require_chat(&user.app)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let mut joining = vec![me.clone()];
    joining.extend(others.iter().cloned());
    let online = pushes::online_of(&state, &app, joining).await;
    let id = new_conversation_id();
    let order = pushes::in_order(&id).await;
    let (view, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        db::create_group(c, &app, &id, &me, &req.title, &others, now_ms())?;
        pushes::conversation_changed(&mut out, c, &app, &id, cutoff, &online)?;
        let (conv, mine) = db::membership(c, &app, &id, &me)?;
        Ok((db::view(c, &conv, &mine, cutoff)?, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    tracing::info!(app_id = %user.app.app_id, conversation_id = %view.conversation_id,
        members = view.member_count, "group created");
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/chat/conversations/{id}`.
async fn get_conversation(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConversationView>, ApiError> {
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let view = run(&state, move |c| {
        let (conv, mine) = db::membership(c, &app, &id, &me)?;
        Ok(db::view(c, &conv, &mine, cutoff)?)
    })
    .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameRequest {
    title: String,
}

/// `PATCH /api/v1/chat/conversations/{id}` (a group's title).
async fn rename(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<RenameRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    check_title(&req.title)?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let (view, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        db::rename(c, &app, &id, &me, &req.title)?;
        pushes::conversation_changed(&mut out, c, &app, &id, cutoff, &online)?;
        let (conv, mine) = db::membership(c, &app, &id, &me)?;
        Ok((db::view(c, &conv, &mine, cutoff)?, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(view))
}

/// `GET /api/v1/chat/conversations/{id}/members`.
async fn members(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let (app, me) = app_and_me(&user);
    let members = run(&state, move |c| {
        db::membership(c, &app, &id, &me)?;
        Ok(db::members(c, &id)?)
    })
    .await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMembersRequest {
    identities: Vec<String>,
}

/// `POST /api/v1/chat/conversations/{id}/members`.
async fn add_members(
    State(state): State<AppState>,
    user: User,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<AddMembersRequest>,
) -> Result<Json<Value>, ApiError> {
    if req.identities.is_empty() {
        return Err(ApiError::invalid_argument(
            "identities must hold at least one identity",
        ));
    }
    let adding = identities(&req.identities, "identities")?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &adding).await?;
    let order = pushes::in_order(&id).await;
    let (members, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let (_, added) = db::add_members(c, &app, &id, &me, &adding, now_ms())?;
        if !added.is_empty() {
            pushes::conversation_changed(&mut out, c, &app, &id, cutoff, &online)?;
        }
        Ok((db::members(c, &id)?, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(json!({ "members": members })))
}

/// `DELETE /api/v1/chat/conversations/{id}/members/{identity}` (yourself:
/// leave).
async fn remove_member(
    State(state): State<AppState>,
    user: User,
    ApiPath((id, identity)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    validate_identity(&identity)?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let (a, c_id) = (app.clone(), id.clone());
    let (removed, remaining, gone, changed) = run(&state, move |c| {
        let removed = db::remove_member(c, &app, &id, &me, &identity)?;
        let mut gone = pushes::Outbox::default();
        pushes::removed(&mut gone, &app, &id, &removed.identity);
        let remaining = db::member_identities(c, &id)?;
        let mut changed = pushes::Outbox::default();
        pushes::conversation_changed(&mut changed, c, &app, &id, cutoff, &online)?;
        Ok((removed, remaining, gone, changed))
    })
    .await?;
    tracing::info!(app_id = %a, conversation_id = %c_id, identity = %removed.identity,
        by = %user.session.identity, new_owner = removed.new_owner.as_deref().unwrap_or(""),
        "member removed");
    gone.send(&state);
    typing::member_gone(&state, &a, &c_id, &removed.identity, &remaining).await;
    changed.send(&state);
    drop(order);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoleName {
    Admin,
    Member,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    role: RoleName,
}

/// `PUT /api/v1/chat/conversations/{id}/members/{identity}/role`.
async fn set_role(
    State(state): State<AppState>,
    user: User,
    ApiPath((id, identity)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<RoleRequest>,
) -> Result<Json<Member>, ApiError> {
    validate_identity(&identity)?;
    require_chat(&user.app)?;
    let id = conversation_id(&id)?;
    let role = match req.role {
        RoleName::Admin => db::ADMIN,
        RoleName::Member => db::MEMBER,
    };
    let cutoff = retention_cutoff(&user.app, now_ms());
    let (app, me) = app_and_me(&user);
    let online = pushes::online_members(&state, &app, &id, &[]).await?;
    let order = pushes::in_order(&id).await;
    let (member, out) = run(&state, move |c| {
        let mut out = pushes::Outbox::default();
        let (_, member) = db::set_role(c, &app, &id, &me, &identity, role)?;
        pushes::conversation_changed(&mut out, c, &app, &id, cutoff, &online)?;
        Ok((member, out))
    })
    .await?;
    out.send(&state);
    drop(order);
    Ok(Json(member))
}
