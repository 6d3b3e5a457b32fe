//! Which parser reads replay's lines: `--format` (and `--pattern`, `--time-format`, literals)
//! resolved against the built-in formats, the presets and the config's `[replay.formats]`; for
//! `auto`, the format recognized from the first lines.

use std::cell::Cell;
use std::time::SystemTime;

use pattern_guard::config::{FormatSpec, ReplaySettings, BUILT_IN_FORMATS};
use pattern_guard::input::{
    self, recognize, CombinedOptions, LineFormat, Pattern, Preset, Recognized, TimeFormat, Years,
};

use crate::cli::options::FormatRequest;

/// How each line is read.
pub enum Reader {
    Jsonl,
    Combined(CombinedOptions),
    /// Patterns (`regex`, a preset, a config format), with the year of year-less times (in a
    /// cell: events borrow the format's literals while later lines move the year on).
    Lines(Box<LineFormat>, Cell<Years>),
}

impl Reader {
    /// The event on `line`: `Ok(None)` for a line that is not an event (patterns only).
    pub fn parse<'l>(&'l self, line: &'l str) -> Result<Option<input::ParsedEvent<'l>>, String> {
        match self {
            Reader::Jsonl => input::parse_jsonl(line).map(Some),
            Reader::Combined(opts) => input::parse_combined(line, *opts).map(Some),
            Reader::Lines(format, years) => {
                let mut moved = years.get();
                let event = format.parse(line, &mut moved);
                years.set(moved);
                event
            }
        }
    }
}

/// What the input is, for the choices that depend on it.
pub struct Source {
    /// When a regular file last changed (`None` for a pipe, a terminal, standard input).
    pub changed: Option<SystemTime>,
}

impl Source {
    fn years(&self, year: Option<i16>) -> Years {
        match (year, self.changed) {
            (Some(y), _) => Years::given(y),
            (None, Some(changed)) => Years::file_changed(changed),
            (None, None) => Years::now(),
        }
    }

    fn live(&self) -> bool {
        self.changed.is_none()
    }
}

/// A format chosen: its name for the report, and its reader (`None` until recognized).
pub struct Chosen {
    pub name: String,
    pub reader: Option<Reader>,
}

/// Resolves the request; errors are usage errors (exit 125) naming the flag or the config key.
pub fn choose(
    req: &FormatRequest,
    formats: &ReplaySettings,
    combined: CombinedOptions,
    source: &Source,
) -> Result<Chosen, String> {
    let name = req.name.as_str();
    let flags = &req.flags;
    let literals = flags.time_format.is_some()
        || flags.prefix.is_some()
        || flags.action.is_some()
        || flags.target.is_some()
        || flags.weight.is_some();
    if !flags.patterns.is_empty() && !matches!(name, "auto" | "regex") {
        return Err(format!(
            "--pattern goes with --format regex (or no --format), not --format {name}"
        ));
    }
    let patterned =
        !flags.patterns.is_empty() || name == "regex" || formats.formats.contains_key(name);
    if literals && !patterned {
        return Err(format!(
            "--prefix, --time-format, --action, --target and --weight go with --pattern or a \
             [replay.formats] format, not --format {name}"
        ));
    }
    let chosen = |reader| Chosen {
        name: name.to_string(),
        reader,
    };
    let lines = |format: LineFormat| -> Result<Option<Reader>, String> {
        if !format.has_time() && !source.live() {
            return Err(format!(
                "format {name}: a pattern without a (?P<time>...) group stamps each event with \
                 the time it is read, which only means something for lines read as they are \
                 written (a pipe such as `tail -F log | pattern-guard replay ...`); for a file, \
                 add a time group"
            ));
        }
        Ok(Some(Reader::Lines(
            Box::new(format),
            Cell::new(source.years(req.year)),
        )))
    };
    if !flags.patterns.is_empty() || name == "regex" {
        if flags.patterns.is_empty() {
            return Err(
                "--format regex needs --pattern REGEX (with a (?P<actor>...) group)".into(),
            );
        }
        let format = build(flags, flags, |i, why| {
            format!("--pattern {} ({}): {why}", i + 1, flags.patterns[i])
        })?;
        return Ok(Chosen {
            name: "regex".into(),
            reader: lines(format)?,
        });
    }
    if let Some(spec) = formats.formats.get(name) {
        let format = build(spec, flags, |i, why| {
            format!("[replay.formats.{name}] pattern {}: {why}", i + 1)
        })?;
        return Ok(chosen(lines(format)?));
    }
    match name {
        "auto" => Ok(chosen(None)),
        "jsonl" => Ok(chosen(Some(Reader::Jsonl))),
        "combined" | "common" => Ok(chosen(Some(Reader::Combined(combined)))),
        _ => {
            if let Some(preset) = Preset::from_name(name) {
                return Ok(chosen(lines(preset.format())?));
            }
            let mut known: Vec<&str> = BUILT_IN_FORMATS.to_vec();
            known.extend(formats.formats.keys().map(String::as_str));
            Err(format!(
                "unknown format `{name}`: use one of {}, or define [replay.formats.{name}] in \
                 the config",
                known.join(", ")
            ))
        }
    }
}

/// A pattern format from `spec`'s regexes and literals, the flags' literals over them.
fn build(
    spec: &FormatSpec,
    flags: &FormatSpec,
    place: impl Fn(usize, String) -> String,
) -> Result<LineFormat, String> {
    let compiled = spec
        .patterns
        .iter()
        .enumerate()
        .map(|(i, p)| Pattern::new(p).map_err(|why| place(i, why)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut format = LineFormat::new(compiled)?;
    if let Some(prefix) = flags.prefix.as_ref().or(spec.prefix.as_ref()) {
        format = format.with_prefix(prefix)?;
    }
    if let Some(t) = flags.time_format.as_ref().or(spec.time_format.as_ref()) {
        format = format.with_time_format(TimeFormat::strftime(t)?);
    }
    if let Some(a) = flags.action.as_ref().or(spec.action.as_ref()) {
        format = format.with_action(a);
    }
    if let Some(t) = flags.target.as_ref().or(spec.target.as_ref()) {
        format = format.with_target(t);
    }
    if let Some(w) = flags.weight.or(spec.weight) {
        format = format.with_weight(w);
    }
    Ok(format)
}

/// `auto`: the format of the first lines; an error names the formats to choose from.
pub fn recognized(
    head: &[u8],
    combined: CombinedOptions,
    year: Option<i16>,
    source: &Source,
) -> Result<Chosen, String> {
    let (name, reader) = match recognize(head) {
        Some(Recognized::Jsonl) => ("jsonl", Reader::Jsonl),
        Some(Recognized::Combined) => ("combined", Reader::Combined(combined)),
        Some(Recognized::Preset(p)) => (
            p.name(),
            Reader::Lines(Box::new(p.format()), Cell::new(source.years(year))),
        ),
        Some(_) | None => {
            return Err(
                "cannot tell the format from the first lines: give --format (jsonl, combined, \
                 common, sshd, nginx-error, apache-error, or a [replay.formats] name) or \
                 --pattern REGEX"
                    .into(),
            )
        }
    };
    Ok(Chosen {
        name: name.into(),
        reader: Some(reader),
    })
}
