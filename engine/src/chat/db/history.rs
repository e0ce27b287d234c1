//! History pages (before / after / around a seq) and catch-up (`changes`).

use super::*;

/// Where a history page is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The newest messages.
    Latest,
    /// Messages with `seq` below.
    Before(u64),
    /// Messages with `seq` above.
    After(u64),
    /// Messages centred on `seq` (included).
    Around(u64),
}

/// A history page, ascending `seq`.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub messages: Vec<Message>,
    pub has_more_before: bool,
    pub has_more_after: bool,
}

fn page_query(
    conn: &Conn<'_>,
    conversation_id: &str,
    cutoff_ms: u64,
    sql_tail: &str,
    seq: u64,
    limit: usize,
) -> Result<Vec<Message>, DbError> {
    conn.query_map(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE conversation_id = ?1 AND created_at_ms >= ?2 {sql_tail} LIMIT ?4"
        ),
        params![
            conversation_id,
            i(cutoff_ms),
            i(seq),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        message_from_row,
    )
}

const DESC_BELOW: &str = "AND seq < ?3 ORDER BY seq DESC";
const ASC_ABOVE: &str = "AND seq > ?3 ORDER BY seq ASC";
const ASC_FROM: &str = "AND seq >= ?3 ORDER BY seq ASC";

fn exists_below(conn: &Conn<'_>, id: &str, seq: u64, cutoff: u64) -> Result<bool, DbError> {
    Ok(!page_query(conn, id, cutoff, DESC_BELOW, seq, 1)?.is_empty())
}

fn exists_above(conn: &Conn<'_>, id: &str, seq: u64, cutoff: u64) -> Result<bool, DbError> {
    Ok(!page_query(conn, id, cutoff, ASC_ABOVE, seq, 1)?.is_empty())
}

/// A page of history within retention.
pub fn history(
    conn: &Conn<'_>,
    conversation_id: &str,
    anchor: Anchor,
    limit: u32,
    cutoff_ms: u64,
) -> Result<Page, DbError> {
    let n = limit as usize;
    let id = conversation_id;
    let messages = match anchor {
        Anchor::Latest => {
            let mut v = page_query(conn, id, cutoff_ms, DESC_BELOW, u64::MAX, n)?;
            v.reverse();
            v
        }
        Anchor::Before(s) => {
            let mut v = page_query(conn, id, cutoff_ms, DESC_BELOW, s, n)?;
            v.reverse();
            v
        }
        Anchor::After(s) => page_query(conn, id, cutoff_ms, ASC_ABOVE, s, n)?,
        Anchor::Around(s) => {
            let mut below = page_query(conn, id, cutoff_ms, DESC_BELOW, s, n)?;
            let mut from = page_query(conn, id, cutoff_ms, ASC_FROM, s, n)?;
            // Half before the anchor, the rest from it; a short side leaves
            // its room to the other.
            let want_below = (n / 2).min(below.len());
            let take_from = from.len().min(n - want_below);
            let take_below = below.len().min(n - take_from);
            below.truncate(take_below);
            below.reverse();
            from.truncate(take_from);
            below.extend(from);
            below
        }
    };
    let (has_more_before, has_more_after) = match (messages.first(), messages.last()) {
        (Some(first), Some(last)) => (
            exists_below(conn, id, first.seq, cutoff_ms)?,
            exists_above(conn, id, last.seq, cutoff_ms)?,
        ),
        _ => match anchor {
            Anchor::Latest => (false, false),
            Anchor::Before(s) => (
                false,
                exists_above(conn, id, s.saturating_sub(1), cutoff_ms)?,
            ),
            Anchor::After(s) => (
                exists_below(conn, id, s.saturating_add(1), cutoff_ms)?,
                false,
            ),
            Anchor::Around(_) => (false, false),
        },
    };
    Ok(Page {
        messages,
        has_more_before,
        has_more_after,
    })
}

/// The answer of `changes?since=N`.
#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    pub messages: Vec<Message>,
    pub mod_seq: u64,
    pub has_more: bool,
    pub reset: bool,
}

/// The messages changed after `since`, ascending `mod_seq`, each once in
/// its latest form; past the gap (or a `since` the conversation never
/// reached) a reset.
pub fn changes(
    conn: &Conn<'_>,
    conv: &ConvRow,
    since: u64,
    limit: u32,
    gap: u64,
    cutoff_ms: u64,
) -> Result<Changes, DbError> {
    if since > conv.mod_seq || conv.mod_seq - since > gap {
        return Ok(Changes {
            messages: vec![],
            mod_seq: conv.mod_seq,
            has_more: false,
            reset: true,
        });
    }
    let mut messages: Vec<Message> = conn.query_map(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE conversation_id = ?1 AND mod_seq > ?2 AND created_at_ms >= ?3
             ORDER BY mod_seq ASC LIMIT ?4"
        ),
        params![
            conv.conversation_id,
            i(since),
            i(cutoff_ms),
            i64::from(limit) + 1
        ],
        message_from_row,
    )?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let mod_seq = match (has_more, messages.last()) {
        (true, Some(last)) => last.mod_seq,
        _ => conv.mod_seq,
    };
    Ok(Changes {
        messages,
        mod_seq,
        has_more,
        reset: false,
    })
}
