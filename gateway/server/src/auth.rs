//! Authentication at the edge: the caller's JWT is verified once, here, before anything is parsed.
//!
//! Keys come from an HMAC secret, a JWKS file or a JWKS URL (refreshed on a period and on an
//! unknown `kid`, at a bounded rate). Each key accepts only its own algorithm family, so `alg:
//! none` and algorithm confusion (an HS256 token "signed" with an RSA public key) never verify.
//! A missing token makes an anonymous caller; a bad one is refused, never downgraded to anonymous.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::http::{HeaderMap, header};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::AuthConfig;

/// A verified caller: the token's claims and the scopes they grant.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub claims: Map<String, Value>,
    pub scopes: HashSet<String>,
    /// The verified token, forwarded to subgraphs as `Authorization: Bearer`.
    pub token: String,
}

/// Why a request's credentials were refused. Logged; the client only learns `UNAUTHENTICATED`.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the credential is not `<prefix> <token>`")]
    Malformed,
    #[error("no key matches the token's `kid` or algorithm")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("this gateway requires authentication")]
    Required,
}

#[derive(Clone)]
struct Key {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

pub struct Authenticator {
    config: AuthConfig,
    hmac: Option<Key>,
    /// From `jwks_file`: kept when the URL's keys are refetched.
    file_keys: Arc<Vec<Key>>,
    /// The file's keys and the URL's latest.
    jwks: RwLock<Arc<Vec<Key>>>,
    last_fetch: Mutex<Option<Instant>>,
    client: reqwest::Client,
}

const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
/// HS256's own key size: anything shorter is weaker than the algorithm.
const MIN_HMAC_SECRET_BYTES: usize = 32;

impl Authenticator {
    /// Loads the configured keys; a JWKS URL is fetched now and refreshed in the background.
    pub async fn new(config: AuthConfig, client: reqwest::Client) -> anyhow::Result<Arc<Self>> {
        if let Some(secret) = &config.hmac_secret {
            anyhow::ensure!(
                secret.len() >= MIN_HMAC_SECRET_BYTES,
                "auth.hmac_secret must be at least {MIN_HMAC_SECRET_BYTES} bytes: a short key can be guessed"
            );
        }
        let hmac = config.hmac_secret.as_ref().map(|secret| Key {
            kid: None,
            key: DecodingKey::from_secret(secret.as_bytes()),
            algorithms: HMAC_ALGORITHMS.to_vec(),
        });
        let mut file_keys = Vec::new();
        if let Some(path) = &config.jwks_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            file_keys = parse_jwks(&text).with_context(|| format!("JWKS file {path}"))?;
        }
        let auth = Arc::new(Self {
            config,
            hmac,
            file_keys: Arc::new(file_keys.clone()),
            jwks: RwLock::new(Arc::new(file_keys)),
            last_fetch: Mutex::new(None),
            client,
        });
        if let Some(url) = auth.config.jwks_url.clone() {
            auth.fetch_jwks()
                .await
                .with_context(|| format!("JWKS {url}"))?;
            let period = Duration::from_secs(auth.config.jwks_refresh_secs.max(1));
            let weak = Arc::downgrade(&auth);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let Some(auth) = weak.upgrade() else { return };
                    if let Err(err) = auth.fetch_jwks().await {
                        tracing::warn!("JWKS refresh failed, keeping the old keys: {err:#}");
                    }
                }
            });
        }
        Ok(auth)
    }

    /// The caller behind `headers`: `None` when anonymous.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Identity>, AuthError> {
        let Some(token) = self.token(headers)? else {
            return match self.config.require_authentication {
                true => Err(AuthError::Required),
                false => Ok(None),
            };
        };
        let header = jsonwebtoken::decode_header(token)?;
        if let Some(identity) = self.verify(token, &header)? {
            return Ok(Some(identity));
        }
        // An unknown `kid` may be a rotated key: refetch (rate-limited) and try once more.
        if header.kid.is_some() && self.config.jwks_url.is_some() && self.may_refetch() {
            if let Err(err) = self.fetch_jwks().await {
                tracing::warn!("JWKS refresh failed: {err:#}");
            }
            if let Some(identity) = self.verify(token, &header)? {
                return Ok(Some(identity));
            }
        }
        Err(AuthError::UnknownKey)
    }

    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h str>, AuthError> {
        if let Some(value) = headers.get(self.config.header_name.as_str()) {
            let value = value.to_str().map_err(|_| AuthError::Malformed)?;
            let prefix = self.config.header_prefix.as_str();
            if prefix.is_empty() {
                return Ok(Some(value.trim()));
            }
            let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
            return match scheme.eq_ignore_ascii_case(prefix) && !token.trim().is_empty() {
                true => Ok(Some(token.trim())),
                false => Err(AuthError::Malformed),
            };
        }
        let Some(cookie_name) = &self.config.cookie else {
            return Ok(None);
        };
        Ok(headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| name == cookie_name)
            .map(|(_, value)| value))
    }

    /// Tries every key that may have signed the token; `None` when none is a candidate.
    fn verify(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
    ) -> Result<Option<Identity>, AuthError> {
        let jwks = self
            .jwks
            .read()
            .expect("no panics under the JWKS lock")
            .clone();
        let allowed = |key: &&Key| {
            key.algorithms.contains(&header.alg)
                && (self.config.algorithms.is_empty()
                    || self
                        .config
                        .algorithms
                        .iter()
                        .any(|a| Algorithm::from_str(a).ok() == Some(header.alg)))
        };
        let candidates = self
            .hmac
            .iter()
            .filter(|_| header.kid.is_none())
            .chain(
                jwks.iter()
                    .filter(|k| header.kid.is_none() || k.kid == header.kid),
            )
            .filter(allowed);
        let mut last_error = None;
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(
                token,
                &key.key,
                &self.validation(header.alg),
            ) {
                Ok(data) => return Ok(Some(identity(data.claims, token))),
                Err(err) => last_error = Some(err),
            }
        }
        match last_error {
            Some(err) => Err(err.into()),
            None => Ok(None),
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        // A configured `iss`/`aud` must be present, not only right when present.
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match self.config.audience.is_empty() {
            true => validation.validate_aud = false,
            false => {
                validation.set_audience(&self.config.audience);
                required.push("aud");
            }
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Claims the next refetch slot, so concurrent requests with unknown `kid`s fetch once.
    fn may_refetch(&self) -> bool {
        let mut last = self
            .last_fetch
            .lock()
            .expect("no panics under the JWKS lock");
        let min = Duration::from_secs(self.config.jwks_min_refresh_secs);
        let allowed = last.is_none_or(|at| at.elapsed() >= min);
        if allowed {
            *last = Some(Instant::now());
        }
        allowed
    }

    async fn fetch_jwks(&self) -> anyhow::Result<()> {
        let url = self.config.jwks_url.as_deref().context("no JWKS URL")?;
        let text = self
            .client
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let mut keys = parse_jwks(&text)?;
        keys.extend(self.file_keys.iter().cloned());
        *self.jwks.write().expect("no panics under the JWKS lock") = Arc::new(keys);
        Ok(())
    }
}

/// The signing keys of a JWKS document, each allowed only its own algorithm (or family). A key
/// that cannot verify signatures (an encryption key, an unknown algorithm) is skipped with a
/// warning rather than failing the whole set.
fn parse_jwks(text: &str) -> anyhow::Result<Vec<Key>> {
    let set: JwkSet = serde_json::from_str(text)?;
    let key = |jwk: &jsonwebtoken::jwk::Jwk| -> anyhow::Result<Key> {
        anyhow::ensure!(
            jwk.common.public_key_use != Some(jsonwebtoken::jwk::PublicKeyUse::Encryption),
            "an encryption key"
        );
        let algorithms = match jwk.common.key_algorithm {
            Some(alg) => vec![Algorithm::from_str(&alg.to_string())?],
            None => family(&jwk.algorithm),
        };
        Ok(Key {
            kid: jwk.common.key_id.clone(),
            key: DecodingKey::from_jwk(jwk)?,
            algorithms,
        })
    };
    Ok(set
        .keys
        .iter()
        .filter_map(|jwk| {
            key(jwk)
                .inspect_err(|err| {
                    let kid = jwk.common.key_id.as_deref().unwrap_or("-");
                    tracing::warn!(kid, "JWKS key skipped: {err:#}");
                })
                .ok()
        })
        .collect())
}

fn family(parameters: &AlgorithmParameters) -> Vec<Algorithm> {
    use Algorithm::*;
    match parameters {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P384 => vec![ES384],
            _ => vec![ES256],
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![EdDSA],
        AlgorithmParameters::OctetKey(_) => HMAC_ALGORITHMS.to_vec(),
    }
}

/// Scopes from `scope` (space-separated, OAuth 2.0) or `scp` (a list).
fn identity(claims: Map<String, Value>, token: &str) -> Identity {
    let mut scopes = HashSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => scopes.extend(text.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    Identity {
        claims,
        scopes,
        token: token.to_owned(),
    }
}
