//! The 1-click catalog: templates as data, embedded at build time or read from a
//! directory. Architecture invariant: the catalog itself does no I/O except `load_dir`,
//! which only reads template files; everything else here is pure.

pub mod placeholder;
pub mod profile;
pub mod template;
mod validate;

use std::path::Path;

pub use template::Template;

use crate::error::{Error, Result};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../catalog/", $name, ".yaml")))),*]
    };
}

/// The built-in templates, by app name. `tests::embedded_list_matches_directory` keeps this
/// list and the catalog/ directory in step.
const EMBEDDED: &[(&str, &str)] = embedded![
    "browserless",
    "ghost",
    "librechat",
    "mariadb",
    "mongodb",
    "nextcloud",
    "ollama",
    "open-webui",
    "postgres",
    "redis",
    "supabase",
    "umami",
    "wireguard",
    "wordpress",
];

/// A set of validated templates, sorted by app name.
#[derive(Debug, Clone)]
pub struct Catalog {
    templates: Vec<Template>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn builtin() -> Result<Self> {
        let sources = EMBEDDED
            .iter()
            .map(|(name, text)| (format!("<builtin>/{name}.yaml"), name.to_string(), *text));
        Self::from_sources(sources.map(|(p, n, t)| (p, n, t.to_string())))
    }

    /// Every `*.yaml` file in `dir`, in the same format as the built-in catalog.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::input(format!(
                "--catalog {}: {e}; point it at a directory of app templates",
                dir.display()
            ))
        })?;
        let mut sources = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.len() > MAX_TEMPLATE_BYTES {
                return Err(Error::Template {
                    path: path.display().to_string(),
                    message: format!(
                        "{} bytes; a template may be at most {MAX_TEMPLATE_BYTES}",
                        meta.len()
                    ),
                });
            }
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let text = String::from_utf8(bytes).map_err(|e| Error::Template {
                path: path.display().to_string(),
                message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            })?;
            sources.push((path.display().to_string(), stem, text));
        }
        if sources.is_empty() {
            return Err(Error::input(format!(
                "{}: no *.yaml templates found; point --catalog at a directory of app templates",
                dir.display()
            )));
        }
        Self::from_sources(sources)
    }

    fn from_sources(sources: impl IntoIterator<Item = (String, String, String)>) -> Result<Self> {
        let mut templates = Vec::new();
        for (path, stem, text) in sources {
            let template: Template =
                serde_saphyr::from_str(&text).map_err(|e| Error::Template {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            validate::template(&template, &stem).map_err(|message| Error::Template {
                path: path.clone(),
                message,
            })?;
            templates.push(template);
        }
        templates.sort_by(|a, b| a.app.cmp(&b.app));
        Ok(Catalog { templates })
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    pub fn get(&self, app: &str) -> Result<&Template> {
        self.templates.iter().find(|t| t.app == app).ok_or_else(|| {
            let names: Vec<&str> = self.templates.iter().map(|t| t.app.as_str()).collect();
            Error::input(format!(
                "unknown app {:?}; the catalog has: {} (see `berth catalog list`)",
                crate::validate::printable(app),
                names.join(", ")
            ))
        })
    }
}

/// Templates are small; a larger file is a mistake or an attack.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid() {
        let catalog = Catalog::builtin().unwrap();
        assert_eq!(catalog.templates().len(), EMBEDDED.len());
    }

    #[test]
    fn embedded_list_matches_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn unknown_app_lists_the_catalog() {
        let err = Catalog::builtin().unwrap().get("nope").unwrap_err();
        assert!(err.to_string().contains("nextcloud"));
        assert_eq!(err.exit_code(), crate::error::EXIT_BAD_INPUT);
    }
}
