//! One trait for every kind of connection test: the generic one driven by catalog
//! data, and code for providers whose authentication or checks need more.

mod aws;
mod azure;
mod generic;
mod google;
mod jwt;
mod resend;
mod twilio;

use async_trait::async_trait;
use byok_core::{ProbeAdapter, ProbeSpec};

use crate::probe::{ProbeContext, Verdict};

#[async_trait]
pub(crate) trait Adapter: Send + Sync {
    /// Runs the provider's connection test and says what its answer means.
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict;
}

/// The adapter a catalog probe names, or the generic one.
pub(crate) fn for_probe(probe: &ProbeSpec) -> &'static dyn Adapter {
    match probe.adapter {
        None => &generic::Generic,
        Some(ProbeAdapter::AwsSts) => &aws::AwsSts,
        Some(ProbeAdapter::GoogleServiceAccount) => &google::GoogleServiceAccount,
        Some(ProbeAdapter::AzureClientCredentials) => &azure::AzureClientCredentials,
        Some(ProbeAdapter::TwilioPhoneNumber) => &twilio::TwilioPhoneNumber,
        Some(ProbeAdapter::ResendFromDomain) => &resend::ResendFromDomain,
    }
}
