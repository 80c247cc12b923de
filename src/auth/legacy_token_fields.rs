//! The deprecated pre-`token_*` role fields (`policies`, `ttl`, `max_ttl`,
//! `period`, `num_uses`, `bound_cidrs`) the Kubernetes and JWT roles still
//! accept, stored beside the token fields as Vault stores them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::token_fields::{parse_addrs, upgrade_duration, upgrade_list, TokenFields};
use crate::logical::framework::Field;
use crate::logical::{FieldData, Result};

/// The deprecated fields, as the Kubernetes and JWT plugins declare them;
/// [`LegacyTokenFields::upgrade`] reads each as its declared kind.
pub const LEGACY_TOKEN_FIELDS: &[Field] = &[
    Field::list("policies"),
    Field::int("num_uses"),
    Field::duration("ttl"),
    Field::duration("max_ttl"),
    Field::duration("period"),
    Field::list("bound_cidrs"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyTokenFields {
    pub policies: Vec<String>,
    pub num_uses: i64,
    pub ttl: i64,
    pub max_ttl: i64,
    pub period: i64,
    pub bound_cidrs: Vec<String>,
}

impl LegacyTokenFields {
    /// Vault's `tokenutil.UpgradeValue` for each alias: the new key wins, the
    /// old key alone sets both, the new key alone clears the old value.
    pub fn upgrade(&mut self, data: &FieldData, token: &mut TokenFields) -> Result<()> {
        upgrade_list(
            data,
            "policies",
            "token_policies",
            &mut self.policies,
            &mut token.token_policies,
            |p| Ok(p.to_vec()),
        )?;
        upgrade_list(
            data,
            "bound_cidrs",
            "token_bound_cidrs",
            &mut self.bound_cidrs,
            &mut token.token_bound_cidrs,
            parse_addrs,
        )?;
        if data.contains("token_num_uses") {
            self.num_uses = if data.contains("num_uses") {
                token.token_num_uses
            } else {
                0
            };
        } else if let Some(uses) = data.int("num_uses")? {
            self.num_uses = uses;
            token.token_num_uses = uses;
        }
        upgrade_duration(
            data,
            "ttl",
            "token_ttl",
            &mut self.ttl,
            &mut token.token_ttl,
        )?;
        upgrade_duration(
            data,
            "max_ttl",
            "token_max_ttl",
            &mut self.max_ttl,
            &mut token.token_max_ttl,
        )?;
        upgrade_duration(
            data,
            "period",
            "token_period",
            &mut self.period,
            &mut token.token_period,
        )?;
        Ok(())
    }

    /// A role loaded from storage: unset token fields fall back to the
    /// legacy values (Vault's `role()` loaders).
    pub fn apply_on_load(&self, token: &mut TokenFields) {
        if token.token_ttl == 0 && self.ttl > 0 {
            token.token_ttl = self.ttl;
        }
        if token.token_max_ttl == 0 && self.max_ttl > 0 {
            token.token_max_ttl = self.max_ttl;
        }
        if token.token_period == 0 && self.period > 0 {
            token.token_period = self.period;
        }
        if token.token_num_uses == 0 && self.num_uses > 0 {
            token.token_num_uses = self.num_uses;
        }
        if token.token_policies.is_empty() && !self.policies.is_empty() {
            token.token_policies = self.policies.clone();
        }
        if token.token_bound_cidrs.is_empty() && !self.bound_cidrs.is_empty() {
            token.token_bound_cidrs = self.bound_cidrs.clone();
        }
    }

    /// A role read shows the legacy keys only while they are set.
    pub fn populate_data(&self, data: &mut Map<String, Value>) {
        if !self.policies.is_empty() {
            let v = data.get("token_policies").cloned().unwrap_or(json!([]));
            data.insert("policies".into(), v);
        }
        if !self.bound_cidrs.is_empty() {
            let v = data.get("token_bound_cidrs").cloned().unwrap_or(json!([]));
            data.insert("bound_cidrs".into(), v);
        }
        if self.ttl > 0 {
            data.insert("ttl".into(), json!(self.ttl));
        }
        if self.max_ttl > 0 {
            data.insert("max_ttl".into(), json!(self.max_ttl));
        }
        if self.period > 0 {
            data.insert("period".into(), json!(self.period));
        }
        if self.num_uses > 0 {
            data.insert("num_uses".into(), json!(self.num_uses));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token_fields::TOKEN_FIELDS;
    use crate::logical::framework::Fields;

    /// A write validated against the declarations upgrades (a getter of
    /// another kind would fail): the old names alone set both values, and a
    /// read shows them while they are set.
    #[test]
    fn the_declared_aliases_fill_the_token_fields() {
        let mut data = FieldData::new(
            json!({
                "policies": "a,b",
                "num_uses": "3",
                "ttl": "1m",
                "max_ttl": "1h",
                "period": 30,
                "bound_cidrs": "10.0.0.1/32",
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        );
        assert!(data
            .validate(Fields::Declared(&[TOKEN_FIELDS, LEGACY_TOKEN_FIELDS]))
            .is_ok());
        let (mut legacy, mut token) = (LegacyTokenFields::default(), TokenFields::default());
        assert!(legacy.upgrade(&data, &mut token).is_ok());
        assert_eq!(token.token_policies, vec!["a", "b"]);
        assert_eq!(
            (
                token.token_num_uses,
                token.token_ttl,
                token.token_max_ttl,
                token.token_period
            ),
            (3, 60, 3600, 30)
        );
        assert_eq!(token.token_bound_cidrs, vec!["10.0.0.1"]);
        let mut shown = Map::new();
        token.populate_data(&mut shown);
        legacy.populate_data(&mut shown);
        for field in LEGACY_TOKEN_FIELDS {
            assert!(shown.contains_key(field.name), "{}", field.name);
        }
    }
}
