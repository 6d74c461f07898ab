//! What a build made, in numbers: the binary's and the zip's size, their
//! change since the last build of the function (kept in
//! `target/flick/NAME.last.json`), and what takes the room. Printed as a
//! table, or as JSON with `--json`.

use std::path::Path;

use serde_json::{json, Value};

use super::Built;

pub struct Report {
    name: String,
    folder: String,
    zip: String,
    binary_bytes: Option<u64>,
    zip_bytes: u64,
    /// The previous build's sizes, if there was one.
    previous: Option<Value>,
    contributors: Vec<(String, u64)>,
}

impl Report {
    pub fn new(
        name: &str,
        folder: &Path,
        zip: &Path,
        built: Built,
        out_root: &Path,
    ) -> Result<Report, String> {
        let size = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|e| e.to_string())
        };
        let binary_bytes = built.binary.as_deref().map(size).transpose()?;
        let zip_bytes = size(zip)?;
        let last = out_root.join(format!("{name}.last.json"));
        let previous = std::fs::read(&last)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let now = json!({"binary_bytes": binary_bytes, "zip_bytes": zip_bytes});
        let _ = std::fs::write(&last, now.to_string());
        Ok(Report {
            name: name.to_string(),
            folder: folder.display().to_string(),
            zip: zip.display().to_string(),
            binary_bytes,
            zip_bytes,
            previous,
            contributors: built.contributors,
        })
    }

    fn change(&self, field: &str, now: Option<u64>) -> Option<i64> {
        let before = self.previous.as_ref()?[field].as_u64()?;
        Some(now? as i64 - before as i64)
    }

    fn to_json(&self) -> Value {
        json!({
            "function": self.name,
            "folder": self.folder,
            "zip": self.zip,
            "binary_bytes": self.binary_bytes,
            "zip_bytes": self.zip_bytes,
            "binary_change_bytes": self.change("binary_bytes", self.binary_bytes),
            "zip_change_bytes": self.change("zip_bytes", Some(self.zip_bytes)),
            "contributors": self.contributors.iter()
                .map(|(name, bytes)| json!({"name": name, "bytes": bytes}))
                .collect::<Vec<_>>(),
        })
    }
}

pub fn print(reports: &[Report], json: bool) {
    if json {
        let doc: Vec<Value> = reports.iter().map(Report::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return;
    }
    for r in reports {
        let kb = |b: u64| format!("{:.1} KB", b as f64 / 1024.0);
        let change = |c: Option<i64>| match c {
            Some(c) => format!(" ({c:+} bytes since the last build)"),
            None => String::new(),
        };
        println!("{}: {}", r.name, r.zip);
        if let Some(b) = r.binary_bytes {
            println!(
                "  bootstrap {}{}",
                kb(b),
                change(r.change("binary_bytes", Some(b)))
            );
        }
        println!(
            "  zip       {}{}",
            kb(r.zip_bytes),
            change(r.change("zip_bytes", Some(r.zip_bytes)))
        );
        if !r.contributors.is_empty() {
            println!("  biggest:");
            for (name, bytes) in &r.contributors {
                println!("    {:<24} {:>10}", name, kb(*bytes));
            }
        }
    }
}
