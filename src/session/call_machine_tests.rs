//! Table tests of the call state machine: every action in every state on
//! both sides, and every engine snapshot in every state.

use super::*;
use UTDCallStatus as S;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Send,
    Done,
    Forbidden,
    Invalid,
}

fn outcome(machine: &CallMachine, action: CallAction) -> Outcome {
    match machine.permit(action) {
        Ok(Permit::Send) => Outcome::Send,
        Ok(Permit::AlreadyDone) => Outcome::Done,
        Err(e) if e.code() == UTDErrorCode::Forbidden => Outcome::Forbidden,
        Err(e) if e.code() == UTDErrorCode::InvalidState => Outcome::Invalid,
        Err(e) => panic!("unexpected refusal {e}"),
    }
}

/// Expected outcome for the callee, per status, for
/// [Ringing, Accept, Reject, Busy, End].
fn callee_expectation(status: UTDCallStatus) -> [Outcome; 5] {
    use Outcome::*;
    match status {
        S::Initiating => [Send, Send, Send, Send, Send],
        S::Ringing => [Done, Send, Send, Send, Send],
        S::Active => [Invalid, Done, Invalid, Invalid, Send],
        S::AnsweredElsewhere => [Invalid, Invalid, Done, Done, Done],
        // Every other terminal state.
        _ => [Invalid, Invalid, Done, Done, Done],
    }
}

#[test]
fn every_action_in_every_state_on_both_sides() {
    use Outcome::*;
    for status in UTDCallStatus::ALL {
        let caller = CallMachine::new(CallRole::Caller, status, None);
        let callee = CallMachine::new(CallRole::Callee, status, Some("d1".into()));
        let expected = callee_expectation(status);
        for (i, action) in CallAction::ALL.into_iter().enumerate() {
            assert_eq!(
                outcome(&callee, action),
                expected[i],
                "callee {action:?} in {status:?}"
            );
            let caller_expected = match (action, status.is_terminal()) {
                (CallAction::End, false) => Send,
                (CallAction::End, true) => Done,
                _ => Forbidden,
            };
            assert_eq!(
                outcome(&caller, action),
                caller_expected,
                "caller {action:?} in {status:?}"
            );
        }
    }
}

/// Statuses the engine itself reports.
const ENGINE_STATUSES: [UTDCallStatus; 8] = [
    S::Initiating,
    S::Ringing,
    S::Active,
    S::Ended,
    S::Rejected,
    S::Busy,
    S::Missed,
    S::Cancelled,
];

fn view(status: UTDCallStatus, answered_by: Option<&str>) -> EngineView {
    EngineView {
        status,
        answered_by_device: answered_by.map(str::to_owned),
    }
}

fn rank_of(status: UTDCallStatus) -> u8 {
    super::rank(status)
}

#[test]
fn no_sequence_of_snapshots_moves_a_call_backwards_or_out_of_a_terminal_state() {
    // Every sequence of three engine snapshots (answered by this device or
    // another), applied to a fresh machine on either side.
    let answered = [None, Some("d1"), Some("d2")];
    let mut snapshots = Vec::new();
    for status in ENGINE_STATUSES {
        for by in answered {
            snapshots.push(view(status, by));
        }
    }
    for role in [CallRole::Caller, CallRole::Callee] {
        for a in &snapshots {
            for b in &snapshots {
                for c in &snapshots {
                    let mut machine = CallMachine::new(role, S::Initiating, Some("d1".into()));
                    let mut previous = machine.status();
                    for snapshot in [a, b, c] {
                        machine.apply(snapshot);
                        let now = machine.status();
                        assert!(
                            rank_of(now) >= rank_of(previous),
                            "{role:?}: {previous:?} went back to {now:?} on {snapshot:?}"
                        );
                        if previous.is_terminal() {
                            assert_eq!(now, previous, "{role:?}: terminal {previous:?} changed");
                        }
                        previous = now;
                    }
                }
            }
        }
    }
}

#[test]
fn each_engine_status_as_each_side_sees_it() {
    // (engine status, answered by, callee declined here) → (caller sees, callee d1 sees)
    let table = [
        (S::Ringing, None, false, S::Ringing, S::Ringing),
        (S::Active, Some("d1"), false, S::Active, S::Active),
        (
            S::Active,
            Some("d2"),
            false,
            S::Active,
            S::AnsweredElsewhere,
        ),
        (S::Rejected, None, true, S::Rejected, S::Rejected),
        (S::Rejected, None, false, S::Rejected, S::DeclinedElsewhere),
        (S::Busy, None, true, S::Busy, S::Busy),
        (S::Busy, None, false, S::Busy, S::DeclinedElsewhere),
        (S::Missed, None, false, S::Missed, S::Missed),
        (S::Cancelled, None, false, S::Cancelled, S::Cancelled),
        (S::Ended, Some("d2"), false, S::Ended, S::AnsweredElsewhere),
    ];
    for (engine, by, declined_here, caller_sees, callee_sees) in table {
        let mut caller = CallMachine::new(CallRole::Caller, S::Ringing, None);
        caller.apply(&view(engine, by));
        assert_eq!(caller.status(), caller_sees, "caller on {engine:?}");
        let mut callee = CallMachine::new(CallRole::Callee, S::Ringing, Some("d1".into()));
        if declined_here {
            callee.note_sending(CallAction::Reject);
        }
        callee.apply(&view(engine, by));
        assert_eq!(
            callee.status(),
            callee_sees,
            "callee on {engine:?} by {by:?}"
        );
    }
}

#[test]
fn the_device_that_answered_sees_the_hang_up_as_ended() {
    let mut callee = CallMachine::new(CallRole::Callee, S::Ringing, Some("d1".into()));
    callee.note_sending(CallAction::Accept);
    // The hang-up overtakes the accept reply.
    assert_eq!(callee.apply(&view(S::Ended, Some("d1"))), Some(S::Ended));
    assert_eq!(
        callee.apply(&view(S::Active, Some("d1"))),
        None,
        "late reply ignored"
    );
}

#[test]
fn without_device_ids_the_answering_device_is_the_one_that_sent_accept() {
    let mut here = CallMachine::new(CallRole::Callee, S::Ringing, None);
    here.note_sending(CallAction::Accept);
    assert_eq!(here.apply(&view(S::Active, None)), Some(S::Active));
    let mut there = CallMachine::new(CallRole::Callee, S::Ringing, None);
    assert_eq!(
        there.apply(&view(S::Active, None)),
        Some(S::AnsweredElsewhere)
    );
}

#[test]
fn a_refused_accept_is_not_counted_as_this_devices_answer() {
    let mut callee = CallMachine::new(CallRole::Callee, S::Ringing, None);
    callee.note_sending(CallAction::Accept);
    callee.note_refused(CallAction::Accept);
    assert_eq!(
        callee.apply(&view(S::Active, None)),
        Some(S::AnsweredElsewhere)
    );
    assert_eq!(outcome(&callee, CallAction::Accept), Outcome::Invalid);
}

#[test]
fn a_callee_hanging_up_before_answering_is_a_decline_here() {
    let mut callee = CallMachine::new(CallRole::Callee, S::Ringing, Some("d1".into()));
    callee.note_sending(CallAction::End);
    assert_eq!(callee.apply(&view(S::Rejected, None)), Some(S::Rejected));
}
