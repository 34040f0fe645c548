//! Entra ID tokens for Blob Storage: a service principal with a secret, workload
//! identity (a federated token file), or the default chain (those two from the
//! `AZURE_*` environment variables, then the managed identity endpoint).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::Mutex;

const SCOPE: &str = "https://storage.azure.com/.default";
const RESOURCE: &str = "https://storage.azure.com/";
/// The instance metadata service of Azure VMs (managed identity).
const IMDS: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Where a token comes from.
#[derive(Clone)]
pub enum Credential {
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: String,
    },
    /// Workload identity: the file is re-read for every token (it is rotated).
    FederatedToken {
        tenant_id: String,
        client_id: String,
        token_file: std::path::PathBuf,
    },
    /// A managed identity, optionally a user-assigned one.
    ManagedIdentity { client_id: Option<String> },
}

impl Credential {
    /// The default chain: a service principal or workload identity from the environment
    /// (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and `AZURE_CLIENT_SECRET` or
    /// `AZURE_FEDERATED_TOKEN_FILE`), else the managed identity.
    pub fn from_environment() -> Credential {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) {
            (Some(tenant_id), Some(client_id)) => {
                if let Some(secret) = var("AZURE_CLIENT_SECRET") {
                    return Credential::ClientSecret {
                        tenant_id,
                        client_id,
                        secret,
                    };
                }
                if let Some(file) = var("AZURE_FEDERATED_TOKEN_FILE") {
                    return Credential::FederatedToken {
                        tenant_id,
                        client_id,
                        token_file: file.into(),
                    };
                }
                Credential::ManagedIdentity {
                    client_id: Some(client_id),
                }
            }
            (_, client_id) => Credential::ManagedIdentity { client_id },
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Credential::ClientSecret { .. } => "service principal (client secret)",
            Credential::FederatedToken { .. } => "workload identity (federated token)",
            Credential::ManagedIdentity { .. } => "managed identity",
        }
    }
}

/// Fetches and caches a bearer token, renewed five minutes before it expires.
pub struct TokenSource {
    credential: Credential,
    authority: String,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    pub fn new(credential: Credential, authority: Option<&str>) -> anyhow::Result<Self> {
        Ok(TokenSource {
            credential,
            authority: authority
                .unwrap_or(DEFAULT_AUTHORITY)
                .trim_end_matches('/')
                .to_string(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(30))
                .build()?,
            cached: Mutex::new(None),
        })
    }

    pub async fn token(&self) -> anyhow::Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self
            .fetch()
            .await
            .with_context(|| format!("getting a token by {}", self.credential.describe()))?;
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(300));
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    async fn fetch(&self) -> anyhow::Result<(String, Duration)> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let resp = match &self.credential {
            Credential::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => {
                let body = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
                    enc(client_id),
                    enc(secret),
                    enc(SCOPE)
                );
                self.post_token(tenant_id, body).await?
            }
            Credential::FederatedToken {
                tenant_id,
                client_id,
                token_file,
            } => {
                let assertion = std::fs::read_to_string(token_file).with_context(|| {
                    format!("reading the federated token file {}", token_file.display())
                })?;
                let body = format!(
                    "grant_type=client_credentials&client_id={}&client_assertion_type={}&client_assertion={}&scope={}",
                    enc(client_id),
                    enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    enc(assertion.trim()),
                    enc(SCOPE)
                );
                self.post_token(tenant_id, body).await?
            }
            Credential::ManagedIdentity { client_id } => {
                let mut url = format!("{IMDS}?api-version=2018-02-01&resource={}", enc(RESOURCE));
                if let Some(id) = client_id {
                    url.push_str(&format!("&client_id={}", enc(id)));
                }
                self.http
                    .get(url)
                    .header("Metadata", "true")
                    .send()
                    .await
                    .map_err(|e| anyhow!("the managed identity endpoint: {}", e.without_url()))?
            }
        };
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| anyhow!("{}", e.without_url()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| anyhow!("HTTP {status}: the answer is not JSON"))?;
        if !status.is_success() {
            // The identity provider's error code and description carry no secret.
            bail!(
                "HTTP {status}: {} {}",
                json["error"].as_str().unwrap_or(""),
                json["error_description"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
        }
        let token = json["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no access_token in the answer"))?
            .to_string();
        let expires = match &json["expires_in"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600);
        Ok((token, Duration::from_secs(expires)))
    }

    async fn post_token(&self, tenant_id: &str, body: String) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/{tenant_id}/oauth2/v2.0/token", self.authority);
        self.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow!("the token endpoint: {}", e.without_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A token endpoint on loopback: answers each request with `answer` (status, body)
    /// and hands the request text back.
    async fn endpoint(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for (status, body) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = sock.read(&mut buf).await.unwrap();
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if rest.len() >= len {
                            tx.send(text).unwrap();
                            break;
                        }
                    }
                }
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_client_secret_gets_a_token_once_and_it_is_cached() {
        let (url, mut rx) =
            endpoint(vec![(200, r#"{"access_token":"tok-1","expires_in":3599}"#)]).await;
        let src = TokenSource::new(
            Credential::ClientSecret {
                tenant_id: "tenant-9".into(),
                client_id: "app-3".into(),
                secret: "s3cr&t".into(),
            },
            Some(&url),
        )
        .unwrap();
        assert_eq!(src.token().await.unwrap(), "tok-1");
        assert_eq!(src.token().await.unwrap(), "tok-1");
        let req = rx.recv().await.unwrap();
        assert!(
            req.starts_with("POST /tenant-9/oauth2/v2.0/token "),
            "{req}"
        );
        assert!(req.contains("grant_type=client_credentials"), "{req}");
        assert!(req.contains("client_id=app%2D3"), "{req}");
        assert!(req.contains("client_secret=s3cr%26t"), "{req}");
        assert!(
            req.contains("scope=https%3A%2F%2Fstorage%2Eazure%2Ecom%2F%2Edefault"),
            "{req}"
        );
        assert!(
            rx.try_recv().is_err(),
            "the second token came from the cache"
        );
    }

    #[tokio::test]
    async fn a_federated_token_file_is_sent_as_the_assertion_and_refusals_name_no_secret() {
        let (url, mut rx) = endpoint(vec![(
            400,
            r#"{"error":"invalid_client","error_description":"AADSTS700016: application not found\r\nTrace ID: x"}"#,
        )])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "eyJhbGciOi.fake-jwt.sig\n").unwrap();
        let src = TokenSource::new(
            Credential::FederatedToken {
                tenant_id: "t".into(),
                client_id: "c".into(),
                token_file: file,
            },
            Some(&url),
        )
        .unwrap();
        let e = format!("{:#}", src.token().await.unwrap_err());
        assert!(e.contains("workload identity"), "{e}");
        assert!(
            e.contains("invalid_client") && e.contains("AADSTS700016"),
            "{e}"
        );
        assert!(!e.contains("fake-jwt"), "{e}");
        let req = rx.recv().await.unwrap();
        assert!(
            req.contains("client_assertion=eyJhbGciOi%2Efake%2Djwt%2Esig&"),
            "{req}"
        );
        assert!(req.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient%2Dassertion%2Dtype%3Ajwt%2Dbearer"), "{req}");
    }
}
