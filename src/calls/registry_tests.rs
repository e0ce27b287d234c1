//! The ledger under every ordering of what can tell of one call.

use super::*;

const ID: &str = "call_Yf3abcdefghijklmnopqrs";

fn call(source: UTDCallSource, name: Option<&str>) -> UTDIncomingCall {
    UTDIncomingCall {
        call_id: ID.to_owned(),
        call_kit_uuid: crate::push::call_kit_uuid(ID),
        caller_identity: Some("bob".to_owned()),
        caller_name: name.map(str::to_owned),
        stream_type: UTDStreamType::AudioCall,
        ring_expires_at_ms: None,
        source,
    }
}

fn over(status: &str, reason: &str) -> EngineState {
    EngineState::Over {
        declined: matches!(status, "rejected" | "busy"),
        reason: UTDCallEndReason::from_wire(reason.to_owned()),
    }
}

/// One thing that can happen to the call.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Input {
    Push,
    Invitation,
    Listed,
    Cancelled,
    EndedPush,
    AnsweredElsewhere,
    Missed,
}

impl Input {
    fn is_terminal_news(self) -> bool {
        matches!(
            self,
            Input::Cancelled | Input::EndedPush | Input::AnsweredElsewhere | Input::Missed
        )
    }

    fn apply(self, r: &mut Registry) -> Vec<Note> {
        match self {
            Input::Push => r.saw_ringing(call(UTDCallSource::Push, None)),
            Input::Invitation => r.saw_engine_state(
                ID,
                EngineState::Pending,
                Some(call(UTDCallSource::WebSocket, Some("Bob"))),
            ),
            Input::Listed => r.saw_engine_state(
                ID,
                EngineState::Pending,
                Some(call(UTDCallSource::PendingList, Some("Bob"))),
            ),
            Input::Cancelled => r.saw_engine_state(ID, over("cancelled", "cancelled"), None),
            Input::EndedPush => r.saw_ended_push(ID, UTDCallEndReason::Cancelled),
            Input::AnsweredElsewhere => r.saw_engine_state(ID, EngineState::Active, None),
            Input::Missed => r.saw_engine_state(ID, over("missed", "ring_timeout"), None),
        }
    }
}

fn permutations(items: &[Input]) -> Vec<Vec<Input>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}

#[test]
fn every_ordering_announces_at_most_once_ends_at_most_once_and_never_resurrects() {
    let sets: &[&[Input]] = &[
        &[Input::Push, Input::Invitation, Input::Listed],
        &[Input::Push, Input::Invitation, Input::Cancelled],
        &[
            Input::Push,
            Input::Invitation,
            Input::EndedPush,
            Input::Listed,
        ],
        &[
            Input::Push,
            Input::Listed,
            Input::AnsweredElsewhere,
            Input::Cancelled,
        ],
        &[
            Input::Invitation,
            Input::Missed,
            Input::Push,
            Input::EndedPush,
        ],
    ];
    for set in sets {
        for order in permutations(set) {
            let mut r = Registry::default();
            let mut notes = Vec::new();
            for input in &order {
                notes.extend(input.apply(&mut r));
            }
            let incoming = notes
                .iter()
                .filter(|n| matches!(n, Note::Incoming(_)))
                .count();
            let ended: Vec<_> = notes
                .iter()
                .filter(|n| matches!(n, Note::Ended { .. }))
                .collect();
            let first_terminal = order.iter().position(|i| i.is_terminal_news());
            let first_ringing = order.iter().position(|i| !i.is_terminal_news());
            // Announced exactly when some path told of it ringing before
            // any news of its end.
            let expect_incoming = match (first_ringing, first_terminal) {
                (Some(r), Some(t)) => r < t,
                (Some(_), None) => true,
                _ => false,
            };
            assert_eq!(
                incoming,
                usize::from(expect_incoming),
                "{order:?}: {notes:?}"
            );
            // Ended once when announced and terminal news came; an
            // announcement always comes first.
            let expect_ended = expect_incoming && first_terminal.is_some();
            assert_eq!(
                ended.len(),
                usize::from(expect_ended),
                "{order:?}: {notes:?}"
            );
            if expect_ended {
                assert!(matches!(notes[0], Note::Incoming(_)), "{order:?}");
            }
            assert_eq!(
                matches!(r.phase(ID), Some(Phase::Over(_))),
                first_terminal.is_some(),
                "{order:?}"
            );
            assert!(
                r.ringing().is_empty() == first_terminal.is_some(),
                "{order:?}"
            );
        }
    }
}

#[test]
fn a_thin_push_is_filled_in_by_the_websocket_and_keeps_its_source() {
    let mut r = Registry::default();
    let notes = r.saw_ringing(call(UTDCallSource::Push, None));
    assert_eq!(notes.len(), 1);
    assert!(r
        .saw_engine_state(
            ID,
            EngineState::Pending,
            Some(call(UTDCallSource::WebSocket, Some("Bob")))
        )
        .is_empty());
    let known = r.call(ID).expect("known");
    assert_eq!(known.caller_name.as_deref(), Some("Bob"));
    assert_eq!(known.source, UTDCallSource::Push);
}

/// The reason each engine outcome gives a callee device, by what this
/// device was doing.
#[test]
fn over_reasons_depend_on_what_this_device_did() {
    let table: &[(Phase, EngineState, UTDCallEndReason)] = &[
        (
            Phase::Ringing,
            over("rejected", "rejected"),
            UTDCallEndReason::DeclinedElsewhere,
        ),
        (
            Phase::Ringing,
            over("busy", "busy"),
            UTDCallEndReason::DeclinedElsewhere,
        ),
        (
            Phase::Declining,
            over("rejected", "rejected"),
            UTDCallEndReason::Rejected,
        ),
        (
            Phase::Ringing,
            EngineState::Active,
            UTDCallEndReason::AnsweredElsewhere,
        ),
        (
            Phase::Declining,
            EngineState::Active,
            UTDCallEndReason::AnsweredElsewhere,
        ),
        (
            Phase::Accepting,
            over("cancelled", "cancelled"),
            UTDCallEndReason::Cancelled,
        ),
        (
            Phase::Ringing,
            over("missed", "ring_timeout"),
            UTDCallEndReason::RingTimeout,
        ),
        (
            Phase::InCall,
            over("ended", "hangup_caller"),
            UTDCallEndReason::HangupCaller,
        ),
    ];
    for (phase, state, reason) in table {
        let mut r = Registry::default();
        r.saw_ringing(call(UTDCallSource::WebSocket, None));
        match phase {
            Phase::Accepting => assert_eq!(r.begin_accept(ID), Ok(AcceptStart::Go)),
            Phase::InCall => {
                r.begin_accept(ID).expect("accept");
                r.accepted(ID);
            }
            Phase::Declining => assert_eq!(r.begin_decline(ID), Ok(true)),
            _ => {}
        }
        let notes = r.saw_engine_state(ID, state.clone(), None);
        assert_eq!(
            notes,
            [Note::Ended {
                call_id: ID.to_owned(),
                reason: reason.clone()
            }],
            "{phase:?} + {state:?}"
        );
    }
}

#[test]
fn an_active_call_while_this_device_accepts_waits_for_the_reply() {
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    assert_eq!(r.begin_accept(ID), Ok(AcceptStart::Go));
    assert!(r.saw_engine_state(ID, EngineState::Active, None).is_empty());
    assert!(r
        .saw_ended_push(ID, UTDCallEndReason::AnsweredElsewhere)
        .is_empty());
    r.accepted(ID);
    assert_eq!(r.phase(ID), Some(Phase::InCall));
}

#[test]
fn accepting_twice_or_after_the_end_is_a_typed_answer() {
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    assert_eq!(r.begin_accept(ID), Ok(AcceptStart::Go));
    r.accepted(ID);
    // Double accept: already in the call.
    assert_eq!(r.begin_accept(ID), Ok(AcceptStart::AlreadyInCall));
    // Accept after missed.
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    r.saw_engine_state(ID, over("missed", "ring_timeout"), None);
    assert_eq!(r.begin_accept(ID), Err(UTDCallEndReason::RingTimeout));
    // Cancel learned during a reconcile, then the accept tapped meanwhile.
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    assert_eq!(r.begin_accept(ID), Ok(AcceptStart::Go));
    let notes = r.saw_engine_state(ID, over("cancelled", "cancelled"), None);
    assert_eq!(notes.len(), 1);
    assert_eq!(r.begin_accept(ID), Err(UTDCallEndReason::Cancelled));
    // A network failure leaves the call answerable.
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    r.begin_accept(ID).expect("go");
    r.accept_interrupted(ID);
    assert_eq!(r.ringing().len(), 1);
    assert_eq!(r.begin_accept(ID), Ok(AcceptStart::Go));
}

#[test]
fn a_decline_then_accept_is_refused_and_a_decline_in_call_means_hang_up() {
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    assert_eq!(r.begin_decline(ID), Ok(true));
    assert_eq!(r.begin_accept(ID), Err(UTDCallEndReason::Rejected));
    let mut r = Registry::default();
    r.saw_ringing(call(UTDCallSource::Push, None));
    r.begin_accept(ID).expect("go");
    r.accepted(ID);
    assert_eq!(r.begin_decline(ID), Ok(false));
}

#[test]
fn outgoing_calls_are_never_announced_and_end_with_the_engine_reason() {
    let mut r = Registry::default();
    r.started_outgoing(ID);
    assert!(r
        .saw_ringing(call(UTDCallSource::WebSocket, None))
        .is_empty());
    assert_eq!(
        r.saw_engine_state(ID, over("rejected", "rejected"), None),
        [Note::Ended {
            call_id: ID.to_owned(),
            reason: UTDCallEndReason::Rejected
        }]
    );
}

#[test]
fn the_ledger_is_bounded() {
    let mut r = Registry::default();
    for i in 0..(CAPACITY + 10) {
        let id = format!("call_{i:022}");
        let mut c = call(UTDCallSource::WebSocket, None);
        c.call_id = id.clone();
        r.saw_ringing(c);
    }
    assert_eq!(r.entries.len(), CAPACITY);
    assert!(r.phase("call_0000000000000000000000").is_none());
}
