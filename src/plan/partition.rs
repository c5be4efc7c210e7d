//! `--partition hash:K/N` and `count:K/N` (cargo-nextest's syntax and meaning): which of a run's
//! cases shard K of N runs, so that N runs with the same seed, contract and flags together run
//! each case exactly once.
//!
//! Cases bound to the engine — side-effecting ones (a valid Retry starts a job), the invalid
//! Retries that a defective server would act on (armed), and the stateful phase — all belong to
//! shard 1, whatever the strategy: the engine's cases go one at a time through its lane anyway,
//! and in two processes at once they would race each other for the one engine (a Retry of one
//! shard would make another's valid Retry meet a busy engine). The other cases are split among
//! all N shards: by a stable hash of their name (`hash`), or in turn in the order `run --list`
//! prints them (`count`).

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
    /// How many cases not bound to the engine were dealt so far (`count`'s turn).
    dealt: usize,
}

impl Dealer {
    /// A dealer for `partition`.
    pub fn new(partition: Partition) -> Dealer {
        Dealer { partition, dealt: 0 }
    }

    /// Whether this shard runs the case `name`, the next in the run's order; `engine_bound`:
    /// side-effecting, armed or stateful. Every case of the run must be dealt, in order, for
    /// `count` to agree between shards.
    pub fn keeps(&mut self, name: &str, engine_bound: bool) -> bool {
        let Partition { strategy, index, total } = self.partition;
        if engine_bound {
            return index == 1;
        }
        let shard = match strategy {
            Strategy::Hash => usize::try_from(fnv1a(name.as_bytes()) % total as u64).unwrap_or(0),
            Strategy::Count => self.dealt % total,
        };
        self.dealt += 1;
        shard + 1 == index
    }
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
        for strategy in [Strategy::Hash, Strategy::Count] {
            let total = 4;
            let mut owners = vec![Vec::new(); cases.len()];
            for index in 1..=total {
                let mut dealer = Dealer::new(Partition { strategy, index, total });
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
            // The others are spread: each shard gets a fair share of the 857.
            for index in 1..=total {
                let free = owners.iter().zip(&cases).filter(|(o, c)| !c.1 && o[0] == index).count();
                assert!((170..260).contains(&free), "{strategy:?}: shard {index} has {free}");
            }
        }
    }

    #[test]
    fn the_hash_is_fnv1a() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
