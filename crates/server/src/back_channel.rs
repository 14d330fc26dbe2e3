//! The back-channel port of the application layer, spoken over HTTP.

use std::time::Duration;

use app::ports::{BackChannel, Delivery};

/// Sends logout tokens over HTTP: a POST of the form, no redirects followed,
/// five seconds at most.
pub struct ReqwestBackChannel;

#[async_trait::async_trait]
impl BackChannel for ReqwestBackChannel {
    async fn post(&self, uri: &str, logout_token: &str) -> Delivery {
        let http = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => return Delivery::Failed(e.to_string()),
        };
        let sent = http
            .post(uri)
            .form(&[("logout_token", logout_token)])
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Delivery::Delivered,
            Ok(r) => Delivery::Refused(r.status().to_string()),
            Err(e) => Delivery::Failed(e.to_string()),
        }
    }
}
