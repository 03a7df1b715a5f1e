//! Uploads and downloads: raw and multipart bodies, upsert, limits, ranges, ETags, info, and what
//! an upload cut off or slow, or a NUL character anywhere, leaves behind.

mod downloads;
mod failures;
mod uploads;
