//! How a text message leaves: the transport interface, and an outbox
//! directory for development and tests. The production HTTP gateway lives in
//! the server crate, the only one that speaks HTTP.

use std::path::{Path, PathBuf};

use rand::RngCore;
use rand::rngs::OsRng;

use crate::MfaError;

/// Sends one text message. Implementations never log the text: it holds a code.
#[async_trait::async_trait]
pub trait SmsTransport: Send + Sync + 'static {
    /// Sends `text` to `to`, a number in E.164 form.
    async fn send(&self, to: &str, text: &str) -> Result<(), MfaError>;
}

/// Writes each message as a file in a directory instead of sending it, like a
/// mail outbox: `<unix-nanos>-<random>.sms`, holding `To: <number>`, a blank
/// line and the text. A developer (or a test) reads codes there.
#[derive(Debug, Clone)]
pub struct SmsOutbox {
    dir: PathBuf,
}

impl SmsOutbox {
    /// An outbox in `dir`, created (with its parents) at the first message.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn io(e: std::io::Error) -> MfaError {
    MfaError::Transport(format!("the SMS outbox could not be written ({e})"))
}

#[async_trait::async_trait]
impl SmsTransport for SmsOutbox {
    async fn send(&self, to: &str, text: &str) -> Result<(), MfaError> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let nanos = chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .max(0);
        let mut random = [0u8; 8];
        OsRng.fill_bytes(&mut random);
        // Nanoseconds first so that `ls` lists messages in order; the random
        // part keeps names unique within one nanosecond.
        let name = format!("{nanos:020}-{}.sms", hex::encode(random));
        let path = self.dir.join(&name);
        // Written under a hidden name and renamed into place: rename is atomic
        // within a directory, so a reader watching for `*.sms` never sees half
        // a message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let body = format!("To: {to}\n\n{text}\n");
        if let Err(e) = tokio::fs::write(&tmp, body).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        tracing::debug!(path = %path.display(), "SMS written to outbox");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("guichet-sms-test-{}", uuid::Uuid::new_v4())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn outbox_writes_one_file_per_message() {
        let tmp = TempDir::new();
        let outbox = SmsOutbox::new(tmp.0.join("nested/sms"));
        outbox.send("+447700900123", "Hello 1").await.unwrap();
        outbox.send("+447700900123", "Hello 2").await.unwrap();
        let mut files: Vec<_> = std::fs::read_dir(outbox.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        for (i, f) in files.iter().enumerate() {
            let name = f.file_name().unwrap().to_str().unwrap();
            let (nanos, rest) = name.split_once('-').unwrap();
            assert!(nanos.parse::<u128>().is_ok(), "{name}");
            assert!(rest.ends_with(".sms"), "{name}");
            let body = std::fs::read_to_string(f).unwrap();
            assert_eq!(body, format!("To: +447700900123\n\nHello {}\n", i + 1));
        }
    }
}
