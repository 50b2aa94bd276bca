//! Authentication of identity providers: the `Authorization: Bearer <token>` header checked
//! against the SHA-256 digests in the configuration. Tokens are never stored, compared only as
//! digests, in constant time, and never logged.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scim::ScimError;

/// The digests of the tokens currently accepted.
#[derive(Clone)]
pub struct TokenSet {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet({} digests)", self.digests.len())
    }
}

/// The SHA-256 hex digest of a token, as `auth.token_sha256` expects it.
pub fn token_digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenSet {
    /// From hex digests (already validated by the configuration loader; invalid ones are
    /// skipped).
    pub fn from_hex_digests(hexes: &[String]) -> TokenSet {
        let digests = hexes
            .iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .collect();
        TokenSet { digests }
    }

    /// Checks an `Authorization` header value. Every digest is compared, whatever matched, so
    /// the time taken does not tell which one did.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), ScimError> {
        let Some(value) = authorization else {
            return Err(ScimError::unauthorized(
                "missing Authorization header; send 'Authorization: Bearer <token>'",
            ));
        };
        let token = bearer_token(value).ok_or_else(|| {
            ScimError::unauthorized("the Authorization header must be 'Bearer <token>'")
        })?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = subtle::Choice::from(0u8);
        for d in &self.digests {
            found |= d.ct_eq(&digest);
        }
        if bool::from(found) {
            Ok(())
        } else {
            Err(ScimError::unauthorized(
                "the bearer token is not valid for this gateway",
            ))
        }
    }
}

/// The token of a `Bearer` header value (scheme case-insensitive, RFC 7235).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tokens: &[&str]) -> TokenSet {
        let hexes: Vec<String> = tokens.iter().map(|t| token_digest_hex(t)).collect();
        TokenSet::from_hex_digests(&hexes)
    }

    #[test]
    fn a_configured_token_is_accepted_in_any_scheme_case() {
        let s = set(&["s3cret"]);
        assert!(s.check(Some(b"Bearer s3cret")).is_ok());
        assert!(s.check(Some(b"bearer s3cret")).is_ok());
        assert!(s.check(Some(b"BEARER   s3cret  ")).is_ok());
    }

    #[test]
    fn both_tokens_of_a_rotation_are_accepted() {
        let s = set(&["old", "new"]);
        assert!(s.check(Some(b"Bearer old")).is_ok());
        assert!(s.check(Some(b"Bearer new")).is_ok());
    }

    #[test]
    fn wrong_missing_or_malformed_credentials_get_401() {
        let s = set(&["s3cret"]);
        for h in [
            Some(&b"Bearer nope"[..]),
            None,
            Some(b"Basic czNjcmV0"),
            Some(b"Bearer "),
            Some(b"s3cret"),
        ] {
            let e = s.check(h).unwrap_err();
            assert_eq!(e.status, 401);
            assert!(!e.detail.contains("s3cret"));
        }
    }

    #[test]
    fn no_configured_token_refuses_everything() {
        assert_eq!(
            set(&[]).check(Some(b"Bearer anything")).unwrap_err().status,
            401
        );
    }

    #[test]
    fn digest_matches_the_sha256_of_the_token() {
        assert_eq!(
            token_digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
