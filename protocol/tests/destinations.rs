//! Every destination of docs/protocol.md §13.1 builds and parses back to itself.

use chatkitty_protocol::destination::*;

fn all_relays() -> Vec<Relay> {
    let t = || "t-9".to_owned();
    vec![
        Relay::CurrentUser,
        Relay::ReadGrant,
        Relay::WriteGrant,
        Relay::MyChannels,
        Relay::MyChannelsCount,
        Relay::MyJoinableChannels,
        Relay::MyUnreadChannels,
        Relay::MyUnreadChannelsCount,
        Relay::MyUnreadMessagesCount,
        Relay::MyContacts,
        Relay::MyContactsCount,
        Relay::MyBlockListItems,
        Relay::MySearchMessages,
        Relay::User(1),
        Relay::UserChannelMember(2),
        Relay::Channel(3),
        Relay::ChannelMessages(4),
        Relay::ChannelMessagesCount(5),
        Relay::ChannelLastReceivedMessage(6),
        Relay::ChannelLastReadMessage(7),
        Relay::ChannelUnread(8),
        Relay::ChannelMembers(9),
        Relay::ChannelThreads(10),
        Relay::ChannelCalls(11),
        Relay::Message(12),
        Relay::MessageChannel(13),
        Relay::MessageReadReceipts(14),
        Relay::MessageRepliesCount(15),
        Relay::MessageReplies(16),
        Relay::MessageReactions(17),
        Relay::Thread(t()),
        Relay::ThreadChannel(t()),
        Relay::ThreadMessage(t()),
    ]
}

#[test]
fn every_relay_round_trips() {
    for r in all_relays() {
        let d = r.to_destination();
        assert!(
            d.starts_with(APPLICATION_PREFIX) && d.ends_with(".relay"),
            "{d}"
        );
        assert_eq!(
            Destination::parse(&d),
            Some(Destination::Relay(r.clone(), vec![])),
            "{d}"
        );
    }
}

#[test]
fn relay_query_carries_the_paging_position() {
    let d = Relay::ChannelMessages(5).with_query(&[("before", "9812"), ("size", "25")]);
    assert_eq!(
        d,
        "/application/v1/channels/5/messages.relay?before=9812&size=25"
    );
    assert_eq!(
        Destination::parse(&d),
        Some(Destination::Relay(
            Relay::ChannelMessages(5),
            vec![
                ("before".into(), "9812".into()),
                ("size".into(), "25".into())
            ]
        ))
    );
    let d = Relay::MyChannels.with_query(&[("name", "a b&c")]);
    let Some(Destination::Relay(_, q)) = Destination::parse(&d) else {
        panic!()
    };
    assert_eq!(q, vec![("name".to_owned(), "a b&c".to_owned())]);
}

#[test]
fn every_action_round_trips() {
    let mut actions = vec![
        Action::UpdateCurrentUser,
        Action::CreateChannel,
        Action::UpdateDisplayPicture,
        Action::BlockUser(4),
        Action::DeleteBlockListItem(5),
    ];
    actions.extend(ChannelVerb::ALL.iter().map(|v| Action::Channel(7, *v)));
    actions.extend(MessageVerb::ALL.iter().map(|v| Action::Message(8, *v)));
    actions.extend(
        ThreadVerb::ALL
            .iter()
            .map(|v| Action::Thread("th_1".into(), *v)),
    );
    for a in actions {
        let d = a.to_destination();
        assert_eq!(
            Destination::parse(&d),
            Some(Destination::Action(a.clone())),
            "{d}"
        );
    }
}

#[test]
fn every_topic_round_trips() {
    let mut topics: Vec<Topic> = UserTopic::ALL.iter().map(|t| Topic::User(42, *t)).collect();
    topics.extend(ChannelTopic::ALL.iter().map(|t| Topic::Channel(7, *t)));
    topics.extend(
        ThreadTopic::ALL
            .iter()
            .map(|t| Topic::Thread("9".into(), *t)),
    );
    for t in topics {
        let d = t.to_destination();
        assert_eq!(
            Destination::parse(&d),
            Some(Destination::Topic(t.clone())),
            "{d}"
        );
    }
}

#[test]
fn fixed_destinations_match_protocol_section_5() {
    assert_eq!(CURRENT_USER_RELAY, "/application/v1/user.relay");
    assert_eq!(channel_relay(7), "/application/v1/channels/7.relay");
    assert_eq!(user_relay(42), "/application/v1/users/42.relay");
    assert_eq!(user_block_action(42), "/application/v1/users/42.block");
    assert_eq!(
        Topic::User(42, UserTopic::Self_).to_destination(),
        "/topic/v1/users/42"
    );
    assert_eq!(
        Topic::Channel(7, ChannelTopic::ReadReceipts).to_destination(),
        "/topic/v1/channels/7/read_receipts"
    );
    assert_eq!(
        Destination::parse(ERRORS_QUEUE),
        Some(Destination::ErrorsQueue)
    );
}

#[test]
fn newer_client_prefixes_without_v1_parse_the_same() {
    assert_eq!(
        Destination::parse("/application/user.relay"),
        Some(Destination::Relay(Relay::CurrentUser, vec![]))
    );
    assert_eq!(
        Destination::parse("/application/channels/3.relay"),
        Some(Destination::Relay(Relay::Channel(3), vec![]))
    );
    assert_eq!(
        Destination::parse("/user/queue/errors"),
        Some(Destination::ErrorsQueue)
    );
}

#[test]
fn unknown_or_malformed_destinations_are_rejected() {
    for d in [
        "",
        "undefined",
        "/topic/v1/users/abc",
        "/topic/v1/users/1/unknown",
        "/topic/v1/channels/1/messages/extra",
        "/application/v1/channels/x.relay",
        "/application/v1/channels/1.explode",
        "/application/v1/channels/1/nope.relay",
        "/application/v1/channels/-1.relay",
        "/application/v1/channels/99999999999999999999.relay",
        "/application/v1/threads/a.b.message",
        "/elsewhere/v1/user.relay",
        "/application/v1/channels/1.message?x=1",
    ] {
        assert_eq!(Destination::parse(d), None, "{d}");
    }
}
