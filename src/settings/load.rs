//! Reading [`Settings`] from its sources: TOML and JSON files (a .NET
//! `appsettings.json` included: comments and trailing commas allowed, as
//! .NET allows them), inline text, and environment variables with a prefix,
//! layered with figment, so that a later source overrides an earlier one key
//! by key. Every error becomes a [`ConfigError`] naming the key, where it
//! was read, and the problem, never a value that could be a secret.
//!
//! figment stays inside: no figment type is part of this crate's API.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source as FigmentSource};

use super::{Settings, entra};
use crate::error::{ConfigError, log_safe};

/// The largest configuration file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads [`Settings`] from several sources, each overriding, key by key,
/// what the ones before it said (a table merges with a table; any other
/// value, a list included, replaces). Start with [`Settings::loader`].
///
/// ```no_run
/// use bearer_guard::Settings;
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// // appsettings.json's AzureAd section, then a file of bearer-guard's own,
/// // then BEARER_GUARD_* environment variables over both.
/// let settings = Settings::loader()
///     .appsettings("appsettings.json", "AzureAd")
///     .file("/etc/notes/auth.toml")
///     .env("BEARER_GUARD_")
///     .load()?;
/// let layer = settings.into_builder()?.build()?;
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct SettingsLoader {
    figment: Figment,
}

impl fmt::Debug for SettingsLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsLoader").finish_non_exhaustive()
    }
}

impl Settings {
    /// Starts layering sources: see [`SettingsLoader`].
    pub fn loader() -> SettingsLoader {
        SettingsLoader {
            figment: Figment::new(),
        }
    }

    /// Reads the settings from one file: TOML (`.toml`) or JSON (`.json`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings, ConfigError> {
        Settings::loader().file(path).load()
    }

    /// Reads the settings from the environment variables whose names start
    /// with `prefix`: see [`SettingsLoader::env`].
    pub fn from_env(prefix: &str) -> Result<Settings, ConfigError> {
        Settings::loader().env(prefix).load()
    }
}

impl SettingsLoader {
    /// Adds a file: TOML when its name ends in `.toml`, JSON when `.json`
    /// (comments and trailing commas allowed). A file that is missing,
    /// unreadable, larger than 1 MiB or not valid is an error of
    /// [`load`](Self::load).
    pub fn file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_owned();
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => Some(Syntax::Toml),
            Some(e) if e.eq_ignore_ascii_case("json") => Some(Syntax::Json),
            _ => None,
        };
        self.merge(Source {
            text: Text::File(path),
            format,
            section: None,
        })
    }

    /// Adds settings written in TOML.
    pub fn toml(self, text: &str) -> Self {
        self.merge(Source {
            text: Text::Inline(text.to_owned()),
            format: Some(Syntax::Toml),
            section: None,
        })
    }

    /// Adds settings written in JSON (comments and trailing commas allowed).
    pub fn json(self, text: &str) -> Self {
        self.merge(Source {
            text: Text::Inline(text.to_owned()),
            format: Some(Syntax::Json),
            section: None,
        })
    }

    /// Adds the section `section` (`"AzureAd"`, compared ignoring case, as
    /// .NET does) of a .NET `appsettings.json` as the `entra` settings; the
    /// rest of the file is not read. The section's keys are those of
    /// Microsoft.Identity.Web: see [`Settings`].
    pub fn appsettings(self, path: impl AsRef<Path>, section: &str) -> Self {
        self.merge(Source {
            text: Text::File(path.as_ref().to_owned()),
            format: Some(Syntax::Json),
            section: Some(section.to_owned()),
        })
    }

    /// Adds the environment variables whose names start with `prefix`
    /// (compared ignoring case): the rest of the name is the key, ignoring
    /// case, with `__` between a table and its key.
    /// `BEARER_GUARD_LEEWAY=30s`, `BEARER_GUARD_ISSUER=https://…`,
    /// `BEARER_GUARD_AUDIENCES=api://notes`,
    /// `BEARER_GUARD_ENTRA__TENANTID=…`. Values are read as TOML-like
    /// values: `true`, `42`, `[a, b]`, else a string.
    pub fn env(self, prefix: &str) -> Self {
        self.merge(EnvSource {
            prefix: prefix.to_owned(),
        })
    }

    fn merge(self, provider: impl Provider) -> Self {
        SettingsLoader {
            figment: self.figment.merge(provider),
        }
    }

    /// Reads every source, merges them and checks the result: every key
    /// known, every value of the right type, and every setting usable (URLs,
    /// required keys, the `entra` section), so that
    /// [`Settings::into_builder`] then succeeds. The first problem found is
    /// a [`ConfigError::Setting`] (a key) or a
    /// [`ConfigError::SettingsSource`] (a whole file).
    pub fn load(self) -> Result<Settings, ConfigError> {
        let settings: Settings = self.figment.extract().map_err(from_figment)?;
        if let Err(invalid) = settings.compile(false) {
            let origin = origin_of_key(&self.figment, &invalid.key);
            return Err(invalid.into_error(origin));
        }
        Ok(settings)
    }
}

/// Where a key that was read but cannot be used came from: the source of the
/// key, else of the nearest table above it.
fn origin_of_key(figment: &Figment, key: &str) -> String {
    let mut path: Vec<&str> = key.split('.').collect();
    while !path.is_empty() {
        if let Some(md) = figment.find_metadata(&path.join(".")) {
            return origin(md, figment.profile(), &path);
        }
        path.pop();
    }
    String::new()
}

/// A source, for error messages: `file /etc/auth.toml`, `environment
/// variable BEARER_GUARD_LEEWAY`, `inline TOML`.
fn origin(md: &Metadata, profile: &Profile, path: &[&str]) -> String {
    match &md.source {
        Some(FigmentSource::File(file)) => format!("file {}", file.display()),
        _ if md.name.starts_with(ENV_NAME) => {
            format!("environment variable {}", md.interpolate(profile, path))
        }
        _ => md.name.to_string(),
    }
}

/// The first error figment found, as a [`ConfigError`].
fn from_figment(error: figment::Error) -> ConfigError {
    let Some(error) = error.into_iter().next() else {
        return ConfigError::SettingsSource {
            origin: String::new(),
            problem: "unknown error".to_owned(),
        };
    };
    let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
    if let Kind::MissingField(field) = &error.kind {
        path.push(field);
    }
    let origin = match (&error.metadata, &error.profile) {
        (Some(md), Some(profile)) => origin(md, profile, &path),
        (Some(md), None) => origin(md, &Profile::Default, &path),
        _ => String::new(),
    };
    let problem = problem(&error.kind);
    if path.is_empty() {
        ConfigError::SettingsSource { origin, problem }
    } else {
        ConfigError::Setting {
            key: path.join("."),
            origin,
            problem,
        }
    }
}

/// What is wrong, in words, naming no value that could be a secret: a
/// value of the wrong type is described by its type only.
fn problem(kind: &Kind) -> String {
    fn what(actual: &Actual) -> &'static str {
        match actual {
            Actual::Bool(_) => "a boolean",
            Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
            Actual::Float(_) => "a number",
            Actual::Char(_) | Actual::Str(_) => "a string",
            Actual::Seq => "a list",
            Actual::Map => "a table",
            Actual::Unit | Actual::Option => "nothing",
            _ => "another kind of value",
        }
    }
    match kind {
        Kind::Message(message) => message.clone(),
        Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {}", what(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "expected {expected}, found another value ({})",
                what(actual)
            )
        }
        Kind::InvalidLength(len, expected) => format!("expected {expected}, found {len} items"),
        Kind::UnknownVariant(value, expected) => format!(
            "{} is not one of {}",
            log_safe(value, 40),
            expected.join(", ")
        ),
        Kind::UnknownField(_, expected) => {
            format!("unknown key; the keys here are {}", expected.join(", "))
        }
        Kind::MissingField(_) => "required key is missing".to_owned(),
        Kind::DuplicateField(_) => "given twice".to_owned(),
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "number out of range".to_owned(),
        Kind::Unsupported(actual) => format!("{} cannot stand here", what(actual)),
        Kind::UnsupportedKey(actual, expected) => {
            format!("{} cannot be a key here, only {expected}", what(actual))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Syntax {
    Toml,
    Json,
}

#[derive(Debug, Clone)]
enum Text {
    File(PathBuf),
    Inline(String),
}

/// One file or text.
#[derive(Debug, Clone)]
struct Source {
    text: Text,
    /// `None`: a file whose name says neither TOML nor JSON.
    format: Option<Syntax>,
    /// An `appsettings.json` section to read as `entra`.
    section: Option<String>,
}

/// An error of a whole source, in words (figment adds the source).
fn source_error(problem: String) -> String {
    problem
}

/// The 1-based line and column of byte `at` of `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Source {
    fn read(&self) -> Result<String, String> {
        match &self.text {
            Text::Inline(text) => Ok(text.clone()),
            Text::File(path) => {
                let len = std::fs::metadata(path)
                    .map_err(|e| source_error(format!("cannot be read: {e}")))?
                    .len();
                if len > MAX_FILE_BYTES {
                    return Err(source_error(format!(
                        "is {len} bytes, more than the {MAX_FILE_BYTES} read"
                    )));
                }
                std::fs::read_to_string(path)
                    .map_err(|e| source_error(format!("cannot be read: {e}")))
            }
        }
    }

    fn parse(&self) -> Result<Dict, String> {
        let Some(format) = self.format else {
            return Err(source_error(
                "is neither .toml nor .json: the format is chosen by the file name".to_owned(),
            ));
        };
        let text = self.read()?;
        match format {
            // The parser's message, never the line it quotes (a value there
            // may be a secret).
            Syntax::Toml => Toml::from_str::<Dict>(&text).map_err(|e| {
                let (line, column) = line_column(&text, e.span().map_or(0, |s| s.start));
                source_error(format!(
                    "is not valid TOML (line {line}, column {column}): {}",
                    log_safe(e.message(), 120)
                ))
            }),
            Syntax::Json => {
                let options = jsonc_parser::ParseOptions {
                    allow_comments: true,
                    allow_trailing_commas: true,
                    allow_loose_object_property_names: false,
                    allow_missing_commas: false,
                    allow_single_quoted_strings: false,
                    allow_hexadecimal_numbers: false,
                    allow_unary_plus_numbers: false,
                    ..jsonc_parser::ParseOptions::default()
                };
                jsonc_parser::parse_to_serde_value::<Dict>(&text, &options).map_err(|e| {
                    let what = match e.kind() {
                        jsonc_parser::errors::ParseErrorKind::Custom(_) => {
                            "is not a JSON object".to_owned()
                        }
                        kind => format!("is not valid JSON ({kind})"),
                    };
                    source_error(format!(
                        "{what} (line {}, column {})",
                        e.line_display(),
                        e.column_display()
                    ))
                })
            }
        }
    }
}

/// Renames the keys of the `entra` table that match a key of the section
/// ignoring case to its spelling; leaves unknown keys for serde to refuse.
fn canonical_entra(section: Dict) -> Result<Dict, String> {
    let mut out = Dict::new();
    for (key, value) in section {
        let name = entra::canonical_key(&key).map_or(key, str::to_owned);
        if out.insert(name.clone(), value).is_some() {
            return Err(source_error(format!(
                "has the key entra.{name} twice (keys are compared ignoring case)"
            )));
        }
    }
    Ok(out)
}

impl Provider for Source {
    fn metadata(&self) -> Metadata {
        let format = match self.format {
            Some(Syntax::Toml) => "TOML",
            Some(Syntax::Json) => "JSON",
            None => "configuration",
        };
        match &self.text {
            Text::File(path) => Metadata::from(format!("{format} file"), path.as_path()),
            Text::Inline(_) => Metadata::named(format!("inline {format}")),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict()?))
    }
}

impl Source {
    /// The source's settings: all of them, or its section as `entra`.
    fn dict(&self) -> Result<Dict, String> {
        let mut dict = self.parse()?;
        if let Some(name) = &self.section {
            let found = dict
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(k, _)| k.clone());
            let section = match found.and_then(|k| dict.remove(&k)) {
                Some(Value::Dict(_, section)) => section,
                Some(_) => return Err(source_error(format!("has a {name} that is not an object"))),
                None => return Err(source_error(format!("has no {name} section"))),
            };
            dict = Dict::new();
            dict.insert("entra".to_owned(), Value::from(canonical_entra(section)?));
        } else if let Some(Value::Dict(_, section)) = dict.remove("entra") {
            dict.insert("entra".to_owned(), Value::from(canonical_entra(section)?));
        }
        Ok(dict)
    }
}

/// The start of the environment source's name, by which errors find it.
const ENV_NAME: &str = "environment variables";

/// Environment variables with a prefix: figment's `Env`, with keys
/// lowercased (the `entra` section's in its own spelling), `__` between a
/// table and its key, and errors naming the variable.
struct EnvSource {
    prefix: String,
}

impl EnvSource {
    fn env(&self) -> Env {
        Env::prefixed(&self.prefix)
            .map(|key| {
                let key = key.as_str().to_ascii_lowercase().replace("__", ".");
                match key.split_once('.') {
                    Some(("entra", name)) => match entra::canonical_key(name) {
                        Some(name) => format!("entra.{name}").into(),
                        None => key.into(),
                    },
                    _ => key.into(),
                }
            })
            // After `map`: figment's `map` turns lowercasing back on.
            .lowercase(false)
    }
}

impl Provider for EnvSource {
    fn metadata(&self) -> Metadata {
        let prefix = self.prefix.to_ascii_uppercase();
        Metadata::named(format!("{ENV_NAME} {prefix}*")).interpolater(move |_, keys| {
            let name: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("{prefix}{}", name.join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.env().data()
    }
}
