//! The gateway's configuration: one YAML file, every key optional with a safe default, `${VAR}`
//! and `${VAR:-default}` expanded from the environment before parsing, unknown keys refused by
//! name. A profile picks the defaults of the dev conveniences (`dev`: on, `production`: off);
//! keys set in the file win over the profile.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use schemars::JsonSchema;
use serde::Deserialize;

/// Which defaults apply to the development conveniences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Introspection, playground, plans in `extensions`, detailed subgraph errors and
    /// permissive CORS on. The default of `mosaic dev` (and of a config without a profile).
    #[default]
    Dev,
    /// All of those off: the hardened defaults, and the default of `mosaic gateway`.
    Production,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub profile: Option<Profile>,
    pub auth: AuthConfig,
    pub authorization: AuthorizationConfig,
    pub limits: LimitsConfig,
    pub csrf: CsrfConfig,
    pub cors: CorsConfig,
    pub headers: HeadersConfig,
    /// Answer `__schema`/`__type` [default: dev on, production off].
    pub introspection: Option<bool>,
    /// Serve GraphiQL at `/` and `/playground` [default: dev on, production off].
    pub playground: Option<bool>,
    /// Return plans in `extensions.queryPlan` on `x-mosaic-query-plan: true` [dev on, prod off].
    pub expose_query_plans: Option<bool>,
    /// Pass subgraph error messages to clients [dev on, production: "Subgraph errors redacted"].
    pub include_subgraph_errors: Option<bool>,
    /// Talk to subgraphs in HTTP/2 without TLS (h2c, prior knowledge) instead of HTTP/1.1.
    pub subgraph_h2c: bool,
}

/// JWT authentication.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Header carrying the token.
    pub header_name: String,
    /// Scheme before the token in that header.
    pub header_prefix: String,
    /// Cookie carrying the token when the header is absent.
    pub cookie: Option<String>,
    /// Shared HMAC key (HS256/384/512). `mosaic dev` sets the development key.
    pub hmac_secret: Option<String>,
    /// A JWKS file.
    pub jwks_file: Option<String>,
    /// A JWKS URL: fetched at start, every `jwks_refresh_secs`, and on an unknown `kid` (at most
    /// once per `jwks_min_refresh_secs`).
    pub jwks_url: Option<String>,
    pub jwks_refresh_secs: u64,
    pub jwks_min_refresh_secs: u64,
    /// Allowed algorithms; empty means each key's own family (HS* for HMAC, its `alg` for a JWK).
    pub algorithms: Vec<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Accepted `aud` values, when set.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// Refuse requests without a token (HTTP 401) instead of serving them anonymously.
    pub require_authentication: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            header_name: "authorization".into(),
            header_prefix: "Bearer".into(),
            cookie: None,
            hmac_secret: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_secs: 300,
            jwks_min_refresh_secs: 10,
            algorithms: Vec::new(),
            issuer: None,
            audience: Vec::new(),
            leeway_secs: 30,
            require_authentication: false,
        }
    }
}

/// `@authenticated`, `@requiresScopes` and `@policy` enforcement.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// Refuse the whole operation (HTTP 403) instead of nulling the fields the caller may not see.
    pub reject_unauthorized: bool,
    /// `@policy` names and what satisfies each; an unknown policy is never satisfied.
    pub policies: BTreeMap<String, PolicyRule>,
}

/// A policy holds when the caller is authenticated and has every listed scope and claim value.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyRule {
    pub scopes: Vec<String>,
    /// Claim name → required value (compared as JSON text for non-strings).
    pub claims: BTreeMap<String, String>,
}

/// Bounds on what one request may ask; each refusal has its own error code.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    pub max_depth: usize,
    /// Distinct fields in the operation (fragments expanded).
    pub max_height: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_tokens: usize,
    pub max_recursion: usize,
    /// Operations in one batched (JSON array) request; 0 turns batching off.
    pub max_batch_size: usize,
    pub max_concurrent_requests: usize,
    /// Operations executing at once, each holding its subgraph answers until its response is
    /// written; more wait their turn (within `request_timeout_secs`). 0: eight per CPU core.
    pub max_concurrent_executions: usize,
    pub max_websocket_connections: usize,
    pub max_subscriptions_per_connection: usize,
    /// Time a websocket client has to send `connection_init` (then: close 4408).
    pub websocket_init_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub subgraph_timeout_secs: u64,
    /// Largest subgraph response body accepted; a larger one fails its fetch
    /// (`SUBREQUEST_HTTP_ERROR`), as it would be held whole in memory.
    pub max_subgraph_response_bytes: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take before the process stops.
    pub shutdown_grace_secs: u64,
}

impl LimitsConfig {
    /// [`Self::max_concurrent_executions`] with 0 resolved.
    pub fn executions(&self) -> usize {
        match self.max_concurrent_executions {
            0 => 8 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            max_depth: 32,
            max_height: 500,
            max_aliases: 64,
            max_root_fields: 32,
            max_tokens: 15_000,
            max_recursion: 256,
            max_batch_size: 16,
            max_concurrent_requests: 1024,
            max_concurrent_executions: 0,
            max_websocket_connections: 1024,
            max_subscriptions_per_connection: 32,
            websocket_init_timeout_secs: 10,
            request_timeout_secs: 60,
            subgraph_timeout_secs: 30,
            max_subgraph_response_bytes: 64 * 1024 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

/// Refuse requests a browser could send cross-site without a CORS preflight.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CsrfConfig {
    pub enabled: bool,
    /// Any of these headers marks a request as deliberate (a browser preflights it).
    pub required_headers: Vec<String>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            required_headers: vec![
                "x-mosaic-csrf".into(),
                "apollo-require-preflight".into(),
                "x-apollo-operation-name".into(),
            ],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Allowed origins; `["*"]` allows any (without credentials). [dev: any, production: none]
    pub allow_origins: Option<Vec<String>>,
    pub allow_credentials: bool,
}

/// Which client headers reach subgraphs. `authorization` always does (identity).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HeadersConfig {
    pub all: Vec<HeaderRule>,
    /// Subgraph name → rules applied after `all`.
    pub subgraphs: BTreeMap<String, Vec<HeaderRule>>,
}

/// One rule: `- propagate: { named: x-a, rename: x-b }` or `- insert: { name: x-c, value: v }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "RawHeaderRule")]
pub enum HeaderRule {
    /// Pass a client header on, optionally under another name.
    Propagate {
        named: String,
        rename: Option<String>,
    },
    /// Add a fixed header.
    Insert { name: String, value: String },
}

/// A [`HeaderRule`] as written: a map with exactly one key (YAML has no other plain enum form).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawHeaderRule {
    propagate: Option<Propagate>,
    insert: Option<Insert>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Propagate {
    named: String,
    rename: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Insert {
    name: String,
    value: String,
}

impl TryFrom<RawHeaderRule> for HeaderRule {
    type Error = &'static str;

    fn try_from(raw: RawHeaderRule) -> Result<Self, Self::Error> {
        match (raw.propagate, raw.insert) {
            (Some(Propagate { named, rename }), None) => Ok(Self::Propagate { named, rename }),
            (None, Some(Insert { name, value })) => Ok(Self::Insert { name, value }),
            _ => Err("a header rule is exactly one of `propagate` or `insert`"),
        }
    }
}

impl Config {
    /// Reads a YAML file, expanding `${VAR}` first.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Self = subgraph_kit::config::parse_yaml(text)?;
        let wildcard = config.cors.allow_origins.iter().flatten().any(|o| o == "*");
        anyhow::ensure!(
            !(wildcard && config.cors.allow_credentials),
            "cors: `allow_credentials` cannot be combined with the origin `*`"
        );
        Ok(config)
    }

    /// The JSON Schema of the config file, for editors (`mosaic config-schema`).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).expect("a schema is JSON")
    }

    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or_default()
    }

    fn dev_default(&self, explicit: Option<bool>) -> bool {
        explicit.unwrap_or(self.profile() == Profile::Dev)
    }

    pub fn introspection(&self) -> bool {
        self.dev_default(self.introspection)
    }

    pub fn playground(&self) -> bool {
        self.dev_default(self.playground)
    }

    pub fn expose_query_plans(&self) -> bool {
        self.dev_default(self.expose_query_plans)
    }

    pub fn include_subgraph_errors(&self) -> bool {
        self.dev_default(self.include_subgraph_errors)
    }

    pub fn cors_origins(&self) -> Vec<String> {
        match &self.cors.allow_origins {
            Some(origins) => origins.clone(),
            None if self.profile() == Profile::Dev => vec!["*".into()],
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../mosaic.example.yaml");
        let config = Config::load(Path::new(path)).expect("the example parses");
        assert_eq!(config.limits.max_depth, LimitsConfig::default().max_depth);
    }

    #[test]
    fn the_json_schema_describes_every_section() {
        let schema = Config::json_schema();
        for section in ["auth", "authorization", "limits", "csrf", "cors", "headers"] {
            assert!(schema["properties"][section].is_object(), "{section}");
        }
    }

    #[test]
    fn header_rules_read_as_one_key_maps() {
        let config = Config::parse(
            "headers:\n  all:\n    - propagate: { named: x-a, rename: x-b }\n    - insert: { name: x-c, value: v }\n",
        )
        .expect("valid rules");
        assert!(matches!(
            config.headers.all[0],
            HeaderRule::Propagate { .. }
        ));
        assert!(matches!(config.headers.all[1], HeaderRule::Insert { .. }));
        let both = "headers:\n  all:\n    - { propagate: { named: x-a }, insert: { name: x, value: y } }\n";
        assert!(Config::parse(both).is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("limits:\n  max_dept: 3\n").expect_err("a typo");
        assert!(format!("{err:#}").contains("max_dept"), "{err:#}");
    }

    #[test]
    fn env_is_expanded_and_profile_sets_defaults() {
        let config = Config::parse(
            "profile: production\nauth:\n  hmac_secret: ${MOSAIC_TEST_UNSET_VAR:-s3cret}\n",
        )
        .expect("a valid config");
        assert_eq!(config.auth.hmac_secret.as_deref(), Some("s3cret"));
        assert!(!config.introspection() && !config.expose_query_plans());
        assert!(config.cors_origins().is_empty());
        assert!(Config::parse("a: ${MOSAIC_TEST_UNSET_VAR}").is_err());
        assert!(Config::default().introspection());
    }
}
