//! Who is calling: the request-scoped [`Caller`] every resolver reads.
//!
//! Identity travels as the JWT that the accounts subgraph signs at `login`/`signUp`. Every subgraph
//! verifies it again with the shared key instead of trusting plain identity headers, so a client
//! that calls a subgraph directly cannot claim to be someone else: without the signing key it
//! cannot mint a token. The gateway verifies the token too and forwards it as
//! `Authorization: Bearer`, whichever header or cookie it came in.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{HeaderMap, header::AUTHORIZATION};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// The documented development key. Anyone can read it here, so production must set its own.
pub const DEV_JWT_SECRET: &str = "mosaic-dev-secret-do-not-use-in-production";
/// `iss` of every token Mosaic signs, checked on verification.
pub const ISSUER: &str = "mosaic";
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// The claims inside a Mosaic token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub username: String,
    /// Space-separated scopes, as in OAuth 2.0.
    #[serde(default)]
    pub scope: String,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// The verified identity behind one request (or one websocket connection).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Caller {
    #[default]
    Anonymous,
    User {
        id: i32,
        username: String,
        scopes: BTreeSet<String>,
    },
}

impl Caller {
    /// The signed-in user's id, or `UNAUTHENTICATED`.
    pub fn user_id(&self) -> AppResult<i32> {
        match self {
            Self::User { id, .. } => Ok(*id),
            Self::Anonymous => Err(AppError::Unauthenticated),
        }
    }

    /// Succeeds when the caller holds `scope`; anonymous callers get `UNAUTHENTICATED`.
    pub fn require_scope(&self, scope: &str) -> AppResult<()> {
        match self {
            Self::User { scopes, .. } if scopes.contains(scope) => Ok(()),
            Self::User { .. } => Err(AppError::Forbidden(format!(
                "this needs the `{scope}` scope"
            ))),
            Self::Anonymous => Err(AppError::Unauthenticated),
        }
    }
}

/// Why a presented credential was refused. The detail is logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token subject is not a user id")]
    BadSubject,
}

/// Signs and verifies tokens with the shared HMAC key.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Auth {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Signs a token for a user; `scopes` are space-separated.
    pub fn issue(&self, user_id: i32, username: &str, scopes: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            username: username.to_owned(),
            scope: scopes.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + TOKEN_TTL.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HMAC signing of serialisable claims cannot fail")
    }

    /// Verifies a token and turns its claims into a [`Caller`].
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        Ok(Caller::User {
            id: claims.sub.parse().map_err(|_| AuthError::BadSubject)?,
            username: claims.username,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        })
    }

    /// The caller behind an `Authorization` value: none means anonymous, a bad one is an error
    /// (never silently anonymous).
    pub fn caller_from_authorization(&self, value: Option<&str>) -> Result<Caller, AuthError> {
        match value {
            None => Ok(Caller::Anonymous),
            Some(value) => {
                let token = value
                    .strip_prefix("Bearer ")
                    .ok_or(AuthError::Malformed)?
                    .trim();
                self.verify(token)
            }
        }
    }

    pub fn caller_from_headers(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let value = headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| AuthError::Malformed))
            .transpose()?;
        self.caller_from_authorization(value)
    }
}
