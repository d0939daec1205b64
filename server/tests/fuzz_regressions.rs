//! Inputs worth keeping from fuzzing the frame -> handler path (`scripts/fuzz.sh`),
//! replayed over a real WebSocket: the connection gets an answer or is closed with an
//! ERROR, and the server keeps serving. The string inputs are shapes the corpus grew
//! around; the files in `tests/fixtures/fuzz/` are inputs fuzzing reported (a timeout:
//! a session's handler once waited on its own full outbound queue).

mod common;

use chatkitty_protocol::Command;
use common::*;

const INPUTS: &[&str] = &[
    // Destinations that are almost ours.
    "SUBSCRIBE\nid:1\ndestination:/appLication//application/v1/user.relay\n\n\0",
    "SUBSCRIBE\nid:1\ndestination:/application/v1/channels/1/messages.relay?before=-1&size=99999999999999999999\n\n\0",
    "SUBSCRIBE\nid:1\ndestination:/application/v1/channels/1/messages.relay?after=abc\n\n\0",
    "SUBSCRIBE\nid:1\ndestination:/application/v1/threads/message-99999999999999999999.relay\n\n\0",
    "SUBSCRIBE\nid:1\nreceipt:r\ndestination:/topic/v1/threads/main-0/typing\n\n\0",
    // Bodies of the wrong shape.
    "SEND\ndestination:/application/v1/user.create_channel\nreceipt:r\n\n{\"type\":\"DIRECT\",\"members\":[{\"id\":-1},{\"username\":\"\"}]}\0",
    "SEND\ndestination:/application/v1/user.update\nreceipt:r\n\n{\"displayName\":\"x\",\"properties\":[],\"presence\":{\"status\":1}}\0",
    "SEND\ndestination:/application/v1/channels/1.message\nreceipt:r\n\n{\"type\":\"TEXT\",\"body\":\"<@<#<@>\\u0000\"}\0",
    "SEND\ndestination:/application/v1/messages/1.react\nreceipt:r\n\n{\"emoji\":\"\\ud83d\"}\0",
    "SEND\ndestination:/application/v1/user.create_channel\nreceipt:r\n\n\u{0}",
    // Frames in the wrong order or of the wrong kind.
    "CONNECT\naccept-version:1.2\n\n\0",
    "MESSAGE\nsubscription:1\n\n\0",
    "UNSUBSCRIBE\nid:never\n\n\0ACK\nid:x\n\n\0NACK\nid:x\n\n\0BEGIN\ntransaction:t\nreceipt:r\n\n\0",
];

#[tokio::test]
async fn fuzz_shaped_inputs_are_answered_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let dm = jane.direct_with("john").await;
    for input in INPUTS {
        let mut c = Client::start(&server.host(), "mallory").await;
        c.send_raw(input).await;
        // Either answers (MESSAGE/RECEIPT) or an ERROR and a close; never silence
        // followed by a dead server.
        let mut errored = false;
        while let Some(f) = c.next_frame(std::time::Duration::from_millis(300)).await {
            errored |= f.command == Command::Error;
        }
        if errored || c.closed {
            assert!(
                c.wait_closed().await,
                "an ERROR is followed by a close: {input:?}"
            );
        } else {
            assert!(
                c.relay("/application/v1/user.relay", &[]).await.is_ok(),
                "session still serves after {input:?}"
            );
        }
    }
    jane.send_text(&dm, "still alive").await.unwrap();
    let (_, f) = Client::connect_raw(&server.host(), KEY, "late", &[]).await;
    assert_eq!(f.command, Command::Connected);
}

/// Each input fuzzing reported, sent as one binary WebSocket message: answered or closed
/// within seconds, and the server keeps serving others.
#[tokio::test]
async fn reported_fuzz_inputs_finish_promptly() {
    let server = TestServer::start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        let mut c = Client::start(&server.host(), "mallory").await;
        c.send_binary(bytes).await;
        let started = std::time::Instant::now();
        while c
            .next_frame(std::time::Duration::from_millis(500))
            .await
            .is_some()
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "still answering"
            );
        }
        count += 1;
    }
    assert!(count > 0, "no fixtures in {dir:?}");
    let mut jane = Client::start(&server.host(), "jane").await;
    let dm = jane.direct_with("john").await;
    jane.send_text(&dm, "still alive").await.unwrap();
}
