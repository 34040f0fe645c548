//! Azure Network Watcher flow logs (NSG and VNet) collected from Blob Storage.
//!
//! Each poll lists the containers; a blob that grew since its checkpoint is read from
//! there (ranged reads), its complete records split into one raw event per flow tuple,
//! and the checkpoint moves only once the pipeline accepted every event up to it.
//! With `checkpoints = "azure"` the checkpoint of a blob lives in the metadata of a
//! small lock blob in the account, and an instance works on a blob only while it holds
//! that lock blob's lease: several instances share the blobs without double work.

pub mod checkpoint;
pub mod client;
pub mod identity;
pub mod records;
mod source;

pub use source::{AzureBlobSource, Deliver, Incoming};

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;

use client::{Auth, BlobClient};
use identity::{Credential, TokenSource};

fn default_poll() -> u64 {
    60
}
fn default_batch() -> usize {
    5000
}
fn default_checkpoint_container() -> String {
    "intake-checkpoints".into()
}

/// `[sources.<name>]` with `type = "azure_blob"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureBlobSourceConfig {
    /// The storage account's name (not needed with a connection string).
    pub account: Option<String>,
    pub containers: Vec<String>,
    /// Only blobs whose names start with this are read.
    #[serde(default)]
    pub prefix: String,
    pub connection_string: Option<String>,
    pub account_key: Option<String>,
    pub sas_token: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub federated_token_file: Option<PathBuf>,
    /// The Entra ID authority (default `https://login.microsoftonline.com`).
    pub authority_host: Option<String>,
    /// The blob endpoint (default `https://<account>.blob.core.windows.net`).
    pub endpoint: Option<String>,
    /// `auto`, `azure-nsg-flow-logs` or `azure-vnet-flow-logs`.
    pub format: String,
    pub dead_letter: Option<String>,
    /// A folder for local checkpoints, or `azure` for checkpoints in the account.
    pub checkpoints: String,
    /// The container of the lock blobs (checkpoints and leases) with `checkpoints = "azure"`.
    #[serde(default = "default_checkpoint_container")]
    pub checkpoint_container: String,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// Tuples handed on together; a kill duplicates at most one such batch.
    #[serde(default = "default_batch")]
    pub batch_events: usize,
}

/// Keys, SAS tokens, client secrets and connection strings are never shown.
impl std::fmt::Debug for AzureBlobSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("AzureBlobSourceConfig")
            .field("account", &self.account)
            .field("containers", &self.containers)
            .field("prefix", &self.prefix)
            .field("connection_string", &secret(&self.connection_string))
            .field("account_key", &secret(&self.account_key))
            .field("sas_token", &secret(&self.sas_token))
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret(&self.client_secret))
            .field("federated_token_file", &self.federated_token_file)
            .field("endpoint", &self.endpoint)
            .field("format", &self.format)
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}

/// Where checkpoints live.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckpointPlace {
    Local(PathBuf),
    Account { container: String },
}

/// The pieces of a connection string this source uses.
#[derive(Default)]
struct ConnectionString {
    account: Option<String>,
    key: Option<String>,
    sas: Option<String>,
    endpoint: Option<String>,
    protocol: Option<String>,
    suffix: Option<String>,
}

fn parse_connection_string(s: &str) -> anyhow::Result<ConnectionString> {
    let mut c = ConnectionString::default();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            bail!("connection_string: a part has no `=` (expected Key=Value;…)");
        };
        match k.to_ascii_lowercase().as_str() {
            "accountname" => c.account = Some(v.into()),
            "accountkey" => c.key = Some(v.into()),
            "sharedaccesssignature" => c.sas = Some(v.into()),
            "blobendpoint" => c.endpoint = Some(v.into()),
            "defaultendpointsprotocol" => c.protocol = Some(v.into()),
            "endpointsuffix" => c.suffix = Some(v.into()),
            "usedevelopmentstorage" if v.eq_ignore_ascii_case("true") => {
                // The emulator's published, well-known development account.
                c.account = Some("devstoreaccount1".into());
                c.key = Some("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==".into());
                c.endpoint = Some("http://127.0.0.1:10000/devstoreaccount1".into());
            }
            // Endpoints of the other services, credentials this source does not use.
            _ => {}
        }
    }
    Ok(c)
}

impl AzureBlobSourceConfig {
    /// Offline checks: every mistake named, no secret shown.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.containers.is_empty() {
            bail!("containers: name at least one container");
        }
        match self.format.as_str() {
            "auto" | records::NSG_FORMAT | records::VNET_FORMAT => {}
            other => bail!(
                "format {other:?}: expected auto, {} or {}",
                records::NSG_FORMAT,
                records::VNET_FORMAT
            ),
        }
        if self.poll_interval_secs == 0 {
            bail!("poll_interval_secs must be at least 1");
        }
        if self.batch_events == 0 {
            bail!("batch_events must be at least 1");
        }
        if self.checkpoints.trim().is_empty() {
            bail!("checkpoints: a folder, or \"azure\"");
        }
        let methods: Vec<&str> = [
            ("connection_string", self.connection_string.is_some()),
            ("account_key", self.account_key.is_some()),
            ("sas_token", self.sas_token.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("federated_token_file", self.federated_token_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if methods.len() > 1 {
            bail!(
                "authentication: give one of connection_string, account_key, sas_token, client_secret, federated_token_file (found {})",
                methods.join(", ")
            );
        }
        if (self.client_secret.is_some() || self.federated_token_file.is_some())
            && (self.tenant_id.is_none() || self.client_id.is_none())
        {
            bail!("client_secret and federated_token_file need tenant_id and client_id");
        }
        if self.connection_string.is_none() && self.account.is_none() {
            bail!("account: name the storage account (or give a connection_string)");
        }
        self.client().map(|_| ())
    }

    pub fn checkpoint_place(&self) -> CheckpointPlace {
        if self.checkpoints == "azure" {
            CheckpointPlace::Account {
                container: self.checkpoint_container.clone(),
            }
        } else {
            CheckpointPlace::Local(PathBuf::from(&self.checkpoints))
        }
    }

    /// The formats events are handed to.
    pub fn formats(&self) -> Vec<&'static str> {
        match self.format.as_str() {
            records::NSG_FORMAT => vec![records::NSG_FORMAT],
            records::VNET_FORMAT => vec![records::VNET_FORMAT],
            _ => vec![records::NSG_FORMAT, records::VNET_FORMAT],
        }
    }

    /// The client for this account and authentication.
    pub fn client(&self) -> anyhow::Result<BlobClient> {
        let cs = match &self.connection_string {
            Some(s) => parse_connection_string(s)?,
            None => ConnectionString::default(),
        };
        let account = self
            .account
            .clone()
            .or(cs.account.clone())
            .context("account: name the storage account")?;
        let endpoint = match (&self.endpoint, &cs.endpoint) {
            (Some(e), _) | (None, Some(e)) => e.clone(),
            (None, None) => format!(
                "{}://{account}.blob.{}",
                cs.protocol.as_deref().unwrap_or("https"),
                cs.suffix.as_deref().unwrap_or("core.windows.net")
            ),
        };
        let decode_key = |k: &str, what: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .with_context(|| format!("{what}: the account key is not base64"))
        };
        let auth = if let Some(key) = &self.account_key {
            Auth::SharedKey(decode_key(key, "account_key")?)
        } else if let Some(sas) = &self.sas_token {
            Auth::Sas(sas.trim_start_matches('?').to_string())
        } else if let Some(key) = &cs.key {
            Auth::SharedKey(decode_key(key, "connection_string")?)
        } else if let Some(sas) = &cs.sas {
            Auth::Sas(sas.trim_start_matches('?').to_string())
        } else if self.connection_string.is_some() {
            bail!("connection_string: it holds neither AccountKey nor SharedAccessSignature");
        } else {
            let credential = match (
                &self.tenant_id,
                &self.client_id,
                &self.client_secret,
                &self.federated_token_file,
            ) {
                (Some(t), Some(c), Some(secret), None) => Credential::ClientSecret {
                    tenant_id: t.clone(),
                    client_id: c.clone(),
                    secret: secret.clone(),
                },
                (Some(t), Some(c), None, Some(file)) => Credential::FederatedToken {
                    tenant_id: t.clone(),
                    client_id: c.clone(),
                    token_file: file.clone(),
                },
                (None, Some(c), None, None) => Credential::ManagedIdentity {
                    client_id: Some(c.clone()),
                },
                _ => Credential::from_environment(),
            };
            Auth::Token(std::sync::Arc::new(TokenSource::new(
                credential,
                self.authority_host.as_deref(),
            )?))
        };
        BlobClient::new(&endpoint, &account, auth)
    }

    /// For `intake validate --online`: every container can be listed.
    pub async fn healthcheck(&self) -> anyhow::Result<String> {
        let client = self.client()?;
        let mut seen = Vec::new();
        for c in &self.containers {
            let n = client.probe(c, &self.prefix).await?;
            seen.push(format!("{c} ({n})"));
        }
        if let CheckpointPlace::Account { container } = self.checkpoint_place() {
            client.create_container(&container).await?;
            seen.push(format!("checkpoints in {container}"));
        }
        Ok(format!(
            "account {}: containers listed: {}",
            client.account(),
            seen.join(", ")
        ))
    }
}

/// The `azure_blob` source in a pipeline: each format it may pick (`auto`: NSG and
/// VNet) gets its own normalizer on the source's output.
#[async_trait::async_trait]
impl crate::component::SourceConfig for AzureBlobSourceConfig {
    fn validate(&self, _common: &crate::component::SourceCommon) -> anyhow::Result<()> {
        AzureBlobSourceConfig::validate(self)
    }

    fn needs_format(&self) -> bool {
        false
    }

    async fn build(
        &self,
        _cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Box<dyn crate::component::Source>> {
        Ok(Box::new(self.clone()))
    }

    async fn healthcheck(
        &self,
        _cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Option<String>> {
        AzureBlobSourceConfig::healthcheck(self).await.map(Some)
    }
}

#[async_trait::async_trait]
impl crate::component::Source for AzureBlobSourceConfig {
    async fn run(self: Box<Self>, cx: crate::component::SourceContext) -> anyhow::Result<()> {
        let targets = crate::sources::deliver::per_format(&cx.output, self.formats())?;
        AzureBlobSource::new(*self, targets)?.run(cx.stop).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<AzureBlobSourceConfig, toml::de::Error> {
        toml::from_str(&format!(
            "containers = [\"insights-logs-flowlogflowevent\"]\nformat = \"auto\"\ncheckpoints = \"/tmp/x\"\n{extra}"
        ))
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c: AzureBlobSourceConfig = toml::from_str(
            "containers = [\"c\"]\naccount = \"a\"\naccount_key = \"c2VjcmV0LWtleQ==\"\nformat = \"auto\"\ncheckpoints = \"/tmp/x\"",
        )
        .unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("c2VjcmV0LWtleQ"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn one_authentication_at_most_and_no_secret_in_errors() {
        let c =
            config("account = \"a\"\naccount_key = \"c2VjcmV0\"\nsas_token = \"sig=zzz-secret\"")
                .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("account_key, sas_token"), "{e}");
        assert!(!e.contains("zzz-secret") && !e.contains("c2VjcmV0"), "{e}");
        let c = config("account = \"a\"\naccount_key = \"not base64!!\"").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("not base64") && !e.contains("base64!!"), "{e}");
    }

    #[test]
    fn unknown_keys_formats_and_missing_pieces_are_named() {
        assert!(
            config("acount = \"a\"")
                .unwrap_err()
                .to_string()
                .contains("acount")
        );
        let c = config("account = \"a\"").unwrap();
        c.validate().unwrap();
        let mut c2 = c.clone();
        c2.format = "azure-nsg".into();
        assert!(c2.validate().unwrap_err().to_string().contains("azure-nsg"));
        let mut c3 = c.clone();
        c3.account = None;
        assert!(c3.validate().unwrap_err().to_string().contains("account"));
        let c4 = config("account = \"a\"\nclient_secret = \"s\"").unwrap();
        assert!(c4.validate().unwrap_err().to_string().contains("tenant_id"));
    }

    #[test]
    fn a_connection_string_gives_the_account_endpoint_and_key() {
        let c = config(
            "connection_string = \"DefaultEndpointsProtocol=http;AccountName=dev1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/dev1;\"",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.client().unwrap().account(), "dev1");
        let c = config("connection_string = \"AccountName=x\"").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("neither AccountKey")
        );
    }

    #[test]
    fn checkpoints_azure_means_the_account() {
        let mut c = config("account = \"a\"").unwrap();
        assert_eq!(
            c.checkpoint_place(),
            CheckpointPlace::Local("/tmp/x".into())
        );
        c.checkpoints = "azure".into();
        assert_eq!(
            c.checkpoint_place(),
            CheckpointPlace::Account {
                container: "intake-checkpoints".into()
            }
        );
    }
}
