//! Reaction emoji (docs/protocol.md §12.5): a request names an emoji by alias (`+1`), alias in
//! colons (`:+1:`) or the character itself; the answer carries the full Emoji object.
//! The table holds the emoji chat apps offer for reactions (gemoji aliases).

use serde::Serialize;

/// An emoji as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Emoji {
    /// The character(s).
    pub character: &'static str,
    /// What it depicts.
    pub description: &'static str,
    /// Names it can be given by.
    pub aliases: &'static [&'static str],
    /// Search tags.
    pub tags: &'static [&'static str],
}

macro_rules! emoji {
    ($( $c:literal, $d:literal, [$($a:literal),*], [$($t:literal),*]; )*) => {
        /// Every emoji accepted as a reaction.
        pub const EMOJI: &[Emoji] = &[
            $( Emoji { character: $c, description: $d, aliases: &[$($a),*], tags: &[$($t),*] }, )*
        ];
    };
}

emoji! {
    "👍", "thumbs up", ["+1", "thumbsup"], ["approve", "ok"];
    "👎", "thumbs down", ["-1", "thumbsdown"], ["disapprove", "bury"];
    "❤️", "red heart", ["heart"], ["love"];
    "😀", "grinning face", ["grinning"], ["smile", "happy"];
    "😃", "grinning face with big eyes", ["smiley"], ["happy", "joy", "haha"];
    "😄", "grinning face with smiling eyes", ["smile"], ["happy", "joy", "laugh", "pleased"];
    "😁", "beaming face with smiling eyes", ["grin"], [];
    "😆", "grinning squinting face", ["laughing", "satisfied"], ["happy", "haha"];
    "😅", "grinning face with sweat", ["sweat_smile"], ["hot"];
    "🤣", "rolling on the floor laughing", ["rofl"], ["lol", "laughing"];
    "😂", "face with tears of joy", ["joy"], ["tears"];
    "🙂", "slightly smiling face", ["slightly_smiling_face"], [];
    "😉", "winking face", ["wink"], ["flirt"];
    "😊", "smiling face with smiling eyes", ["blush"], ["proud"];
    "😇", "smiling face with halo", ["innocent"], ["angel"];
    "🥰", "smiling face with hearts", ["smiling_face_with_three_hearts"], ["love"];
    "😍", "smiling face with heart-eyes", ["heart_eyes"], ["love", "crush"];
    "😘", "face blowing a kiss", ["kissing_heart"], ["flirt"];
    "😋", "face savoring food", ["yum"], ["tongue", "lick"];
    "😜", "winking face with tongue", ["stuck_out_tongue_winking_eye"], ["prank", "silly"];
    "🤔", "thinking face", ["thinking"], [];
    "🤨", "face with raised eyebrow", ["raised_eyebrow"], ["suspicious"];
    "😐", "neutral face", ["neutral_face"], ["meh"];
    "😶", "face without mouth", ["no_mouth"], ["mute", "silence"];
    "🙄", "face with rolling eyes", ["roll_eyes"], [];
    "😏", "smirking face", ["smirk"], ["smug"];
    "😬", "grimacing face", ["grimacing"], [];
    "😌", "relieved face", ["relieved"], ["whew"];
    "😴", "sleeping face", ["sleeping"], ["zzz"];
    "😎", "smiling face with sunglasses", ["sunglasses"], ["cool"];
    "🤓", "nerd face", ["nerd_face"], ["geek", "glasses"];
    "😕", "confused face", ["confused"], [];
    "😟", "worried face", ["worried"], ["nervous"];
    "😮", "face with open mouth", ["open_mouth"], ["surprise", "impressed", "wow"];
    "😲", "astonished face", ["astonished"], ["amazed", "gasp"];
    "😳", "flushed face", ["flushed"], [];
    "🥺", "pleading face", ["pleading_face"], ["puppy", "eyes"];
    "😢", "crying face", ["cry"], ["sad", "tear"];
    "😭", "loudly crying face", ["sob"], ["sad", "cry", "bawling"];
    "😱", "face screaming in fear", ["scream"], ["horror", "shocked"];
    "😤", "face with steam from nose", ["triumph"], ["smug"];
    "😡", "pouting face", ["rage", "pout"], ["angry"];
    "😠", "angry face", ["angry"], ["mad", "annoyed"];
    "🤯", "exploding head", ["exploding_head"], ["mind", "blown"];
    "🥳", "partying face", ["partying_face"], ["celebration", "birthday"];
    "🤗", "hugging face", ["hugs"], [];
    "🤝", "handshake", ["handshake"], ["deal"];
    "🙏", "folded hands", ["pray"], ["please", "hope", "wish", "thanks"];
    "👏", "clapping hands", ["clap"], ["praise", "applause"];
    "🙌", "raising hands", ["raised_hands"], ["hooray"];
    "👋", "waving hand", ["wave"], ["goodbye", "hello"];
    "👌", "OK hand", ["ok_hand"], [];
    "✌️", "victory hand", ["v"], ["victory", "peace"];
    "🤞", "crossed fingers", ["crossed_fingers"], ["luck", "hopeful"];
    "💪", "flexed biceps", ["muscle"], ["flex", "bicep", "strong", "workout"];
    "👀", "eyes", ["eyes"], ["look", "see", "watch"];
    "🧡", "orange heart", ["orange_heart"], [];
    "💛", "yellow heart", ["yellow_heart"], [];
    "💚", "green heart", ["green_heart"], [];
    "💙", "blue heart", ["blue_heart"], [];
    "💜", "purple heart", ["purple_heart"], [];
    "🖤", "black heart", ["black_heart"], [];
    "💔", "broken heart", ["broken_heart"], [];
    "💯", "hundred points", ["100"], ["score", "perfect"];
    "🔥", "fire", ["fire"], ["burn"];
    "✨", "sparkles", ["sparkles"], ["shiny"];
    "⭐", "star", ["star"], [];
    "🎉", "party popper", ["tada", "hooray"], ["party", "celebrate"];
    "🎊", "confetti ball", ["confetti_ball"], [];
    "🎂", "birthday cake", ["birthday"], ["party"];
    "🎁", "wrapped gift", ["gift"], ["present", "birthday"];
    "🚀", "rocket", ["rocket"], ["ship", "launch"];
    "✅", "check mark button", ["white_check_mark"], [];
    "✔️", "check mark", ["heavy_check_mark"], [];
    "❌", "cross mark", ["x"], [];
    "❓", "question mark", ["question"], ["confused"];
    "❗", "exclamation mark", ["exclamation", "heavy_exclamation_mark"], ["bang"];
    "⚠️", "warning", ["warning"], ["wip"];
    "💡", "light bulb", ["bulb"], ["idea", "light"];
    "☕", "hot beverage", ["coffee"], ["cafe", "espresso"];
    "🍕", "pizza", ["pizza"], [];
    "🍻", "clinking beer mugs", ["beers"], ["drinks"];
    "🐱", "cat face", ["cat"], ["pet"];
    "🐶", "dog face", ["dog"], ["pet"];
    "😺", "grinning cat", ["smiley_cat"], [];
    "🙈", "see-no-evil monkey", ["see_no_evil"], ["monkey", "blind", "ignore"];
    "💩", "pile of poo", ["hankey", "poop", "shit"], ["crap"];
    "🤖", "robot", ["robot"], [];
    "👻", "ghost", ["ghost"], ["halloween"];
    "💀", "skull", ["skull"], ["dead", "danger", "poison"];
}

/// Finds an emoji by alias (`+1`), alias in colons (`:+1:`) or character (with or
/// without the emoji variation selector).
pub fn lookup(name: &str) -> Option<&'static Emoji> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let alias = name
        .strip_prefix(':')
        .and_then(|n| n.strip_suffix(':'))
        .unwrap_or(name);
    let bare = |s: &str| s.trim_end_matches('\u{FE0F}').to_owned();
    EMOJI
        .iter()
        .find(|e| e.aliases.contains(&alias) || bare(e.character) == bare(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_found_by_alias_colon_alias_or_character() {
        assert_eq!(lookup("+1").unwrap().character, "👍");
        assert_eq!(lookup(":heart:").unwrap().character, "❤️");
        assert_eq!(lookup("❤").unwrap().description, "red heart");
        assert_eq!(lookup("smiley").unwrap().character, "😃");
        assert!(lookup("not-an-emoji").is_none());
        assert!(lookup("").is_none());
        assert!(lookup("<img>").is_none());
    }

    #[test]
    fn aliases_are_unique() {
        let mut all: Vec<&str> = EMOJI
            .iter()
            .flat_map(|e| e.aliases.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
