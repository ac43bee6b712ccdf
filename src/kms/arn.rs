//! KMS ARNs: `arn:<partition>:kms:<region>:<account>:<key|alias>/<id>`
//! (SPEC `framework/aws-kms/aws-kms-key-arn.md`, esdk-format.md §8.1).

use std::fmt;

use crate::error::quoted;

/// The resource type of a KMS ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// `key/<id>` (a multi-region key's id starts with `mrk-`).
    Key,
    /// `alias/<name>`.
    Alias,
}

/// A parsed KMS ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// 12-digit account id (not checked for digits: emulators vary).
    pub account: String,
    /// `key` or `alias`.
    pub resource_type: ResourceType,
    /// Everything after the first `/` (may itself contain `/`).
    pub resource_id: String,
}

/// Why a string is not a KMS ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnError(pub String);

impl fmt::Display for ArnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl KmsArn {
    /// Parse `s`. Every MUST of aws-kms-key-arn.md: prefix `arn`, non-empty partition,
    /// service `kms`, non-empty region and account, resource `key/…` or `alias/…` with a
    /// non-empty id.
    ///
    /// # Errors
    /// [`ArnError`] naming the first defect.
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let err = |why: &str| Err(ArnError(format!("{} is not a KMS ARN: {why}", quoted(s))));
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() != 6 {
            return err("expected arn:<partition>:kms:<region>:<account>:<type>/<id>");
        }
        if parts[0] != "arn" {
            return err("it must start with \"arn:\"");
        }
        if parts[1].is_empty() {
            return err("empty partition");
        }
        if parts[2] != "kms" {
            return err("the service is not \"kms\"");
        }
        if parts[3].is_empty() {
            return err("empty region");
        }
        if parts[4].is_empty() {
            return err("empty account");
        }
        let Some((ty, id)) = parts[5].split_once('/') else {
            return err("the resource must be key/<id> or alias/<name>");
        };
        let resource_type = match ty {
            "key" => ResourceType::Key,
            "alias" => ResourceType::Alias,
            _ => return err("the resource type must be \"key\" or \"alias\""),
        };
        if id.is_empty() {
            return err("empty resource id");
        }
        Ok(KmsArn {
            partition: parts[1].to_string(),
            region: parts[3].to_string(),
            account: parts[4].to_string(),
            resource_type,
            resource_id: id.to_string(),
        })
    }

    /// Parse `s` and require resource type `key` (what EDK provider infos and KMS response
    /// `KeyId`s must be).
    ///
    /// # Errors
    /// [`ArnError`] when `s` is not a key ARN (an alias ARN included).
    pub fn parse_key(s: &str) -> Result<Self, ArnError> {
        let arn = Self::parse(s)?;
        if arn.resource_type != ResourceType::Key {
            return Err(ArnError(format!(
                "{} is an alias ARN; a key ARN (…:key/<id>) is required",
                quoted(s)
            )));
        }
        Ok(arn)
    }

    /// Whether this is a multi-region key (`key/mrk-…`).
    pub fn is_multi_region(&self) -> bool {
        self.resource_type == ResourceType::Key && self.resource_id.starts_with("mrk-")
    }
}

impl fmt::Display for KmsArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = match self.resource_type {
            ResourceType::Key => "key",
            ResourceType::Alias => "alias",
        };
        write!(
            f,
            "arn:{}:kms:{}:{}:{ty}/{}",
            self.partition, self.region, self.account, self.resource_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/ce0550fc-1111-2222-3333-444455556666";

    #[test]
    fn key_arn_round_trips() {
        let a = KmsArn::parse_key(KEY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.partition, "aws");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource_type, ResourceType::Key);
        assert_eq!(a.to_string(), KEY);
        assert!(!a.is_multi_region());
        let m = KmsArn::parse("arn:aws-cn:kms:cn-north-1:1:key/mrk-abc")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(m.is_multi_region());
    }

    #[test]
    fn alias_arn_parses_but_is_not_a_key_arn() {
        let alias = "arn:aws:kms:us-east-1:123456789012:alias/my/app";
        let a = KmsArn::parse(alias).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.resource_type, ResourceType::Alias);
        assert_eq!(a.resource_id, "my/app");
        assert!(KmsArn::parse_key(alias).is_err());
    }

    #[test]
    fn malformed_arns_are_refused() {
        for bad in [
            "",
            "alias/foo",
            "ce0550fc-1111-2222-3333-444455556666",
            "arn::kms:us-east-1:1:key/x",
            "arn:aws:s3:us-east-1:1:key/x",
            "arn:aws:kms::1:key/x",
            "arn:aws:kms:us-east-1::key/x",
            "arn:aws:kms:us-east-1:1:key/",
            "arn:aws:kms:us-east-1:1:key",
            "arn:aws:kms:us-east-1:1:grant/x",
            "ARN:aws:kms:us-east-1:1:key/x",
        ] {
            assert!(KmsArn::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
