//! A recording rebuilt into a state, writing nothing: what `--baseline`, `compare`, `scale`
//! and the tests read a finished run through (below the replay that writes its outputs).

use super::{Run, Step};
use crate::detect::Transition;
use crate::record::read::Recording;
use crate::state::RunState;

/// Replays a recording into a state, writing nothing; returns it with the transitions the
/// recording holds.
pub fn replay_into(rec: &Recording) -> anyhow::Result<(RunState, Vec<Transition>)> {
    let mut run = Run::replay(rec.clone(), None)?;
    drain(&mut run)?;
    let recorded = run.recorded_transitions().to_vec();
    Ok((run.state, recorded))
}

/// Applies every record; a recording never waits, so this completes at once.
pub(super) fn drain(run: &mut Run) -> anyhow::Result<()> {
    loop {
        let step = futures::executor::block_on(run.next())?;
        if matches!(step, Step::End(_)) {
            return Ok(());
        }
    }
}
