//! Where records live: a KV namespace reached through wrangler ([`Wrangler`]), or memory
//! ([`MemStore`], for tests). Commands see only the [`Store`] trait.
//!
//! Values never travel on a command line: writes go through `wrangler kv bulk put` with a JSON
//! file (mode 0600, in a private temporary folder, deleted afterwards), reads through
//! `wrangler kv bulk get` with a file of keys. Keys are not secrets (tokens are keyed by their
//! SHA-256).

use super::error::{OpsError, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Most keys written by one `wrangler kv bulk put` (the KV bulk API's limit).
pub const MAX_BULK_PUT: usize = 10_000;
/// Most keys read by one `wrangler kv bulk get` against deployed KV (the API's limit).
pub const MAX_BULK_GET_REMOTE: usize = 100;
/// Keys read by one `wrangler kv bulk get` against local KV (no API limit; bounds each run).
pub const MAX_BULK_GET_LOCAL: usize = 10_000;
/// `wrangler kv key list --local` (4.86.0) returns the first 1000 keys only, without a cursor.
pub const LOCAL_LIST_PAGE: usize = 1000;

/// A key as listed, with its KV metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub name: String,
    pub metadata: Option<Value>,
}

/// A key/value pair to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// KV metadata (returned by list; tokens carry `{"client_id": ...}`).
    pub metadata: Option<Value>,
    /// KV expiration, epoch seconds (KV deletes the key after it).
    pub expiration: Option<i64>,
}

impl Entry {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Entry {
            key: key.into(),
            value: value.into(),
            metadata: None,
            expiration: None,
        }
    }
}

/// A KV namespace.
pub trait Store {
    /// Deployed KV (`--remote`) rather than local.
    fn is_remote(&self) -> bool;
    /// What is being written to, for messages (`local KV (.wrangler/state)`).
    fn describe(&self) -> String;
    /// The value of each key (`None`: absent).
    fn get_many(&mut self, keys: &[String]) -> Result<BTreeMap<String, Option<String>>>;
    /// Every key starting with `prefix`, in key order.
    fn list(&mut self, prefix: &str) -> Result<Vec<KeyInfo>>;
    /// Writes at most [`MAX_BULK_PUT`] entries at once (see [`put_all`]).
    fn put_batch(&mut self, entries: &[Entry]) -> Result<()>;
}

/// One value.
pub fn get_one(store: &mut dyn Store, key: &str) -> Result<Option<String>> {
    Ok(store
        .get_many(&[key.to_string()])?
        .remove(key)
        .unwrap_or(None))
}

/// Writes every entry, [`MAX_BULK_PUT`] at a time; `progress` hears after each batch.
pub fn put_all(
    store: &mut dyn Store,
    entries: &[Entry],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let mut done = 0;
    for chunk in entries.chunks(MAX_BULK_PUT) {
        store.put_batch(chunk)?;
        done += chunk.len();
        progress(done, entries.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Memory

/// An in-memory namespace for tests. Counts the batches it was given.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    pub data: BTreeMap<String, (String, Option<Value>, Option<i64>)>,
    pub batches: Vec<usize>,
    pub remote: bool,
    /// When set, every write fails (as wrangler does when KV is unreachable).
    pub fail_writes: bool,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, key: &str, value: &str) {
        self.data.insert(key.into(), (value.into(), None, None));
    }
    pub fn value(&self, key: &str) -> Option<Value> {
        self.data
            .get(key)
            .map(|(v, _, _)| serde_json::from_str(v).expect("stored JSON"))
    }
    pub fn metadata(&self, key: &str) -> Option<Value> {
        self.data.get(key).and_then(|(_, m, _)| m.clone())
    }
}

impl Store for MemStore {
    fn is_remote(&self) -> bool {
        self.remote
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn get_many(&mut self, keys: &[String]) -> Result<BTreeMap<String, Option<String>>> {
        Ok(keys
            .iter()
            .map(|k| (k.clone(), self.data.get(k).map(|(v, _, _)| v.clone())))
            .collect())
    }
    fn list(&mut self, prefix: &str) -> Result<Vec<KeyInfo>> {
        Ok(self
            .data
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (_, m, _))| KeyInfo {
                name: k.clone(),
                metadata: m.clone(),
            })
            .collect())
    }
    fn put_batch(&mut self, entries: &[Entry]) -> Result<()> {
        assert!(entries.len() <= MAX_BULK_PUT, "batch of {}", entries.len());
        if self.fail_writes {
            return Err(OpsError::kv("wrangler kv bulk put failed (simulated)"));
        }
        self.batches.push(entries.len());
        for e in entries {
            self.data.insert(
                e.key.clone(),
                (e.value.clone(), e.metadata.clone(), e.expiration),
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// wrangler

/// A KV namespace reached by running wrangler (`wrangler kv ... --binding <b> --local|--remote`).
#[derive(Debug, Clone)]
pub struct Wrangler {
    /// The command that runs wrangler, e.g. `["node_modules/.bin/wrangler"]`.
    pub program: Vec<String>,
    pub config: Option<PathBuf>,
    pub env: Option<String>,
    pub binding: String,
    pub remote: bool,
    pub persist_to: Option<PathBuf>,
    /// Most keys `wrangler kv key list --local` returns ([`LOCAL_LIST_PAGE`]; tests use less).
    pub local_list_page: usize,
}

impl Wrangler {
    /// The wrangler command: `explicit` (whitespace-separated) if given, else the project's own
    /// `node_modules/.bin/wrangler` next to the config (or in the current folder), else
    /// `npx --no-install wrangler`.
    pub fn resolve_program(explicit: Option<&str>, config: Option<&Path>) -> Vec<String> {
        if let Some(p) = explicit.filter(|p| !p.trim().is_empty()) {
            return p.split_whitespace().map(String::from).collect();
        }
        let mut dirs = Vec::new();
        if let Some(dir) = config.and_then(Path::parent) {
            dirs.push(if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            });
        }
        dirs.push(PathBuf::from("."));
        for d in dirs {
            let p = d.join("node_modules/.bin/wrangler");
            if p.is_file() {
                return vec![p.to_string_lossy().into_owned()];
            }
        }
        vec!["npx".into(), "--no-install".into(), "wrangler".into()]
    }

    fn common_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--binding".into(), self.binding.clone().into()];
        if self.remote {
            a.push("--remote".into());
        } else {
            a.push("--local".into());
            if let Some(p) = &self.persist_to {
                a.push("--persist-to".into());
                a.push(p.clone().into());
            }
        }
        if let Some(c) = &self.config {
            a.push("--config".into());
            a.push(c.clone().into());
        }
        if let Some(e) = &self.env {
            a.push("--env".into());
            a.push(e.clone().into());
        }
        a
    }

    /// Runs `wrangler kv <sub...> <common args>`; returns its standard output.
    fn run(&self, sub: &[OsString], what: &str) -> Result<String> {
        let (prog, pre) = self
            .program
            .split_first()
            .ok_or_else(|| OpsError::kv("no wrangler command"))?;
        let out = Command::new(prog)
            .args(pre)
            .arg("kv")
            .args(sub)
            .args(self.common_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| {
                OpsError::kv(format!(
                    "cannot run wrangler ({}): {e}; run `npm install` in the project, or pass --wrangler",
                    self.program.join(" ")
                ))
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let fatal = stderr.contains("Fatal uncaught") || stdout.contains("Fatal uncaught");
        if !out.status.success() || fatal {
            return Err(OpsError::kv(format!(
                "wrangler kv {what} failed ({}): {}",
                out.status
                    .code()
                    .map_or("killed".to_string(), |c| format!("exit {c}")),
                summarize_failure(&stderr, &stdout)
            )));
        }
        Ok(stdout)
    }

    fn list_once(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        let out = self.run(
            &[
                "key".into(),
                "list".into(),
                "--prefix".into(),
                prefix.into(),
            ],
            "key list",
        )?;
        let v = first_json(&out).ok_or_else(|| {
            OpsError::kv("wrangler kv key list printed no JSON list (is the binding right?)")
        })?;
        let arr = v
            .as_array()
            .ok_or_else(|| OpsError::kv("wrangler kv key list printed JSON that is not a list"))?;
        let mut keys = Vec::with_capacity(arr.len());
        for k in arr {
            let name = k
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| OpsError::kv("wrangler kv key list: an entry without a name"))?;
            keys.push(KeyInfo {
                name: name.to_string(),
                metadata: k.get("metadata").cloned().filter(|m| !m.is_null()),
            });
        }
        Ok(keys)
    }

    /// Local listing: wrangler returns at most `local_list_page` keys (see [`list_paged`]).
    fn list_local(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        list_paged(prefix, self.local_list_page, &mut |p| self.list_once(p), 0)
    }

    fn bulk_get(&self, keys: &[String]) -> Result<BTreeMap<String, Option<String>>> {
        let dir = private_dir()?;
        let path = dir.path().join("keys.json");
        write_private(&path, serde_json::to_string(keys).expect("keys").as_bytes())?;
        let out = self.run(&["bulk".into(), "get".into(), path.into()], "bulk get")?;
        let v = first_json(&out)
            .ok_or_else(|| OpsError::kv("wrangler kv bulk get printed no JSON object"))?;
        let obj = v.as_object().ok_or_else(|| {
            OpsError::kv("wrangler kv bulk get printed JSON that is not an object")
        })?;
        let mut res = BTreeMap::new();
        for k in keys {
            // Local: {"key": {"value": "..." | null}}; deployed: {"key": "..." | null}.
            let val = match obj.get(k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).map(String::from),
                Some(_) => {
                    return Err(OpsError::kv(format!(
                        "wrangler kv bulk get: unexpected value shape for {k:?}"
                    )))
                }
            };
            res.insert(k.clone(), val);
        }
        Ok(res)
    }
}

impl Store for Wrangler {
    fn is_remote(&self) -> bool {
        self.remote
    }
    fn describe(&self) -> String {
        let mut s = if self.remote {
            format!("deployed KV (binding {})", self.binding)
        } else {
            match &self.persist_to {
                Some(p) => format!("local KV in {} (binding {})", p.display(), self.binding),
                None => format!("local KV in .wrangler/state (binding {})", self.binding),
            }
        };
        if let Some(e) = &self.env {
            s.push_str(&format!(", environment {e}"));
        }
        s
    }

    fn get_many(&mut self, keys: &[String]) -> Result<BTreeMap<String, Option<String>>> {
        let mut res = BTreeMap::new();
        let mut wanted: Vec<String> = keys.to_vec();
        wanted.sort();
        wanted.dedup();
        if wanted.len() > LOCAL_LIST_PAGE {
            // Reading many keys costs a wrangler run per 100 (deployed) or about 2 ms a key
            // (local): list each prefix first (one run) and read only keys that exist. A local
            // listing is complete only below wrangler's 1000-key page; above it, read them all.
            let prefixes: BTreeSet<String> = wanted.iter().map(|k| key_prefix(k)).collect();
            for p in prefixes {
                let listed = if self.remote {
                    self.list_once(&p)?
                } else {
                    let page = self.list_once(&p)?;
                    if page.len() >= self.local_list_page {
                        continue;
                    }
                    page
                };
                let present: BTreeSet<String> = listed.into_iter().map(|k| k.name).collect();
                for k in wanted
                    .iter()
                    .filter(|k| k.starts_with(&p) && !present.contains(*k))
                {
                    res.insert(k.clone(), None);
                }
                wanted.retain(|k| !k.starts_with(&p) || present.contains(k));
            }
        }
        let chunk = if self.remote {
            MAX_BULK_GET_REMOTE
        } else {
            MAX_BULK_GET_LOCAL
        };
        for part in wanted.chunks(chunk) {
            res.extend(self.bulk_get(part)?);
        }
        Ok(res)
    }

    fn list(&mut self, prefix: &str) -> Result<Vec<KeyInfo>> {
        if self.remote {
            self.list_once(prefix)
        } else {
            self.list_local(prefix)
        }
    }

    fn put_batch(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let items: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut o = json!({"key": e.key, "value": e.value});
                if let Some(m) = &e.metadata {
                    o["metadata"] = m.clone();
                }
                if let Some(x) = e.expiration {
                    o["expiration"] = json!(x);
                }
                o
            })
            .collect();
        let dir = private_dir()?;
        let path = dir.path().join("records.json");
        write_private(
            &path,
            serde_json::to_string(&items).expect("entries").as_bytes(),
        )?;
        let out = self.run(&["bulk".into(), "put".into(), path.into()], "bulk put")?;
        if !out.contains("Success") {
            return Err(OpsError::kv(
                "wrangler kv bulk put did not report success; nothing is known to be written",
            ));
        }
        Ok(())
    }
}

/// Every key under `prefix`, when one listing returns only the first `cap` keys in key order
/// and no cursor (`wrangler kv key list --local`). A full page is split by the character after
/// the prefix: keys whose next character sorts before the page's last key's are all in the page;
/// the others are listed again under longer prefixes — hex digits under `token:` (SHA-256 keys),
/// else printable ASCII and any character seen in the page. (A key whose next character is
/// outside those and never seen would be missed; client ids are ASCII in practice.)
pub fn list_paged(
    prefix: &str,
    cap: usize,
    list_once: &mut dyn FnMut(&str) -> Result<Vec<KeyInfo>>,
    depth: usize,
) -> Result<Vec<KeyInfo>> {
    let page = list_once(prefix)?;
    if page.len() < cap {
        return Ok(page);
    }
    if depth > 64 {
        return Err(OpsError::kv(format!(
            "local listing under {prefix:?} does not converge"
        )));
    }
    let next = |k: &KeyInfo| k.name[prefix.len()..].chars().next();
    let last = page.last().and_then(next);
    let mut out: Vec<KeyInfo> = page
        .iter()
        .filter(|k| last.is_some() && next(k) < last)
        .cloned()
        .collect();
    let mut alphabet: BTreeSet<char> =
        if prefix.starts_with(edge_interceptors::records::TOKEN_PREFIX) {
            "0123456789abcdef".chars().collect()
        } else {
            (0x20u8..0x7f).map(char::from).collect()
        };
    alphabet.extend(page.iter().filter_map(next));
    if page.first().is_some_and(|k| k.name == prefix) && last.is_none() {
        out.push(page[0].clone());
    }
    for c in alphabet
        .into_iter()
        .filter(|c| last.is_none_or(|l| *c >= l))
    {
        let mut p = prefix.to_string();
        p.push(c);
        out.extend(list_paged(&p, cap, list_once, depth + 1)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    let seen: BTreeSet<&str> = out.iter().map(|k| k.name.as_str()).collect();
    if let Some(missing) = page.iter().find(|k| !seen.contains(k.name.as_str())) {
        return Err(OpsError::kv(format!(
            "local listing under {prefix:?} lost key {:?} (wrangler lists at most {cap} local keys per call)",
            missing.name
        )));
    }
    Ok(out)
}

/// The part of a key up to and including its first `:` (`token:`), or the whole key.
fn key_prefix(k: &str) -> String {
    match k.find(':') {
        Some(i) => k[..=i].to_string(),
        None => k.to_string(),
    }
}

/// A private temporary folder (mode 0700), deleted when dropped.
pub fn private_dir() -> Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix("edge-records-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o700));
    }
    b.tempdir()
        .map_err(|e| OpsError::failure(format!("cannot create a temporary folder: {e}")))
}

/// Creates `path` (which must not exist) with mode 0600 and writes `data`.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| OpsError::failure(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| OpsError::failure(format!("cannot write {}: {e}", path.display())))
}

/// The first JSON value in wrangler's output (after any banner), ignoring what follows it.
pub fn first_json(out: &str) -> Option<Value> {
    let mut offset = 0;
    for line in out.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') || t.starts_with('{') {
            let start = offset + (line.len() - t.len());
            let mut it = serde_json::Deserializer::from_str(&out[start..]).into_iter::<Value>();
            if let Some(Ok(v)) = it.next() {
                return Some(v);
            }
        }
        offset += line.len();
    }
    None
}

/// The informative lines of a failed wrangler run: ANSI colours removed, banners and blank
/// lines dropped, at most 6 lines, and never a line that could echo a value (`"value"`).
fn summarize_failure(stderr: &str, stdout: &str) -> String {
    let text = format!("{stderr}\n{stdout}");
    let lines: Vec<String> = text
        .lines()
        .map(strip_ansi)
        .map(|l| l.trim().to_string())
        .filter(|l| {
            !l.is_empty()
                && !l.contains("\"value\"")
                && !l.starts_with("⛅️")
                && !l.starts_with('─')
                && !l.starts_with("stack:")
                && !l.contains("Would you like to report")
                && !l.contains("Using fallback value")
                && !l.contains("update available")
        })
        .take(6)
        .collect();
    if lines.is_empty() {
        "no message".into()
    } else {
        lines.join(" | ")
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrangler_output_is_parsed_after_banners() {
        let out = "\n ⛅️ wrangler 4.86.0\n───\nResource location: local\n{\n  \"a\": {\"value\": \"x\"}\n}\n\nSuccess!\n";
        assert_eq!(first_json(out).unwrap(), json!({"a": {"value": "x"}}));
        assert_eq!(
            first_json("[\n {\"name\": \"k\"}\n]\n").unwrap(),
            json!([{"name": "k"}])
        );
        assert!(first_json("Value not found\n").is_none());
    }

    #[test]
    fn failures_are_summarized_without_values() {
        let s = summarize_failure(
            "\u{1b}[31m✘ \u{1b}[41;31m[ERROR]\u{1b}[0m Not logged in.\nThe item at index 0 is {\"key\":\"k\",\"value\":\"secret\"}\n",
            "",
        );
        assert!(s.contains("Not logged in"), "{s}");
        assert!(!s.contains("secret"), "{s}");
    }

    #[test]
    fn puts_are_split_into_bulk_batches() {
        let mut m = MemStore::new();
        let entries: Vec<Entry> = (0..25_001)
            .map(|i| Entry::new(format!("k{i}"), "{}"))
            .collect();
        let mut calls = Vec::new();
        put_all(&mut m, &entries, &mut |d, t| calls.push((d, t))).unwrap();
        assert_eq!(m.batches, vec![10_000, 10_000, 5_001]);
        assert_eq!(calls.last(), Some(&(25_001, 25_001)));
        assert_eq!(m.list("k1").unwrap().len(), 11_111);
    }

    #[test]
    fn paged_local_listings_are_complete() {
        let mut keys: Vec<String> = (0..40)
            .map(|i| format!("token:{:064x}", i * 7919))
            .collect();
        keys.extend(
            [
                "app:", "app:a", "app:b", "app:b1", "app:b2", "app:c", "app:Z", "app:~", "app:é1",
            ]
            .map(String::from),
        );
        keys.sort();
        // A non-ASCII next character is found once a page shows it (cap 12 here); below, such
        // keys are the documented blind spot.
        for cap in [12, 1000] {
            let mut calls = 0;
            let mut once = |p: &str| -> Result<Vec<KeyInfo>> {
                calls += 1;
                Ok(keys
                    .iter()
                    .filter(|k| k.starts_with(p))
                    .take(cap)
                    .map(|k| KeyInfo {
                        name: k.clone(),
                        metadata: None,
                    })
                    .collect())
            };
            for prefix in ["token:", "app:"] {
                let got: Vec<String> = list_paged(prefix, cap, &mut once, 0)
                    .unwrap()
                    .into_iter()
                    .map(|k| k.name)
                    .collect();
                let want: Vec<String> = keys
                    .iter()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect();
                assert_eq!(got, want, "cap {cap}, prefix {prefix}");
            }
            if cap == 1000 {
                assert_eq!(calls, 2);
            }
        }
        keys.retain(|k| !k.contains('é'));
        for cap in [1, 2, 3, 5] {
            let mut once = |p: &str| -> Result<Vec<KeyInfo>> {
                Ok(keys
                    .iter()
                    .filter(|k| k.starts_with(p))
                    .take(cap)
                    .map(|k| KeyInfo {
                        name: k.clone(),
                        metadata: None,
                    })
                    .collect())
            };
            for prefix in ["token:", "app:"] {
                let got = list_paged(prefix, cap, &mut once, 0).unwrap();
                let want = keys.iter().filter(|k| k.starts_with(prefix)).count();
                assert_eq!(got.len(), want, "cap {cap}, prefix {prefix}");
                assert!(got.windows(2).all(|w| w[0].name < w[1].name));
            }
        }
    }

    #[test]
    fn private_files_are_0600() {
        let d = private_dir().unwrap();
        let p = d.path().join("x.json");
        write_private(&p, b"[]").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(d.path()).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        assert!(write_private(&p, b"again").is_err());
    }

    #[test]
    fn the_wrangler_command_line_names_binding_target_and_config() {
        let w = Wrangler {
            program: vec!["wrangler".into()],
            config: Some("wrangler.toml".into()),
            env: Some("staging".into()),
            binding: "RECORDS".into(),
            remote: false,
            persist_to: Some("/tmp/kv".into()),
            local_list_page: LOCAL_LIST_PAGE,
        };
        let a: Vec<String> = w
            .common_args()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            a,
            [
                "--binding",
                "RECORDS",
                "--local",
                "--persist-to",
                "/tmp/kv",
                "--config",
                "wrangler.toml",
                "--env",
                "staging"
            ]
        );
        assert_eq!(
            Wrangler::resolve_program(Some("npx wrangler"), None),
            ["npx", "wrangler"]
        );
    }
}

/// The real [`Wrangler`] store against a stand-in for wrangler (a Node script keeping KV in a
/// JSON file and logging each run), so the command lines, the bulk files and the output parsing
/// are tested without a Cloudflare runtime. (tests/e2e/ops.test.mjs runs the real wrangler.)
#[cfg(all(test, unix))]
mod wrangler_tests {
    use super::*;

    const FAKE: &str = r#"
import { readFileSync, writeFileSync, existsSync, statSync, appendFileSync } from 'node:fs';
const args = process.argv.slice(2);
const db = process.env.FAKE_KV;
const kv = existsSync(db) ? JSON.parse(readFileSync(db, 'utf8')) : {};
const opt = (n) => { const i = args.indexOf(n); return i < 0 ? undefined : args[i + 1]; };
const remote = args.includes('--remote');
const log = (o) => appendFileSync(process.env.FAKE_LOG, JSON.stringify({ args, ...o }) + '\n');
if (process.env.FAKE_FAIL) { console.error('\u001b[31m✘ [ERROR]\u001b[0m Not logged in.'); process.exit(1); }
console.log('\n ⛅️ wrangler 4.86.0\n───\nResource location: ' + (remote ? 'remote' : 'local') + '\n');
const [, a, b] = args;
if (a === 'key' && b === 'list') {
  const p = opt('--prefix') ?? '';
  const cap = Number(process.env.FAKE_CAP ?? 1000);
  let keys = Object.keys(kv).filter((k) => k.startsWith(p)).sort();
  if (!remote) keys = keys.slice(0, cap);
  log({ listed: keys.length });
  console.log(JSON.stringify(keys.map((k) => (kv[k].metadata ? { name: k, metadata: kv[k].metadata } : { name: k })), null, 2));
} else if (a === 'bulk' && b === 'get') {
  const keys = JSON.parse(readFileSync(args[3], 'utf8'));
  log({ got: keys.length });
  const out = {};
  for (const k of keys) out[k] = remote ? (kv[k]?.value ?? null) : { value: kv[k]?.value ?? null };
  console.log(JSON.stringify(out, null, 2) + '\n\nSuccess!');
} else if (a === 'bulk' && b === 'put') {
  const items = JSON.parse(readFileSync(args[3], 'utf8'));
  log({ put: items.length, file: args[3], mode: statSync(args[3]).mode & 0o777 });
  for (const it of items) kv[it.key] = { value: it.value, metadata: it.metadata };
  writeFileSync(db, JSON.stringify(kv));
  console.log('Success!');
} else { console.error('unexpected ' + args.join(' ')); process.exit(2); }
"#;

    struct Fake {
        dir: tempfile::TempDir,
        w: Wrangler,
    }

    impl Fake {
        /// The stand-in needs node (as the tool's users need it for wrangler): without node
        /// the test fails rather than passing on nothing.
        fn new(remote: bool, cap: usize) -> Fake {
            assert!(
                Command::new("node").arg("--version").output().is_ok(),
                "node not found: the wrangler stand-in runs on node (scripts/setup.sh needs it too)"
            );
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("fake-wrangler.mjs");
            std::fs::write(&script, FAKE).unwrap();
            std::env::set_var("FAKE_KV", dir.path().join("kv.json"));
            std::env::set_var("FAKE_LOG", dir.path().join("log.jsonl"));
            std::env::set_var("FAKE_CAP", cap.to_string());
            let w = Wrangler {
                program: vec!["node".into(), script.to_string_lossy().into_owned()],
                config: None,
                env: None,
                binding: "RECORDS".into(),
                remote,
                persist_to: Some(dir.path().join("state")),
                local_list_page: cap,
            };
            Fake { dir, w }
        }
        fn log(&self) -> Vec<Value> {
            std::fs::read_to_string(self.dir.path().join("log.jsonl"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
    }

    // The environment variables are process-wide: one test runs every scenario in turn.
    #[test]
    fn wrangler_store_against_a_stand_in() {
        let mut f = Fake::new(false, 1000);
        // Writes: one bulk put per batch, from a 0600 file that is gone afterwards.
        let mut entries: Vec<Entry> = ["app:a", "app:b", "app:c", "app:d", "app:e"]
            .iter()
            .map(|k| Entry::new(*k, format!("{{\"k\":\"{k}\"}}")))
            .collect();
        for i in 0..40 {
            let mut e = Entry::new(format!("token:{:064x}", i * 7919), "{}");
            e.metadata = Some(json!({"client_id": "a"}));
            entries.push(e);
        }
        put_all(&mut f.w, &entries, &mut |_, _| {}).unwrap();
        let log = f.log();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["put"], 45);
        assert_eq!(log[0]["mode"], 0o600);
        assert!(!Path::new(log[0]["file"].as_str().unwrap()).exists());
        let args: Vec<&str> = log[0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(&args[..3], ["kv", "bulk", "put"]);
        assert!(args.contains(&"--local") && args.contains(&"--persist-to"));

        // Listing (splitting full pages is tested with list_paged above).
        let apps = f.w.list("app:").unwrap();
        assert_eq!(apps.len(), 5);
        let tokens = f.w.list("token:").unwrap();
        assert_eq!(tokens.len(), 40);
        assert_eq!(tokens[0].metadata, Some(json!({"client_id": "a"})));
        assert!(tokens.windows(2).all(|w| w[0].name < w[1].name));

        // Reads: values, absent keys as None.
        let got =
            f.w.get_many(&["app:a".to_string(), "app:zz".to_string()])
                .unwrap();
        assert_eq!(got["app:a"].as_deref(), Some("{\"k\":\"app:a\"}"));
        assert_eq!(got["app:zz"], None);

        // Failures: exit 7 with wrangler's message, without colours.
        std::env::set_var("FAKE_FAIL", "1");
        let e = f.w.put_batch(&entries[..1]).unwrap_err();
        std::env::remove_var("FAKE_FAIL");
        assert_eq!(e.exit, super::super::error::Exit::Kv);
        assert!(
            e.message.contains("Not logged in") && !e.message.contains('\u{1b}'),
            "{}",
            e.message
        );

        // Deployed KV: bulk get 100 keys per run; many keys: list first, read only those present.
        let mut f = Fake::new(true, 1000);
        let entries: Vec<Entry> = (0..250)
            .map(|i| Entry::new(format!("token:{i:064}"), "{}"))
            .collect();
        put_all(&mut f.w, &entries, &mut |_, _| {}).unwrap();
        let keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
        let got = f.w.get_many(&keys).unwrap();
        assert_eq!(got.len(), 250);
        let gets: Vec<u64> = f.log().iter().filter_map(|l| l["got"].as_u64()).collect();
        assert_eq!(gets, [100, 100, 50]);
        let mut many: Vec<String> = (0..1500)
            .map(|i| format!("token:{:064}", i + 10_000))
            .collect();
        many.push(keys[0].clone());
        let got = f.w.get_many(&many).unwrap();
        assert_eq!(got.len(), 1501);
        assert_eq!(got.values().filter(|v| v.is_some()).count(), 1);
        let gets: Vec<u64> = f.log().iter().filter_map(|l| l["got"].as_u64()).collect();
        assert_eq!(gets, [100, 100, 50, 1], "only the key that exists is read");
    }
}
