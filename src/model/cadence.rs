//! When polls and refreshes happen: on one grid of the wall clock, so they never drift apart.
//!
//! Every source polls at whole multiples of the refresh (since the epoch) and the refresh
//! reads the store half a refresh later. Each sample is stamped when its poll began; a poll
//! that answered within half a refresh counts at the refresh just after it, every time. A
//! loop that slept one refresh after each poll drifted by its own time and the scheduler's
//! lateness (seen: 150 ms over 20 s on a busy machine) until its answers came in just after
//! the refresh that should have read them, a refresh late and only some of the time, so a
//! rate's window held one sample fewer now and then.

use super::TimeMs;

/// Milliseconds from `now` to the first point of the grid `k · period + offset` at or after
/// `not_before` (both in ms since the epoch).
pub fn until_grid(now: TimeMs, not_before: TimeMs, period: TimeMs, offset: TimeMs) -> TimeMs {
    if period <= 0 {
        return (not_before - now).max(0);
    }
    let k = (not_before - offset).div_euclid(period);
    let mut at = k * period + offset;
    if at < not_before {
        at += period;
    }
    (at - now).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_grid_point_is_found_whatever_the_time_now() {
        // Grid of whole seconds: from 12.3 s, the next is 13 s; from 13 s exactly, 13 s.
        assert_eq!(until_grid(12_300, 12_300, 1000, 0), 700);
        assert_eq!(until_grid(13_000, 13_000, 1000, 0), 0);
        // Half a second past each: from 12.3 s, 12.5 s; not before 12.8 s, 13.5 s.
        assert_eq!(until_grid(12_300, 12_300, 1000, 500), 200);
        assert_eq!(until_grid(12_300, 12_800, 1000, 500), 1200);
        // A backoff of 4 s from 12.3 s lands on the grid at 17 s, not at 16.3 s.
        assert_eq!(until_grid(12_300, 16_300, 1000, 0), 4700);
    }
}
