//! Validation of `[metrics]`: the Prometheus listener.

use std::net::SocketAddr;

use super::raw::RawMetrics;
use super::validate::Validator;
use super::MetricsConfig;

impl Validator<'_, '_> {
    pub(super) fn metrics(&mut self, r: RawMetrics) -> Option<MetricsConfig> {
        let v = &r.listen;
        let given = v.get_ref();
        let listen: SocketAddr = match given.parse() {
            Ok(a) => a,
            Err(_) => {
                self.errs.at(
                    &v.span(),
                    format!(
                        "metrics.listen: {given:?} is not an address and port \
                         (like \"[::1]:9464\" or \"127.0.0.1:9464\")"
                    ),
                );
                return None;
            }
        };
        if listen.port() == 0 {
            self.errs.at(
                &v.span(),
                format!("metrics.listen {given:?}: port 0 is not a port Prometheus can scrape"),
            );
            return None;
        }
        if listen.ip().is_multicast() {
            self.errs.at(
                &v.span(),
                format!("metrics.listen {given:?}: a multicast address cannot be listened on"),
            );
            return None;
        }
        Some(MetricsConfig {
            listen,
            pos: self.errs.pos(&v.span()),
        })
    }
}
