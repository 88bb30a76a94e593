//! `http_port <port>` and `https_port <port>`: the ports Caddy treats as
//! HTTP and HTTPS (defaults 80 and 443).

use super::Options;
use crate::error::Result;
use crate::http::registry::Directives;
use crate::syntax::Dispenser;

pub fn parse(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    let Some(v) = d.next_arg_value() else {
        return Err(d.arg_err());
    };
    let port: i64 = v.parse().map_err(|_| {
        d.err(format!(
            "converting port '{v}' to integer value: strconv.Atoi: parsing \"{v}\": invalid syntax"
        ))
    })?;
    if d.next_arg() {
        return Err(d.arg_err());
    }
    opts.values.insert(name, port.into());
    Ok(())
}
