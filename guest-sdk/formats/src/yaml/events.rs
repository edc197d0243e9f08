//! A safe event stream over `unsafe-libyaml`, the Rust translation of
//! libyaml that `serde_yaml` has used for years. go-yaml is a port of the
//! same C library, so the same text scans the same way here (a quoted
//! scalar continued at its key's indentation is accepted, as `kubectl`
//! accepts it). All `unsafe` of the YAML reader lives in this file.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;

use unsafe_libyaml as unsafe_sys;

/// A position in the input (0-based line and column, and the bytes
/// before it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) line: u64,
    pub(super) column: u64,
    pub(super) index: u64,
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
    /// The reader libyaml pulls from, for a parser made by `from_reader`:
    /// owned here (from `Box::into_raw`, freed in Drop) and reached only
    /// through this pointer, which libyaml holds too.
    source: *mut Source<'a>,
    input: PhantomData<&'a [u8]>,
}

/// What libyaml's read handler reads from.
struct Source<'a> {
    reader: &'a mut dyn std::io::Read,
    /// Bytes still allowed; reading more is an error.
    left: usize,
    /// Why the last read failed.
    error: Option<String>,
}

impl<'a> Parser<'a> {
    /// A parser over `input` (UTF-8).
    pub(super) fn new(input: &'a [u8]) -> Parser<'a> {
        let mut parser = Parser::init(std::ptr::null_mut());
        if parser.initialised {
            // SAFETY: the parser is initialised; `input` outlives it by `'a`.
            unsafe {
                unsafe_sys::yaml_parser_set_input_string(parser.sys.as_mut_ptr(), input.as_ptr(), input.len() as _)
            }
        }
        parser
    }

    /// A parser pulling its input from `reader` as it goes, so a long
    /// stream is never held whole; more than `max_bytes` is an error.
    pub(super) fn from_reader(reader: &'a mut dyn std::io::Read, max_bytes: usize) -> Parser<'a> {
        let source = Box::into_raw(Box::new(Source { reader, left: max_bytes, error: None }));
        let mut parser = Parser::init(source);
        if parser.initialised {
            // SAFETY: the parser is initialised; `source` lives until the
            // parser is dropped, after libyaml's last use of it.
            unsafe { unsafe_sys::yaml_parser_set_input(parser.sys.as_mut_ptr(), read_handler, source.cast()) }
        }
        parser
    }

    fn init(source: *mut Source<'a>) -> Parser<'a> {
        let mut boxed: Box<MaybeUninit<unsafe_sys::yaml_parser_t>> = Box::new(MaybeUninit::uninit());
        // SAFETY: the parser is initialised in place in its box (it never
        // moves after) and deleted in Drop. No encoding is set: libyaml then
        // reads (and skips) a byte order mark, as go-yaml does; valid UTF-8
        // never looks like UTF-16's.
        let initialised = unsafe { unsafe_sys::yaml_parser_initialize(boxed.as_mut_ptr()).ok };
        Parser { sys: boxed, initialised, failed: !initialised, source, input: PhantomData }
    }

    /// Why reading the input failed, when it did.
    pub(super) fn read_error(&self) -> Option<String> {
        if self.source.is_null() {
            return None;
        }
        // SAFETY: `source` is alive until Drop, and libyaml is not running.
        unsafe { (*self.source).error.clone() }
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
            Ok(Event { data, start_mark: Mark { line: start.line, column: start.column, index: start.index } })
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        if self.initialised {
            // SAFETY: initialised in `init`, deleted once, here.
            unsafe { unsafe_sys::yaml_parser_delete(addr_of_mut!(*self.sys.as_mut_ptr())) }
        }
        if !self.source.is_null() {
            // SAFETY: from Box::into_raw in `from_reader`, freed once, here,
            // after the parser that used it was deleted.
            drop(unsafe { Box::from_raw(self.source) });
        }
    }
}

/// libyaml's read handler for `Parser::from_reader`: fills `buffer` from
/// the source's reader, returning 1 (with 0 bytes at the end) or 0 on an
/// error, which the source keeps.
///
/// SAFETY: `data` is the `Source` the parser was given, alive and not
/// otherwise borrowed during the call; `buffer` holds `size` writable bytes.
unsafe fn read_handler(data: *mut std::ffi::c_void, buffer: *mut u8, size: u64, size_read: *mut u64) -> i32 {
    // SAFETY: per the function's contract.
    let (source, buf) = unsafe {
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        (&mut *data.cast::<Source<'_>>(), std::slice::from_raw_parts_mut(buffer, len))
    };
    let n = loop {
        match source.reader.read(buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                source.error = Some(e.to_string());
                return 0;
            }
        }
    };
    let Some(left) = source.left.checked_sub(n) else {
        source.error = Some("the YAML stream is longer than its limit".into());
        return 0;
    };
    source.left = left;
    // SAFETY: per the function's contract.
    unsafe { *size_read = n as u64 };
    1
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
        let problem = p.problem_mark;
        let mark = Mark { line: problem.line, column: problem.column, index: problem.index };
        ParseError { message, mark }
    }
}
