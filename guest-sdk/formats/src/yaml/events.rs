//! A safe event stream over `unsafe-libyaml`, the Rust translation of
//! libyaml that `serde_yaml` has used for years. go-yaml is a port of the
//! same C library, so the same text scans the same way here (a quoted
//! scalar continued at its key's indentation is accepted, as `kubectl`
//! accepts it). All `unsafe` of the YAML reader lives in this file.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;

use unsafe_libyaml as unsafe_sys;

/// A position in the input (0-based line and column).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) line: u64,
    pub(super) column: u64,
}

/// Whether a scalar was written plain (unquoted) or otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarStyle {
    Plain,
    Quoted,
}

/// One parse event, owning its strings.
#[derive(Debug)]
pub(super) enum EventData {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias { anchor: String },
    Scalar { anchor: Option<String>, tag: Option<String>, value: String, style: ScalarStyle },
    SequenceStart { anchor: Option<String> },
    SequenceEnd,
    MappingStart { anchor: Option<String> },
    MappingEnd,
}

/// An event and where it starts.
#[derive(Debug)]
pub(super) struct Event {
    pub(super) data: EventData,
    pub(super) start_mark: Mark,
}

/// What libyaml reported, and where.
#[derive(Debug)]
pub(super) struct ParseError {
    pub(super) message: String,
    pub(super) mark: Mark,
}

/// libyaml's parser over a borrowed input; the input outlives it.
pub(super) struct Parser<'a> {
    sys: Box<MaybeUninit<unsafe_sys::yaml_parser_t>>,
    /// Whether `sys` was initialised (and so must be deleted).
    initialised: bool,
    /// Whether a call failed; libyaml may not be called again then.
    failed: bool,
    input: PhantomData<&'a [u8]>,
}

impl<'a> Parser<'a> {
    /// A parser over `input` (UTF-8).
    pub(super) fn new(input: &'a [u8]) -> Parser<'a> {
        let mut boxed: Box<MaybeUninit<unsafe_sys::yaml_parser_t>> = Box::new(MaybeUninit::uninit());
        // SAFETY: the parser is initialised in place in its box (it never
        // moves after), told the input's pointer and length, and deleted in
        // Drop; `input` outlives the parser by the lifetime `'a`.
        let initialised = unsafe {
            let parser = boxed.as_mut_ptr();
            let ok = unsafe_sys::yaml_parser_initialize(parser).ok;
            if ok {
                // No encoding is set: libyaml then reads (and skips) a byte order
                // mark, as go-yaml does; valid UTF-8 never looks like UTF-16's.
                unsafe_sys::yaml_parser_set_input_string(parser, input.as_ptr(), input.len() as _);
            }
            ok
        };
        Parser { sys: boxed, initialised, failed: !initialised, input: PhantomData }
    }

    /// The next event, or what makes the input not YAML. After an error
    /// every call returns an error.
    pub(super) fn parse(&mut self) -> Result<Event, ParseError> {
        if self.failed {
            return Err(ParseError { message: "the YAML parser could not continue".into(), mark: Mark::default() });
        }
        let mut event = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new` (failed is false);
        // the event is read only after yaml_parser_parse succeeded, its
        // strings are copied out, and it is deleted before returning.
        unsafe {
            let parser = self.sys.as_mut_ptr();
            if (&*parser).error != unsafe_sys::YAML_NO_ERROR
                || unsafe_sys::yaml_parser_parse(parser, event.as_mut_ptr()).fail
            {
                self.failed = true;
                return Err(parser_error(parser));
            }
            let event = event.as_mut_ptr();
            let data = convert(&*event);
            let start = (*event).start_mark;
            unsafe_sys::yaml_event_delete(event);
            Ok(Event { data, start_mark: Mark { line: start.line, column: start.column } })
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        if self.initialised {
            // SAFETY: initialised in `new`, deleted once, here.
            unsafe { unsafe_sys::yaml_parser_delete(addr_of_mut!(*self.sys.as_mut_ptr())) }
        }
    }
}

/// A NUL-terminated libyaml string, copied (lossily, should it not be UTF-8).
///
/// SAFETY: `ptr` is null or a NUL-terminated string libyaml owns.
unsafe fn c_string(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: per the function's contract.
    let c = unsafe { std::ffi::CStr::from_ptr(ptr.cast()) };
    Some(c.to_string_lossy().into_owned())
}

/// SAFETY: `event` is an event yaml_parser_parse just filled in.
unsafe fn convert(event: &unsafe_sys::yaml_event_t) -> EventData {
    // SAFETY: each union field is read only for its event type.
    unsafe {
        match event.type_ {
            unsafe_sys::YAML_STREAM_START_EVENT => EventData::StreamStart,
            unsafe_sys::YAML_DOCUMENT_START_EVENT => EventData::DocumentStart,
            unsafe_sys::YAML_DOCUMENT_END_EVENT => EventData::DocumentEnd,
            unsafe_sys::YAML_ALIAS_EVENT => {
                EventData::Alias { anchor: c_string(event.data.alias.anchor).unwrap_or_default() }
            }
            unsafe_sys::YAML_SCALAR_EVENT => {
                let s = event.data.scalar;
                let bytes =
                    if s.value.is_null() { &[][..] } else { std::slice::from_raw_parts(s.value, s.length as usize) };
                EventData::Scalar {
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: if s.style == unsafe_sys::YAML_PLAIN_SCALAR_STYLE {
                        ScalarStyle::Plain
                    } else {
                        ScalarStyle::Quoted
                    },
                }
            }
            unsafe_sys::YAML_SEQUENCE_START_EVENT => {
                EventData::SequenceStart { anchor: c_string(event.data.sequence_start.anchor) }
            }
            unsafe_sys::YAML_SEQUENCE_END_EVENT => EventData::SequenceEnd,
            unsafe_sys::YAML_MAPPING_START_EVENT => {
                EventData::MappingStart { anchor: c_string(event.data.mapping_start.anchor) }
            }
            unsafe_sys::YAML_MAPPING_END_EVENT => EventData::MappingEnd,
            // YAML_STREAM_END_EVENT, and YAML_NO_EVENT which a successful parse never gives.
            _ => EventData::StreamEnd,
        }
    }
}

/// SAFETY: `parser` is an initialised parser whose last call failed.
unsafe fn parser_error(parser: *const unsafe_sys::yaml_parser_t) -> ParseError {
    // SAFETY: per the function's contract; libyaml's messages are static strings.
    unsafe {
        let p = &*parser;
        let problem = c_string(p.problem.cast()).unwrap_or_else(|| "not valid YAML".into());
        let message = match c_string(p.context.cast()) {
            Some(context) => format!("{context}: {problem}"),
            None => problem,
        };
        let mark = Mark { line: p.problem_mark.line, column: p.problem_mark.column };
        ParseError { message, mark }
    }
}
