//! Events: the normalized description of something that happened.
//!
//! An event names who did it (`actor`), what was done (`action`), to what (`target`) and when
//! (`timestamp`), with an optional cost (`weight`, default 1.0) and free-form `metadata` tags.
//! Strings are borrowed when they can be (`Event::new("user:1", "GET", "/", t)` allocates nothing)
//! and owned when given owned.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Something that happened, to be checked by a [`Guard`](crate::Guard).
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    actor: Cow<'a, str>,
    action: Cow<'a, str>,
    target: Cow<'a, str>,
    timestamp: SystemTime,
    weight: f64,
    metadata: Tags,
}

/// An event's tags. Most events have none: then there is no map to drop (dropping even an empty
/// `BTreeMap` walks its iterator: about 50 instructions an event in a build without LTO). No map
/// and an empty one are the same tags: they compare and print through [`Tags::map`].
#[derive(Clone, Default)]
struct Tags(Option<BTreeMap<String, String>>);

static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();

impl Tags {
    fn map(&self) -> &BTreeMap<String, String> {
        self.0.as_ref().unwrap_or(&NO_TAGS)
    }
}

/// Equal when the tags are, however they are held.
impl PartialEq for Tags {
    fn eq(&self, other: &Tags) -> bool {
        self.map() == other.map()
    }
}

/// As the map of tags.
impl std::fmt::Debug for Tags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map().fmt(f)
    }
}

impl<'a> Event<'a> {
    /// An event of weight 1.0 with no metadata.
    pub fn new(
        actor: impl Into<Cow<'a, str>>,
        action: impl Into<Cow<'a, str>>,
        target: impl Into<Cow<'a, str>>,
        timestamp: SystemTime,
    ) -> Self {
        Event {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            timestamp,
            weight: 1.0,
            metadata: Tags::default(),
        }
    }

    /// Sets the event's cost, summed by the weight detector. NaN, infinite and negative weights are
    /// taken as 0 when checked (documented in `docs/ENGINE.md`), so bad input cannot poison a sum.
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// Adds tags: any `(key, value)` pairs, such as a `HashMap<String, String>` or an array of
    /// `(&str, &str)`. Tags are carried into explanations and logs; detectors do not read them.
    pub fn with_metadata<I, K, V>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.metadata
            .0
            .get_or_insert_with(BTreeMap::new)
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Who caused the event.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// What was done.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// What was affected.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// When it happened.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    /// Its cost as given (see [`Event::with_weight`]).
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Its tags.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        self.metadata.map()
    }

    /// An owned copy that borrows nothing.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            actor: Cow::Owned(self.actor.into_owned()),
            action: Cow::Owned(self.action.into_owned()),
            target: Cow::Owned(self.target.into_owned()),
            timestamp: self.timestamp,
            weight: self.weight,
            metadata: self.metadata,
        }
    }
}
