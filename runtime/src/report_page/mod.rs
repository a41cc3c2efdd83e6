//! `wfrun report`: a run's summary as one self-contained HTML page — header, a timeline of its
//! tasks per worker drawn by an inline script from inline JSON, and a table per app. Nothing on
//! the page is fetched, so it opens offline and from an archive.
//!
//! Architecture Invariant: everything that comes from the run (app names, messages, the run's
//! description) reaches the page escaped, either as HTML text or as JSON whose `<`, `>` and `&`
//! are `\u` escapes; the script inserts it only as text, never as markup.

mod escape;
mod page;
mod stats;
mod timeline;

pub use page::render_report;
