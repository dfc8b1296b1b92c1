//! `-X key=value`: any client setting, handed to `ProducerConfig` as is (as
//! kcat's `-X` does), so an example runs against a secured broker:
//!
//! ```text
//! -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-256 \
//! -X sasl.username=alice -X sasl.password=... -X ssl.ca.location=ca.pem
//! ```
//!
//! Only the `key=value` shape is checked here; whether the key exists and
//! the value fits is the producer config's to say, with its own error
//! naming the key.

/// Splits one `-X` argument at its first `=` (a value may hold more).
/// Errors never repeat a value: it may be a password.
pub(crate) fn parse(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        Some(_) => Err(
            "a -X setting has no key before `=`: write key=value, as in -X security.protocol=SSL"
                .to_owned(),
        ),
        None => Err(format!(
            "-X {text:?} has no value: write key=value, as in -X security.protocol=SSL"
        )),
    }
}
