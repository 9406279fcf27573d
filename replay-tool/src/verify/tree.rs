//! The log's tree head: an RFC 9162 Merkle tree (the one Certificate Transparency logs use)
//! over the stored commits in position order, each leaf a commit's stored bytes — the same
//! bytes on every backend, so one log copied from the file log to NATS has one tree.
//!
//! Each case's hash chain shows a changed event, but not a case's last events cut off, a whole
//! case removed, or a record dropped from the middle of the file (positions there are record
//! order). A tree head `SIZE:ROOT` an auditor keeps from an earlier `verify` does: any later
//! `verify --checkpoint SIZE:ROOT` recomputes the root of the first SIZE commits, which
//! differs if any of them was removed, inserted or changed, and finds fewer than SIZE commits
//! if the log was cut short. The log only grows, so an old tree head stays checkable forever.

use std::fmt;
use std::str::FromStr;

use gridcase_domain::Hash;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A tree head: the number of commits and the Merkle tree hash of the first that many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Commits covered (the first `size` positions).
    pub size: u64,
    /// Their Merkle tree hash.
    pub root: Hash,
}

impl fmt::Display for TreeHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.size, self.root.to_hex())
    }
}

impl Serialize for TreeHead {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for TreeHead {
    type Err = String;

    fn from_str(s: &str) -> Result<TreeHead, String> {
        let bad = || format!("{s:?} is not a tree head: SIZE:ROOT, e.g. 1200:<64 hex digits>");
        let (size, root) = s.trim().split_once(':').ok_or_else(bad)?;
        Ok(TreeHead {
            size: size.parse().map_err(|_| bad())?,
            root: Hash::from_hex(root).map_err(|_| bad())?,
        })
    }
}

/// The Merkle tree hash, built leaf by leaf: the roots of the complete subtrees so far, the
/// largest first (one per set bit of the size, as in a binary counter).
#[derive(Debug, Default, Clone)]
pub struct TreeHasher {
    size: u64,
    complete: Vec<[u8; 32]>,
}

impl TreeHasher {
    /// Adds the next leaf.
    pub fn push(&mut self, leaf: &[u8]) {
        let mut h: [u8; 32] = Sha256::new()
            .chain_update([0u8])
            .chain_update(leaf)
            .finalize()
            .into();
        let mut n = self.size;
        while n & 1 == 1 {
            let left = self.complete.pop().expect("one subtree per set bit");
            h = node(&left, &h);
            n >>= 1;
        }
        self.complete.push(h);
        self.size += 1;
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head of the leaves so far.
    pub fn head(&self) -> TreeHead {
        let mut subtrees = self.complete.iter().rev();
        let root = match subtrees.next() {
            None => Sha256::digest([]).into(),
            Some(smallest) => subtrees.fold(*smallest, |right, left| node(left, &right)),
        };
        TreeHead {
            size: self.size,
            root: Hash(root),
        }
    }
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference leaves and tree heads of RFC 6962's test data (the same tree in RFC 9162).
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn the_tree_heads_are_the_rfcs() {
        let mut t = TreeHasher::default();
        assert_eq!(t.head().root.to_hex(), ROOTS[0]);
        for (i, leaf) in LEAVES.iter().enumerate() {
            t.push(leaf);
            let head = t.head();
            assert_eq!(head.size, i as u64 + 1);
            assert_eq!(head.root.to_hex(), ROOTS[i + 1], "size {}", i + 1);
        }
    }

    /// The recursive definition (RFC 9162 §2.1.1), for trees of every shape up to 70 leaves.
    fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => Sha256::new()
                .chain_update([0u8])
                .chain_update(&leaves[0])
                .finalize()
                .into(),
            n => {
                // The largest power of two smaller than n.
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn built_leaf_by_leaf_as_defined() {
        let leaves: Vec<Vec<u8>> = (0..70u8).map(|i| vec![i, i.wrapping_mul(7)]).collect();
        let mut t = TreeHasher::default();
        for (n, leaf) in leaves.iter().enumerate() {
            t.push(leaf);
            assert_eq!(t.head().root.0, mth(&leaves[..=n]), "size {}", n + 1);
        }
    }

    #[test]
    fn a_tree_head_reads_as_it_prints() {
        let mut t = TreeHasher::default();
        t.push(b"x");
        let head = t.head();
        assert_eq!(head.to_string().parse::<TreeHead>(), Ok(head));
        for bad in ["", "12", "x:00", "3:abc", &format!("3:{}", "g".repeat(64))] {
            assert!(bad.parse::<TreeHead>().is_err(), "{bad}");
        }
    }
}
