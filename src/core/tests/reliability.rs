//! Reconnects, gap recovery, the offline queue and idempotent sends: each decision of
//! the core's reliability layer, with a fake server and a fake clock.

use super::*;

const MESSAGES_TOPIC: &str = "/topic/v1/channels/7/messages";
const MESSAGES_RELAY: &str = "/application/v1/channels/7/messages.relay";
const CREATED: &str = "channel.message.created";

/// After a drop: waits for the retry, opens the socket and answers CONNECTED.
/// Returns what the client sent behind CONNECT and on CONNECTED.
fn reconnect(h: &mut Harness) -> Vec<Frame> {
    let before = h.opened.len();
    while h.opened.len() == before {
        h.advance(100);
    }
    h.c.handle_open(h.now);
    let mut sent = h.take_sent();
    assert_eq!(sent.remove(0).command, Command::Connect);
    h.connected("s-2");
    sent.extend(h.take_sent());
    sent
}

/// The ids of the messages `onReceivedMessage` got, in order.
fn received(events: &[Event<Value>]) -> Vec<u64> {
    chat_events(events)
        .iter()
        .filter(|e| e.1 == ChatEvent::ReceivedMessage)
        .map(|e| e.2["id"].as_u64().unwrap())
        .collect()
}

fn live(h: &mut Harness, topic: &Frame, id: u64) {
    h.event(
        topic,
        CREATED,
        json!({"id": id, "body": format!("m{id}")}),
        None,
    );
}

/// A session with a chat session on channel 7 with `onReceivedMessage`, which got
/// messages 5 and 6 live. Returns the messages topic SUBSCRIBE.
fn chatting(h: &mut Harness) -> Frame {
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true});
    let (_, subs) = confirmed_chat(h, req);
    let topic = find(&subs, MESSAGES_TOPIC).clone();
    live(h, &topic, 5);
    live(h, &topic, 6);
    assert_eq!(received(&h.take_events()), [5, 6]);
    topic
}

/// Confirms the messages topic on the new connection and returns the recovery relay.
fn confirm_messages_topic(h: &mut Harness, sent: &[Frame]) -> Frame {
    let again = find(sent, MESSAGES_TOPIC);
    h.receipt(again.header("receipt").unwrap());
    let mut relays = h.take_sent();
    assert_eq!(relays.len(), 1, "{relays:#?}");
    relays.remove(0)
}

/// `(after, size)` of a recovery relay: in its destination's query, like page links.
fn relay_params(f: &Frame) -> (Option<String>, Option<String>) {
    let d = dest_of(f);
    let query = d.split_once('?').map_or("", |q| q.1).to_owned();
    let get = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    (get("after"), get("size"))
}

fn is_recovery(f: &Frame) -> bool {
    dest_of(f).starts_with(MESSAGES_RELAY)
}

fn params(after: Option<&str>, size: &str) -> (Option<String>, Option<String>) {
    (after.map(str::to_owned), Some(size.to_owned()))
}

// ----- reconnect backoff ------------------------------------------------------------

/// The delays of `n` reconnect attempts that all fail at once.
fn delays(h: &mut Harness, n: usize) -> Vec<u64> {
    h.session();
    h.c.handle_closed(h.now);
    let mut out = Vec::new();
    for _ in 0..n {
        let due = h.c.poll_timeout().expect("a retry is armed");
        out.push(due - h.now);
        h.now = due;
        h.c.handle_timeout(h.now);
        h.pump();
        h.c.handle_closed(h.now); // the socket failed to open
        h.pump();
    }
    out
}

#[test]
fn reconnect_delays_double_from_the_minimum_up_to_the_maximum_each_drawn_in_its_upper_half() {
    let mut h = Harness::with(3, |c| {
        c.reconnect_min_ms = 1_000;
        c.reconnect_max_ms = 8_000;
    });
    let got = delays(&mut h, 12);
    for (k, d) in got.iter().enumerate() {
        let ceiling = (1_000u64 << k.min(20)).min(8_000);
        assert!(
            (ceiling / 2..=ceiling).contains(d),
            "attempt {k}: {d} not in [{}, {ceiling}] ({got:?})",
            ceiling / 2
        );
    }
    assert_eq!(h.opened.len(), 13, "one attempt per delay");
}

#[test]
fn reconnect_jitter_is_reproducible_per_seed_differs_between_seeds_and_spans_its_range() {
    let at_cap = |seed| {
        let mut h = Harness::with(seed, |c| {
            c.reconnect_min_ms = 10_000;
            c.reconnect_max_ms = 10_000;
        });
        delays(&mut h, 200)
    };
    let (a, b, c) = (at_cap(7), at_cap(7), at_cap(8));
    assert_eq!(a, b, "same seed, same delays");
    assert_ne!(a, c, "another seed, other delays");
    assert!(a.iter().all(|d| (5_000..=10_000).contains(d)));
    assert!(*a.iter().min().unwrap() < 5_500 && *a.iter().max().unwrap() > 9_500);
}

#[test]
fn reconnect_bounds_are_configurable_and_reset_after_a_connection() {
    let mut h = Harness::with(5, |c| {
        c.reconnect_min_ms = 200;
        c.reconnect_max_ms = 300;
    });
    let got = delays(&mut h, 5);
    assert!((100..=200).contains(&got[0]), "{got:?}");
    assert!(got[1..].iter().all(|d| (150..=300).contains(d)), "{got:?}");
    // Connected again: the next drop starts from the minimum.
    let due = h.c.poll_timeout().unwrap();
    h.now = due;
    h.c.handle_timeout(h.now);
    h.c.handle_open(h.now);
    h.connected("s-2");
    h.c.handle_closed(h.now);
    let first = h.c.poll_timeout().unwrap() - h.now;
    assert!((100..=200).contains(&first), "{first}");
}

#[test]
fn offline_fires_once_per_outage_and_online_on_every_connection() {
    let mut h = Harness::new();
    h.session();
    h.c.handle_closed(h.now);
    assert!(matches!(h.take_events()[..], [Event::Offline]));
    for _ in 0..3 {
        h.advance(h.c.poll_timeout().unwrap() - h.now);
        h.c.handle_closed(h.now); // attempts fail: still the same outage
    }
    assert!(h.take_events().is_empty());
    reconnect(&mut h);
    assert!(matches!(h.take_events()[..], [Event::Online]));
}

#[test]
fn a_silent_server_is_dropped_and_the_session_reconnected() {
    let mut h = Harness::new();
    h.session();
    h.advance(20_001);
    assert_eq!(h.closes, 1);
    assert!(h.take_events().iter().any(|e| matches!(e, Event::Offline)));
    reconnect(&mut h);
    assert_eq!(h.opened.len(), 2);
}

// ----- resubscription -----------------------------------------------------------------

/// `(id, destination, receipt)` of every topic SUBSCRIBE (those carry a receipt).
fn topic_subs(frames: &[Frame]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = frames
        .iter()
        .filter(|f| f.command == Command::Subscribe && f.header("receipt").is_some())
        .map(|f| {
            (
                id_of(f),
                dest_of(f),
                f.header("receipt").unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_reconnect_resubscribes_every_user_chat_and_thread_topic_with_the_same_ids_and_nothing_ended() {
    let mut h = Harness::new();
    let s = h.session();
    let (a, mut subs) = confirmed_chat(&mut h, json!({"channel": channel(7)}));
    let thread = json!({"_topics": {"messages": "/topic/v1/threads/3/messages",
        "keystrokes": "/topic/v1/threads/3/keystrokes", "typing": "/topic/v1/threads/3/typing"}});
    h.c.set_thread(a, &thread, h.now).unwrap();
    subs.extend(h.take_sent());
    let (b, _) = confirmed_chat(&mut h, json!({"channel": channel(8)}));
    h.c.end_chat_session(b, h.now);
    h.take_sent();
    let mut before = s.topics.clone();
    before.extend(subs);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    assert_eq!(topic_subs(&sent), topic_subs(&before));
    assert_eq!(topic_subs(&sent).len(), 10 + 8 + 3);
    let errors = find(&sent, dest::ERRORS_QUEUE);
    assert_eq!(id_of(errors), id_of(&s.errors));
    let connect_again = h.opened.len();
    assert_eq!(connect_again, 2);
}

// ----- gap recovery -------------------------------------------------------------------

#[test]
fn a_chat_session_with_on_received_message_learns_the_newest_message_id_once_confirmed() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true});
    let id = h.c.start_chat_session(&req, h.now).unwrap();
    let first = h.take_sent();
    h.receipt(first[0].header("receipt").unwrap());
    let rest = h.take_sent();
    assert!(
        rest.iter().all(|f| f.header("receipt").is_some()),
        "no relay yet"
    );
    for f in &rest {
        h.receipt(f.header("receipt").unwrap());
    }
    assert!(h.take_done().iter().any(|c| c.id == id));
    let seed = h.take_sent().remove(0);
    assert!(is_recovery(&seed));
    assert_eq!(relay_params(&seed), params(None, "1"));
    h.answer_relay(&seed, page_of(&[4], None));
    assert!(
        received(&h.take_events()).is_empty(),
        "the seed delivers nothing"
    );
    // Cursor 4: after a drop, recovery asks for what came after it.
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    assert_eq!(relay_params(&rec), params(Some("4"), "100"));
}

/// Starts a chat session on channel 7 and confirms its subscriptions; returns them and
/// what it sent then (its recovery relay).
fn confirmed_unseeded(h: &mut Harness, request: Value) -> (Vec<Frame>, Vec<Frame>) {
    h.c.start_chat_session(&request, h.now).unwrap();
    let mut subs = h.take_sent();
    h.receipt(subs[0].header("receipt").unwrap());
    let rest = h.take_sent();
    for f in &rest {
        h.receipt(f.header("receipt").unwrap());
    }
    subs.extend(rest);
    (subs, h.take_sent())
}

#[test]
fn a_chat_session_started_after_a_known_message_relays_what_came_after_it_first() {
    // shareConnection's handover (docs/api.md §18.1): a new hub's session carries on
    // from the tab's messages instead of seeding from the newest.
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true, "_after": 4});
    let (subs, mut sent) = confirmed_unseeded(&mut h, req);
    let topic = find(&subs, MESSAGES_TOPIC).clone();
    let rec = sent.remove(0);
    assert!(is_recovery(&rec));
    assert_eq!(relay_params(&rec), params(Some("4"), "100"));
    live(&mut h, &topic, 7);
    assert!(
        received(&h.take_events()).is_empty(),
        "held behind the relay"
    );
    h.answer_relay(&rec, page_of(&[5, 6, 7], None));
    assert_eq!(received(&h.take_events()), [5, 6, 7]);
}

#[test]
fn a_chat_session_ignores_an_after_that_is_no_message_id() {
    for bad in [json!(-1), json!(1.5), json!("4"), json!(1e300)] {
        let mut h = Harness::new();
        h.session();
        let req = json!({"channel": channel(7), "onReceivedMessage": true, "_after": bad});
        let seed = confirmed_unseeded(&mut h, req).1.remove(0);
        assert_eq!(relay_params(&seed), params(None, "1"), "{bad}");
    }
}

#[test]
fn a_chat_session_without_on_received_message_neither_seeds_nor_recovers() {
    let mut h = Harness::new();
    h.session();
    let (_, subs) = confirmed_chat(
        &mut h,
        json!({"channel": channel(7), "onTypingStarted": true}),
    );
    assert!(h.take_sent().is_empty());
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    for f in topic_subs(&subs) {
        h.receipt(&f.2);
    }
    assert!(h.take_sent().is_empty());
    assert!(!sent.iter().any(is_recovery));
}

#[test]
fn missed_messages_are_relayed_once_the_topic_is_back_page_by_page_oldest_first() {
    let mut h = Harness::new();
    let topic = chatting(&mut h);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    assert!(
        !sent.iter().any(is_recovery),
        "not before the messages topic is confirmed"
    );
    let rec = confirm_messages_topic(&mut h, &sent);
    assert!(is_recovery(&rec));
    // After the oldest of the last deliveries (5, 6); 6 comes again and is dropped.
    assert_eq!(relay_params(&rec), params(Some("5"), "100"));
    let more = "/application/v1/channels/7/messages.relay?after=9&size=100";
    h.answer_relay(&rec, page_of(&[6, 7, 8, 9], Some(more)));
    assert_eq!(received(&h.take_events()), [7, 8, 9]);
    let next = h.take_sent().remove(0);
    assert!(is_recovery(&next));
    assert_eq!(relay_params(&next), params(Some("9"), "100"));
    h.answer_relay(&next, page_of(&[10], None));
    assert_eq!(received(&h.take_events()), [10]);
    // Live again, and the cursor followed.
    live(&mut h, &topic, 11);
    assert_eq!(received(&h.take_events()), [11]);
}

#[test]
fn live_messages_wait_behind_the_recovery_and_those_it_delivered_are_dropped() {
    let mut h = Harness::new();
    let topic = chatting(&mut h);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    live(&mut h, &topic, 9);
    live(&mut h, &topic, 10);
    h.event(&topic, "channel.message.updated", json!({"id": 5}), None);
    assert!(chat_events(&h.take_events()).is_empty(), "held back");
    h.answer_relay(&rec, page_of(&[7, 8, 9], None));
    assert_eq!(received(&h.take_events()), [7, 8, 9, 10]);
}

#[test]
fn a_message_delivered_out_of_id_order_is_not_taken_for_a_duplicate() {
    let mut h = Harness::new();
    let topic = chatting(&mut h);
    live(&mut h, &topic, 8);
    live(&mut h, &topic, 7);
    live(&mut h, &topic, 8);
    assert_eq!(received(&h.take_events()), [8, 7]);
}

#[test]
fn recovery_rechecks_the_last_deliveries_so_a_message_published_out_of_id_order_is_not_lost() {
    let mut h = Harness::new();
    let topic = chatting(&mut h); // 5, 6
    live(&mut h, &topic, 8); // 7 was stored first but is published after 8 …
    assert_eq!(received(&h.take_events()), [8]);
    h.c.handle_closed(h.now); // … and the drop cut it off.
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    assert_eq!(relay_params(&rec), params(Some("5"), "100"));
    h.answer_relay(&rec, page_of(&[6, 7, 8, 9], None));
    assert_eq!(received(&h.take_events()), [7, 9]);
}

#[test]
fn recovery_rechecks_at_most_the_last_sixteen_deliveries() {
    let mut h = Harness::new();
    let topic = chatting(&mut h); // 5, 6
    for id in 10..40 {
        live(&mut h, &topic, id);
    }
    h.take_events();
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    assert_eq!(relay_params(&rec), params(Some("24"), "100"));
}

#[test]
fn a_refused_recovery_releases_the_live_messages_it_held() {
    let mut h = Harness::new();
    let s = {
        h.session();
        let req = json!({"channel": channel(7), "onReceivedMessage": true});
        let (_, subs) = confirmed_chat(&mut h, req);
        let topic = find(&subs, MESSAGES_TOPIC).clone();
        live(&mut h, &topic, 5);
        h.take_events();
        topic
    };
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let errors = find(&sent, dest::ERRORS_QUEUE).clone();
    let rec = confirm_messages_topic(&mut h, &sent);
    live(&mut h, &s, 9);
    assert!(received(&h.take_events()).is_empty());
    h.queue_error(
        &errors,
        Some(("subscription-id", &id_of(&rec))),
        "NotFoundError",
    );
    assert_eq!(received(&h.take_events()), [9]);
}

#[test]
fn a_drop_during_recovery_asks_again_from_the_same_cursor_on_the_next_connection() {
    let mut h = Harness::new();
    chatting(&mut h);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    assert!(
        !sent.iter().any(|f| id_of(f) == id_of(&rec)),
        "the old relay is not repeated before the topic is back"
    );
    let again = confirm_messages_topic(&mut h, &sent);
    assert_eq!(relay_params(&again), params(Some("5"), "100"));
    h.answer_relay(&again, page_of(&[7], None));
    assert_eq!(received(&h.take_events()), [7]);
}

#[test]
fn recovered_replies_wait_for_their_parent_like_live_ones() {
    let mut h = Harness::new();
    chatting(&mut h);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    let rec = confirm_messages_topic(&mut h, &sent);
    let mut page = page_of(&[7, 8], None);
    page["_embedded"]["messages"][0]["_relays"] =
        json!({"parent": "/application/v1/messages/5.relay"});
    h.answer_relay(&rec, page);
    assert_eq!(received(&h.take_events()), [7]);
    let lookup = h.take_sent().remove(0);
    assert_eq!(dest_of(&lookup), "/application/v1/messages/5.relay");
    h.answer_relay(&lookup, json!({"id": 5}));
    let got = chat_events(&h.take_events());
    assert_eq!(got[0].2["id"], 8);
    assert_eq!(got[0].3.as_ref().unwrap()["id"], 5);
}

#[test]
fn an_ended_chat_session_is_not_recovered() {
    let mut h = Harness::new();
    chatting(&mut h);
    h.c.handle_closed(h.now);
    let sent = reconnect(&mut h);
    h.answer_relay(find(&sent, dest::CURRENT_USER_RELAY), user());
    let rec = confirm_messages_topic(&mut h, &sent);
    let chat = h.c.chats.list[0].id;
    h.c.end_chat_session(chat, h.now);
    h.take_sent();
    h.answer_relay(&rec, page_of(&[7], None));
    assert!(received(&h.take_events()).is_empty());
    assert_eq!(h.c.table_sizes()[1..], [0, 0, 0, 0]);
}

// ----- offline queue, timeouts, idempotency -------------------------------------------

fn send(h: &mut Harness, body: &str) -> Id {
    h.c.send_message(&json!({"channel": channel(7), "body": body}), h.now)
        .unwrap()
}

fn sends(frames: &[Frame]) -> Vec<&Frame> {
    frames
        .iter()
        .filter(|f| f.command == Command::Send)
        .collect()
}

#[test]
fn sends_made_offline_wait_and_go_out_in_order_after_the_topics_once_reconnected() {
    let mut h = Harness::new();
    h.session();
    h.c.handle_closed(h.now);
    let a = send(&mut h, "a");
    let c =
        h.c.create_channel(&json!({"type": "PUBLIC", "name": "x"}), h.now)
            .unwrap();
    let b = send(&mut h, "b");
    assert!(h.take_sent().is_empty());
    assert!(h.take_done().is_empty());
    let sent = reconnect(&mut h);
    let out = sends(&sent);
    let bodies: Vec<&str> = out.iter().map(|f| f.body_str().unwrap()).collect();
    assert_eq!(bodies.len(), 3);
    assert!(bodies[0].contains("\"a\"") && bodies[2].contains("\"b\""));
    let first_send = sent
        .iter()
        .position(|f| f.command == Command::Send)
        .unwrap();
    let last_topic = sent
        .iter()
        .rposition(|f| f.header("receipt").is_some() && f.command == Command::Subscribe)
        .unwrap();
    assert!(last_topic < first_send, "topics are back before the sends");
    let messages_topic = find(&sent, "/topic/v1/users/42/messages").clone();
    for (f, id) in out.iter().zip([a, c, b]) {
        let r = f.header("receipt").unwrap();
        h.event(
            &messages_topic,
            "user.message.created",
            json!({"id": id}),
            Some(r),
        );
    }
    let done = h.take_done();
    for id in [a, b] {
        assert!(completion(&done, id).result.is_ok());
    }
}

#[test]
fn an_action_without_an_answer_within_the_send_timeout_fails_with_a_timeout() {
    let mut h = Harness::with(1, |c| c.send_timeout_ms = 5_000);
    h.session();
    h.c.handle_closed(h.now);
    let offline = send(&mut h, "a");
    h.advance(4_999);
    assert!(h.take_done().is_empty());
    h.advance(1);
    assert!(matches!(
        completion(&h.take_done(), offline).result,
        Err(Failure::Timeout)
    ));
    let sent = reconnect(&mut h);
    assert!(sends(&sent).is_empty(), "a timed-out send is never sent");
    // Online, but the server never answers.
    let t0 = h.now;
    let unanswered = send(&mut h, "b");
    assert_eq!(sends(&h.take_sent()).len(), 1);
    h.advance(5_000 - (h.now - t0));
    assert!(matches!(
        completion(&h.take_done(), unanswered).result,
        Err(Failure::Timeout)
    ));
    assert_eq!(h.c.table_sizes()[2], 0);
}

#[test]
fn a_send_timeout_of_zero_waits_forever() {
    let mut h = Harness::with(1, |c| c.send_timeout_ms = 0);
    h.session();
    h.c.handle_closed(h.now);
    let id = send(&mut h, "a");
    h.advance(3_600_000);
    assert!(h.take_done().iter().all(|c| c.id != id));
}

#[test]
fn a_send_in_flight_at_a_drop_is_sent_again_with_the_same_receipt_and_idempotency_key() {
    let mut h = Harness::new();
    let s = h.session();
    let id = send(&mut h, "once");
    let first = h.take_sent().remove(0);
    let key = first.header("idempotency-key").unwrap().to_owned();
    h.c.handle_closed(h.now);
    assert!(h.take_done().is_empty());
    let sent = reconnect(&mut h);
    let again = sends(&sent);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].header("idempotency-key"), Some(key.as_str()));
    assert_eq!(again[0].header("receipt"), first.header("receipt"));
    assert_eq!(again[0].body, first.body);
    // The server answers with the message it stored the first time.
    let messages = s.topic("/topic/v1/users/42/messages").clone();
    h.event(
        &messages,
        "user.message.created",
        json!({"id": 77}),
        first.header("receipt"),
    );
    assert_eq!(resource_of(completion(&h.take_done(), id))["id"], 77);
}

#[test]
fn every_logical_send_has_its_own_idempotency_key_and_other_actions_none() {
    let mut h = Harness::new();
    h.session();
    send(&mut h, "a");
    send(&mut h, "a");
    h.c.create_channel(&json!({"type": "PUBLIC", "name": "x"}), h.now)
        .unwrap();
    let sent = h.take_sent();
    let keys: Vec<Option<&str>> = sent.iter().map(|f| f.header("idempotency-key")).collect();
    let (k1, k2) = (keys[0].unwrap(), keys[1].unwrap());
    assert_ne!(k1, k2);
    for k in [k1, k2] {
        assert_eq!(k.len(), 36);
        assert_eq!(&k[14..15], "4", "a UUID v4: {k}");
    }
    assert_eq!(keys[2], None);
}

// ----- no leaks -------------------------------------------------------------------

#[test]
fn a_thousand_chat_sessions_started_and_ended_leave_every_table_as_it_was() {
    let mut h = Harness::new();
    h.session();
    let start = h.c.table_sizes();
    let mut subscribed = 0;
    let mut unsubscribed = 0;
    for i in 0..1000 {
        let req = all_handlers(channel(7 + i % 3));
        let id = h.c.start_chat_session(&req, h.now).unwrap();
        let mut sent = h.take_sent();
        if i % 2 == 0 {
            // Confirmed (and seeded) before it ends.
            for round in 0..3 {
                let _ = round;
                for f in std::mem::take(&mut sent) {
                    match f.header("receipt") {
                        Some(r) => {
                            subscribed += 1;
                            h.receipt(r);
                        }
                        None => h.answer_relay(&f, page_of(&[1], None)),
                    }
                }
                sent = h.take_sent();
            }
        } else {
            subscribed += sent.len();
        }
        h.c.end_chat_session(id, h.now);
        unsubscribed += h
            .take_sent()
            .iter()
            .filter(|f| f.command == Command::Unsubscribe)
            .count();
        h.take_done();
        h.take_events();
    }
    assert_eq!(
        subscribed, unsubscribed,
        "every SUBSCRIBE has its UNSUBSCRIBE"
    );
    assert_eq!(h.c.table_sizes(), start);
}

#[test]
fn a_send_with_the_apps_idempotency_key_carries_it_across_a_drop() {
    let mut h = Harness::new();
    h.session();
    let key = "0b8f6c1e-1d2a-4c3b-9e4f-5a6b7c8d9e0f";
    h.c.send_message(
        &json!({"channel": channel(7), "body": "kept", "idempotencyKey": key}),
        h.now,
    )
    .unwrap();
    let sent = h.take_sent();
    assert_eq!(sends(&sent)[0].header("idempotency-key"), Some(key));
    assert!(!String::from_utf8_lossy(&sends(&sent)[0].body).contains("idempotencyKey"));
    // Sent again after a drop with the same key.
    h.c.handle_closed(h.now);
    let again = reconnect(&mut h);
    assert_eq!(sends(&again)[0].header("idempotency-key"), Some(key));
}
