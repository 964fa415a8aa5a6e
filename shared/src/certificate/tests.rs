use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyPair};

use super::*;

/// A CA's parameters and key; `names` in ASN.1 order (most significant first), as rcgen writes.
fn ca(names: &[(DnType, &str)]) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn(names);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (params, KeyPair::generate().unwrap())
}

fn dn(names: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in names {
        dn.push(kind.clone(), *value);
    }
    dn
}

fn leaf_params(names: &[(DnType, &str)]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn(names);
    params
}

/// A leaf signed by `ca`.
fn leaf(names: &[(DnType, &str)], ca: &(CertificateParams, KeyPair)) -> ClientCertificate {
    let issuer = Issuer::from_params(&ca.0, &ca.1);
    let cert = leaf_params(names).signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
    ClientCertificate::from_der(cert.der().to_vec(), true).unwrap()
}

fn example_ca() -> (CertificateParams, KeyPair) {
    ca(&[(DnType::OrganizationName, "Example"), (DnType::CommonName, "Example CA")])
}

fn device() -> ClientCertificate {
    leaf(&[(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-1")], &example_ca())
}

#[test]
fn subject_and_issuer_both_match() {
    let cert = device();
    assert_eq!(cert.subject_dn(), "CN=device-1,O=example");
    assert!(cert.matches_dns("CN=device-1,O=Example", "CN=Example CA,O=Example"));
    assert!(cert.chain_verified());
}

#[test]
fn a_wrong_subject_or_issuer_does_not_match() {
    let cert = device();
    assert!(!cert.matches_dns("CN=device-2,O=Example", "CN=Example CA,O=Example"));
    assert!(!cert.matches_dns("CN=device-1,O=Other", "CN=Example CA,O=Example"));
    assert!(!cert.matches_dns("CN=device-1", "CN=Example CA,O=Example"), "a missing RDN");
    assert!(!cert.matches_dns("CN=device-1,O=Example,C=US", "CN=Example CA,O=Example"), "an extra RDN");
    assert!(!cert.matches_dns("CN=device-1,O=Example", "CN=Other CA,O=Example"));
    // The same subject from another CA: the issuer DN decides.
    let other = leaf(
        &[(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-1")],
        &ca(&[(DnType::OrganizationName, "Other"), (DnType::CommonName, "Other CA")]),
    );
    assert!(!other.matches_dns("CN=device-1,O=Example", "CN=Example CA,O=Example"));
    assert!(other.matches_dns("CN=device-1,O=Example", "CN=Other CA,O=Other"));
    // A DN that does not parse matches nothing.
    assert!(!cert.matches_dns("CN=device-1,O=Example", "nonsense"));
    assert!(!cert.matches_dns("", "CN=Example CA,O=Example"));
}

#[test]
fn case_and_spacing_do_not_matter() {
    let cert = device();
    assert!(cert.matches_dns("cn=DEVICE-1, o = example", "Cn = example   ca ,  O=EXAMPLE "));
    assert!(cert.matches_dns("2.5.4.3=device-1,OID.2.5.4.10=Example", "commonName=Example CA;O=Example"));
    assert!(!cert.matches_dns("CN=device 1,O=Example", "CN=Example CA,O=Example"), "a dash is not a space");
}

#[test]
fn the_api_gateway_order_matches_too() {
    let ca = ca(&[
        (DnType::CountryName, "US"),
        (DnType::StateOrProvinceName, "Washington"),
        (DnType::OrganizationName, "Example"),
        (DnType::CommonName, "Example CA"),
    ]);
    let cert = leaf(
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Example"),
            (DnType::OrganizationalUnitName, "Devices"),
            (DnType::CommonName, "device-1"),
        ],
        &ca,
    );
    let (subject, issuer) = ("CN=device-1,OU=Devices,O=Example,C=US", "CN=Example CA,O=Example,ST=Washington,C=US");
    assert!(cert.matches_dns(subject, issuer), "RFC 4514 order");
    // As API Gateway's subjectDN / issuerDN write them (PING-MGMT §11.1), and mixed.
    let (aws_subject, aws_issuer) =
        ("C=US,O=Example,OU=Devices,CN=device-1", "C=US,ST=Washington,O=Example,CN=Example CA");
    assert!(cert.matches_dns(aws_subject, aws_issuer));
    assert!(cert.matches_dns(aws_subject, issuer));
    // Either order, but not any order.
    assert!(!cert.matches_dns("OU=Devices,CN=device-1,O=Example,C=US", issuer));
}

#[test]
fn escaped_commas_and_multi_valued_rdns() {
    let ca = example_ca();
    let cert = leaf(
        &[
            (DnType::OrganizationName, "Example, Inc."),
            (DnType::CommonName, "device+1 \"blue\""),
            (DnType::CustomDnType(vec![2, 5, 4, 45]), "x"),
        ],
        &ca,
    );
    assert_eq!(cert.subject_dn(), r#"2.5.4.45=x,CN=device\+1 \"blue\",O=example\, inc."#);
    assert!(cert.matches_dns(r#"2.5.4.45=x,CN=device\+1 \"blue\",O=Example\, Inc."#, "CN=Example CA,O=Example"));
    assert!(cert.matches_dns(r#"2.5.4.45=x,CN=device\2B1 \22blue\22,O="Example, Inc.""#, "CN=Example CA,O=Example"));
    assert!(!cert.matches_dns(r#"2.5.4.45=x,CN=device\+1 \"blue\",O=Example,O=Inc."#, "CN=Example CA,O=Example"));
    assert_eq!(normalize_dn("OU=b+CN=a,O=c").unwrap(), normalize_dn("CN=A + OU=B, O=C").unwrap());
}

#[test]
fn normalized_dns() {
    assert_eq!(normalize_dn(" cn = Ex  Ample ; e=A@B.example ").unwrap(), "CN=ex ample,EMAILADDRESS=a@b.example");
    assert_eq!(normalize_dn(r"CN=\C3\89t\C3\A9").unwrap(), "CN=été");
    assert_eq!(normalize_dn("CN=#0c03616263").unwrap(), "CN=abc", "a BER UTF8String reads as its text");
    assert_eq!(normalize_dn("UID=#020105").unwrap(), "UID=#020105", "an INTEGER stays hex");
    assert_eq!(normalize_dn(r"CN=a\,b,DC=example,DC=com").unwrap(), r"CN=a\,b,DC=example,DC=com");
    for bad in ["", "CN", "CN=a,", "XYZ=a", "CN=a\\", "CN=a\\q", "CN=\\4", "CN=\"open", "CN=#abc", "1.x=a", "=a"] {
        assert!(matches!(normalize_dn(bad), Err(CertificateError::InvalidDn(_))), "{bad:?}");
    }
}

#[test]
fn non_utf8_string_types_are_read() {
    let ca = example_ca();
    let mut params = leaf_params(&[]);
    let mut names = DistinguishedName::new();
    names.push(DnType::OrganizationName, DnValue::PrintableString("Example".try_into().unwrap()));
    names.push(DnType::CommonName, DnValue::BmpString("dévice".try_into().unwrap()));
    params.distinguished_name = names;
    let issuer = Issuer::from_params(&ca.0, &ca.1);
    let der = params.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap().der().to_vec();
    let cert = ClientCertificate::from_der(der, false).unwrap();
    assert!(cert.matches_dns("CN=Dévice,O=Example", "CN=Example CA,O=Example"));
    assert!(!cert.chain_verified());
}

#[test]
fn the_thumbprint_is_sha256_of_the_der() {
    let cert = device();
    // Independently: SHA-256 of the DER by aws-lc-rs's one-shot context, base64url unpadded.
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(cert.der());
    let expected = B64_URL.encode(ctx.finish().as_ref());
    assert_eq!(cert.thumbprint_s256(), expected);
    assert_eq!(cert.thumbprint_s256().len(), 43);
    assert!(!cert.thumbprint_s256().contains(['=', '+', '/']));
    assert_ne!(device().thumbprint_s256(), cert.thumbprint_s256(), "another certificate, another print");
}

#[test]
fn x5c_is_compared_by_der() {
    let key = KeyPair::generate().unwrap();
    let self_signed = leaf_params(&[(DnType::CommonName, "self")]).self_signed(&key).unwrap();
    let cert = ClientCertificate::from_pem(&self_signed.pem(), false).unwrap();
    let x5c = B64_STD.encode(self_signed.der());
    assert!(cert.matches_x5c(&x5c));
    // Line-wrapped base64 is still the same bytes.
    let wrapped: String =
        x5c.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n");
    assert!(cert.matches_x5c(&wrapped));
    // The same key and subject in another certificate is another certificate.
    let again = leaf_params(&[(DnType::CommonName, "self")]).self_signed(&key).unwrap();
    assert!(!cert.matches_x5c(&B64_STD.encode(again.der())));
    assert!(!cert.matches_x5c("not base64!"));
    assert!(!cert.matches_x5c(""));
}

#[test]
fn validity_is_inclusive_of_both_ends() {
    let ca = example_ca();
    let mut params = leaf_params(&[(DnType::CommonName, "old")]);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let issuer = Issuer::from_params(&ca.0, &ca.1);
    let der = params.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap().der().to_vec();
    let cert = ClientCertificate::from_der(der, true).unwrap();
    let (from, to) = (1_577_836_800, 1_609_459_200); // 2020-01-01, 2021-01-01 UTC
    assert!(!cert.valid_at(from - 1));
    assert!(cert.valid_at(from) && cert.valid_at(to));
    assert!(!cert.valid_at(to + 1), "expired");
    assert!(!cert.valid_at(time::OffsetDateTime::now_utc().unix_timestamp()), "expired now");
    assert!(device().valid_at(time::OffsetDateTime::now_utc().unix_timestamp()));
}

#[test]
fn malformed_input_is_refused() {
    assert!(matches!(ClientCertificate::from_der(b"nope".to_vec(), true), Err(CertificateError::Malformed(_))));
    let mut der = device().der().to_vec();
    der.push(0);
    assert!(matches!(ClientCertificate::from_der(der, true), Err(CertificateError::Malformed(_))));
    assert_eq!(ClientCertificate::from_pem("hello", true), Err(CertificateError::NoPemCertificate));
    let key = KeyPair::generate().unwrap().serialize_pem();
    assert_eq!(ClientCertificate::from_pem(&key, true), Err(CertificateError::NoPemCertificate));
    let garbage = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(ClientCertificate::from_pem(garbage, true), Err(CertificateError::Malformed(_))));
}

#[test]
fn debug_shows_the_subject_not_the_bytes() {
    let cert = device();
    let shown = format!("{cert:?}");
    assert!(shown.contains("CN=device-1,O=example"), "{shown}");
    assert!(!shown.contains(&B64_STD.encode(cert.der())[..16]) && !shown.contains("der"), "{shown}");
}
