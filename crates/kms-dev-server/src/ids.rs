//! Key ids, ARNs and alias names, and how a `KeyId` parameter resolves (as in KMS).

use crate::error::{ErrorKind, KmsError};

/// A canonical, lowercase UUID (8-4-4-4-12 hex) as raw bytes.
pub type KeyUuid = [u8; 16];

/// Formats 16 bytes as a lowercase UUID string.
pub fn format_uuid(b: &KeyUuid) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    // Byte offsets into a 32-char ASCII string are always on char boundaries.
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

/// Parses a lowercase canonical UUID; anything else (uppercase, braces, no dashes) is not a key id.
pub fn parse_uuid(s: &str) -> Option<KeyUuid> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = Vec::with_capacity(32);
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        nibbles.push(v);
    }
    for (o, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hi << 4) | lo;
        }
    }
    Some(out)
}

/// A random (version 4) UUID.
pub fn new_uuid() -> Result<KeyUuid, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    if let Some(x) = b.get_mut(6) {
        *x = (*x & 0x0f) | 0x40;
    }
    if let Some(x) = b.get_mut(8) {
        *x = (*x & 0x3f) | 0x80;
    }
    Ok(b)
}

/// The region and account this server pretends to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account: String,
}

impl Scope {
    pub fn key_arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }
    pub fn alias_arn(&self, alias_name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias_name}", self.region, self.account)
    }
}

/// What a `KeyId` parameter names, before looking it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A bare key id (from a UUID or a key ARN).
    Key(String),
    /// A full alias name, `alias/NAME` (from an alias name or alias ARN).
    Alias(String),
}

/// Whether an operation accepts aliases in `KeyId` (crypto operations and DescribeKey do;
/// key-management operations such as DisableKey take only a key id or key ARN, as in KMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasPolicy {
    Allowed,
    Forbidden,
}

const MAX_KEY_ID_LEN: usize = 2048;

/// Parses a `KeyId` parameter: key id, key ARN, `alias/NAME` or alias ARN. An ARN for another
/// region or account names nothing on this server, so it is `NotFoundException`, as in KMS.
pub fn parse_key_ref(input: &str, scope: &Scope, aliases: AliasPolicy) -> Result<KeyRef, KmsError> {
    if input.is_empty() || input.len() > MAX_KEY_ID_LEN {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and {MAX_KEY_ID_LEN}"
        )));
    }
    let invalid = || KmsError::not_found(format!("Invalid keyId '{input}'"));
    let alias_refused = || {
        KmsError::not_found(format!(
            "Invalid keyId '{input}': this operation takes a key id or key ARN, not an alias"
        ))
    };
    if let Some(rest) = input.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts.as_slice() else {
            return Err(invalid());
        };
        if !partition.starts_with("aws") || *service != "kms" {
            return Err(invalid());
        }
        if *region != scope.region || *account != scope.account {
            return Err(KmsError::not_found(format!(
                "Key '{input}' does not exist (this server is region {} account {})",
                scope.region, scope.account
            )));
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return parse_uuid(id)
                .map(|_| KeyRef::Key(id.to_owned()))
                .ok_or_else(invalid);
        }
        if resource.starts_with("alias/") {
            return match aliases {
                AliasPolicy::Allowed => Ok(KeyRef::Alias((*resource).to_owned())),
                AliasPolicy::Forbidden => Err(alias_refused()),
            };
        }
        return Err(invalid());
    }
    if input.starts_with("alias/") {
        return match aliases {
            AliasPolicy::Allowed => Ok(KeyRef::Alias(input.to_owned())),
            AliasPolicy::Forbidden => Err(alias_refused()),
        };
    }
    parse_uuid(input)
        .map(|_| KeyRef::Key(input.to_owned()))
        .ok_or_else(invalid)
}

/// Validates an alias name for CreateAlias/UpdateAlias/DeleteAlias: `alias/` followed by
/// 1+ characters of `[A-Za-z0-9/_-]`, at most 256 in total, not in the reserved `alias/aws/`.
pub fn validate_alias_name(name: &str) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            format!("Alias '{name}' must begin with 'alias/'"),
        ));
    };
    if name.len() > 256 || rest.is_empty() {
        return Err(KmsError::validation(
            "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length between 1 and 256",
        ));
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if rest.starts_with("aws/") {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            format!("Alias '{name}' is reserved for AWS managed keys"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }
    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn uuid_round_trips_and_v4_bits_are_set() {
        let u = new_uuid().unwrap();
        let s = format_uuid(&u);
        assert_eq!(parse_uuid(&s), Some(u));
        assert_eq!(s.as_bytes()[14], b'4');
        assert!(matches!(s.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(new_uuid().unwrap(), u);
    }

    #[test]
    fn non_canonical_uuids_are_not_key_ids() {
        for bad in [
            "1234ABCD-12ab-34cd-56ef-1234567890ab",
            "1234abcd12ab34cd56ef1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd-12ab-34cd-56ef_1234567890ab",
            "g234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_kms_key_id_form_resolves() {
        let s = scope();
        let k = KeyRef::Key(ID.into());
        assert_eq!(parse_key_ref(ID, &s, AliasPolicy::Forbidden), Ok(k.clone()));
        assert_eq!(
            parse_key_ref(&s.key_arn(ID), &s, AliasPolicy::Forbidden),
            Ok(k)
        );
        let a = KeyRef::Alias("alias/demo".into());
        assert_eq!(
            parse_key_ref("alias/demo", &s, AliasPolicy::Allowed),
            Ok(a.clone())
        );
        assert_eq!(
            parse_key_ref(&s.alias_arn("alias/demo"), &s, AliasPolicy::Allowed),
            Ok(a)
        );
    }

    #[test]
    fn aliases_are_refused_where_kms_takes_only_key_ids() {
        let s = scope();
        for input in ["alias/demo".to_owned(), s.alias_arn("alias/demo")] {
            let e = parse_key_ref(&input, &s, AliasPolicy::Forbidden).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotFound);
        }
    }

    #[test]
    fn arns_of_other_regions_accounts_or_services_name_nothing() {
        let s = scope();
        for input in [
            format!("arn:aws:kms:eu-west-1:111122223333:key/{ID}"),
            format!("arn:aws:kms:us-east-1:999999999999:key/{ID}"),
            format!("arn:aws:s3:us-east-1:111122223333:key/{ID}"),
            "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid".to_owned(),
            "arn:aws:kms:us-east-1:111122223333".to_owned(),
            "arn:aws:kms:us-east-1:111122223333:thing/x".to_owned(),
            "nope".to_owned(),
        ] {
            let e = parse_key_ref(&input, &s, AliasPolicy::Allowed).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotFound, "{input}");
        }
        let e = parse_key_ref("", &s, AliasPolicy::Allowed).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
    }

    #[test]
    fn alias_names_follow_kms_rules() {
        assert!(validate_alias_name("alias/my-key_1/x").is_ok());
        for bad in [
            "my-key",
            "alias/",
            "alias/has space",
            "alias/ünï",
            "alias/aws/ebs",
        ] {
            assert!(validate_alias_name(bad).is_err(), "{bad}");
        }
        assert!(validate_alias_name(&format!("alias/{}", "a".repeat(250))).is_ok());
        assert!(validate_alias_name(&format!("alias/{}", "a".repeat(251))).is_err());
    }
}
