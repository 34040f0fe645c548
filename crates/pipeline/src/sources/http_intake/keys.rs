//! Intake keys: read from files or environment variables, never logged, compared in
//! constant time. Each key selects the format of the events sent with it.

use anyhow::Context;
use hyper::HeaderMap;
use subtle::ConstantTimeEq;

use super::HttpIntakeSourceConfig;

struct Key {
    secret: Vec<u8>,
    format: String,
}

/// The accepted keys. Its `Debug` shows how many, never their values.
pub struct KeyStore {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyStore({} keys)", self.keys.len())
    }
}

impl KeyStore {
    /// Reads every configured key. Errors name the file or variable, not the value.
    pub fn load(config: &HttpIntakeSourceConfig) -> anyhow::Result<KeyStore> {
        anyhow::ensure!(
            !config.keys.is_empty(),
            "http_intake source: no intake key configured"
        );
        let mut keys = Vec::with_capacity(config.keys.len());
        for (i, k) in config.keys.iter().enumerate() {
            let n = i + 1;
            let secret = match (&k.key_file, &k.key_env) {
                (Some(path), None) => std::fs::read_to_string(path).with_context(|| {
                    format!("intake key {n}: cannot read key_file {}", path.display())
                })?,
                (None, Some(var)) => std::env::var(var).map_err(|_| {
                    anyhow::anyhow!(
                        "intake key {n}: environment variable {var} is not set (or not UTF-8)"
                    )
                })?,
                _ => anyhow::bail!("intake key {n}: give exactly one of key_file and key_env"),
            };
            let secret = secret.trim();
            anyhow::ensure!(!secret.is_empty(), "intake key {n} is empty");
            anyhow::ensure!(
                secret.bytes().all(|b| b.is_ascii_graphic()),
                "intake key {n} has characters an HTTP header cannot carry"
            );
            keys.push(Key {
                secret: secret.as_bytes().to_vec(),
                format: k.format.clone().unwrap_or_else(|| config.format.clone()),
            });
        }
        let mut seen = std::collections::HashSet::new();
        anyhow::ensure!(
            keys.iter().all(|k| seen.insert(k.secret.as_slice())),
            "http_intake source: the same intake key is configured twice"
        );
        Ok(KeyStore { keys })
    }

    /// The format selected by the request's key (`X-Intake-Key` or
    /// `Authorization: Bearer`), or `None` when it is missing or unknown.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<&str> {
        let presented = headers
            .get("x-intake-key")
            .map(|v| v.as_bytes())
            .or_else(|| {
                let auth = headers.get(hyper::header::AUTHORIZATION)?.as_bytes();
                let scheme = auth.get(..7)?;
                scheme.eq_ignore_ascii_case(b"bearer ").then(|| &auth[7..])
            })?;
        let presented = presented.trim_ascii();
        // Every key is compared, so the time taken does not tell which one matched.
        let mut found = None;
        for k in &self.keys {
            if bool::from(k.secret.as_slice().ct_eq(presented)) {
                found = Some(k.format.as_str());
            }
        }
        found
    }
}
