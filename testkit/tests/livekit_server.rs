//! Proves the test helper starts a real, usable livekit-server and cleans up.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use utd_testkit::LiveKitServer;

fn room_client(server: &LiveKitServer) -> RoomClient {
    RoomClient::with_api_key(&server.http_url(), server.api_key(), server.api_secret())
}

#[tokio::test]
async fn room_service_creates_lists_and_deletes_a_room_with_a_participant_cap() {
    let server = LiveKitServer::start().expect("livekit-server starts");
    let rooms = room_client(&server);

    let created = rooms
        .create_room(
            "testkit-call",
            CreateRoomOptions {
                max_participants: 2,
                empty_timeout: 60,
                ..Default::default()
            },
        )
        .await
        .expect("CreateRoom succeeds");
    assert_eq!(created.name, "testkit-call");
    assert_eq!(created.max_participants, 2);

    let listed = rooms.list_rooms(vec![]).await.expect("ListRooms succeeds");
    let room = listed
        .iter()
        .find(|r| r.name == "testkit-call")
        .expect("the created room is listed");
    assert_eq!(
        room.max_participants, 2,
        "the cap is what the server stores"
    );
    assert_eq!(room.sid, created.sid);

    rooms
        .delete_room("testkit-call")
        .await
        .expect("DeleteRoom succeeds");
    let after = rooms.list_rooms(vec![]).await.expect("ListRooms succeeds");
    assert!(
        after.iter().all(|r| r.name != "testkit-call"),
        "deleted room is gone: {after:?}"
    );
}

#[tokio::test]
async fn room_service_rejects_a_wrong_secret() {
    // Shows the server really checks the key pair the helper configured, so
    // tests that mint tokens with api_secret() are testing something.
    let server = LiveKitServer::start().expect("livekit-server starts");
    let forged = RoomClient::with_api_key(&server.http_url(), server.api_key(), "not-the-secret");
    assert!(forged.list_rooms(vec![]).await.is_err());
}

#[test]
fn two_servers_run_side_by_side_on_different_ports() {
    // Each server lives on its own thread, started at the same time, as in
    // parallel tests. The threads hold their server until the main thread has
    // checked both: a server dies with the thread that started it
    // (PR_SET_PDEATHSIG), so returning it from the thread would kill it.
    let (report, reports) = std::sync::mpsc::channel();
    let release = std::sync::Arc::new(std::sync::Barrier::new(3));
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let report = report.clone();
            let release = release.clone();
            std::thread::spawn(move || {
                let server = LiveKitServer::start().expect("livekit-server starts");
                report
                    .send((
                        server.http_port(),
                        server.udp_port(),
                        server.pid(),
                        server.is_healthy(),
                    ))
                    .expect("main thread listens");
                release.wait();
            })
        })
        .collect();
    let a = reports
        .recv_timeout(Duration::from_secs(60))
        .expect("server a");
    let b = reports
        .recv_timeout(Duration::from_secs(60))
        .expect("server b");
    assert!(a.3 && b.3, "both answer their health check while both run");
    assert_ne!(a.0, b.0, "different HTTP ports");
    assert_ne!(a.1, b.1, "different UDP ports");
    assert_ne!(a.2, b.2, "different processes");
    release.wait();
    for holder in holders {
        holder.join().expect("holder thread");
    }
}

#[test]
fn dropping_the_server_kills_it_and_frees_its_ports() {
    let server = LiveKitServer::start().expect("livekit-server starts");
    let (pid, http_port, udp_port) = (server.pid(), server.http_port(), server.udp_port());
    assert!(process_exists(pid));
    drop(server);

    assert!(
        !process_exists(pid),
        "process {pid} is gone (killed and reaped)"
    );
    // Ports come back right away because the process was reaped in Drop.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let tcp_free = TcpListener::bind((Ipv4Addr::LOCALHOST, http_port)).is_ok();
        let udp_free = UdpSocket::bind((Ipv4Addr::LOCALHOST, udp_port)).is_ok();
        if tcp_free && udp_free {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ports {http_port}/{udp_port} still taken"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_binary_gives_an_actionable_error() {
    // Runs the real lookup with an override pointing nowhere, in a child
    // process so the environment change cannot leak into parallel tests.
    if std::env::var_os("UTD_TESTKIT_CHILD").as_deref() == Some("missing-binary".as_ref()) {
        let error = LiveKitServer::start().expect_err("no binary, no server");
        let text = format!("{error:#}");
        assert!(text.contains("scripts/setup.sh livekit"), "{text}");
        assert!(text.contains("/nonexistent/livekit-server"), "{text}");
        return;
    }
    let output = rerun_in_child(
        "a_missing_binary_gives_an_actionable_error",
        "missing-binary",
        &[("UTD_LIVEKIT_SERVER_BIN", "/nonexistent/livekit-server")],
    );
    assert!(
        output.status.success(),
        "child failed:\n{}",
        describe(&output)
    );
}

#[test]
fn a_server_dies_with_its_test_process_even_without_destructors() {
    // A test binary that aborts (double panic, SIGKILL from a CI timeout)
    // runs no Drop; PR_SET_PDEATHSIG must still take the server down.
    if std::env::var_os("UTD_TESTKIT_CHILD").as_deref() == Some("abort".as_ref()) {
        let server = LiveKitServer::start().expect("livekit-server starts");
        println!("LIVEKIT_PID={}", server.pid());
        std::io::Write::flush(&mut std::io::stdout()).expect("flush");
        std::process::abort();
    }
    let output = rerun_in_child(
        "a_server_dies_with_its_test_process_even_without_destructors",
        "abort",
        &[],
    );
    assert!(!output.status.success(), "the child aborted");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pid: u32 = stdout
        .lines()
        // libtest prints the test name on the same line before it.
        .find_map(|l| l.split_once("LIVEKIT_PID=").map(|(_, pid)| pid))
        .unwrap_or_else(|| panic!("child printed its server pid:\n{}", describe(&output)))
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_running(pid) {
        assert!(
            Instant::now() < deadline,
            "livekit-server {pid} outlived its test process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs one test of this binary again in a child process with
/// `UTD_TESTKIT_CHILD=<mode>` set. Output is captured so the child's own
/// "test result" line does not show up in the parent's output.
fn rerun_in_child(test: &str, mode: &str, env: &[(&str, &str)]) -> std::process::Output {
    let me = std::env::current_exe().expect("test binary path");
    let mut command = std::process::Command::new(me);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("UTD_TESTKIT_CHILD", mode);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("re-run the test in a child")
}

fn describe(output: &std::process::Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// True while `pid` runs. A killed process whose new parent has not reaped it
/// yet is a zombie (state Z in /proc): that counts as gone.
fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

fn process_exists(pid: u32) -> bool {
    // kill(pid, 0) only checks existence; a zombie still exists, so a false
    // here also proves Drop reaped the process.
    let pid = libc::pid_t::try_from(pid).expect("pid fits in pid_t");
    // SAFETY: signal 0 sends nothing; it only queries the pid.
    unsafe { libc::kill(pid, 0) == 0 }
}
