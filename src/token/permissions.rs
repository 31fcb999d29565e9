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

    pub(crate) fn push(&mut self, name: &str) {
        if !name.is_empty() && !self.contains(name) {
            self.0.push(name.to_owned());
        }
    }
}

impl<'a> FromIterator<&'a str> for Permissions {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut set = Permissions::default();
        for name in iter {
            set.push(name);
        }
        set
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
}
