//! Clocks and randomness that make a step's run a function of its inputs.
//!
//! A module sees the build's `SOURCE_DATE_EPOCH` as the wall-clock time, a
//! monotonic clock that advances by a fixed tick on every read, and random
//! bytes from a generator seeded with the step's identity. Two runs of the
//! same step on the same inputs therefore see the same values.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// A wall clock stopped at the build's source date.
pub struct FixedWallClock(pub Duration);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        self.0
    }
}

/// A monotonic clock that moves one microsecond per read, so that loops
/// waiting for time to pass still end, and do so identically every run.
/// Clones share the clock.
#[derive(Default, Clone)]
pub struct TickingMonotonicClock(Arc<AtomicU64>);

impl TickingMonotonicClock {
    /// The clock's reading, in nanoseconds, shared with the clock (reading
    /// it does not move the clock).
    pub fn reading(&self) -> Arc<AtomicU64> {
        self.0.clone()
    }
}

impl HostMonotonicClock for TickingMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, Ordering::Relaxed)
    }
}

/// A deterministic byte generator: SHA-256 in counter mode over a seed.
/// Not for secrets; a build step has none to protect.
pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    /// A generator whose output depends only on `identity`.
    pub fn new(identity: &[u8]) -> Self {
        let seed: [u8; 32] =
            Sha256::new().chain_update(b"sealbox random v1\0").chain_update(identity).finalize().into();
        SeededRandom { seed, counter: 0, block: [0; 32], used: 32 }
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            self.block =
                Sha256::new().chain_update(self.seed).chain_update(self.counter.to_le_bytes()).finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let b = self.block[self.used];
        self.used += 1;
        b
    }
}

impl rand_core::TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.next_byte();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn same_identity_same_bytes() {
        let mut a = SeededRandom::new(b"step");
        let mut b = SeededRandom::new(b"step");
        let mut c = SeededRandom::new(b"other");
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        let mut long_a = [0u8; 100];
        let mut long_b = [0u8; 100];
        a.fill_bytes(&mut long_a);
        b.fill_bytes(&mut long_b);
        assert_eq!(long_a, long_b);
        assert_ne!(long_a[..32], long_a[32..64]);
    }

    #[test]
    fn monotonic_clock_advances() {
        let c = TickingMonotonicClock::default();
        assert!(c.now() < c.now());
    }
}
