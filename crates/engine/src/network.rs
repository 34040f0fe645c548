//! Network helpers for templates: Community ID v1 flow hashing.
//!
//! API CONTRACT (owned by the externals work; used by the `community_id` filter).

use std::net::IpAddr;

/// The Community ID v1 of a flow (`1:<base64 sha1>`), or `None` when the two
/// addresses are not of the same family.
pub fn community_id(
    _src: IpAddr,
    _dst: IpAddr,
    _src_port: u16,
    _dst_port: u16,
    _protocol: u8,
    _seed: u16,
) -> Option<String> {
    None
}
