//! A minimal DER writer and reader: just enough ASN.1 to build certificates,
//! CRLs and key containers byte-for-byte as Go's encoder would.

pub const TAG_BOOLEAN: u8 = 0x01;
pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_UTF8_STRING: u8 = 0x0c;
pub const TAG_PRINTABLE_STRING: u8 = 0x13;
pub const TAG_IA5_STRING: u8 = 0x16;
pub const TAG_UTC_TIME: u8 = 0x17;
pub const TAG_GENERALIZED_TIME: u8 = 0x18;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_SET: u8 = 0x31;

/// One TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &items.concat())
}

pub fn set(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(TAG_SET, &items.concat())
}

/// `[n] EXPLICIT` (constructed context tag).
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// `[n] IMPLICIT` on a primitive value.
pub fn implicit_primitive(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// `[n] IMPLICIT` on a constructed value (content = the inner encodings).
pub fn implicit_constructed(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let trimmed = &magnitude[skip.min(magnitude.len())..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() || trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

pub fn int(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(TAG_INTEGER, &bytes[start..])
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(TAG_BOOLEAN, &[if value { 0xff } else { 0 }])
}

pub fn null() -> Vec<u8> {
    vec![TAG_NULL, 0]
}

pub fn octet_string(content: &[u8]) -> Vec<u8> {
    tlv(TAG_OCTET_STRING, content)
}

pub fn bit_string(content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 1);
    v.push(0);
    v.extend_from_slice(content);
    tlv(TAG_BIT_STRING, &v)
}

/// A named-bit BIT STRING (KeyUsage) with trailing zero bits trimmed, as DER
/// requires. Bit 0 is the most significant bit of the first byte.
pub fn named_bits(bits: u16) -> Vec<u8> {
    if bits == 0 {
        return tlv(TAG_BIT_STRING, &[0]);
    }
    // Our bit i (0 = digitalSignature) lives at mask 1 << i; DER puts bit 0
    // in the most significant bit of the first byte.
    let mut out = [0u8; 2];
    let mut last = 0usize;
    for i in 0..16 {
        if bits & (1 << i) != 0 {
            out[i / 8] |= 0x80 >> (i % 8);
            last = i;
        }
    }
    let nbytes = last / 8 + 1;
    let unused = 7 - (last % 8) as u8;
    let mut content = vec![unused];
    content.extend_from_slice(&out[..nbytes]);
    tlv(TAG_BIT_STRING, &content)
}

/// Encodes a dotted OID string; `None` if it is not a valid OID.
pub fn oid_from_str(dotted: &str) -> Option<Vec<u8>> {
    let arcs = dotted
        .split('.')
        .map(|a| {
            if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                a.parse::<u64>().ok()
            }
        })
        .collect::<Option<Vec<u64>>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
        return None;
    }
    Some(oid(&arcs))
}

pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    push_base128(&mut content, first);
    for arc in arcs.iter().skip(2) {
        push_base128(&mut content, *arc);
    }
    tlv(TAG_OID, &content)
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    let n = tmp.len();
    for (j, b) in tmp[i..].iter().enumerate() {
        out.push(if i + j + 1 < n { b | 0x80 } else { *b });
    }
}

/// Go's choice for a string attribute: PrintableString when every character
/// is printable, else UTF8String.
pub fn directory_string(s: &str) -> Vec<u8> {
    let printable = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    // Go also allows '*' and '&' in PrintableString for compatibility.
    let printable = printable
        || s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*&".contains(&b));
    if printable {
        tlv(TAG_PRINTABLE_STRING, s.as_bytes())
    } else {
        tlv(TAG_UTF8_STRING, s.as_bytes())
    }
}

pub fn utf8(s: &str) -> Vec<u8> {
    tlv(TAG_UTF8_STRING, s.as_bytes())
}

/// RFC 5280 Time: UTCTime through 2049, GeneralizedTime after.
pub fn time(t: time::OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if (1950..2050).contains(&year) {
        let s = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            year % 100,
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        tlv(TAG_UTC_TIME, s.as_bytes())
    } else {
        generalized_time(t)
    }
}

pub fn generalized_time(t: time::OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(TAG_GENERALIZED_TIME, s.as_bytes())
}

/// One decoded TLV: `(tag, content, whole encoding, rest of the input)`.
pub type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Reads one TLV.
pub fn read(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((tag, &input[header..end], &input[..end], &input[end..]))
}

/// PEM with 64-column lines, without a trailing newline (Vault trims).
pub fn pem_encode(tag: &str, der_bytes: &[u8]) -> String {
    let p = pem::Pem::new(tag, der_bytes.to_vec());
    let text = pem::encode_config(
        &p,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits_trim_trailing_zeros() {
        // keyCertSign (5) + cRLSign (6) → 03 02 01 06
        assert_eq!(named_bits((1 << 5) | (1 << 6)), vec![3, 2, 1, 6]);
        // digitalSignature (0) + keyEncipherment (2) + keyAgreement (4) → 03 02 03 a8
        assert_eq!(named_bits(1 | (1 << 2) | (1 << 4)), vec![3, 2, 3, 0xa8]);
        // decipherOnly (8) needs two bytes
        assert_eq!(named_bits(1 << 8), vec![3, 3, 7, 0, 0x80]);
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(int(0), vec![2, 1, 0]);
        assert_eq!(int(128), vec![2, 2, 0, 128]);
        assert_eq!(int(-1), vec![2, 1, 0xff]);
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
    }

    #[test]
    fn oids_encode_like_openssl() {
        // 2.5.29.19 basicConstraints
        assert_eq!(oid(&[2, 5, 29, 19]), vec![6, 3, 0x55, 0x1d, 0x13]);
        // 1.2.840.113549.1.1.11 sha256WithRSAEncryption
        assert_eq!(
            oid(&[1, 2, 840, 113549, 1, 1, 11]),
            vec![6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11]
        );
        assert_eq!(
            oid_from_str("1.3.6.1.4.1.311.20.2.3"),
            Some(oid(&[1, 3, 6, 1, 4, 1, 311, 20, 2, 3]))
        );
        assert_eq!(oid_from_str("1.x"), None);
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = vec![7u8; 300];
        let enc = octet_string(&big);
        assert_eq!(&enc[..4], &[4, 0x82, 1, 44]);
        let (tag, content, _, rest) = read(&enc).unwrap_or((0, &[], &[], &[]));
        assert_eq!((tag, content.len(), rest.len()), (4, 300, 0));
    }
}
