//! Member change → visible in the pinned map (stub).
use anyhow::Result;

use crate::figure::Figure;
use crate::progress::Progress;
use crate::Opts;

pub fn run(_opts: Opts, _progress: &Progress) -> Result<Vec<Figure>> {
    Ok(Vec::new())
}
