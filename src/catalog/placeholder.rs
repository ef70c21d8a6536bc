//! `{{...}}` placeholders in template strings (environment values, commands, healthchecks).
//!
//! `{{secret:NAME}}` becomes a reference to the `.env` variable NAME (never the value);
//! `{{setting:NAME}}`, `{{domain}}` and `{{name}}` are replaced by validated request values.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    Secret(String),
    Setting(String),
    Domain,
    Name,
}

/// Splits a template string into tokens; the error says which placeholder is wrong.
pub fn parse(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Token::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {s:?}"))?;
        let inner = after[..end].trim();
        out.push(match inner.split_once(':') {
            Some(("secret", name)) => Token::Secret(name.to_string()),
            Some(("setting", name)) => Token::Setting(name.to_string()),
            None if inner == "domain" => Token::Domain,
            None if inner == "name" => Token::Name,
            _ => {
                return Err(format!(
                    "unknown placeholder {{{{{inner}}}}} in {s:?} (use secret:NAME, setting:NAME, domain or name)"
                ));
            }
        });
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Token::Literal(rest.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_and_placeholders() {
        assert_eq!(
            parse("postgres://u:{{secret:DB_PASSWORD}}@db/{{ name }}").unwrap(),
            vec![
                Token::Literal("postgres://u:".into()),
                Token::Secret("DB_PASSWORD".into()),
                Token::Literal("@db/".into()),
                Token::Name,
            ]
        );
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        assert!(parse("{{nope}}").is_err());
        assert!(parse("x {{secret:A").is_err());
    }
}
