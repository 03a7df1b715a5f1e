//! The subject, text and HTML of each kind of auth e-mail: built in, or read at start-up from
//! `BIZBASE_MAIL_TEMPLATES_DIR` — `<kind>.subject`, `<kind>.txt` and `<kind>.html` for the kinds
//! `confirmation`, `recovery`, `magiclink`, `email_change`, `invite` and `reauthentication`, each
//! optional. Templates use GoTrue's variables, so a Supabase template carries over:
//! `{{ .ConfirmationURL }}`, `{{ .Token }}`, `{{ .TokenHash }}`, `{{ .SiteURL }}`,
//! `{{ .RedirectTo }}`, `{{ .Email }}`, `{{ .NewEmail }}` and `{{ .Data.<key> }}` (the user's
//! metadata). The Next.js server-side guide's confirm link, for one:
//! `{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email`.
//!
//! Templates are parsed when bizbase starts, so an unknown variable stops it with the file's name
//! instead of mailing a broken link. Values put into an HTML template are HTML-escaped.

use std::{collections::HashMap, path::Path};

use anyhow::{Context, bail};
use serde_json::Value;

use super::mail::TokenKind;

/// Every kind of templated mail.
const KINDS: [TokenKind; 6] = [
    TokenKind::Confirmation,
    TokenKind::Recovery,
    TokenKind::MagicLink,
    TokenKind::EmailChange,
    TokenKind::Invite,
    TokenKind::Reauthentication,
];

/// A variable of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    ConfirmationUrl,
    Token,
    TokenHash,
    SiteUrl,
    RedirectTo,
    Email,
    NewEmail,
    Data(String),
}

/// A parsed template: text and variables in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, Default)]
struct Template {
    subject: Option<Vec<Part>>,
    text: Option<Vec<Part>>,
    html: Option<Vec<Part>>,
}

/// The templates of every kind of mail.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    by_kind: HashMap<&'static str, Template>,
}

/// What a mail's template may refer to.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    /// The verify link.
    pub confirmation_url: &'a str,
    /// The 6-digit code.
    pub token: &'a str,
    /// The token the link carries (with the `pkce_` prefix in the PKCE flow).
    pub token_hash: &'a str,
    /// `BIZBASE_SITE_URL`.
    pub site_url: &'a str,
    /// Where the link redirects after verification.
    pub redirect_to: &'a str,
    /// The user's address (the current one for an e-mail change).
    pub email: &'a str,
    /// The new address of an e-mail change (empty otherwise).
    pub new_email: &'a str,
    /// The user's metadata.
    pub data: &'a Value,
}

/// A mail ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, when the kind has an HTML template.
    pub html: Option<String>,
}

impl Templates {
    /// Reads the templates in `dir` (none: the built-in ones only).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut by_kind = HashMap::new();
        let Some(dir) = dir else {
            return Ok(Self { by_kind });
        };
        anyhow::ensure!(
            dir.is_dir(),
            "BIZBASE_MAIL_TEMPLATES_DIR: {} is not a directory",
            dir.display()
        );
        for kind in KINDS {
            let read = |ext: &str| -> anyhow::Result<Option<Vec<Part>>> {
                let path = dir.join(format!("{}.{ext}", kind.template()));
                match std::fs::read_to_string(&path) {
                    Ok(source) => {
                        let source = if ext == "subject" {
                            source.trim().to_owned()
                        } else {
                            source
                        };
                        parse(&source)
                            .map(Some)
                            .with_context(|| format!("mail template {}", path.display()))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => {
                        Err(e).with_context(|| format!("reading mail template {}", path.display()))
                    }
                }
            };
            let template = Template {
                subject: read("subject")?,
                text: read("txt")?,
                html: read("html")?,
            };
            by_kind.insert(kind.template(), template);
        }
        Ok(Self { by_kind })
    }

    /// The mail of `kind` with `vars` filled in; what no template covers is built in.
    pub fn render(&self, kind: TokenKind, vars: &Vars<'_>) -> Rendered {
        let template = self
            .by_kind
            .get(kind.template())
            .cloned()
            .unwrap_or_default();
        let subject = template.subject.as_deref().map_or_else(
            || kind.subject().to_owned(),
            |t| fill(t, vars, false).replace(['\r', '\n'], " "),
        );
        let text = template.text.as_deref().map_or_else(
            || {
                format!(
                    "{}\n\nYour code: {}\n\nOr follow this link: {}\n\nIf you did not ask for this, ignore this e-mail.\n",
                    kind.subject(),
                    vars.token,
                    vars.confirmation_url
                )
            },
            |t| fill(t, vars, false),
        );
        let html = template.html.as_deref().map(|t| fill(t, vars, true));
        Rendered {
            subject,
            text,
            html,
        }
    }
}

/// Splits a template into text and `{{ .Variable }}`s; refuses unknown variables and unclosed tags.
fn parse(source: &str) -> anyhow::Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("a '{{{{' is never closed");
        };
        let name = after[..end].trim();
        let var = match name {
            ".ConfirmationURL" => Var::ConfirmationUrl,
            ".Token" => Var::Token,
            ".TokenHash" => Var::TokenHash,
            ".SiteURL" => Var::SiteUrl,
            ".RedirectTo" => Var::RedirectTo,
            ".Email" => Var::Email,
            ".NewEmail" => Var::NewEmail,
            _ => match name.strip_prefix(".Data.") {
                Some(key) if !key.is_empty() && !key.contains(char::is_whitespace) => {
                    Var::Data(key.to_owned())
                }
                _ => bail!("unknown variable {{{{ {name} }}}}"),
            },
        };
        parts.push(Part::Var(var));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

fn fill(parts: &[Part], vars: &Vars<'_>, html: bool) -> String {
    let mut out = String::new();
    for part in parts {
        let value = match part {
            Part::Text(text) => {
                out.push_str(text);
                continue;
            }
            Part::Var(Var::ConfirmationUrl) => vars.confirmation_url.to_owned(),
            Part::Var(Var::Token) => vars.token.to_owned(),
            Part::Var(Var::TokenHash) => vars.token_hash.to_owned(),
            Part::Var(Var::SiteUrl) => vars.site_url.to_owned(),
            Part::Var(Var::RedirectTo) => vars.redirect_to.to_owned(),
            Part::Var(Var::Email) => vars.email.to_owned(),
            Part::Var(Var::NewEmail) => vars.new_email.to_owned(),
            Part::Var(Var::Data(key)) => match vars.data.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
        };
        if html {
            out.push_str(&escape_html(&value));
        } else {
            out.push_str(&value);
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vars(data: &Value) -> Vars<'_> {
        Vars {
            confirmation_url: "https://api.example.com/auth/v1/verify?token=pkce_ab&type=signup&redirect_to=x",
            token: "123456",
            token_hash: "pkce_ab",
            site_url: "https://app.example.com",
            redirect_to: "https://app.example.com/welcome",
            email: "ann@example.com",
            new_email: "",
            data,
        }
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        dir
    }

    #[test]
    fn gotrue_variables_fill_in_with_or_without_spaces() {
        let dir = dir_with(&[
            ("confirmation.subject", "Welcome, {{ .Data.name }}\n"),
            (
                "confirmation.txt",
                "{{ .SiteURL }}/auth/confirm?token_hash={{.TokenHash}}&type=email ({{ .Token }}) {{ .Data.plan }}{{ .Data.none }}",
            ),
        ]);
        let templates = Templates::load(Some(dir.path())).unwrap();
        let data = json!({ "name": "Ann", "plan": 3 });

        let mail = templates.render(TokenKind::Confirmation, &vars(&data));

        assert_eq!(mail.subject, "Welcome, Ann");
        assert_eq!(
            mail.text,
            "https://app.example.com/auth/confirm?token_hash=pkce_ab&type=email (123456) 3"
        );
        assert_eq!(mail.html, None);
    }

    #[test]
    fn html_templates_escape_what_they_insert() {
        let dir = dir_with(&[(
            "recovery.html",
            "<a href=\"{{ .ConfirmationURL }}\">Reset</a> for {{ .Data.name }}",
        )]);
        let templates = Templates::load(Some(dir.path())).unwrap();
        let data = json!({ "name": "<script>x</script>" });

        let mail = templates.render(TokenKind::Recovery, &vars(&data));

        assert_eq!(
            mail.html.as_deref(),
            Some(
                "<a href=\"https://api.example.com/auth/v1/verify?token=pkce_ab&amp;type=signup&amp;redirect_to=x\">Reset</a> \
                 for &lt;script&gt;x&lt;/script&gt;"
            )
        );
        assert!(
            mail.text.contains("Your code: 123456"),
            "the text stays built in"
        );
    }

    #[test]
    fn without_templates_the_mails_are_built_in() {
        let mail = Templates::load(None)
            .unwrap()
            .render(TokenKind::MagicLink, &vars(&json!({})));
        assert_eq!(mail.subject, "Your sign-in link");
        assert!(mail.text.contains("Your code: 123456"));
        assert!(
            mail.text
                .contains("Or follow this link: https://api.example.com/")
        );
    }

    #[test]
    fn unknown_variables_and_unclosed_tags_are_refused_naming_the_file() {
        for body in ["{{ .Tokn }}", "{{ .Token ", "{{ .Data. }}", "{{ Token }}"] {
            let dir = dir_with(&[("invite.txt", body)]);
            let e = format!("{:#}", Templates::load(Some(dir.path())).unwrap_err());
            assert!(e.contains("invite.txt"), "{body}: {e}");
        }
        let missing = Templates::load(Some(Path::new("/nonexistent/templates")));
        assert!(missing.is_err());
    }
}
