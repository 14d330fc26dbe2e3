//! Two-factor checks live in `app::twofactor`; here they are counted in the
//! server's metrics, which only the adapter owns.

use crate::metrics::Metrics;

impl app::ports::FactorChecks for Metrics {
    fn second_factor_check(&self, method: &'static str, outcome: &'static str) {
        Metrics::second_factor_check(self, method, outcome);
    }
}
