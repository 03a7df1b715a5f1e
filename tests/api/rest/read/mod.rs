//! Reads: vertical selection (columns, aliases, casts, JSON paths), embedding through foreign
//! keys, ordering, paging, counting, and the media types of the answer.

mod counts;
mod embeds;
mod media;
mod paging;
mod profiles;
mod select;
mod spreads;
