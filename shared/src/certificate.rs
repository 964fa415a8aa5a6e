//! Client certificates from the TLS handshake (RFC 8705 mutual-TLS client authentication and
//! certificate-bound tokens): parsing, the `x5t#S256` thumbprint, validity, and the subject and
//! issuer DN comparison of PingFederate's `CERTIFICATE` client authentication.
//!
//! Where a certificate comes from: on AWS, API Gateway's mutual-TLS custom domain verifies the
//! chain against its truststore and hands the leaf to the Lambda in
//! `requestContext.authentication.clientCert.clientCertPem` (PING-MGMT §11.1); locally, the
//! HTTPS listener of the local server. Neither a header nor AWS's `subjectDN`/`issuerDN` strings
//! are trusted or compared: the DNs are read from the DER (PING-MGMT §11.3 item 2).
//!
//! # Comparing DNs
//!
//! A configured DN (`tlsClientAuthSubjectDn`, PingFederate's `clientCertSubjectDn`, ...) is an
//! RFC 4514 string. Both sides are brought to the same form before comparing:
//!
//! - the string is parsed as RFC 4514 (`,` between RDNs, `;` too as RFC 4514 §4 allows of older
//!   writers, `+` inside a multi-valued RDN; escapes `\,` `\+` `\"` `\\` ..., hex pairs such as
//!   `\4F` or `\C3\A9` for UTF-8, legacy quoted values `"a, b"`, and `#` + hex BER values);
//! - attribute types are case-insensitive and aliases fold to one name (`E` and `EMAILADDRESS`,
//!   `S` and `ST`, dotted OIDs like `2.5.4.3` or `OID.2.5.4.3` to `CN`); a type we do not know by
//!   name is an error (it could never be matched), an unknown OID stays an OID;
//! - values compare as RFC 4518 `caseIgnoreMatch` approximately: Unicode lower case, leading and
//!   trailing spaces dropped, inner runs of white space folded to one space;
//! - the attributes of a multi-valued RDN are a set: their order does not matter.
//!
//! ## RDN order
//!
//! RFC 4514 §2.1 writes the RDNs most specific first (`CN=device-1,O=Example`), the reverse of
//! the ASN.1 `SEQUENCE` in the certificate; that is the order Java, PingFederate and OpenSSL's
//! `-nameopt RFC2253` print and PingFederate admins paste. API Gateway's `subjectDN` is written
//! the other way (`O=Example,CN=device-1`, PING-MGMT §11.1), and admins copying from it or from
//! OpenSSL's default one-line form do the same. PING-MGMT §11.3 item 2 asks to accept either
//! order, and we do: a configured DN matches when its RDN sequence equals the certificate's
//! RFC 4514 sequence or that sequence reversed.
//!
//! Why this is safe enough: the two readings of one string differ only in which end is the top
//! of the naming tree. A false match needs a certificate, from a CA the server trusts (and whose
//! issuer DN is configured too), whose subject is the *exact mirror image* of the configured one
//! (`CN=device-1` as the root RDN and `O=Example` below it). CAs build subjects from a fixed
//! template under their own namespace, and name constraints on a directory name (RFC 5280
//! §4.2.1.10, a prefix of the RDN sequence) reject the mirror image, so such a certificate does
//! not arise from a CA that keeps its namespace; a CA that issues any DN a subscriber asks for
//! defeats DN matching in either order anyway. A DN of one RDN is its own mirror image.
//! Order inside the DN is otherwise kept: `CN=a,OU=b,O=c` does not match `OU=b,CN=a,O=c`.

use std::fmt;

use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64_URL};
use base64::Engine;
use x509_parser::asn1_rs::{Any, FromDer, Tag, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::x509::X509Name;

use dn::{parse_dn, type_for_oid};

/// Why a certificate or a DN string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the certificate is not valid DER X.509: {0}")]
    Malformed(String),
    #[error("no CERTIFICATE block in the PEM text")]
    NoPemCertificate,
    #[error("invalid DN: {0}")]
    InvalidDn(String),
}

/// An attribute value: text (canonical), or the DER of a value of another type, as hex.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Value {
    Text(String),
    Der(String),
}

/// One attribute of an RDN: canonical type name (or dotted OID) and value.
pub(crate) type Attribute = (String, Value);
/// An RDN: its attributes, sorted (a multi-valued RDN is a set).
pub(crate) type Rdn = Vec<Attribute>;

/// A client certificate presented in the TLS handshake (leaf, DER).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Vec<u8>,
    chain_verified: bool,
    /// The subject and issuer RDNs in RFC 4514 order (most specific first), canonical.
    subject: Vec<Rdn>,
    issuer: Vec<Rdn>,
    /// The subject as RFC 4514 text as the certificate has it (for logs).
    subject_text: String,
    not_before: i64,
    not_after: i64,
}

impl fmt::Debug for ClientCertificate {
    /// The subject only: the bytes stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.subject_text)
            .field("chain_verified", &self.chain_verified)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Parses `der` (one X.509 certificate, nothing after it) once, to validate it.
    pub fn from_der(der: Vec<u8>, chain_verified: bool) -> Result<Self, CertificateError> {
        let (rest, cert) = X509Certificate::from_der(&der).map_err(|e| CertificateError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertificateError::Malformed("trailing bytes after the certificate".into()));
        }
        let subject = name_rdns(cert.subject())?;
        let issuer = name_rdns(cert.issuer())?;
        let subject_text = render(&subject);
        let validity = cert.validity();
        let (not_before, not_after) = (validity.not_before.timestamp(), validity.not_after.timestamp());
        drop(cert);
        Ok(Self { der, chain_verified, subject, issuer, subject_text, not_before, not_after })
    }

    /// The first `CERTIFICATE` block of `pem` (API Gateway's `clientCertPem` holds the leaf only).
    pub fn from_pem(pem: &str, chain_verified: bool) -> Result<Self, CertificateError> {
        for block in Pem::iter_from_buffer(pem.as_bytes()) {
            let block = block.map_err(|e| CertificateError::Malformed(e.to_string()))?;
            if block.label == "CERTIFICATE" {
                return Self::from_der(block.contents, chain_verified);
            }
        }
        Err(CertificateError::NoPemCertificate)
    }

    /// Whether the chain was verified against the configured trust anchors (API Gateway's
    /// truststore, or the local listener's `--tls-client-ca`). Only such certificates may serve
    /// `tls_client_auth` (RFC 8705 §2.1); `self_signed_tls_client_auth` (§2.2) and
    /// certificate-bound tokens (§3) do not need it.
    pub fn chain_verified(&self) -> bool {
        self.chain_verified
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN as RFC 4514 text, most specific RDN first, in canonical (lower-case) form.
    pub fn subject_dn(&self) -> &str {
        &self.subject_text
    }

    /// RFC 8705 §3.1: base64url (no padding) of SHA-256 of the DER (`cnf.x5t#S256`).
    pub fn thumbprint_s256(&self) -> String {
        B64_URL.encode(digest::digest(&digest::SHA256, &self.der))
    }

    /// RFC 5280 §4.1.2.5: valid from `notBefore` through `notAfter`, both inclusive.
    pub fn valid_at(&self, now_s: i64) -> bool {
        self.not_before <= now_s && now_s <= self.not_after
    }

    /// PingFederate's `CERTIFICATE` rule (PING-MGMT §10.3): subject DN and issuer DN both equal
    /// the configured ones, compared as described in the module doc. A configured DN that does
    /// not parse matches nothing.
    pub fn matches_dns(&self, subject_dn: &str, issuer_dn: &str) -> bool {
        same_dn(&self.subject, subject_dn) && same_dn(&self.issuer, issuer_dn)
    }

    /// RFC 8705 §2.2 self-signed: the presented certificate is the JWK's `x5c[0]` (standard
    /// base64 of the DER, RFC 7517 §4.7), compared by DER bytes.
    pub fn matches_x5c(&self, x5c_b64: &str) -> bool {
        let compact: String = x5c_b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        B64_STD.decode(compact).is_ok_and(|der| der == self.der)
    }
}

/// An RFC 4514 DN string in a canonical form for comparison (RDNs in the order written), or an
/// error saying what is wrong. Management validation can use it to refuse a DN that could never
/// match.
pub fn normalize_dn(dn: &str) -> Result<String, CertificateError> {
    parse_dn(dn).map(|rdns| render(&rdns))
}

/// `configured` equals `rdns` (RFC 4514 order) read in either direction (module doc).
fn same_dn(rdns: &[Rdn], configured: &str) -> bool {
    match parse_dn(configured) {
        Ok(wanted) if !wanted.is_empty() => wanted == rdns || wanted.iter().eq(rdns.iter().rev()),
        _ => false,
    }
}

// --- The certificate's side -------------------------------------------------------------------

fn name_rdns(name: &X509Name<'_>) -> Result<Vec<Rdn>, CertificateError> {
    // The ASN.1 sequence is most significant first; RFC 4514 writes it reversed (§2.1).
    let mut rdns: Vec<Rdn> = name
        .iter()
        .map(|rdn| {
            let mut attrs: Rdn = rdn
                .iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    Ok((type_for_oid(&oid), any_value(atv.attr_value())?))
                })
                .collect::<Result<_, CertificateError>>()?;
            attrs.sort();
            Ok(attrs)
        })
        .collect::<Result<_, CertificateError>>()?;
    rdns.reverse();
    Ok(rdns)
}

/// A DN attribute value: the string types decoded to canonical text, anything else its DER
/// (RFC 4514 §2.4 writes it `#` + hex).
pub(crate) fn any_value(any: &Any<'_>) -> Result<Value, CertificateError> {
    let data = any.data;
    let text = match any.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString | Tag::VisibleString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        // Latin-1 is the common reading of T.61 in certificates.
        Tag::TeletexString => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString if data.len().is_multiple_of(2) => {
            String::from_utf16(&data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>()).ok()
        }
        Tag::UniversalString if data.len().is_multiple_of(4) => data
            .chunks(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect::<Option<String>>(),
        _ => {
            let der = any.to_der_vec().map_err(|e| CertificateError::Malformed(e.to_string()))?;
            return Ok(Value::Der(hex(&der)));
        }
    };
    text.map(|t| Value::Text(canonical_text(&t)))
        .ok_or_else(|| CertificateError::Malformed("a DN value is not valid text for its string type".into()))
}

// --- Canonical form ---------------------------------------------------------------------------

/// RFC 4518 `caseIgnoreMatch`, approximately: lower case, outer spaces dropped, inner white
/// space runs folded to one space.
pub(crate) fn canonical_text(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// RFC 4514 text of canonical RDNs, escaping what must be escaped.
fn render(rdns: &[Rdn]) -> String {
    rdns.iter()
        .map(|rdn| rdn.iter().map(|(t, v)| format!("{t}={}", escape_value(v))).collect::<Vec<_>>().join("+"))
        .collect::<Vec<_>>()
        .join(",")
}

fn escape_value(value: &Value) -> String {
    let value = match value {
        Value::Der(hex) => return format!("#{hex}"),
        Value::Text(text) => text,
    };
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || (i == 0 && c == '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod dn;
#[cfg(test)]
mod tests;
