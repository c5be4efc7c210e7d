//! `--partition hash:K/N` and `count:K/N` (cargo-nextest's syntax and meaning): which of a run's
//! cases shard K of N runs, so that N runs with the same seed, contract and flags together run
//! each case exactly once.
//!
//! Cases bound to the engine — side-effecting ones (a valid Retry starts a job), the invalid
//! Retries that a defective server would act on (armed), and the stateful phase — all belong to
//! shard 1, whatever the strategy: the engine's cases go one at a time through its lane anyway,
//! and in two processes at once they would race each other for the one engine (a Retry of one
//! shard would make another's valid Retry meet a busy engine). The other cases are split so that
//! the shards come out the same size: shard 1 takes of them only what its engine's cases leave
//! of its share (none, when those fill it), the others the rest in equal parts. Which of them
//! goes where is decided by a stable hash of their name (`hash`), or in turn in the order
//! `run --list` prints them (`count`). Every shard counts the same cases, so all agree.

use std::fmt;

/// How cases are dealt to the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// By the FNV-1a hash of the case's name: a case stays in its shard when others are added.
    Hash,
    /// In turn, in the run's order: shards of equal size.
    Count,
}

impl Strategy {
    /// Its name, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Hash => "hash",
            Strategy::Count => "count",
        }
    }
}

/// Shard `index` (1-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// How cases are dealt.
    pub strategy: Strategy,
    /// This shard, from 1.
    pub index: usize,
    /// How many shards.
    pub total: usize,
}

/// The most shards one run may be split into.
pub const MAX_SHARDS: usize = 10_000;

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Partition, String> {
        let usage = || format!("`{text}` is not a partition such as hash:1/4 or count:2/3");
        let (strategy, shard) = text.trim().split_once(':').ok_or_else(usage)?;
        let strategy = match strategy {
            "hash" => Strategy::Hash,
            "count" => Strategy::Count,
            other => return Err(format!("unknown partition strategy `{other}` (use hash or count)")),
        };
        let (index, total) = shard.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let total: usize = total.trim().parse().map_err(|_| usage())?;
        if total == 0 || total > MAX_SHARDS {
            return Err(format!("`{text}`: the number of shards must be 1 to {MAX_SHARDS}"));
        }
        if index == 0 || index > total {
            return Err(format!("`{text}`: the shard must be 1 to {total}"));
        }
        Ok(Partition { strategy, index, total })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.strategy.name(), self.index, self.total)
    }
}

/// Deals the cases of a run, in the run's order, to the shards.
#[derive(Debug, Clone)]
pub struct Dealer {
    partition: Partition,
    /// The share of the free cases (not bound to the engine) shard 1 takes, from 0 to 1/N.
    first_share: f64,
    /// How many free cases were dealt so far (`count`'s turn).
    dealt: usize,
    /// How many of them went to shards 2 to N (`count`'s turn among those).
    to_others: usize,
}

impl Dealer {
    /// A dealer for `partition` of a run whose filters selected `selected` cases, `engine` of
    /// them bound to the engine.
    pub fn new(partition: Partition, (selected, engine): (usize, usize)) -> Dealer {
        let free = selected.saturating_sub(engine);
        #[expect(clippy::cast_precision_loss, reason = "a share: counts far below 2^52")]
        let first_share = if partition.total == 1 {
            1.0
        } else if free == 0 {
            0.0
        } else {
            let fair = selected as f64 / partition.total as f64;
            ((fair - engine as f64) / free as f64).clamp(0.0, 1.0 / partition.total as f64)
        };
        Dealer { partition, first_share, dealt: 0, to_others: 0 }
    }

    /// Whether this shard runs the case `name`, the next in the run's order; `engine_bound`:
    /// side-effecting, armed or stateful. Every case of the run must be dealt, in order, for
    /// `count` to agree between shards.
    pub fn keeps(&mut self, name: &str, engine_bound: bool) -> bool {
        let Partition { strategy, index, total } = self.partition;
        if engine_bound {
            return index == 1;
        }
        if total == 1 {
            return true;
        }
        let others = total - 1;
        // Shard 1's share first, then the others' in equal parts (shard numbers from 0 here).
        let shard = match strategy {
            Strategy::Hash => {
                // FNV-1a's high bits barely change between names that differ at their end
                // (`…::0001`, `…::0002`): mixed first (MurmurHash3's finalizer).
                #[expect(clippy::cast_precision_loss, reason = "the top 53 bits make a fraction")]
                let at = (fmix64(fnv1a(name.as_bytes())) >> 11) as f64 / (1u64 << 53) as f64;
                if at < self.first_share {
                    0
                } else {
                    let rest = (at - self.first_share) / (1.0 - self.first_share);
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        clippy::cast_precision_loss,
                        reason = "0 <= rest < 1, and fewer than 2^52 shards"
                    )]
                    let other = ((rest * others as f64) as usize).min(others - 1);
                    1 + other
                }
            }
            Strategy::Count => {
                // Shard 1 takes a case whenever its share of those dealt so far reaches a whole one.
                #[expect(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "counts far below 2^52"
                )]
                let first = ((self.dealt + 1) as f64 * self.first_share) as usize
                    > (self.dealt as f64 * self.first_share) as usize;
                if first {
                    0
                } else {
                    self.to_others += 1;
                    1 + (self.to_others - 1) % others
                }
            }
        };
        self.dealt += 1;
        shard + 1 == index
    }
}

/// MurmurHash3's 64-bit finalizer: every bit of `h` moves the top bits.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// FNV-1a, 64 bits: stable across platforms, versions and runs (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_as_nextest_spells_them() {
        assert_eq!("hash:2/4".parse(), Ok(Partition { strategy: Strategy::Hash, index: 2, total: 4 }));
        assert_eq!("count:1/1".parse::<Partition>().map(|p| p.to_string()), Ok("count:1/1".to_owned()));
        for bad in ["hash:0/4", "hash:5/4", "hash:1/0", "slice:1/2", "hash:1", "1/2", "hash:a/b", "count:1/10001"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_case_is_dealt_to_exactly_one_shard_and_the_engine_s_to_the_first() {
        let cases: Vec<(String, bool)> = (0..1000).map(|i| (format!("generated::x::{i:04}"), i % 7 == 0)).collect();
        let engine = cases.iter().filter(|c| c.1).count();
        for strategy in [Strategy::Hash, Strategy::Count] {
            let total = 4;
            let mut owners = vec![Vec::new(); cases.len()];
            for index in 1..=total {
                let mut dealer = Dealer::new(Partition { strategy, index, total }, (cases.len(), engine));
                for (i, (name, bound)) in cases.iter().enumerate() {
                    if dealer.keeps(name, *bound) {
                        owners[i].push(index);
                    }
                }
            }
            for (i, owner) in owners.iter().enumerate() {
                assert_eq!(owner.len(), 1, "{strategy:?}: case {i} in {owner:?}");
                if cases[i].1 {
                    assert_eq!(owner, &[1], "{strategy:?}: an engine case runs in shard 1");
                }
            }
            // The shards come out the same size: shard 1's 143 engine cases and 107 others.
            for index in 1..=total {
                let size = owners.iter().filter(|o| o[0] == index).count();
                assert!((215..285).contains(&size), "{strategy:?}: shard {index} has {size}");
                if strategy == Strategy::Count {
                    assert!((249..=251).contains(&size), "count: shard {index} has {size}");
                }
            }
        }
    }

    #[test]
    fn engine_cases_that_fill_shard_1_leave_it_no_other() {
        let cases: Vec<(String, bool)> = (0..100).map(|i| (format!("c{i}"), i < 40)).collect();
        for strategy in [Strategy::Hash, Strategy::Count] {
            let mut dealer = Dealer::new(Partition { strategy, index: 1, total: 4 }, (100, 40));
            let kept = cases.iter().filter(|(name, bound)| dealer.keeps(name, *bound)).count();
            assert_eq!(kept, 40, "{strategy:?}");
            let mut one = Dealer::new(Partition { strategy, index: 1, total: 1 }, (100, 40));
            assert!(cases.iter().all(|(name, bound)| one.keeps(name, *bound)), "{strategy:?}: one shard runs all");
        }
    }

    #[test]
    fn the_hash_is_fnv1a() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
