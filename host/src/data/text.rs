//! Line-oriented annotation files (`driving_log.csv`, GTSRB's `GT-*.csv`) with errors that name
//! the file and the line.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};

/// One non-blank line of a text file, split into trimmed fields.
pub(crate) struct Record<'a> {
    pub path: &'a Path,
    /// 1-based, as an editor shows it.
    pub line: usize,
    pub fields: Vec<&'a str>,
}

impl Record<'_> {
    /// `file:line`, the prefix of every error about this record.
    pub fn at(&self) -> String {
        format!("{}:{}", self.path.display(), self.line)
    }

    /// Field `i` parsed as `T`; `name` says what the column means.
    pub fn parse<T: FromStr>(&self, i: usize, name: &str) -> Result<T>
    where
        T::Err: Display,
    {
        let raw = self.fields.get(i).ok_or_else(|| anyhow!("{}: no `{name}` column", self.at()))?;
        raw.parse().map_err(|e| anyhow!("{}: `{name}` is `{raw}`: {e}", self.at()))
    }

    /// Field `i` as a finite number (labels must never be NaN or infinite).
    pub fn finite(&self, i: usize, name: &str) -> Result<f32> {
        let v: f32 = self.parse(i, name)?;
        if !v.is_finite() {
            bail!("{}: `{name}` is {v}, not a finite number", self.at());
        }
        Ok(v)
    }
}

/// A whole text file, read once; its records borrow from it.
pub(crate) struct TextFile {
    pub path: PathBuf,
    text: String,
}

impl TextFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(TextFile { path: path.to_path_buf(), text })
    }

    /// The non-blank lines split at `sep`, fields trimmed (real files have a space after each
    /// comma and Windows line ends), a UTF-8 byte order mark removed.
    pub fn records(&self, sep: char) -> impl Iterator<Item = Record<'_>> {
        let text = self.text.strip_prefix('\u{feff}').unwrap_or(&self.text);
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(move |(i, l)| Record {
            path: &self.path,
            line: i + 1,
            fields: l.split(sep).map(str::trim).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_skip_blanks_and_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, "\u{feff}a, 1.5\r\n\r\nb, nan\r\nc, x\n").unwrap();
        let file = TextFile::read(&path).unwrap();
        let recs: Vec<_> = file.records(',').collect();
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 3, 4]);
        assert_eq!(recs[0].fields, ["a", "1.5"]);
        assert_eq!(recs[0].finite(1, "steering").unwrap(), 1.5);
        let nan = recs[1].finite(1, "steering").unwrap_err().to_string();
        assert!(nan.contains("log.csv:3") && nan.contains("not a finite"), "{nan}");
        let bad = recs[2].finite(1, "steering").unwrap_err().to_string();
        assert!(bad.contains("log.csv:4") && bad.contains("`x`"), "{bad}");
        let missing = recs[2].finite(5, "speed").unwrap_err().to_string();
        assert!(missing.contains("no `speed` column"), "{missing}");
    }
}
