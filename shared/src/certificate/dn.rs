//! RFC 4514 DN strings as administrators configure them, parsed into the canonical RDNs that
//! `ClientCertificate::matches_dns` compares (rules in the parent module's doc).

use x509_parser::asn1_rs::{Any, FromDer};

use super::{any_value, canonical_text, CertificateError, Rdn, Value};

// --- RFC 4514 parsing ----------------------------------------------------

/// Attribute types by canonical name and OID; the extra names are aliases.
const TYPES: &[(&str, &str, &[&str])] = &[
    ("CN", "2.5.4.3", &["COMMONNAME"]),
    ("SN", "2.5.4.4", &["SURNAME"]),
    ("SERIALNUMBER", "2.5.4.5", &[]),
    ("C", "2.5.4.6", &["COUNTRYNAME"]),
    ("L", "2.5.4.7", &["LOCALITYNAME"]),
    ("ST", "2.5.4.8", &["S", "STATEORPROVINCENAME"]),
    ("STREET", "2.5.4.9", &["STREETADDRESS"]),
    ("O", "2.5.4.10", &["ORGANIZATIONNAME"]),
    ("OU", "2.5.4.11", &["ORGANIZATIONALUNITNAME"]),
    ("TITLE", "2.5.4.12", &["T"]),
    ("POSTALCODE", "2.5.4.17", &[]),
    ("GIVENNAME", "2.5.4.42", &["G", "GN"]),
    ("INITIALS", "2.5.4.43", &[]),
    ("GENERATIONQUALIFIER", "2.5.4.44", &[]),
    ("DNQUALIFIER", "2.5.4.46", &[]),
    ("PSEUDONYM", "2.5.4.65", &[]),
    ("ORGANIZATIONIDENTIFIER", "2.5.4.97", &[]),
    ("DC", "0.9.2342.19200300.100.1.25", &["DOMAINCOMPONENT"]),
    ("UID", "0.9.2342.19200300.100.1.1", &["USERID"]),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1", &["E", "EMAIL"]),
];

pub(super) fn type_for_oid(oid: &str) -> String {
    TYPES.iter().find(|(_, o, _)| *o == oid).map_or_else(|| oid.to_owned(), |(name, _, _)| (*name).to_owned())
}

fn type_for_name(raw: &str) -> Result<String, CertificateError> {
    let name = raw.trim();
    let dotted = name.strip_prefix("OID.").or_else(|| name.strip_prefix("oid.")).unwrap_or(name);
    if dotted.starts_with(|c: char| c.is_ascii_digit()) {
        let valid = dotted.split('.').count() >= 2
            && dotted.split('.').all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
        return if valid {
            Ok(type_for_oid(dotted))
        } else {
            Err(CertificateError::InvalidDn(format!("'{name}' is not a dotted OID")))
        };
    }
    let upper = name.to_ascii_uppercase();
    TYPES
        .iter()
        .find(|(canonical, _, aliases)| *canonical == upper || aliases.contains(&upper.as_str()))
        .map(|(canonical, _, _)| (*canonical).to_owned())
        .ok_or_else(|| CertificateError::InvalidDn(format!("unknown attribute type '{name}' (use its OID)")))
}

/// Parses an RFC 4514 string into canonical RDNs, in the order written.
pub(super) fn parse_dn(dn: &str) -> Result<Vec<Rdn>, CertificateError> {
    let mut parser = DnParser { chars: dn.chars().collect(), at: 0 };
    let mut rdns = Vec::new();
    let mut rdn: Rdn = Vec::new();
    if parser.chars.iter().all(|c| c.is_whitespace()) {
        return Err(CertificateError::InvalidDn("the DN is empty".into()));
    }
    loop {
        let kind = parser.attribute_type()?;
        let value = parser.value()?;
        rdn.push((kind, value));
        match parser.next() {
            None => break,
            Some('+') => continue,
            Some(',' | ';') => {
                rdn.sort();
                rdns.push(std::mem::take(&mut rdn));
            }
            Some(c) => return Err(CertificateError::InvalidDn(format!("unexpected '{c}'"))),
        }
    }
    rdn.sort();
    rdns.push(rdn);
    Ok(rdns)
}

struct DnParser {
    chars: Vec<char>,
    at: usize,
}

impl DnParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += usize::from(c.is_some());
        c
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// `type =`, spaces around allowed.
    fn attribute_type(&mut self) -> Result<String, CertificateError> {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == '=' {
                let raw: String = self.chars[start..self.at].iter().collect();
                self.at += 1;
                if raw.trim().is_empty() {
                    return Err(CertificateError::InvalidDn("an attribute has no type".into()));
                }
                return type_for_name(&raw);
            }
            if matches!(c, ',' | '+' | ';') {
                break;
            }
            self.at += 1;
        }
        let raw: String = self.chars[start..self.at].iter().collect();
        Err(CertificateError::InvalidDn(format!("'{}' has no '='", raw.trim())))
    }

    /// A value up to the next unescaped `,` `;` `+` (not consumed), unescaped.
    fn value(&mut self) -> Result<Value, CertificateError> {
        self.skip_spaces();
        match self.peek() {
            Some('#') => {
                self.at += 1;
                self.hex_value()
            }
            Some('"') => {
                self.at += 1;
                self.quoted_value().map(|t| Value::Text(canonical_text(&t)))
            }
            _ => self.plain_value().map(|t| Value::Text(canonical_text(&t))),
        }
    }

    fn plain_value(&mut self) -> Result<String, CertificateError> {
        let mut bytes = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ',' | ';' | '+' => break,
                '\\' => {
                    self.at += 1;
                    self.escape(&mut bytes)?;
                }
                '"' => return Err(CertificateError::InvalidDn("an unescaped '\"' inside a value".into())),
                _ => {
                    self.at += 1;
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| CertificateError::InvalidDn("hex escapes are not UTF-8".into()))
    }

    /// After a `\`: a special character or two hex digits (RFC 4514 §3 `pair`).
    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), CertificateError> {
        match self.next() {
            Some(h) if h.is_ascii_hexdigit() => match self.next() {
                Some(l) if l.is_ascii_hexdigit() => {
                    let byte = u8::from_str_radix(&format!("{h}{l}"), 16).unwrap_or_default();
                    bytes.push(byte);
                    Ok(())
                }
                _ => Err(CertificateError::InvalidDn("'\\' must be followed by two hex digits".into())),
            },
            Some(c) if " \"#+,;<=>\\".contains(c) => {
                bytes.push(c as u8);
                Ok(())
            }
            Some(c) => Err(CertificateError::InvalidDn(format!("'\\{c}' is not an RFC 4514 escape"))),
            None => Err(CertificateError::InvalidDn("the DN ends in '\\'".into())),
        }
    }

    /// RFC 1779 / RFC 2253 legacy `"..."`; then only spaces before the separator.
    fn quoted_value(&mut self) -> Result<String, CertificateError> {
        let mut bytes = Vec::new();
        loop {
            match self.next() {
                None => return Err(CertificateError::InvalidDn("an unterminated quoted value".into())),
                Some('"') => break,
                Some('\\') => self.escape(&mut bytes)?,
                Some(c) => {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        self.skip_spaces();
        if !matches!(self.peek(), None | Some(',' | ';' | '+')) {
            return Err(CertificateError::InvalidDn("text after a quoted value".into()));
        }
        String::from_utf8(bytes).map_err(|_| CertificateError::InvalidDn("hex escapes are not UTF-8".into()))
    }

    /// `#` + the hex of a BER value (RFC 4514 §2.4): a string type reads as its text, so that
    /// `CN=#0c03616263` equals `CN=abc`; anything else stays DER.
    fn hex_value(&mut self) -> Result<Value, CertificateError> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        self.skip_spaces();
        if digits.is_empty() || !digits.len().is_multiple_of(2) || !matches!(self.peek(), None | Some(',' | ';' | '+'))
        {
            return Err(CertificateError::InvalidDn("a '#' value must be an even number of hex digits".into()));
        }
        let der: Vec<u8> =
            (0..digits.len()).step_by(2).filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect();
        match Any::from_der(&der) {
            Ok(([], any)) => any_value(&any),
            _ => Err(CertificateError::InvalidDn("a '#' value is not one DER-encoded value".into())),
        }
    }
}
