//! [`Permissions`]: the scopes or roles a token grants.

/// A set of permission names (scopes or roles), matched exactly,
/// case-sensitively and as whole tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(Vec<String>);

impl Permissions {
    /// Whether `name` is in the set (`read` never matches `read.all`, `Read` or `reader`).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|p| p == name)
    }

    /// The names, in the order the token lists them, without duplicates.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// How many names the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Collects `names` (empty ones dropped) with each name kept once, at
    /// its first place, in time linear in their number: a token may list
    /// thousands, so never a comparison of every pair.
    pub(crate) fn collect(mut names: Vec<String>) -> Self {
        names.retain(|n| !n.is_empty());
        // Below this, comparing with what is kept is cheaper than hashing.
        const LINEAR_UP_TO: usize = 16;
        if names.len() <= LINEAR_UP_TO {
            // In place: each name moves down next to those kept before it,
            // unless one of them is the same.
            let mut kept = 0;
            for i in 0..names.len() {
                let seen = names
                    .get(i)
                    .is_some_and(|n| names.get(..kept).is_some_and(|k| k.contains(n)));
                if !seen {
                    names.swap(kept, i);
                    kept += 1;
                }
            }
            names.truncate(kept);
            return Permissions(names);
        }
        let keep: Vec<bool> = {
            let mut seen = std::collections::HashSet::with_capacity(names.len());
            names.iter().map(|n| seen.insert(n.as_str())).collect()
        };
        let mut keep = keep.into_iter();
        names.retain(|_| keep.next().unwrap_or(false));
        names.shrink_to_fit();
        Permissions(names)
    }

    /// The bytes this set holds on the heap, its names and its list, each
    /// block as the allocator rounds it ([`heap_block`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        let names: usize = self.0.iter().map(|n| heap_block(n.capacity())).sum();
        names + heap_block(self.0.capacity() * std::mem::size_of::<String>())
    }
}

/// What a heap block of `bytes` costs in memory: glibc's malloc adds an
/// 8-byte header, rounds up to 16 and never hands out less than 32 (other
/// allocators are close to or under this); nothing for no block. Weighing
/// blocks this way makes a byte budget an upper bound on the memory used, not
/// an estimate of the bytes asked for: a token of 500 one-letter scopes holds
/// about 17 KB in 515 blocks, and the blocks' overhead alone is 8 KB more.
pub(crate) fn heap_block(bytes: usize) -> usize {
    if bytes == 0 {
        return 0;
    }
    (bytes.saturating_add(8 + 15) & !15).max(32)
}

impl<'a> FromIterator<&'a str> for Permissions {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Permissions::collect(iter.into_iter().map(str::to_owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_matching_is_whole_token_and_case_sensitive() {
        let set: Permissions = "read write Notes.Read".split(' ').collect();
        assert!(set.contains("read"));
        assert!(!set.contains("Read"));
        assert!(!set.contains("read.all"));
        assert!(!set.contains("rea"));
        assert!(!set.contains("Notes"));
        assert!(!set.contains(""));
    }

    #[test]
    fn a_heap_block_costs_what_the_allocator_hands_out() {
        assert_eq!(heap_block(0), 0);
        assert_eq!(heap_block(1), 32);
        assert_eq!(heap_block(24), 32);
        assert_eq!(heap_block(25), 48);
        assert_eq!(heap_block(1_000), 1_008);
        assert_eq!(heap_block(usize::MAX) % 16, 0, "no overflow");
    }

    #[test]
    fn names_are_kept_once_in_first_seen_order_short_and_long() {
        let short: Permissions = "b a b  c a".split(' ').collect();
        assert_eq!(short.iter().collect::<Vec<_>>(), ["b", "a", "c"]);
        let text: Vec<String> = (0..5_000).map(|i| format!("s{}", i % 1_000)).collect();
        let long: Permissions = text.iter().map(String::as_str).collect();
        assert_eq!(long.len(), 1_000);
        assert!(long.iter().zip(0..).all(|(n, i)| n == format!("s{i}")));
    }
}
