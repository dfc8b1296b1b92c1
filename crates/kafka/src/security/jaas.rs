//! Java's `sasl.jaas.config`, as providers print it for PLAIN and SCRAM:
//!
//! ```text
//! org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="secret";
//! ```
//!
//! One login module: its class, a control flag, `key=value` options
//! (values quoted with `"` and `\` escapes, or bare words), and a closing
//! `;`. Only the username and password are used. The value holds a
//! password, so no error here ever repeats any of it.

use super::Secret;

/// Which login module a JAAS line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginModule {
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    Plain,
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    Scram,
}

/// The parts of a JAAS line this client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jaas {
    pub(crate) module: LoginModule,
    pub(crate) username: String,
    pub(crate) password: Secret,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => out.push(Token::Equals),
            ';' => out.push(Token::Semicolon),
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted value is not closed with \"".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err("a quoted value ends in \\".into()),
                        },
                        Some(c) => value.push(c),
                    }
                }
                out.push(Token::Quoted(value));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '=' | ';' | '"') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// Parses one login module line. The error says what is wrong with its
/// shape, never what it contains.
pub(crate) fn parse(text: &str) -> Result<Jaas, String> {
    let mut tokens = tokens(text)?.into_iter();
    let module = match tokens.next() {
        Some(Token::Word(class)) => match class.rsplit('.').next() {
            Some("PlainLoginModule") => LoginModule::Plain,
            Some("ScramLoginModule") => LoginModule::Scram,
            _ => {
                return Err(format!(
                "login module {class} is not supported: use PlainLoginModule or ScramLoginModule"
            ))
            }
        },
        _ => return Err("it must start with the login module's class name".into()),
    };
    match tokens.next() {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"]
                .contains(&flag.to_ascii_lowercase().as_str()) => {}
        _ => {
            return Err(
                "the class name must be followed by a control flag such as `required`".into(),
            )
        }
    }
    let (mut username, mut password) = (None, None);
    loop {
        match tokens.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(key)) => {
                if tokens.next() != Some(Token::Equals) {
                    return Err(format!("option {key} must be followed by ="));
                }
                let value = match tokens.next() {
                    Some(Token::Quoted(v) | Token::Word(v)) => v,
                    _ => return Err(format!("option {key} has no value")),
                };
                match key.as_str() {
                    "username" => username = Some(value),
                    "password" => password = Some(Secret::new(value)),
                    _ => {} // other options (e.g. tokenauth) do not apply here
                }
            }
            None => return Err("it must end with ;".into()),
            Some(_) => return Err("expected key=value options, then ;".into()),
        }
    }
    if tokens.next().is_some() {
        return Err("only one login module is supported, and nothing may follow its ;".into());
    }
    Ok(Jaas {
        module,
        username: username.ok_or("it has no username=\"...\" option")?,
        password: password.ok_or("it has no password=\"...\" option")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_providers_print() {
        let jaas = parse(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p=a;s\"s";"#,
        )
        .unwrap();
        assert_eq!(jaas.module, LoginModule::Scram);
        assert_eq!(jaas.username, "alice");
        assert_eq!(jaas.password.expose(), "p=a;s\"s");
        let plain = parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=bob\n  password=\"x\";",
        )
        .unwrap();
        assert_eq!(
            (plain.module, plain.username.as_str()),
            (LoginModule::Plain, "bob")
        );
    }

    #[test]
    fn errors_describe_the_shape_and_never_echo_the_password() {
        for bad in [
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="topsecret""#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule username="a" password="topsecret";"#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="topsecret";"#,
            r#"com.example.Other required username="a" password="topsecret";"#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="topsecret"#,
        ] {
            let error = parse(bad).unwrap_err();
            assert!(!error.contains("topsecret"), "{error}");
        }
    }
}
