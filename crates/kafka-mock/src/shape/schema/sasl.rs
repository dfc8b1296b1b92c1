//! Schemas of the SASL requests. SaslHandshake has no flexible version;
//! SaslAuthenticate becomes flexible at v2.

use super::{f, Kind, Struct, ALL};

pub(super) static SASL_HANDSHAKE: Struct = Struct {
    flexible_from: ALL,
    fields: &[f(Kind::String, 0, ALL)], // mechanism
};

pub(super) static SASL_AUTHENTICATE: Struct = Struct {
    flexible_from: 2,
    fields: &[f(Kind::Bytes, 0, ALL)], // auth_bytes
};
