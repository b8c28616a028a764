//! The `jwt_algorithm` setting. It lives with the settings (not with the keys that use it) so
//! that `config` depends on nothing above it.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The algorithms gatehouse signs with. Exactly one is accepted at a time (JW-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    EdDSA,
    ES256,
    RS256,
    HS256,
}

impl Alg {
    pub fn jwt(self) -> Algorithm {
        match self {
            Alg::EdDSA => Algorithm::EdDSA,
            Alg::ES256 => Algorithm::ES256,
            Alg::RS256 => Algorithm::RS256,
            Alg::HS256 => Algorithm::HS256,
        }
    }

    pub fn is_symmetric(self) -> bool {
        self == Alg::HS256
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
            Alg::HS256 => "HS256",
        })
    }
}

impl FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "EdDSA" => Ok(Alg::EdDSA),
            "ES256" => Ok(Alg::ES256),
            "RS256" => Ok(Alg::RS256),
            "HS256" => Ok(Alg::HS256),
            other => Err(format!(
                "{other:?} is not one of EdDSA, ES256, RS256, HS256"
            )),
        }
    }
}

/// Spelled as in the JOSE header, which is also how `Rocket.toml` spells it.
impl<'de> Deserialize<'de> for Alg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

impl Serialize for Alg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256] {
            assert_eq!(alg.to_string().parse::<Alg>(), Ok(alg));
            assert_eq!(format!("{:?}", alg.jwt()), alg.to_string());
        }
        for bad in ["none", "HS512", "eddsa", ""] {
            assert!(bad.parse::<Alg>().is_err(), "{bad}");
        }
    }
}
