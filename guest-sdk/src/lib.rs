//! `sealbox-guest`: the sealbox step contract and a small SDK for writing
//! step modules in Rust.
//!
//! A step module is a WASI command. It reads one JSON [`Request`] on stdin,
//! works over the read-only tree at `/in`, may write files under `/out`, and
//! prints one JSON [`Response`] on stdout. [`run`] does the plumbing:
//!
//! ```no_run
//! use sealbox_guest::{Request, Response};
//!
//! sealbox_guest::module_metadata!(r#"{"name":"hello","version":"0.1.0","kind":"policy"}"#);
//!
//! fn main() {
//!     sealbox_guest::run(|req: Request| Ok(Response::success()));
//! }
//! ```

/// The README's examples, compiled as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;

pub mod contract;
pub mod policy;
pub mod transform;
pub mod view;

/// YAML read as the Kubernetes API server reads it (YAML 1.1 scalars, merge
/// keys, duplicate keys refused), each node with its line: the one reader the
/// host, the builtins and Rust modules share.
pub use sealbox_formats::yaml;

pub use contract::*;
pub use policy::{Resource, Verdict, policy};
pub use transform::{Input, Output, transform};

use std::io::{Read, Write};

/// Reads the request from stdin, calls `step` and writes its response to
/// stdout. Returns normally when a response was written (exit status 0);
/// exits with status 1 when `step` returned an error, which is printed to
/// stderr.
pub fn run<F>(step: F)
where
    F: FnOnce(Request) -> Result<Response, Box<dyn std::error::Error>>,
{
    let written = read_request()
        .and_then(step)
        .and_then(|response| write_response(&mut std::io::stdout().lock(), &response).map_err(Into::into));
    if let Err(e) = written {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Reads and checks the request on stdin.
pub fn read_request() -> Result<Request, Box<dyn std::error::Error>> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    let req: Request = serde_json::from_slice(&buf).map_err(|e| format!("reading request: {e}"))?;
    if req.api_version != API_VERSION {
        return Err(format!("unsupported apiVersion {:?}, this module speaks {API_VERSION}", req.api_version).into());
    }
    Ok(req)
}

/// Writes a response as one line of JSON.
pub fn write_response(out: &mut dyn Write, response: &Response) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, response)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Stdout for modules that stream large outputs (a layer, JSON lines):
/// what is written goes to the host as it is, in one host call per write.
/// `std::io::stdout()` is line-buffered: it scans every write for its last
/// newline and splits the write there, a pass over all the output and more
/// host calls. Wrap this in a `BufWriter`, and do not mix it with
/// `std::io::stdout()`, whose buffered bytes would land out of order.
pub fn stream_stdout() -> StreamStdout {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 1 is the process's stdout, open for its whole life
    // (a WASI command always gets one; sealbox grants a pipe or a null
    // sink), and `ManuallyDrop` keeps this handle from ever closing it.
    StreamStdout(std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) }))
}

/// Unbuffered stdout, from [`stream_stdout`].
pub struct StreamStdout(std::mem::ManuallyDrop<std::fs::File>);

impl Write for StreamStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Embeds a module's metadata (a JSON string literal in the shape of
/// [`ModuleMetadata`]) as the `sealbox.module` custom section.
#[macro_export]
macro_rules! module_metadata {
    ($json:expr) => {
        #[used]
        #[unsafe(link_section = "sealbox.module")]
        static SEALBOX_MODULE_METADATA: [u8; $json.len()] = $crate::__bytes_of($json);
    };
}

#[doc(hidden)]
pub const fn __bytes_of<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}
