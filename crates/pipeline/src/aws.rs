//! AWS clients: region, custom endpoint, and credentials (static keys, an IAM role
//! assumed with an OIDC web-identity token file, or the default chain).

use std::path::PathBuf;
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError, future};

use crate::sources::s3_sqs::AwsAuth;

/// Assumes a role with `AssumeRoleWithWebIdentity`, reading the token file anew at
/// every refresh (token files are rotated by their issuer). The SDK caches the
/// credentials until shortly before they expire.
#[derive(Debug)]
pub struct WebIdentityProvider {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    token_file: PathBuf,
    session_name: String,
}

impl WebIdentityProvider {
    pub fn new(
        region: &str,
        endpoint_url: Option<&str>,
        role_arn: String,
        token_file: PathBuf,
        session_name: Option<String>,
    ) -> WebIdentityProvider {
        let mut b = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()));
        if let Some(ep) = endpoint_url {
            b = b.endpoint_url(ep);
        }
        WebIdentityProvider {
            sts: aws_sdk_sts::Client::from_conf(b.build()),
            role_arn,
            token_file,
            session_name: session_name.unwrap_or_else(|| "intake".to_string()),
        }
    }

    pub async fn assume(&self) -> provider::Result {
        let token = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "cannot read web identity token file {}: {e}",
                    self.token_file.display()
                ))
            })?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity {}: {}",
                    self.role_arn,
                    aws_sdk_sts::error::DisplayErrorContext(e)
                ))
            })?;
        let c = out.credentials.ok_or_else(|| {
            CredentialsError::provider_error("AssumeRoleWithWebIdentity returned no credentials")
        })?;
        let expiry = SystemTime::try_from(c.expiration).ok();
        tracing::info!(role_arn = %self.role_arn, "assumed role with web identity");
        Ok(Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            expiry,
            "intake-web-identity",
        ))
    }
}

impl ProvideCredentials for WebIdentityProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// Builds the shared SDK configuration.
pub async fn sdk_config(region: &str, endpoint_url: Option<&str>, auth: &AwsAuth) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    if let Some(ep) = endpoint_url {
        loader = loader.endpoint_url(ep);
    }
    if let (Some(id), Some(secret)) = (&auth.access_key_id, &auth.secret_access_key) {
        loader = loader.credentials_provider(Credentials::new(
            id,
            secret,
            auth.session_token.clone(),
            None,
            "intake-static",
        ));
    } else if let (Some(role), Some(file)) = (&auth.role_arn, &auth.web_identity_token_file) {
        loader = loader.credentials_provider(WebIdentityProvider::new(
            region,
            endpoint_url,
            role.clone(),
            file.clone(),
            auth.role_session_name.clone(),
        ));
    }
    loader.load().await
}

pub fn s3_client(config: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let c = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(c)
}

pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}
