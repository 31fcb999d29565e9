//! Step-up authentication (RFC 9470): what a route needs of *how* and *when*
//! the user signed in, beside what the token may do.
//!
//! A guard checks its [`Requirement`](crate::Requirement) first: a token
//! lacking the permission gets 403 `insufficient_scope`, whatever its
//! authentication. Only a token that has the permission is then checked
//! against the route's [`StepUp`]; one signed in with another `acr`, or too
//! long ago, gets 401 `insufficient_user_authentication` with the
//! `acr_values` and `max_age` the route needs, so the client can have the
//! user sign in again with them.

use std::time::Duration;

use crate::error::{Error, log_safe};
use crate::token::claims::Authenticated;

/// What a route needs of the user's sign-in (RFC 9470): an authentication
/// context class (`acr`) among some values, and at most some time since the
/// user actively signed in (`auth_time`). Set on a guard with
/// [`RequireLayer::step_up`](crate::RequireLayer::step_up).
///
/// ```
/// use std::time::Duration;
/// use bearer_guard::{Requirement, StepUp, require};
///
/// // Deleting every note needs the write permission, a sign-in with
/// // multi-factor authentication, and one no older than five minutes.
/// let delete = require(Requirement::scope("notes.write")).step_up(
///     StepUp::new()
///         .acr_values(["urn:example:mfa"])
///         .max_age(Duration::from_secs(300)),
/// );
/// # let _ = delete;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepUp {
    acr_values: Vec<String>,
    max_age: Option<Duration>,
    auth_context: Option<String>,
}

impl StepUp {
    /// No demand yet: add [`acr_values`](Self::acr_values) or
    /// [`max_age`](Self::max_age).
    pub fn new() -> Self {
        StepUp::default()
    }

    /// The token's `acr` must be one of `values` (compared exactly). A
    /// token without `acr`, or with one that is not a string, does not
    /// satisfy it.
    #[must_use]
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values.extend(values.into_iter().map(Into::into));
        self
    }

    /// The user must have actively signed in at most `age` ago: the token's
    /// `auth_time` (a NumericDate) is checked against the validator's clock,
    /// with its leeway. A token without `auth_time` does not satisfy it, nor
    /// does one whose `auth_time` lies in the future beyond the leeway. The
    /// challenge says `max_age` in whole seconds.
    #[must_use]
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// The token must carry the Microsoft Entra Conditional Access
    /// authentication context `id` (`c1` … `c99`) in its `acrs` claim.
    /// Entra adds it once the user met the policy the tenant attached to
    /// that context (multi-factor authentication, a compliant device, …).
    /// A token without it gets 401 with the claims challenge MSAL
    /// understands: `Bearer error="insufficient_claims", claims="…"`, the
    /// base64 of `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`,
    /// which the client passes to its next token request.
    ///
    /// Checked after [`acr_values`](Self::acr_values) and
    /// [`max_age`](Self::max_age): a token that falls short of those gets
    /// their challenge first.
    ///
    /// ```
    /// use bearer_guard::{Requirement, StepUp, require};
    ///
    /// // Microsoft.Identity.Web's sample: deleting needs authentication context c1.
    /// let delete = require(Requirement::scope("Notes.Write")).step_up(StepUp::new().auth_context("c1"));
    /// # let _ = delete;
    /// ```
    #[must_use]
    pub fn auth_context(mut self, id: impl Into<String>) -> Self {
        self.auth_context = Some(id.into());
        self
    }

    /// Whether `token`'s authentication is enough for the route.
    pub(crate) fn check(&self, token: &Authenticated) -> Result<(), Error> {
        let refuse = |reason: String| Error::InsufficientUserAuthentication {
            acr_values: self.acr_values.join(" "),
            max_age: self.max_age.map(|age| age.as_secs()),
            reason,
        };
        if !self.acr_values.is_empty() {
            match token.acr() {
                Some(acr) if self.acr_values.iter().any(|v| v == acr) => {}
                Some(acr) => return Err(refuse(format!("acr {}", log_safe(acr, 64)))),
                None => return Err(refuse("no acr".into())),
            }
        }
        if let Some(age) = self.max_age {
            let Some(auth_time) = token.auth_time() else {
                return Err(refuse("no auth_time".into()));
            };
            let context = token.context();
            let now = context.time.now_secs();
            let leeway = context.leeway_secs;
            let max = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            if auth_time > now.saturating_add(leeway) {
                return Err(refuse(format!("auth_time {auth_time} in the future")));
            }
            let elapsed = now.saturating_sub(auth_time);
            if elapsed > max.saturating_add(leeway) {
                return Err(refuse(format!("signed in {elapsed} s ago")));
            }
        }
        if let Some(context) = &self.auth_context
            && !token.auth_contexts().contains(context)
        {
            return Err(Error::InsufficientClaims {
                context: context.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::{ManualClock, Time};
    use crate::token::claims::{ClaimRules, Context, check_claims_in};

    const NOW: i64 = 1_700_000_000;

    /// A token with `extra` claims, vouched for by a validator on a clock
    /// reading `NOW` with a 10-second leeway.
    fn token(extra: &str) -> Authenticated {
        let rules = ClaimRules::for_tests(10);
        let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(NOW as u64));
        let context = Arc::new(Context {
            resource_challenge: None,
            time: Time::new(Arc::new(clock)),
            leeway_secs: 10,
            dpop: None,
            error_descriptions: false,
        });
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}{extra}}}"#, NOW + 600);
        check_claims_in(&claims, &rules, NOW, context).expect("valid claims")
    }

    fn verdict(step_up: &StepUp, extra: &str) -> Result<(), String> {
        step_up.check(&token(extra)).map_err(|e| match e {
            Error::InsufficientUserAuthentication {
                acr_values,
                max_age,
                ..
            } => format!("{acr_values}|{max_age:?}"),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn acr_must_be_one_of_the_values_exactly() {
        let mfa = StepUp::new().acr_values(["mfa", "urn:x:hw"]);
        assert_eq!(verdict(&mfa, r#","acr":"mfa""#), Ok(()));
        assert_eq!(verdict(&mfa, r#","acr":"urn:x:hw""#), Ok(()));
        for refused in [r#","acr":"MFA""#, r#","acr":"pwd""#, r#","acr":1"#, ""] {
            assert_eq!(
                verdict(&mfa, refused),
                Err("mfa urn:x:hw|None".into()),
                "{refused}"
            );
        }
    }

    #[test]
    fn auth_time_must_be_recent_within_the_leeway() {
        let recent = StepUp::new().max_age(Duration::from_secs(300));
        let at = |t: i64| format!(r#","auth_time":{t}"#);
        assert_eq!(verdict(&recent, &at(NOW - 300)), Ok(()));
        assert_eq!(
            verdict(&recent, &at(NOW - 310)),
            Ok(()),
            "inside the leeway"
        );
        assert_eq!(
            verdict(&recent, &at(NOW + 10)),
            Ok(()),
            "skew inside the leeway"
        );
        let refused = Err("|Some(300)".to_owned());
        assert_eq!(verdict(&recent, &at(NOW - 311)), refused);
        assert_eq!(verdict(&recent, &at(NOW + 11)), refused, "in the future");
        assert_eq!(verdict(&recent, ""), refused, "no auth_time");
        assert_eq!(verdict(&recent, r#","auth_time":"1700000000""#), refused);
    }

    #[test]
    fn both_demands_are_named_whichever_fails() {
        let both = StepUp::new()
            .acr_values(["mfa"])
            .max_age(Duration::from_secs(60));
        let fresh = format!(r#","acr":"mfa","auth_time":{NOW}"#);
        assert_eq!(verdict(&both, &fresh), Ok(()));
        let old = format!(r#","acr":"mfa","auth_time":{}"#, NOW - 3600);
        assert_eq!(verdict(&both, &old), Err("mfa|Some(60)".into()));
        let weak = format!(r#","acr":"pwd","auth_time":{NOW}"#);
        assert_eq!(verdict(&both, &weak), Err("mfa|Some(60)".into()));
        assert_eq!(verdict(&StepUp::new(), ""), Ok(()), "no demand");
    }

    #[test]
    fn an_entra_auth_context_must_be_among_acrs() {
        let c1 = StepUp::new().auth_context("c1");
        let check = |extra: &str| c1.check(&token(extra));
        assert_eq!(check(r#","acrs":["c2","c1"]"#), Ok(()));
        let refused = Err(Error::InsufficientClaims {
            context: "c1".into(),
        });
        for extra in [r#","acrs":["c2"]"#, r#","acrs":"c1""#, r#","acrs":[]"#, ""] {
            assert_eq!(check(extra), refused, "{extra}");
        }
        // The RFC 9470 demands are checked, and answered, first.
        let both = StepUp::new().acr_values(["mfa"]).auth_context("c1");
        assert_eq!(verdict(&both, r#","acrs":["c1"]"#), Err("mfa|None".into()));
        assert_eq!(verdict(&both, r#","acr":"mfa","acrs":["c1"]"#), Ok(()));
    }
}
