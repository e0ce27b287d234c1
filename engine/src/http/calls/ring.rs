//! The ring timeout: a timer per pending call, rescheduled from the
//! database when the engine starts.

// The call rules and helpers of the parent.
use super::*;

/// Schedules the ring timeout of a call created at `created_at_ms`: when it
/// is due and the call still pending, the call becomes `missed`
/// (`ring_timeout`), pushed to both parties. Stops at shutdown.
pub(crate) fn schedule_ring_timeout(state: &AppState, call_id: String, created_at_ms: u64) {
    let state = state.clone();
    let deadline = created_at_ms.saturating_add(ring_timeout_ms(&state));
    tokio::spawn(async move {
        loop {
            let wait = deadline.saturating_sub(now_ms());
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            let (st, id) = (state.clone(), call_id.clone());
            let timeout = ring_timeout_ms(&state);
            let order = in_order(&call_id).await;
            let expired = state
                .db
                .call(move |c| {
                    let expired = calls::expire(c, &id, timeout)?;
                    let queued = outbox(&st, c, expired.as_slice())?;
                    Ok((expired, queued))
                })
                .await;
            if let Ok((expired, queued)) = &expired {
                publish(&state, expired.as_slice(), *queued);
            }
            drop(order);
            match expired.map(|(expired, _)| expired) {
                Ok(Some(call)) => {
                    tracing::info!(app_id = %call.app_id, call_id = %call.call_id, "call missed (ring timeout)");
                    close_room(&state, &call);
                    return;
                }
                // Not due yet by the wall clock (the sleep is monotonic):
                // wait again. Otherwise the call was answered or ended.
                Ok(None) if now_ms() < deadline => continue,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, call_id, "ring timeout failed");
                    return;
                }
            }
        }
    });
}

/// On start: schedules the ring timeout of every call still pending in the
/// database (those already due expire at once).
pub(crate) async fn resume_pending(state: &AppState) -> Result<usize, crate::db::DbError> {
    let pending = state.db.call(|c| calls::pending(c)).await?;
    for (_, call_id, created_at_ms) in &pending {
        schedule_ring_timeout(state, call_id.clone(), *created_at_ms);
    }
    if !pending.is_empty() {
        tracing::info!(
            count = pending.len(),
            "ring timeouts of pending calls rescheduled"
        );
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), String> {
        let uri: axum::http::Uri = format!("/api/v1/calls{query}").parse().unwrap();
        check_list_query(Query::try_from_uri(&uri)).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn the_list_query_accepts_only_the_pending_callee_listing() {
        for ok in [
            "",
            "?",
            "?role=callee",
            "?status=pending",
            "?role=callee&status=pending",
            "?status=pending&role=callee",
            "?role=callee&&status=pending&",
            "?role=%63allee",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "?role=caller",
            "?role=",
            "?role",
            "?role=Callee",
            "?status=ringing",
            "?status=pending,ringing",
            "?role=callee&role=callee",
            "?status=pending&status=pending",
            "?limit=10",
            "?role=callee&status=pending&x=1",
            "?=callee",
            "?role%3Dcallee",
        ] {
            let e = check(bad).expect_err(bad);
            assert!(
                e.contains("InvalidArgument") || e.contains("invalid_argument"),
                "{bad}: {e}"
            );
        }
    }
}
