//! Key records (metadata plus every version of the key material) and their on-disk form, in
//! which each version's material is wrapped with AES-256-GCM under the data directory's master key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError, KEY_LEN};
use crate::ids::{self, KeyUuid};
use crate::state::KeyState;

/// Version of the key and alias file formats.
pub const FILE_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionOrigin {
    Initial,
    Automatic,
    OnDemand,
}

/// One generation of a key's material; old ones stay for decrypting old blobs.
#[derive(Clone)]
pub struct KeyVersion {
    pub number: u32,
    pub created_ms: i64,
    pub origin: VersionOrigin,
    pub material: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeyVersion")
            .field("number", &self.number)
            .field("created_ms", &self.created_ms)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue")]
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub uuid: KeyUuid,
    pub created_ms: i64,
    pub description: String,
    pub state: KeyState,
    pub deletion_ms: Option<i64>,
    pub pending_window_days: Option<i64>,
    /// `Some(period)` when automatic rotation is enabled.
    pub rotation_period_days: Option<i64>,
    pub next_rotation_ms: Option<i64>,
    pub tags: Vec<Tag>,
    /// Ascending by number; never empty. The last one is current.
    pub versions: Vec<KeyVersion>,
}

impl KeyRecord {
    /// A new enabled key with fresh material.
    pub fn generate(description: String, tags: Vec<Tag>, now_ms: i64) -> Result<Self, CryptoError> {
        let uuid = ids::new_uuid().map_err(|_| CryptoError::Random)?;
        Ok(Self {
            id: ids::format_uuid(&uuid),
            uuid,
            created_ms: now_ms,
            description,
            state: KeyState::Enabled,
            deletion_ms: None,
            pending_window_days: None,
            rotation_period_days: None,
            next_rotation_ms: None,
            tags,
            versions: vec![KeyVersion {
                number: 1,
                created_ms: now_ms,
                origin: VersionOrigin::Initial,
                material: crypto::random_key()?,
            }],
        })
    }

    pub fn current(&self) -> Option<&KeyVersion> {
        self.versions.last()
    }

    pub fn version(&self, number: u32) -> Option<&KeyVersion> {
        self.versions.iter().find(|v| v.number == number)
    }

    pub fn rotate(&mut self, origin: VersionOrigin, now_ms: i64) -> Result<(), CryptoError> {
        let number = self.current().map_or(1, |v| v.number.saturating_add(1));
        self.versions.push(KeyVersion {
            number,
            created_ms: now_ms,
            origin,
            material: crypto::random_key()?,
        });
        Ok(())
    }

    pub fn on_demand_rotations(&self) -> usize {
        self.versions
            .iter()
            .filter(|v| v.origin == VersionOrigin::OnDemand)
            .count()
    }

    /// A key whose deletion date has passed no longer exists, even before maintenance removes it.
    pub fn is_deleted(&self, now_ms: i64) -> bool {
        self.state == KeyState::PendingDeletion && self.deletion_ms.is_some_and(|d| d <= now_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub name: String,
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

// ---- on-disk formats -------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct VersionFile {
    number: u32,
    created_ms: i64,
    origin: VersionOrigin,
    /// base64(nonce ‖ wrapped material ‖ tag), AAD binds key id and version number.
    wrapped: String,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: u32,
    id: String,
    created_ms: i64,
    description: String,
    state: KeyState,
    deletion_ms: Option<i64>,
    pending_window_days: Option<i64>,
    rotation_period_days: Option<i64>,
    next_rotation_ms: Option<i64>,
    tags: Vec<Tag>,
    versions: Vec<VersionFile>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AliasesFile {
    pub format: u32,
    pub aliases: Vec<AliasRecord>,
}

/// Binds wrapped material to its key and version, so material cannot be moved between files.
fn wrap_aad(uuid: &KeyUuid, number: u32) -> Vec<u8> {
    let mut aad = b"kms-dev-server key material v1\0".to_vec();
    aad.extend_from_slice(uuid);
    aad.extend_from_slice(&number.to_be_bytes());
    aad
}

pub(crate) fn encode_key(rec: &KeyRecord, master: &[u8; KEY_LEN]) -> Result<Vec<u8>, CryptoError> {
    let versions = rec
        .versions
        .iter()
        .map(|v| {
            let sealed = crypto::seal(
                master,
                &wrap_aad(&rec.uuid, v.number),
                v.material.as_slice(),
            )?;
            Ok(VersionFile {
                number: v.number,
                created_ms: v.created_ms,
                origin: v.origin,
                wrapped: B64.encode(sealed),
            })
        })
        .collect::<Result<Vec<_>, CryptoError>>()?;
    let file = KeyFile {
        format: FILE_FORMAT,
        id: rec.id.clone(),
        created_ms: rec.created_ms,
        description: rec.description.clone(),
        state: rec.state,
        deletion_ms: rec.deletion_ms,
        pending_window_days: rec.pending_window_days,
        rotation_period_days: rec.rotation_period_days,
        next_rotation_ms: rec.next_rotation_ms,
        tags: rec.tags.clone(),
        versions,
    };
    serde_json::to_vec_pretty(&file).map_err(|_| CryptoError::Seal)
}

pub(crate) fn decode_key(bytes: &[u8], master: &[u8; KEY_LEN]) -> Result<KeyRecord, String> {
    let f: KeyFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if f.format != FILE_FORMAT {
        return Err(format!("unknown format {}", f.format));
    }
    let uuid = ids::parse_uuid(&f.id).ok_or("bad key id")?;
    let mut versions = Vec::with_capacity(f.versions.len());
    for v in f.versions {
        let sealed = B64.decode(&v.wrapped).map_err(|e| e.to_string())?;
        let plain = crypto::open(master, &wrap_aad(&uuid, v.number), &sealed).map_err(|_| {
            format!(
                "version {} does not decrypt under this master key",
                v.number
            )
        })?;
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err("bad material length".into());
        }
        material.copy_from_slice(&plain);
        versions.push(KeyVersion {
            number: v.number,
            created_ms: v.created_ms,
            origin: v.origin,
            material,
        });
    }
    if versions.is_empty() {
        return Err("no key material".into());
    }
    versions.sort_by_key(|v| v.number);
    Ok(KeyRecord {
        id: f.id,
        uuid,
        created_ms: f.created_ms,
        description: f.description,
        state: f.state,
        deletion_ms: f.deletion_ms,
        pending_window_days: f.pending_window_days,
        rotation_period_days: f.rotation_period_days,
        next_rotation_ms: f.next_rotation_ms,
        tags: f.tags,
        versions,
    })
}
