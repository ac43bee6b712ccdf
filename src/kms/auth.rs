//! How requests are authenticated: SigV4 with credentials from a provider, or "proxy" mode
//! (no signing; the app's backend fronts KMS and authenticates the browser itself).

use std::rc::Rc;

use zeroize::Zeroizing;

use super::error::KmsError;
use super::transport::{FetchCredentials, KmsFuture};

/// AWS credentials. The secret is zeroized on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    /// `AKIA…` / `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials (STS, Cognito).
    pub session_token: Option<String>,
}

impl Credentials {
    /// Static or temporary credentials.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token,
        }
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`,
    /// as the AWS tools read them. `None` when either of the first two is unset or empty.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Option<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Credentials::new(
            get("AWS_ACCESS_KEY_ID")?,
            get("AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN"),
        ))
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Supplies credentials for each signed request. Asked once per attempt, so a provider that
/// refreshes temporary credentials (Cognito identity pool, STS) is picked up on retry; it
/// should cache them until shortly before they expire.
pub trait CredentialsProvider {
    /// Current credentials. Fail with kind `AccessDenied` when none can be had.
    fn credentials(&self) -> KmsFuture<'_, Result<Credentials, KmsError>>;
}

impl CredentialsProvider for Credentials {
    fn credentials(&self) -> KmsFuture<'_, Result<Credentials, KmsError>> {
        let c = self.clone();
        Box::pin(async move { Ok(c) })
    }
}

/// A provider from an async closure, e.g. one that asks the app's JS for fresh Cognito
/// credentials.
pub struct FnCredentials<F>(pub F);

impl<F, Fut> CredentialsProvider for FnCredentials<F>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Credentials, KmsError>> + 'static,
{
    fn credentials(&self) -> KmsFuture<'_, Result<Credentials, KmsError>> {
        Box::pin((self.0)())
    }
}

/// Proxy mode: the endpoint is the app's own backend, which authenticates the caller and
/// forwards to KMS. Nothing is signed.
#[derive(Debug, Clone, Default)]
pub struct ProxyAuth {
    /// Extra headers on every request, e.g. `("Authorization", "Bearer …")`.
    pub headers: Vec<(String, String)>,
    /// The `fetch` credentials mode (`include` for cookie sessions).
    pub fetch_credentials: FetchCredentials,
    /// Also send a SigV4-*shaped* `Authorization` with a dummy signature naming service
    /// `kms` and the client's region. Only for emulators that route by the credential scope
    /// (moto, kms-api.md §1); off by default, and refused together with a custom
    /// `Authorization` header.
    pub sigv4_shaped_authorization: bool,
}

/// The authentication mode of a [`KmsClient`](super::KmsClient).
#[derive(Clone)]
pub enum Auth {
    /// Sign every request with SigV4 (service `kms`).
    SigV4(Rc<dyn CredentialsProvider>),
    /// Don't sign (see [`ProxyAuth`]).
    Proxy(ProxyAuth),
}

impl Auth {
    /// SigV4 with fixed credentials.
    pub fn static_credentials(credentials: Credentials) -> Self {
        Auth::SigV4(Rc::new(credentials))
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::SigV4(_) => f.write_str("Auth::SigV4(..)"),
            Auth::Proxy(p) => f
                .debug_struct("Auth::Proxy")
                .field(
                    "headers",
                    &p.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .field("fetch_credentials", &p.fetch_credentials)
                .field("sigv4_shaped_authorization", &p.sigv4_shaped_authorization)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret_or_token() {
        let c = Credentials::new("AKID", "s3cr3t-value", Some("tok3n-value".into()));
        let s = format!("{c:?}");
        assert!(s.contains("AKID"));
        assert!(!s.contains("s3cr3t") && !s.contains("tok3n"), "{s}");
        let a = Auth::Proxy(ProxyAuth {
            headers: vec![("Authorization".into(), "Bearer hidden-bearer".into())],
            ..ProxyAuth::default()
        });
        assert!(!format!("{a:?}").contains("hidden-bearer"));
    }
}
